"""SIGKILL at several points of a schema upgrade and of an export: the project and the previous export stay whole,
and the next run completes and leaves no temporary behind."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from walt3d_studio.store import Project
from walt3d_studio.store import schema

REPO = Path(__file__).resolve().parent.parent

# A statement that keeps SQLite busy for seconds, put at the end of the v2 step (after all its DDL).
SLOW = ("CREATE TABLE slow_step AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        "WHERE x < 30000000) SELECT count(*) AS n FROM c;")


def _spawn(code: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_line(proc: subprocess.Popen, word: str, timeout: float = 60.0) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        line = proc.stdout.readline()
        if word in line:
            return
        if proc.poll() is not None:
            raise AssertionError(f"child ended early: {proc.stderr.read()}")
    raise AssertionError("child never got there")


def _schema_of(db: Path) -> tuple[int, set, set]:
    with sqlite3.connect(db) as c:
        version = int(c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        cols = {r[1] for r in c.execute("PRAGMA table_info(tracks)")}
    return version, tables, cols


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.05, 0.4, 1.2])
def test_sigkill_during_an_upgrade_leaves_a_whole_version_and_the_next_open_finishes(tmp_path, monkeypatch, delay):
    monkeypatch.setattr("walt3d_studio.store.db.MIGRATIONS", schema.MIGRATIONS[:1])
    monkeypatch.setattr("walt3d_studio.store.db.SCHEMA_VERSION", 1)
    with Project.create(tmp_path / "old") as p:
        p.add_camera("north", "UTC")
    monkeypatch.undo()
    root = tmp_path / "old.walt3d"
    proc = _spawn(f"""
        import walt3d_studio.store.db as D
        import walt3d_studio.store.project as P
        from walt3d_studio.store import schema
        steps = list(schema.MIGRATIONS)
        steps[1] = steps[1] + {SLOW!r}
        D.MIGRATIONS = steps
        print("opening", flush=True)
        P.Project.open({str(root)!r}).close()
        print("done", flush=True)
    """)
    _wait_line(proc, "opening")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    version, tables, cols = _schema_of(root / "project.sqlite")
    # whichever step it died in, the database is at a whole version: v1 exactly, or v2 with all of v2
    assert version in (1, 2, 3)
    if version == 1:
        assert "classifiers" not in tables and "detector" not in cols and "slow_step" not in tables
    else:
        assert {"classifiers", "slow_step"} <= tables and "detector" in cols
    with Project.open(root) as p:  # the next open (with the real steps) finishes the upgrade
        assert [c.name for c in p.cameras()] == ["north"]
    assert _schema_of(root / "project.sqlite")[0] == schema.SCHEMA_VERSION


@pytest.mark.slow
@pytest.mark.parametrize("crops_before_kill", [1, 3])
def test_sigkill_during_a_labels_export_keeps_the_old_export_and_the_next_run_cleans_up(tmp_path, crops_before_kill):
    from test_mining_scenes import Obj, make_project
    from walt3d_studio.mining.labels_dataset import export_labels
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store.detections import detection_table, label_detections

    objs = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car")]
    p, cam, _, _ = make_project(tmp_path, objs, 6)
    with p:
        mine(p, cam)
        t = detection_table(p, camera_id=cam)
        label_detections(p, t.id[:2].tolist(), "O", who="alice")
        out = tmp_path / "exp" / "labels.json"
        assert export_labels(p, out) == 2
        label_detections(p, t.id[2:6].tolist(), "U", who="bob")
        root = p.root
    before = {f.relative_to(out.parent): f.read_bytes() for f in out.parent.rglob("*") if f.is_file()}
    proc = _spawn(f"""
        import time
        import walt3d_studio.mining.labels_dataset as L
        from walt3d_studio.store import Project
        real = L._write_crop
        def slow_write(path, png):
            real(path, png)
            print("copied", flush=True)
            time.sleep(0.3)
        L._write_crop = slow_write
        with Project.open({str(root)!r}) as p:
            L.export_labels(p, {str(out)!r})
    """)
    for _ in range(crops_before_kill):
        _wait_line(proc, "copied")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    after = {f.relative_to(out.parent): f.read_bytes() for f in out.parent.rglob("*") if f.is_file()
             and not any(".tmp" in part for part in f.relative_to(out.parent).parts)}
    assert after == before  # the old export, every byte of it; only hidden temporaries were added
    doc = json.loads(out.read_text())
    assert len(doc["images"]) == 2
    with Project.open(root) as p:
        assert export_labels(p, out) == 6
    assert not [f for f in out.parent.rglob("*") if ".tmp" in f.name or f.name.endswith(".old")]
    doc = json.loads(out.read_text())
    assert all((out.parent / im["file_name"]).is_file() for im in doc["images"])


@pytest.mark.slow
def test_crops_of_a_mine_killed_before_its_merge_are_swept_by_the_next_run(tmp_path):
    from test_mining_scenes import Obj, make_project
    from walt3d_studio.mining.crops import crop_file
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store.detections import detection_table

    objs = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car")]
    p, cam, _, _ = make_project(tmp_path, objs, 8)
    root = p.root
    p.close()
    proc = _spawn(f"""
        import time
        import walt3d_studio.mining.mine as M
        from walt3d_studio.store import Project
        real = M.CropPack.add
        def slow_add(self, png):
            path = real(self, png)
            self._f.flush()
            print("crop", flush=True)
            time.sleep(0.3)
            return path
        M.CropPack.add = slow_add
        with Project.open({str(root)!r}) as p:
            M.mine(p, {cam})
    """)
    for _ in range(2):
        _wait_line(proc, "crop")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    crops = root / "arrays" / "crops"
    left = [f for f in crops.rglob("*") if f.is_file()]
    assert len(left) == 1 and left[0].stat().st_size > 0  # what the killed run left: no detection points at it
    with Project.open(root) as p:
        mine(p, cam)
        used = {root / crop_file(c) for c in detection_table(p, camera_id=cam).crop_path if c}
    # the next run swept it; its own pack is in the store
    assert len(used) == 1 and {f for f in crops.rglob("*") if f.is_file()} == used


@pytest.mark.slow
@pytest.mark.parametrize("camera", [None, "north"])
def test_sigkill_while_an_import_scans_leaves_no_empty_camera(tmp_path, camera):
    """A camera made for an import is written with its source, in one transaction: killed while it scans the
    footage, `add-source` leaves the project as it was (no empty 'cam1' or 'north' to trip over later)."""
    import cv2
    import numpy as np

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"cam_20240501_0800{i:02d}.png"), np.full((12, 16, 3), 40 * i, np.uint8))
    with Project.create(tmp_path / "p") as p:
        root = p.root
    args = [str(root), str(folder)] + (["--camera", camera] if camera else [])
    proc = _spawn(f"""
        import time
        import walt3d_studio.timelapse as T
        from walt3d_studio.cli import main
        real = T.scan_source
        def slow_scan(*a, **k):
            out = real(*a, **k)
            print("scanned", flush=True)
            time.sleep(30)
            return out
        T.scan_source = slow_scan
        main(["--quiet", "add-source", *{args!r}])
    """)
    _wait_line(proc, "scanned")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Project.open(root) as p:
        assert p.cameras() == [] and p.sources() == []
        src = p.add_source(folder, new_camera=(camera, None) if camera else None)  # and the import can run again
        assert [c.name for c in p.cameras()] == [camera or "cam1"] and src.n_frames == 3
