"""Mining > Paint / Learn static occluders on the mined demo clip: a brush stroke with the mouse, Shift erases,
Save stores the mask as one undoable command (undo restores the previous mask), Cancel discards, the overlay is
magenta on screen, and learning runs as a job whose result comes back into the tool for review."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from walt3d_studio.store.detections import set_static_occluder, static_occluder

from .gui_helpers import wait_job
from .test_review_workflow import demo, review, template  # noqa: F401  (fixtures)


def _drag(qtbot, view, points, modifiers=Qt.NoModifier):
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, modifiers, pos=view.widget_pos_of_pixel(*points[0]))
    for x, y in points[1:]:
        qtbot.wait(20)  # pyqtgraph's scene passes on at most one move per 1/60 s
        p = QPointF(view.widget_pos_of_pixel(x, y))
        QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseMove, p, vp.mapToGlobal(p), Qt.NoButton,
                                               Qt.LeftButton, modifiers))
    qtbot.mouseRelease(vp, Qt.LeftButton, modifiers, pos=view.widget_pos_of_pixel(*points[-1]))


def test_paint_save_undo_and_magenta_overlay(qtbot, review, tmp_path):
    w, rc = review
    cam = w.camera_id
    assert rc.act_paint_occluders in rc.menu.actions() and rc.act_learn_occluders in rc.menu.actions()
    rc.act_paint_occluders.trigger()
    tool = rc.mining.occluder_tool
    assert tool is not None and tool.active and tool.isVisible()
    assert tool.mask.shape == (270, 480) and not tool.mask.any()
    tool.brush.setValue(12)
    qtbot.wait(20)
    view = w.frame_view
    # a vertical stroke (a "pole") at x = 240 from y = 40 to 230, dragged with the mouse
    _drag(qtbot, view, [(240, 40 + 19 * i) for i in range(11)])
    assert tool.mask[40:231, 236:245].all() and not tool.mask[:, :225].any() and not tool.mask[:, 255:].any()
    # Shift+drag erases a gap
    _drag(qtbot, view, [(225, 130), (235, 130), (245, 130), (255, 130)], Qt.ShiftModifier)
    assert not tool.mask[126:135, 238:243].any() and tool.mask[60, 240] and tool.mask[200, 240]
    # the overlay is magenta on screen (the frame under it mixes in: red and blue clearly above green)
    qtbot.wait(50)
    c = view.grab().toImage().pixelColor(view.widget_pos_of_pixel(240, 80))
    assert c.red() > c.green() + 60 and c.blue() > c.green() + 60, c.name()
    w.grab().save(str(tmp_path / "occluder_tool.png"))
    # Save: one undoable command
    n = w.undo_stack.count()
    assert tool.save()
    assert w.undo_stack.count() == n + 1 and not tool.active and not tool.isVisible()
    stored = static_occluder(w.project, cam)
    assert stored is not None and stored[60, 240] and not stored[130, 240] and not stored[:, :225].any()
    # paint more over the stored mask, save again; undo restores the first, undo again removes it
    rc.act_paint_occluders.trigger()
    assert tool.mask[60, 240]  # starts from the stored mask
    tool.paint_stroke([(50, 50), (100, 50)], size=10)
    assert tool.save()
    assert static_occluder(w.project, cam)[50, 75]
    w.undo_stack.undo()
    m = static_occluder(w.project, cam)
    assert m is not None and not m[50, 75] and m[60, 240]
    w.undo_stack.undo()
    assert static_occluder(w.project, cam) is None
    w.undo_stack.redo()
    assert static_occluder(w.project, cam)[60, 240]


def test_cancel_discards(qtbot, review, monkeypatch):
    from walt3d_studio.gui import tools

    monkeypatch.setattr(tools, "ask_unsaved", lambda parent, what: tools.DISCARD)  # "Discard" in the question
    w, rc = review
    cam = w.camera_id
    before = np.zeros((270, 480), bool)
    before[10:20, 10:20] = True
    set_static_occluder(w.project, cam, before)
    tool = rc.mining.paint_occluders()
    tool.paint_stroke([(300, 100), (400, 100)], size=20)
    tool.clear()
    tool.paint_stroke([(300, 100)], size=20)
    tool.cancel()
    assert not tool.active and not tool.isVisible()
    assert np.array_equal(static_occluder(w.project, cam), before)
    assert w.frame_view.vb.tool is None  # panning is back


def test_learn_runs_as_a_child_job_and_shows_the_result_for_review(qtbot, review, dialogs):
    """Learning runs `walt3d occluders learn --mask-out` in a child process: labelling goes on; Cancel adds
    nothing to the tool and stores nothing; a finished run shows its mask in the paint tool, stored on Save."""
    import os
    import signal

    w, rc = review
    cam = w.camera_id
    # the demo has no long-lived objects: learn with a tiny minimum (the tool's own settings in the child)
    job = rc.mining.learn_occluders(min_seconds=0.0, max_motion_px=1000.0)
    assert job is not None and job in w.process_jobs.jobs and job.args[:2] == ["occluders", "learn"]
    tool = rc.mining.occluder_tool
    assert tool.active and w.can_write()
    qtbot.waitUntil(lambda: job.pid is not None, timeout=10000)
    os.killpg(job.pid, signal.SIGSTOP)
    assert rc.mining.learn_occluders(0.0, 1000.0) is None and "running already" in dialogs[-1][0]
    job.cancel()
    os.killpg(job.pid, signal.SIGCONT)
    state, _ = wait_job(qtbot, job, timeout=60000)
    assert state == "cancelled" and not tool.mask.any() and tool.origin != "learned"
    assert static_occluder(w.project, cam) is None
    assert not list(w.project.root.glob("shards/occluders-*"))  # no mask file left behind

    job = rc.mining.learn_occluders(min_seconds=0.0, max_motion_px=1000.0)
    state, rep = wait_job(qtbot, job, timeout=60000)
    assert state == "finished", rep
    assert rep.mask.any() and tool.mask[rep.mask].all() and tool.origin == "learned"
    assert "Learned" in tool.info.text()
    assert not list(w.project.root.glob("shards/occluders-*"))  # the mask file is gone once read
    assert static_occluder(w.project, cam) is None  # nothing stored before Save
    assert tool.save()
    assert np.array_equal(static_occluder(w.project, cam), rep.mask)
    row = w.project.conn.execute("SELECT origin FROM static_occluders WHERE camera_id = ?", (cam,)).fetchone()
    assert row[0] == "learned"


def test_switching_camera_closes_the_tool_unsaved(qtbot, review, tmp_path):
    w, rc = review
    first = w.camera_id
    rc.act_paint_occluders.trigger()
    tool = rc.mining.occluder_tool
    tool.paint_stroke([(100, 100), (120, 100)], size=8)
    assert tool.active and tool.mask.any()
    other = w.new_camera("empty")
    w.select_camera(other)
    w.settle()
    assert not tool.active and not tool.isVisible()
    assert static_occluder(w.project, first) is None  # nothing was saved for either camera
