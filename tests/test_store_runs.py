"""Recorded runs: the two-call API, the context manager, stale runs marked interrupted, `walt3d runs`."""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from walt3d_studio import __version__
from walt3d_studio.cli import main
from walt3d_studio.errors import Cancelled
from walt3d_studio.store import Project
from walt3d_studio.store.runs import finish_run, get_run, list_runs, recorded_run, start_run


@dataclass
class FakeSettings:
    seed: int = 7
    method: str = "keypoints+track"


def test_start_and_finish_record_everything(tmp_path):
    with Project.create(tmp_path / "p") as p:
        rid = start_run(p, "fit-vehicles", FakeSettings(), {"camera": 1, "start": 10.0, "end": 20.0})
        r = get_run(p, rid)
        assert (r.stage, r.status, r.settings, r.shard, r.version) == (
            "fit-vehicles", "running", {"seed": 7, "method": "keypoints+track"},
            {"camera": 1, "start": 10.0, "end": 20.0}, __version__)
        assert "@" in r.who and r.pid is not None and r.finished_at is None
        finish_run(p, rid, {"tracks": 4, "failed": 1}, "done", "4 tracks fitted")
        r = get_run(p, rid)
        assert (r.status, r.counts, r.message) == ("done", {"tracks": 4, "failed": 1}, "4 tracks fitted")
        assert r.finished_at >= r.started_at and r.duration_s == pytest.approx(r.finished_at - r.started_at)
        with pytest.raises(ValueError):
            finish_run(p, rid, status="running")


def test_recorded_run_statuses_and_listing(tmp_path):
    with Project.create(tmp_path / "p") as p:
        with recorded_run(p, "background", {"hours_per_window": 1}, {"camera": 1}) as rec:
            rec.counts["windows"] = 3
        with pytest.raises(Cancelled):
            with recorded_run(p, "mine", {}):
                raise Cancelled()
        with pytest.raises(RuntimeError):
            with recorded_run(p, "mine", {}):
                raise RuntimeError("disk full")
        rows = list_runs(p)
        assert [(r.stage, r.status) for r in rows] == [("mine", "failed"), ("mine", "cancelled"), ("background", "done")]
        assert rows[0].message == "disk full" and rows[2].counts == {"windows": 3}
        assert [r.status for r in list_runs(p, stage="mine", limit=1)] == ["failed"]


def test_readonly_project_records_nothing(tmp_path):
    Project.create(tmp_path / "p").close()
    with Project.open(tmp_path / "p.walt3d", readonly=True) as p:
        with recorded_run(p, "mine", {}) as rec:
            assert rec.id is None
        finish_run(p, None)
        assert list_runs(p) == []


def test_dead_process_run_becomes_interrupted_at_next_open(tmp_path):
    root = tmp_path / "p.walt3d"
    with Project.create(root) as p:
        mine = start_run(p, "mine", {})
    # a child that starts a run and dies without finishing it (kill -9 leaves the same row behind)
    code = ("import os, sys; from walt3d_studio.store import Project; from walt3d_studio.store.runs import start_run;"
            f"p = Project.open({str(root)!r}); print(start_run(p, 'keypoints-train', {{}})); os._exit(9)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    child = int(out.stdout.strip())
    with Project.open(root) as p:
        assert get_run(p, child).status == "interrupted"
        assert "ended without finishing" in get_run(p, child).message
        assert get_run(p, mine).status == "running"  # this process is alive: still running


def test_runs_command(tmp_path, capsys):
    root = tmp_path / "p.walt3d"
    with Project.create(root) as p:
        with recorded_run(p, "background", {"hours_per_window": 1}, {"camera": 1}) as rec:
            rec.counts["windows"] = 2
        finish_run(p, start_run(p, "mine", {}), {}, "failed", "no background yet\nmore")
    assert main(["runs", str(root)]) == 0
    out = capsys.readouterr().out
    assert "background" in out and "windows 2" in out and "camera=1" in out
    assert "failed" in out and "no background yet" in out and "more" not in out
    assert main(["runs", str(root), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["stage"] for r in rows] == ["mine", "background"] and rows[1]["counts"] == {"windows": 2}
    assert main(["runs", str(root), "--stage", "background", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_mine_and_background_commands_record_runs(tmp_path, capsys):
    from test_mining_scenes import Obj, make_project

    objs = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car")]
    p, cam, _, _ = make_project(tmp_path, objs, 4, store_background=False)
    root = p.root
    p.close()
    assert main(["--quiet", "background", str(root), "--all"]) == 0
    capsys.readouterr()
    assert main(["--quiet", "mine", str(root)]) == 0
    printed = capsys.readouterr().out
    assert main(["--quiet", "mine", str(root)]) == 2  # refused: already mined; no run is left 'running'
    with Project.open(root, readonly=True) as p:
        rows = list_runs(p)
    assert [(r.stage, r.status) for r in rows] == [("mine", "done"), ("background", "done")]
    mine = rows[0]
    assert mine.shard["camera"] == cam and mine.settings["detector"] == "foreground"
    c = mine.counts
    assert f"Mined {c['frames']} frames: {c['detections']} detections in {c['tracks']} tracks; {c['mined']} mined" \
        in printed and c["frames"] == 4 and c["detections"] > 0
    assert rows[1].counts == {"windows": 1}
