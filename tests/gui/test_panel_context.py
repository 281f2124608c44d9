"""The shared panel context (gui/context.py): panels learn of the project, camera, frame, selection and store
changes through `window.context` instead of reaching into the main window or calling each other's reload()."""
from __future__ import annotations

import pytest

from .gui_helpers import wait_job
from .test_child_jobs import _copy, _mined_demo


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory):
    return _mined_demo(tmp_path_factory.mktemp("context") / "demo")


@pytest.fixture
def opened(make_window, demo_template, tmp_path):
    from walt3d_studio.gui.keypoint_editor import install_keypoint_editor
    from walt3d_studio.gui.review import install_review

    w = make_window()
    rc = w.review if hasattr(w, "review") else install_review(w)
    kp = install_keypoint_editor(w)
    events = []
    ctx = w.context
    ctx.project_changed.connect(lambda p: events.append(("project", p)))
    ctx.camera_changed.connect(lambda c: events.append(("camera", c)))
    ctx.selection_changed.connect(lambda t, d: events.append(("selection", t, d)))
    ctx.store_changed.connect(lambda what, c: events.append(("store", what, c)))
    root = _copy(demo_template, tmp_path / "d.walt3d")
    assert w.open_project(root)
    w.settle()
    return w, rc, kp, events


def test_project_and_camera_reach_panels_through_the_context(qtbot, opened):
    w, rc, kp, events = opened
    assert ("project", w.project) in events and ("camera", w.camera_id) in events
    assert w.context.project is w.project and w.context.camera_id == w.camera_id
    # the keypoint editor took the project from the context at once (no frame step needed)
    assert kp.editor.project is w.project and kp.editor.queue.camera.currentData() == w.camera_id
    positions = []
    w.context.position_changed.connect(positions.append)
    w.timeline.set_position(3)
    assert positions == [3] and w.context.position == 3
    w.close_project()
    assert events[-1] == ("project", None) and kp.editor.project is None and w.context.track_id is None


def test_the_review_publishes_its_selection_and_obliges_requests(qtbot, opened):
    from walt3d_studio.store.detections import track_table

    w, rc, kp, events = opened
    t = track_table(w.project, w.camera_id)
    tid = int(t.id[0])
    w.context.request_selection(tid)  # as the 3D viewport does when a mesh is picked
    assert rc.track_id == tid
    assert w.context.track_id == tid and events[-1][:2] == ("selection", tid)
    rc.select_track(None)
    assert w.context.track_id is None and w.context.detection_id is None


def test_store_changed_makes_each_panel_reread_what_it_shows(qtbot, opened):
    from walt3d_studio.store.detections import track_table

    w, rc, kp, events = opened
    ed = kp.open_editor()
    before = rc.panel.model.rowCount()
    with w.project.transaction() as c:  # as a job in another process would: the panels do not know yet
        c.execute("DELETE FROM detections WHERE track_id = ?", (ed.detection.track_id,))  # its whole track
        c.execute("DELETE FROM tracks WHERE id = ?", (ed.detection.track_id,))
    assert ed.detection is not None and rc.panel.model.rowCount() == before
    w.context.notify_store_changed("detections", w.camera_id)
    assert ed.detection is None  # the vehicle went: the editor let it go
    assert rc.panel.model.rowCount() == len(track_table(w.project, w.camera_id)) < before  # the review re-read
    with pytest.raises(ValueError):
        w.context.notify_store_changed("everything")


def test_a_finished_background_job_says_so_on_the_context(qtbot, opened):
    w, rc, kp, events = opened
    how, keys = wait_job(qtbot, w.compute_background(None), timeout=60000)
    assert how == "finished" and ("store", "backgrounds", w.camera_id) in events


def test_panels_and_tools_open_as_tabs_and_the_window_keeps_its_size(qtbot, opened):
    """Issue 11: opening the editor after a tool panel stacked it under the review dock and forced the window
    past the screen. Every dock goes through gui/docks.add_dock now: tabs, and the window keeps its size."""
    from PySide6.QtWidgets import QDockWidget

    w, rc, kp, events = opened
    w.resize(1280, 820)
    qtbot.wait(50)
    size = w.size()
    assert rc.mining.paint_occluders() is not None
    w.start_calibration_tool()
    kp.open_editor()
    qtbot.wait(50)
    assert w.size().height() <= size.height() and w.size().width() <= size.width()
    docks = [d for d in w.findChildren(QDockWidget) if d.isVisible() and not d.isFloating()]
    tabbed = set(w.tabifiedDockWidgets(rc.panel)) | {rc.panel}
    assert kp.editor in tabbed and w.calibration_tool in tabbed and rc.mining.occluder_tool in tabbed
    assert all(d in tabbed for d in docks if w.dockWidgetArea(d) == w.dockWidgetArea(rc.panel))
