"""Bulk work in the review: Shift/Ctrl-click several tracks (or Ctrl+A on what the filters show) and label them
all with one key, as one undo step."""
from __future__ import annotations

from PySide6.QtCore import Qt

from walt3d_studio.store.detections import track_table

from .test_review_workflow import demo, key, review, template  # noqa: F401  (fixtures)


def _track_labels(w):
    t = track_table(w.project, w.camera_id)
    return dict(zip((int(i) for i in t.id), t.label))


def _click_row(qtbot, view, row, mod=Qt.NoModifier):
    rect = view.visualRect(view.model().index(row, 1))
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, mod, rect.center())


def test_ctrl_click_then_one_key_labels_the_tracks_as_one_undo_step(qtbot, review):
    w, rc = review
    view = rc.panel.view
    _click_row(qtbot, view, 0)
    _click_row(qtbot, view, 2, Qt.ControlModifier)
    assert rc.panel.selected_track_ids() == [1, 3]
    assert "2 tracks selected" in rc.panel.selection_label.text()
    n = w.undo_stack.count()
    key(qtbot, w.frame_view, Qt.Key_O)
    assert _track_labels(w) == {1: "O", 2: None, 3: "O"}
    assert w.undo_stack.count() == n + 1 and "2 tracks" in w.statusBar().currentMessage()
    key(qtbot, w.frame_view, Qt.Key_Z, Qt.ControlModifier)
    assert _track_labels(w) == {1: None, 2: None, 3: None}
    # Shift+click selects a range
    _click_row(qtbot, view, 0)
    _click_row(qtbot, view, 2, Qt.ShiftModifier)
    assert rc.panel.selected_track_ids() == [1, 2, 3]


def test_ctrl_a_on_a_filter_selects_what_it_shows(qtbot, review):
    w, rc = review
    rc.panel.id_filter.setText("1-2")
    assert rc.panel.model.rowCount() == 2
    rc.panel.view.setFocus()
    key(qtbot, rc.panel.view, Qt.Key_A, Qt.ControlModifier)
    assert rc.panel.selected_track_ids() == [1, 2]
    n = w.undo_stack.count()
    key(qtbot, w.frame_view, Qt.Key_X)
    assert _track_labels(w) == {1: "X", 2: "X", 3: None}
    assert w.undo_stack.count() == n + 1
