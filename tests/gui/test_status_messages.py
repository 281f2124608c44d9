"""Status messages tell the truth: a stale "no object selected" goes away when something is selected, each label
is confirmed briefly (and that it is on disk), File > Open read-only browses and exports without edits, and the
save indicator says whether work is on disk."""
from __future__ import annotations

from PySide6.QtCore import Qt

from walt3d_studio.store.detections import track_table

from .gui_helpers import wait_job
from .test_review_workflow import demo, key, review, template  # noqa: F401  (fixtures)


def test_stale_message_cleared_and_labels_confirmed(qtbot, review):
    w, rc = review
    rc.select_track(None)
    rc.select_detection(None)
    key(qtbot, w.frame_view, Qt.Key_U)
    assert "No object selected" in w.statusBar().currentMessage()
    rc.select_track(3)
    assert w.statusBar().currentMessage() == ""  # the hint about the old selection is gone
    key(qtbot, w.frame_view, Qt.Key_U)
    msg = w.statusBar().currentMessage()
    assert "unoccluded" in msg and "saved" in msg, msg
    key(qtbot, w.frame_view, Qt.Key_U)  # the same label again changes nothing, and says so
    assert "No change" in w.statusBar().currentMessage()
    key(qtbot, w.frame_view, Qt.Key_X, Qt.ShiftModifier)
    msg = w.statusBar().currentMessage()
    assert "Track 3" in msg and "not an object" in msg and "saved" in msg, msg


def test_save_indicator(qtbot, review):
    w, rc = review
    ind = w.save_indicator
    assert ind.state == "saved" and "saved" in ind.text().lower() and "as you make it" in ind.toolTip()
    tool = rc.mining.paint_occluders()
    assert ind.state == "saved"  # nothing painted yet
    tool.paint_stroke([(100, 100), (140, 100)], size=10)
    assert ind.state == "unsaved" and "Unsaved" in ind.text()
    assert tool.save()
    assert ind.state == "saved"
    w.close_project()
    assert ind.state == "none" and ind.text() == ""


def test_open_read_only_browses_and_exports_without_edits(qtbot, review, demo, tmp_path, dialogs):
    w, rc = review
    rc.select_track(3)
    assert rc.label_track("U")  # something to export
    w.close_project()
    file_menu = w.menuBar().actions()[0].menu()
    assert w.act_open_ro in file_menu.actions()
    assert w.open_project(demo, readonly=True)
    w.settle()
    assert w.project.readonly and "read-only" in w.windowTitle()
    assert w.save_indicator.state == "read-only"
    # browse: tracks are listed, selecting and stepping work
    assert rc.panel.model.rowCount() == 3
    rc.select_track(3)
    assert rc.detection_id is not None
    # no edits: label keys and writers are off; a label attempt changes nothing
    labels = list(track_table(w.project, w.camera_id).n_labelled)
    for a in (*rc.label_actions.values(), rc.act_mine, rc.act_import, rc.act_paint_occluders, w.act_add_folder,
              w.act_calibrate, w.act_compute_bg):
        assert not a.isEnabled(), a.text()
    key(qtbot, w.frame_view, Qt.Key_U)
    assert list(track_table(w.project, w.camera_id).n_labelled) == labels
    assert not w.can_write() and "read-only" in dialogs[-1][0]
    # export works
    assert rc.act_export.isEnabled()
    state, n = wait_job(qtbot, rc.mining.export_labels(tmp_path / "labels.json"))
    assert state == "finished" and (tmp_path / "labels.json").exists(), n
