"""A tool on the frame view is a safe place: the static-occluder brush has its own undo scope (strokes undo one
by one, Save is one step of the window's undo), review keys wait while it is open, and Escape leaves it, asking
first when strokes are unsaved."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from walt3d_studio.gui import tools
from walt3d_studio.store.detections import static_occluder, track_table

from .test_review_workflow import demo, key, review, template  # noqa: F401  (fixtures)


def _labels(w):
    t = track_table(w.project, w.camera_id)
    return list(t.n_labelled), list(t.label)


def test_brush_has_its_own_undo_and_blocks_review_keys(qtbot, review, monkeypatch):
    w, rc = review
    view = w.frame_view
    rc.select_track(3)
    assert rc.label_track("U")  # a review edit on the window's stack before the brush opens
    before_labels, stack_index, pos = _labels(w), w.undo_stack.index(), w.timeline.position
    tool = rc.mining.paint_occluders()
    tool.paint_stroke([(100, 100), (140, 100)], size=10)
    tool.paint_stroke([(300, 200), (340, 200)], size=10)
    assert tool.mask[100, 120] and tool.mask[200, 320]
    key(qtbot, view, Qt.Key_Z, Qt.ControlModifier)       # the second stroke only
    assert tool.mask[100, 120] and not tool.mask[200, 320]
    key(qtbot, view, Qt.Key_Z, Qt.ControlModifier)       # the first
    assert not tool.mask.any()
    key(qtbot, view, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)  # redo the first
    assert tool.mask[100, 120] and not tool.mask[200, 320]
    # the review's labels, its undo history and the frame were never touched
    assert _labels(w) == before_labels and w.undo_stack.index() == stack_index and w.timeline.position == pos
    # review keys wait while the brush is open, and say why
    for k, mod in ((Qt.Key_O, Qt.NoModifier), (Qt.Key_X, Qt.ShiftModifier), (Qt.Key_Space, Qt.NoModifier)):
        key(qtbot, view, k, mod)
    assert _labels(w) == before_labels and w.undo_stack.index() == stack_index and w.timeline.position == pos
    assert "Esc" in w.statusBar().currentMessage()
    # Save: one step on the window's stack; the next Ctrl+Z undoes the save, not a stroke
    assert tool.save() and not tool.active
    assert w.undo_stack.index() == stack_index + 1
    assert static_occluder(w.project, w.camera_id)[100, 120]
    key(qtbot, view, Qt.Key_Z, Qt.ControlModifier)
    assert static_occluder(w.project, w.camera_id) is None and _labels(w) == before_labels


def test_escape_leaves_the_brush_asking_when_strokes_are_unsaved(qtbot, review, monkeypatch):
    w, rc = review
    asked = []
    answer = {"v": tools.CANCEL}
    monkeypatch.setattr(tools, "ask_unsaved", lambda parent, what: asked.append(what) or answer["v"])
    tool = rc.mining.paint_occluders()
    key(qtbot, w.frame_view, Qt.Key_Escape)  # nothing painted: leaves without asking
    assert not tool.active and not asked and w.frame_view.vb.tool is None
    tool = rc.mining.paint_occluders()
    tool.paint_stroke([(100, 100), (140, 100)], size=10)
    key(qtbot, w.frame_view, Qt.Key_Escape)  # asked; "Cancel" keeps painting
    assert asked and tool.active and tool.mask[100, 120]
    answer["v"] = tools.DISCARD
    key(qtbot, w.frame_view, Qt.Key_Escape)
    assert not tool.active and static_occluder(w.project, w.camera_id) is None
    tool = rc.mining.paint_occluders()
    tool.paint_stroke([(100, 100), (140, 100)], size=10)
    answer["v"] = tools.SAVE
    key(qtbot, w.frame_view, Qt.Key_Escape)
    assert not tool.active and static_occluder(w.project, w.camera_id)[100, 120]
