"""Keypoints along a track and undo that finds its way back: C copies a vehicle's points to the next frame of its
track (moved with the box) as a proposal to accept; undo of a keypoint edit returns the main frame view to the
edit's frame; "1" on an absent point places it at the cursor, or says to click."""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt

from walt3d_studio.store import keypoints as ks

from .test_keypoint_editor import BOXES, click, editor, focus, human, key, kp_project  # noqa: F401


def _one_track(window, dets):
    """Put the three mined cars (frames 0, 1, 2) on one track."""
    p = window.project
    cam = p.cameras()[0].id
    with p.transaction() as c:
        tid = c.execute("INSERT INTO tracks (camera_id, category, created_at) VALUES (?, 'car', ?)",
                        (cam, time.time())).lastrowid
        c.executemany("UPDATE detections SET track_id = ? WHERE id = ?", [(tid, d) for d in dets[:3]])
    return tid


def test_c_copies_points_to_the_next_frame_moved_with_the_box(qtbot, window, editor):
    ctrl, ed, dets = editor
    _one_track(window, dets)
    ed.open_detection(dets[0])
    focus(qtbot, window, ed)
    click(qtbot, ed, 110, 130)          # keypoint 0 at (110, 130) in box (100, 80, 80, 60)
    key(qtbot, ed, Qt.Key_Tab)          # 1 absent
    click(qtbot, ed, 170, 90)           # 2 at (170, 90)
    src = human(window, dets[0])
    key(qtbot, ed, Qt.Key_C)
    assert ed.detection.id == dets[1]
    prop = ks.model_keypoints(window.project, dets[1])
    assert prop is not None and prop.model_version == f"copied:{dets[0]}"
    # box (100, 80, 80, 60) -> (40, 40, 100, 70): x' = 40 + (x - 100) * 100/80, y' = 40 + (y - 80) * 70/60
    for k in (0, 2):
        x, y, _ = src[k]
        np.testing.assert_allclose(prop.points[k], [40 + (x - 100) * 1.25, 40 + (y - 80) * 70 / 60, 2], atol=1e-3)
    assert abs(prop.points[0, 0] - 52.5) < 1 and abs(prop.points[2, 0] - 127.5) < 1
    assert prop.points[1, 2] == 0 and human(window, dets[1]) is None  # a proposal, not a person's label yet
    assert "Enter accepts" in window.statusBar().currentMessage()
    np.testing.assert_array_equal(human(window, dets[0]), src)  # the source is untouched
    key(qtbot, ed, Qt.Key_Return)       # accept: now the person's points
    np.testing.assert_allclose(human(window, dets[1])[:, :2], prop.points[:, :2], atol=1e-3)
    # the last frame of the track has nowhere to go
    key(qtbot, ed, Qt.Key_C)
    assert ed.detection.id == dets[2]
    key(qtbot, ed, Qt.Key_Return)
    key(qtbot, ed, Qt.Key_C)
    assert ed.detection.id == dets[2] and "no later frame" in window.statusBar().currentMessage()


def test_undo_returns_the_frame_view_to_the_edits_frame(qtbot, window, editor):
    ctrl, ed, dets = editor
    ed.open_detection(dets[0])
    ed.show_in_frame()
    window.settle()
    focus(qtbot, window, ed)
    click(qtbot, ed, 110, 130)
    key(qtbot, ed, Qt.Key_N)            # the next vehicle; the main view goes elsewhere
    window.timeline.set_position(3)
    window.settle()
    qtbot.keyClick(ed.canvas, Qt.Key_Z, Qt.ControlModifier)
    window.settle()
    assert ed.detection.id == dets[0] and human(window, dets[0]) is None
    assert window.timeline.position == 0  # the frame of the edit


def test_1_on_an_absent_point_places_it_at_the_cursor_or_says_to_click(qtbot, window, editor):
    ctrl, ed, dets = editor
    ed.open_detection(dets[0])
    focus(qtbot, window, ed)
    click(qtbot, ed, 110, 130)
    ed.select_point(0)
    key(qtbot, ed, Qt.Key_3)            # absent
    assert human(window, dets[0])[0, 2] == 0
    ed.select_point(0)
    ed.canvas._cursor = None            # the mouse is not on the crop: say what to do
    key(qtbot, ed, Qt.Key_1)
    assert human(window, dets[0])[0, 2] == 0 and "click" in window.statusBar().currentMessage()
    # with the mouse over the crop, 1 places it there, visible
    vp = ed.canvas.viewport()
    qtbot.mouseMove(vp, ed.canvas.widget_pos_of_frame(150, 120))
    qtbot.waitUntil(lambda: ed.canvas._cursor is not None, timeout=2000)
    ed.canvas.underMouse = lambda: True  # offscreen platforms keep no pointer: say it is there
    key(qtbot, ed, Qt.Key_1)
    p = human(window, dets[0])[0]
    assert p[2] == 2 and abs(p[0] - 150) < 2 and abs(p[1] - 120) < 2
