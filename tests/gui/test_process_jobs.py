"""Long jobs in a child process: labelling goes on while a mining child runs, a SIGKILL of the child loses
no label and leaves the store clean, Cancel ends its process group, the Jobs panel lists it all."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the synthetic scenes

from .gui_helpers import wait_job  # noqa: E402
from test_mining_scenes import Obj, make_project, render  # noqa: E402

SMALL = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car"),
         Obj("ellipse", (40, 40, 200), (16, 36), (250, 60), (-6, 4), "person")]
BIG = [Obj("rect", (220, 40, 40), (80, 52), (40, 300), (6, -1), "car"),
       Obj("ellipse", (40, 40, 200), (32, 72), (500, 120), (-3, 2), "person")]
BIG_FRAMES = 480  # 640x480 PNGs: mining them takes well over 10 s here (240 BMPs no longer did once mining got faster)


def build_two_cameras(root: Path) -> Path:
    """Camera 'a' mined (12 frames, 24 detections); camera 'b' not mined, big enough for a long job."""
    import cv2

    from walt3d_studio.mining.mine import mine

    p, cam_a, _, _ = make_project(root, SMALL, 12, name="two")
    with p:
        p.conn.execute("UPDATE cameras SET name = 'a' WHERE id = ?", (cam_a,))
        p.conn.commit()
        mine(p, cam_a)
        bg, frames, _ = render(BIG, 40, 640, 480)
        folder = root / "b_frames"
        folder.mkdir()
        for i in range(BIG_FRAMES):  # the 40 rendered frames over and over, one second apart
            cv2.imwrite(str(folder / f"b_20240502_09{i // 60:02d}{i % 60:02d}.png"),
                        cv2.cvtColor(frames[i % 40], cv2.COLOR_RGB2BGR))
        cam_b = p.add_camera("b", "UTC")
        p.add_source(folder, cam_b)
        p.save_background(cam_b, "all", bg.astype(np.float32), n_frames=40, first_time=None, last_time=None,
                          settings={"hours_per_window": None})
        return p.root


@pytest.fixture(scope="module")
def two_template(tmp_path_factory):
    return build_two_cameras(tmp_path_factory.mktemp("procjobs"))


@pytest.fixture
def two(two_template, tmp_path):
    dst = tmp_path / "two.walt3d"
    shutil.copytree(two_template, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


def _open(make_window, root):
    from walt3d_studio.gui.review import install_review

    w = make_window()
    rc = w.review if hasattr(w, "review") else install_review(w)
    assert w.open_project(root)
    w.settle()
    return w, rc


def _camera(w, name):
    return next(c.id for c in w.project.cameras() if c.name == name)


def _label_detections(qtbot, w, rc, n: int) -> list[int]:
    """Label `n` detections of the camera on screen with O, the way a person does: go to the frame, click."""
    from walt3d_studio.store.detections import detection_table

    t = detection_table(w.project, camera_id=w.camera_id)
    done = []
    for i in range(n):
        rc.go_to(rc.position_of(int(t.frame_id[i])))
        w.settle()
        rc.select_detection(int(t.id[i]))
        assert rc.detection_id == int(t.id[i])
        assert rc.label_detection("O")
        done.append(int(t.id[i]))
        qtbot.wait(30)  # the child keeps running meanwhile
    return done


@pytest.mark.slow
def test_label_while_mining_child_runs_then_sigkill(qtbot, make_window, two, dialogs):
    w, rc = _open(make_window, two)
    cam_a, cam_b = _camera(w, "a"), _camera(w, "b")
    w.select_camera(cam_b)
    w.settle()
    job = rc.mining.mine_detections(replace=False)
    qtbot.waitUntil(lambda: job.done > 0, timeout=60000)  # it is mining, in a process of its own
    assert job.pid and job.pid != os.getpid() and os.getpgid(job.pid) == job.pid  # its own process group
    assert job.total == BIG_FRAMES and job.state == "running"

    # the camera it writes is locked, and says why; every other camera stays editable
    assert not rc.label_actions["U"].isEnabled() or rc.panel.model.rowCount() == 0
    assert not rc.act_mine.isEnabled()
    assert w.lock_reason(cam_b) and "Mining b" in w.lock_reason(cam_b)
    assert w.lock_note.isVisible() and "locked" in w.lock_note.text()
    w.select_camera(cam_a)
    w.settle()
    assert w.lock_reason(cam_a) is None and rc.label_actions["U"].isEnabled()
    labelled = _label_detections(qtbot, w, rc, 10)
    assert job.state == "running" and job.done < job.total  # all ten while the child ran

    os.killpg(job.pid, signal.SIGKILL)  # a crash in native code, as seen from here
    how, err = wait_job(qtbot, job, timeout=30000)
    assert how == "failed" and "was killed or crashed" in err.message and "mining b" in err.message
    assert any("was killed or crashed" in text for text, _ in dialogs)  # the app reports it
    assert "Job failed" in w.statusBar().currentMessage()
    assert w.jobs_panel.isVisible() and "FAILED" in w.jobs_panel.tree.topLevelItem(0).text(1)
    assert w.lock_reason(cam_b) is None  # unlocked again
    assert not (two / "shards").exists() or not any((two / "shards").iterdir())  # its partial shard is gone

    # the labels are in the store, seen from another connection while the app still has it open
    db = sqlite3.connect(f"file:{two / 'project.sqlite'}?mode=ro", uri=True)
    rows = db.execute("SELECT detection_id FROM labels").fetchall()
    db.close()
    assert sorted(r[0] for r in rows) == sorted(labelled)
    w.close()
    from walt3d_studio.store import Project

    with Project.open(two) as p:  # opens cleanly for writing: no stale lock, no damage, nothing from the child
        assert p.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n_b = p.conn.execute("SELECT COUNT(*) FROM detections d JOIN frames f ON f.id = d.frame_id"
                             " WHERE f.camera_id = ?", (cam_b,)).fetchone()[0]
        assert n_b == 0
        assert p.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 10


@pytest.mark.slow
def test_cancel_from_jobs_panel_ends_the_process_group(qtbot, make_window, two):
    w, rc = _open(make_window, two)
    cam_b = _camera(w, "b")
    w.select_camera(cam_b)
    w.settle()
    job = rc.mining.mine_detections(replace=False)
    qtbot.waitUntil(lambda: job.done > 0, timeout=60000)
    w.act_jobs.trigger()  # View > Jobs
    panel = w.jobs_panel
    assert panel.isVisible() and panel.selected_job() is job and panel.cancel_button.isEnabled()
    assert "Mining b" in panel.tree.topLevelItem(0).text(0)
    assert "$ walt3d --progress jsonl mine" in panel.log.toPlainText()  # the log shows the command it runs
    pid = job.pid
    t0 = time.monotonic()
    panel.cancel_button.click()
    how, _ = wait_job(qtbot, job, timeout=30000)
    assert how == "cancelled" and time.monotonic() - t0 < 10
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole group is gone
    assert panel.tree.topLevelItem(0).text(1) == "cancelled" and not panel.cancel_button.isEnabled()
    from walt3d_studio.store.detections import detection_table

    assert len(detection_table(w.project, camera_id=cam_b)) == 0 and w.lock_reason(cam_b) is None
    assert rc.act_mine.isEnabled()


@pytest.mark.slow
def test_child_result_and_error_in_the_panel(qtbot, window, tmp_path):
    root = tmp_path / "p.walt3d"
    from walt3d_studio.store import Project

    Project.create(root).close()
    ok = window.process_jobs.start(["info", str(root), "--json"], "Info")
    how, result = wait_job(qtbot, ok)
    assert how == "finished" and result["rc"] == 0 and '"schema_version"' in result["output"]
    assert ok.log_text().count('"schema_version"') == 1  # the printed output once, not again from the outcome
    bad = window.run_process_job(["info", str(tmp_path / "missing")], "Info of nothing")
    how, err = wait_job(qtbot, bad)
    assert how == "failed" and "not a WALT3D Studio project" in err.message and "walt3d init" in err.hint
    panel = window.jobs_panel
    assert [panel.tree.topLevelItem(i).text(1) for i in range(2)] == ["FAILED", "done"]
    panel.tree.setCurrentItem(panel.tree.topLevelItem(0))
    assert "not a WALT3D Studio project" in panel.log.toPlainText()
    panel.clear_button.click()
    assert panel.tree.topLevelItemCount() == 0 and window.process_jobs.jobs == []


def test_jobs_panel_is_a_tab_and_the_window_does_not_grow(qtbot, window):
    screen_h = window.screen().availableGeometry().height()
    h = window.height()
    window.act_jobs.trigger()  # View > Jobs (Ctrl+J)
    panel = window.jobs_panel
    assert panel.isVisible() and window.act_jobs.isChecked() and not panel.isFloating()
    assert window.review.panel in window.tabifiedDockWidgets(panel)  # a tab beside the review, not under it
    assert window.height() <= max(h, screen_h)
    window.act_jobs.trigger()
    assert not panel.isVisible() and not window.act_jobs.isChecked()
    assert "Jobs" in [a.text().replace("&", "") for m in window.menuBar().actions() if m.menu()
                      and m.text().replace("&", "") == "View" for a in m.menu().actions()]


@pytest.mark.slow
def test_a_locked_camera_refuses_labels_and_undo_with_the_reason(qtbot, make_window, two):
    from walt3d_studio.gui.process_jobs import ProcessJob

    w, rc = _open(make_window, two)
    cam_a = _camera(w, "a")
    w.select_camera(cam_a)
    w.settle()
    _label_detections(qtbot, w, rc, 1)
    assert w.undo_stack.canUndo()
    job = ProcessJob([], "Training on a", cam_a, parent=w.process_jobs)  # stands for a running child
    job.state = "running"
    w.process_jobs._add(job)
    assert not rc.label_actions["O"].isEnabled() and "Training on a" in rc.label_actions["O"].toolTip()
    assert not rc.label_detection("X")  # refused, with the reason in the status bar
    assert "Camera locked" in w.statusBar().currentMessage()
    before = w.undo_stack.index()
    w.undo()
    assert w.undo_stack.index() == before and "Training on a" in w.statusBar().currentMessage()
    job._end("finished")
    assert rc.label_actions["O"].isEnabled()
    w.undo()
    assert w.undo_stack.index() == before - 1


@pytest.mark.slow
def test_a_failing_merge_fails_the_job_and_unlocks(qtbot, window, tmp_path, dialogs):
    from walt3d_studio.store import Project

    root = tmp_path / "p.walt3d"
    Project.create(root).close()

    def broken_merge(result):
        raise KeyError("shard")

    job = window.process_jobs.start(["info", str(root)], "Info then a broken merge", camera_id=7,
                                    on_success=broken_merge)
    how, err = wait_job(qtbot, job)
    assert how == "failed" and isinstance(err, KeyError) and job.state == "failed"
    assert window.lock_reason(7) is None
