"""Keypoint training and prediction, occlusion-label export and import run as child processes (`walt3d
--progress jsonl ...`) from the app, like mining: listed in the Jobs panel, labelling stays enabled while they
run, Cancel ends the child and leaves the store exactly as it was."""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the synthetic scenes

from .gui_helpers import GIF, wait_job  # noqa: E402

CALIBRATION = Path(__file__).resolve().parents[2] / "resources" / "demo" / "parking-lot-person-bicycle-car.camera.json"


def _rows(root: Path, table: str) -> list[tuple]:
    """Every row of a table, read by a fresh connection (what is really stored)."""
    with sqlite3.connect(root / "project.sqlite") as c:
        return c.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def _cancel_at_start(qtbot, job) -> None:
    """Cancel a child before it can finish: hold it (SIGSTOP), send the Jobs panel's cancel, let it go on."""
    qtbot.waitUntil(lambda: job.pid is not None, timeout=10000)
    os.killpg(job.pid, signal.SIGSTOP)
    job.cancel()
    os.killpg(job.pid, signal.SIGCONT)


# ------------------------------------------------------------------------------------------ keypoints
@pytest.fixture
def kp_scene(tmp_path):
    from test_keypoints_synth import synthetic_scene

    from walt3d_studio.store import keypoints as ks

    p, cam, dets, truth = synthetic_scene(tmp_path, 10, seed=3)
    with p:
        for d in dets[:7]:
            ks.set_human_keypoints(p, d, truth[d])
        root = p.root
    return root, dets


@pytest.mark.slow
def test_keypoint_training_and_prediction_are_child_jobs(qtbot, window, kp_scene, dialogs):
    from walt3d_studio.gui.keypoint_editor import install_keypoint_editor
    from walt3d_studio.store import keypoints as ks

    root, dets = kp_scene
    assert window.open_project(root)
    ctrl = install_keypoint_editor(window)
    human_before = _rows(root, "keypoints")

    # Cancel mid-training: no checkpoint, no keypoint row, nothing locked afterwards
    job = ctrl.train(epochs=400, config={"input_size": 64, "batch_size": 4})
    assert job in window.process_jobs.jobs and job.title == "Training keypoint model"
    qtbot.waitUntil(lambda: job.done > 0, timeout=120000)  # torch imported, epochs counting in the child
    os.killpg(job.pid, signal.SIGSTOP)
    assert job.state == "running" and job.done < job.total
    # while it trains, the app stays writable: no thread job holds the project, the writers are on
    assert not window.jobs.busy and window.can_write()
    assert window.act_add_folder.isEnabled() and ctrl.act_import.isEnabled() and ctrl.act_open.isEnabled()
    window.jobs_panel.tree.setCurrentItem(window.jobs_panel._items[id(job)])
    window.jobs_panel.cancel_button.click()
    os.killpg(job.pid, signal.SIGCONT)
    how, _ = wait_job(qtbot, job, timeout=60000)
    assert how == "cancelled"
    models = root / "models" / "keypoints"
    assert not models.exists() or not list(models.glob("*.pt"))
    assert _rows(root, "keypoints") == human_before

    # a second training while one runs is refused with a reason
    job = ctrl.train(epochs=3, config={"input_size": 64, "batch_size": 4})
    assert ctrl.train(epochs=3) is None and "running already" in dialogs[-1][0]
    how, r = wait_job(qtbot, job, timeout=180000)
    assert how == "finished", r
    assert Path(r["path"]).exists() and r["n_train"] + r["n_val"] == 7
    assert "Trained" in window.statusBar().currentMessage()

    # prediction: cancelled stores nothing; finished stores a proposal per unlabelled vehicle
    job = ctrl.predict()
    _cancel_at_start(qtbot, job)
    how, _ = wait_job(qtbot, job, timeout=60000)
    assert how == "cancelled" and _rows(root, "keypoints") == human_before
    how, r = wait_job(qtbot, ctrl.predict(), timeout=180000)
    assert how == "finished" and r["stored"] == 3
    for d in dets[7:]:
        row = ks.get_keypoints(window.project, d)
        assert row.origin == "model" and row.points.shape == (12, 3)
    assert all(ks.get_keypoints(window.project, d).origin == "human" for d in dets[:7])


def test_keypoint_coco_export_and_import_from_the_menu_are_child_jobs(qtbot, window, kp_scene, dialogs, tmp_path,
                                                                       monkeypatch):
    """Keypoints > Export / Import COCO keypoints run `walt3d keypoints export|import` in a child process:
    the export writes the file; a cancelled import stores nothing; a finished one puts the human keypoints back
    and the open editor shows them."""
    from PySide6.QtWidgets import QFileDialog

    from walt3d_studio.gui.keypoint_editor import install_keypoint_editor
    from walt3d_studio.store import keypoints as ks

    root, dets = kp_scene
    assert window.open_project(root)
    ctrl = install_keypoint_editor(window)
    out = tmp_path / "kp" / "keypoints.json"
    out.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(out), "")))
    truth = {d: ks.human_keypoints(window.project, d).points.copy() for d in dets[:7]}

    ctrl.act_export.trigger()
    job = next(j for j in window.process_jobs.jobs if j.title == "Exporting keypoints")
    assert job.args[:2] == ["keypoints", "export"] and window.can_write()
    how, r = wait_job(qtbot, job, timeout=60000)
    assert how == "finished", r
    assert r["annotations"] == 7 and out.exists() and (out.parent / "images").is_dir()
    assert "Wrote 7 annotation(s)" in window.statusBar().currentMessage()

    for d in dets[:3]:  # someone clears three vehicles' keypoints; the import brings them back
        ks.clear_human_keypoints(window.project, d)
    editor = ctrl.open_editor()
    editor.open_detection(dets[0])
    assert editor.keypoints()[0] is None
    before = _rows(root, "keypoints")

    ctrl.act_import.trigger()
    job = next(j for j in window.process_jobs.running() if j.title == "Importing keypoints")
    _cancel_at_start(qtbot, job)
    how, _ = wait_job(qtbot, job, timeout=60000)
    assert how == "cancelled" and _rows(root, "keypoints") == before and not dialogs

    ctrl.act_import.trigger()
    job = next(j for j in window.process_jobs.running() if j.title == "Importing keypoints")
    how, r = wait_job(qtbot, job, timeout=60000)
    assert how == "finished", r
    assert r["updated"] == 3 and r["unchanged"] == 4
    assert "3 detection(s) updated" in window.statusBar().currentMessage()
    shown = editor.keypoints()[0]  # the editor re-read the store: the vehicle on screen has its points again
    assert shown is not None and np.allclose(shown, truth[dets[0]], atol=1e-3)


def test_predict_without_a_model_says_what_to_do(qtbot, window, kp_scene, dialogs):
    from walt3d_studio.gui.keypoint_editor import install_keypoint_editor

    root, _ = kp_scene
    assert window.open_project(root)
    ctrl = install_keypoint_editor(window)
    assert ctrl.predict() is None
    assert "no keypoint model" in dialogs[-1][0] and not window.process_jobs.jobs


def test_unknown_training_setting_is_refused(qtbot, window, kp_scene, dialogs):
    from walt3d_studio.gui.keypoint_editor import install_keypoint_editor

    root, _ = kp_scene
    assert window.open_project(root)
    ctrl = install_keypoint_editor(window)
    assert ctrl.train(config={"lerning_rate": 1}) is None
    assert "lerning_rate" in dialogs[-1][0] and not window.process_jobs.jobs


# ------------------------------------------------------------------------------------------ occlusion labels
def _mined_demo(root: Path) -> Path:
    from walt3d_studio.background_job import compute_backgrounds
    from walt3d_studio.camera import Camera
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store import Project

    with Project.create(root) as p:
        cam = p.add_camera("parking-lot", "UTC")
        p.add_source(GIF, cam)
        compute_backgrounds(p, cam, hours_per_window=None)
        p.set_calibration(cam, Camera.load(CALIBRATION))
        mine(p, cam)
        return p.root


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory):
    return _mined_demo(tmp_path_factory.mktemp("childjobs") / "demo")


def _copy(template: Path, dst: Path) -> Path:
    shutil.copytree(template, dst, ignore=shutil.ignore_patterns(".lock", ".lock-delegate"))
    return dst


def test_label_export_and_import_run_as_children(qtbot, make_window, demo_template, tmp_path):
    from walt3d_studio.gui.review import install_review
    from walt3d_studio.store.detections import label_tracks, track_table

    src = _copy(demo_template, tmp_path / "a.walt3d")
    w = make_window()
    rc = w.review if hasattr(w, "review") else install_review(w)
    assert w.open_project(src)
    w.settle()
    t = track_table(w.project, w.camera_id)
    label_tracks(w.project, [int(i) for i in t.id], "O")
    rc.reload()

    out = tmp_path / "labels.json"
    job = rc.mining.export_labels(out)
    assert job in w.process_jobs.jobs and job.pid != os.getpid()
    assert rc.label_actions["U"].isEnabled()  # labelling goes on: an export locks no camera
    how, n = wait_job(qtbot, job, timeout=60000)
    assert how == "finished" and n == int(t.length.sum()) and out.exists()
    assert "Exported" in w.statusBar().currentMessage()

    other = _copy(demo_template, tmp_path / "b.walt3d")
    assert w.open_project(other)
    w.settle()
    labels_before = _rows(other, "labels")
    # cancelled: nothing imported, nothing on the undo stack
    job = rc.mining.import_labels(out)
    assert job.title == "Importing occlusion labels" and w.lock_reason(w.camera_id) is None
    _cancel_at_start(qtbot, job)
    how, _ = wait_job(qtbot, job, timeout=60000)
    assert how == "cancelled" and _rows(other, "labels") == labels_before and rc.undo_stack.count() == 0
    # finished: every label in, one undoable edit
    how, (edit, matched, unmatched) = wait_job(qtbot, rc.mining.import_labels(out), timeout=60000)
    assert how == "finished" and matched == int(t.length.sum()) and unmatched == 0
    t2 = track_table(w.project, w.camera_id)
    assert int(t2.n_labelled.sum()) == int(t2.length.sum()) and rc.undo_stack.count() == 1
    w.undo()
    assert int(track_table(w.project, w.camera_id).n_labelled.sum()) == 0
    w.redo()
    assert int(track_table(w.project, w.camera_id).n_labelled.sum()) == int(t2.length.sum())


def test_label_import_of_a_bad_file_fails_in_the_child_and_keeps_everything(qtbot, make_window, demo_template,
                                                                           tmp_path, dialogs):
    from walt3d_studio.gui.review import install_review

    root = _copy(demo_template, tmp_path / "c.walt3d")
    w = make_window()
    rc = w.review if hasattr(w, "review") else install_review(w)
    assert w.open_project(root)
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [], "annotations": 3}')
    before = _rows(root, "labels")
    how, err = wait_job(qtbot, rc.mining.import_labels(bad), timeout=60000)
    assert how == "failed" and "not an occlusion-label dataset" in err.message
    assert any("not an occlusion-label dataset" in text for text, _ in dialogs)
    assert _rows(root, "labels") == before and rc.undo_stack.count() == 0


# ------------------------------------------------------------------------------------------ adding sources
def test_add_video_from_the_menu_is_a_child_job(qtbot, make_window, demo_template, tmp_path, dialogs, monkeypatch):
    """File > Add video… scans the video in a child process: the camera it adds to is locked, the other camera
    stays editable; Cancel stores nothing; a finished import shows the video's frames on the timeline."""
    from PySide6.QtWidgets import QFileDialog

    from walt3d_studio.gui.review import install_review

    from .gui_helpers import MP4, decode_all

    root = _copy(demo_template, tmp_path / "s.walt3d")
    w = make_window()
    rc = w.review if hasattr(w, "review") else install_review(w)
    assert w.open_project(root)
    lot = w.camera_id
    cam2 = w.new_camera("street")
    assert w.camera_id == cam2
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: ([str(MP4)], "")))
    tables = ("cameras", "sources", "frames")
    before = {t: _rows(root, t) for t in tables}

    # cancelled: the store exactly as before
    w.act_add_video.trigger()
    job = w._adding_job()
    assert job is not None and job in w.process_jobs.jobs and job.camera_id == cam2
    assert job.args[0] == "add-source" and "street" in job.args
    _cancel_at_start(qtbot, job)
    how, _ = wait_job(qtbot, job, timeout=60000)
    assert how == "cancelled" and {t: _rows(root, t) for t in tables} == before
    assert not dialogs  # a cancel is not an error

    # finished: while it runs the new camera is locked, the mined one stays editable
    w.act_add_video.trigger()
    job = w._adding_job()
    qtbot.waitUntil(lambda: job.pid is not None, timeout=10000)
    os.killpg(job.pid, signal.SIGSTOP)
    assert w.lock_reason(cam2) and "Adding" in w.lock_reason(cam2) and w.lock_reason(lot) is None
    assert w.add_sources([MP4]) is None and "running already" in dialogs[-1][0]
    w.select_camera(lot)
    w.settle()
    assert rc.label_actions["U"].isEnabled() and w.can_write()
    w.select_camera(cam2)
    os.killpg(job.pid, signal.SIGCONT)
    how, r = wait_job(qtbot, job, timeout=120000)
    assert how == "finished", r
    n = len(decode_all(MP4))
    assert w.camera_id == cam2 and w.timeline.count == n
    assert "Added" in w.statusBar().currentMessage() and f"{n} frames" in w.statusBar().currentMessage()
    assert len(_rows(root, "sources")) == len(before["sources"]) + 1
