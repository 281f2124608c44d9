"""`walt3d mine / detectors / classifier / labels` end to end, and mining split into shards then merged."""
from __future__ import annotations

import json

import numpy as np

from test_mining_scenes import Obj, make_project
from walt3d_studio.cli import main
from walt3d_studio.mining.crops import read_png_rgba
from walt3d_studio.store import Project
from walt3d_studio.store.detections import detection_table, label_tracks, track_table

OBJS = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car"),
        Obj("ellipse", (40, 40, 200), (16, 36), (250, 60), (-6, 4), "person")]


def test_detectors_command(capsys):
    assert main(["detectors"]) == 0
    out = capsys.readouterr().out
    assert "foreground   available" in out and "maskrcnn     unavailable: needs a weights file" in out
    assert main(["detectors", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"foreground", "maskrcnn", "import"}


def test_mine_command_errors_and_replace(tmp_path, capsys):
    p, cam, _, _ = make_project(tmp_path, OBJS, 5, store_background=False)
    root = p.root
    p.close()
    assert main(["--quiet", "mine", str(root)]) == 2
    err = capsys.readouterr().err
    assert "no background yet" in err and "walt3d background" in err and "Traceback" not in err
    with Project.open(root) as p:
        from test_mining_scenes import render

        bg, _, _ = render(OBJS, 1)
        p.save_background(cam, "all", bg.astype(np.float32), n_frames=5, first_time=None, last_time=None,
                          settings={"hours_per_window": None})
    assert main(["--quiet", "mine", str(root)]) == 0
    assert "Mined 5 frames: 10 detections in 2 tracks" in capsys.readouterr().out
    assert main(["--quiet", "mine", str(root)]) == 2
    assert "already mined" in capsys.readouterr().err
    assert main(["--quiet", "mine", str(root), "--replace", "--option", "threshold=40"]) == 0
    assert main(["--quiet", "mine", str(root), "--option", "oops"]) == 2
    assert main(["--quiet", "mine", str(root), "--detector", "maskrcnn", "--weights", str(root / "project.sqlite"),
                 "--replace"]) == 2
    assert "not a PyTorch checkpoint" in capsys.readouterr().err
    with Project.open(root, readonly=True) as p:
        assert len(detection_table(p, camera_id=cam)) == 10  # the failed runs changed nothing


def test_shards_then_merge(tmp_path, capsys):
    p, cam, _, _ = make_project(tmp_path, OBJS, 6)
    times = p.frame_table(cam).times
    root = p.root
    p.close()
    from datetime import datetime, timezone

    mid = datetime.fromtimestamp(times[3], timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    a, b = tmp_path / "shard-a", tmp_path / "shard-b"
    assert main(["--quiet", "mine", str(root), "--end", mid, "--shard-out", str(a)]) == 0
    assert main(["--quiet", "mine", str(root), "--start", mid, "--shard-out", str(b)]) == 0
    with Project.open(root, readonly=True) as p:
        assert len(detection_table(p, camera_id=cam)) == 0  # shards write nothing into the project
    assert (a / "shard.json").exists() and list((a / "crops").rglob("crops.pack"))
    assert main(["--quiet", "mine", str(root), "--merge", str(a)]) == 0
    assert main(["--quiet", "mine", str(root), "--merge", str(b)]) == 0
    assert main(["--quiet", "mine", str(root), "--merge", str(b)]) == 2  # already merged
    with Project.open(root, readonly=True) as p:
        t = detection_table(p, camera_id=cam)
        assert len(t) == 12 and len(track_table(p, cam)) == 4  # tracks are per shard
        for c in t.crop_path[t.verdict == "unoccluded"]:
            assert read_png_rgba(p.root / c).shape[2] == 4 and c.startswith("arrays/crops/")


def test_labels_and_classifier_commands(tmp_path, capsys):
    p, cam, _, _ = make_project(tmp_path, OBJS, 6)
    root = p.root
    with p:
        assert main(["--quiet", "mine", str(root)]) != 0  # the project is open (locked) here
        from walt3d_studio.mining.mine import mine

        mine(p, cam)
        label_tracks(p, track_table(p, cam).id[:1], "U", who="me")
    capsys.readouterr()
    out = tmp_path / "labels.json"
    assert main(["--quiet", "labels", "export", str(root), str(out)]) == 0
    assert "Exported 6 labelled detections" in capsys.readouterr().out
    assert main(["--quiet", "labels", "import", str(root), str(out)]) == 0
    assert "Imported labels for 6 detections (6 changed)" in capsys.readouterr().out
    assert main(["--quiet", "classifier", "train", str(root), "--epochs", "1"]) == 2
    assert "at least 20" in capsys.readouterr().err


def test_cancel_leaves_nothing_behind(tmp_path):
    import pytest

    from walt3d_studio.errors import Cancelled
    from walt3d_studio.jobs import JobContext
    from walt3d_studio.mining.mine import mine

    p, cam, _, _ = make_project(tmp_path, OBJS, 12)
    with p:
        ctx = JobContext(lambda done, total, msg: ctx.cancel() if done >= 3 else None)
        with pytest.raises(Cancelled):
            mine(p, cam, ctx=ctx)
        assert p.conn.execute("SELECT COUNT(*) FROM detections").fetchone()[0] == 0
        assert p.conn.execute("SELECT status FROM runs").fetchall() == [("cancelled",)]
        assert not list((p.root / "arrays").rglob("*.png")) and not list((p.root / "arrays").rglob("crops.pack"))
        rep = mine(p, cam)  # and it can run again
        assert len(detection_table(p, camera_id=cam)) == rep.detections >= 20


def test_crops_follow_human_labels(tmp_path):
    from walt3d_studio.mining.crops import ensure_mined_crops
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store.detections import label_detections, mined_objects

    objs = OBJS + [Obj("rect", (60, 200, 60), (30, 40), (0, 196), (0, 0), "car")]  # truncated: never mined
    p, cam, _, _ = make_project(tmp_path, objs, 4)
    with p:
        mine(p, cam)
        t = detection_table(p, camera_id=cam)
        trunc = t.id[t.rule_verdict == "truncated"]
        assert len(trunc) == 4 and not any(t.crop_path[t.rule_verdict == "truncated"])
        label_detections(p, trunc, "U", who="me")  # a person says they are fine after all
        assert ensure_mined_crops(p) == 4
        m = mined_objects(p, cam, usable_only=True, categories=("car", "person", "other"))
        assert set(trunc) <= set(m.id.tolist()) and all(read_png_rgba(p.root / c).shape[2] == 4 for c in m.crop_path)
