"""Frame the selected object (Z) and follow it while stepping (Shift+Z), as CVAT does."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from .test_review_workflow import demo, key, review, template  # noqa: F401  (fixtures)


def _range(w):
    (x0, x1), (y0, y1) = w.frame_view.vb.viewRange()
    return np.array([x0, x1, y0, y1])


def _box(rc):
    return next(d["box"] for d in rc.frame_dets if d["id"] == rc.detection_id)


def _inside(r, box):
    x, y, bw, bh = box
    return r[0] <= x - 0.5 and r[1] >= x + bw - 0.5 and r[2] <= y - 0.5 and r[3] >= y + bh - 0.5


def test_z_frames_the_selected_object_and_shift_z_follows_it(qtbot, review):
    w, rc = review
    w.frame_view.fit()
    rc.select_track(1)  # the cyclist: small, far away
    whole = _range(w)
    key(qtbot, w.frame_view, Qt.Key_Z)
    r, box = _range(w), _box(rc)
    assert _inside(r, box)
    assert (r[1] - r[0]) < 0.5 * (whole[1] - whole[0])  # zoomed in on it
    # without Follow, stepping keeps the zoom where it was (the view may only re-fit its aspect to its size)
    key(qtbot, w.frame_view, Qt.Key_Right)
    r2 = _range(w)
    assert np.allclose(r2[2:], r[2:]) and abs((r2[0] + r2[1]) - (r[0] + r[1])) / 2 < 1
    # with Follow, every step re-frames the object
    key(qtbot, w.frame_view, Qt.Key_Z, Qt.ShiftModifier)
    assert rc.framing.act_follow.isChecked()
    for _ in range(6):
        key(qtbot, w.frame_view, Qt.Key_Right)
    r, box = _range(w), _box(rc)
    assert _inside(r, box)
    cx, cy = box[0] - 0.5 + box[2] / 2, box[1] - 0.5 + box[3] / 2
    assert abs((r[0] + r[1]) / 2 - cx) < 2 and abs((r[2] + r[3]) / 2 - cy) < 2
    rc.select_track(None)
    key(qtbot, w.frame_view, Qt.Key_Z)
    assert "Nothing selected" in w.statusBar().currentMessage()
