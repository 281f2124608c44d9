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


# -- the 3D viewport, the Train dock and the Jobs panel are on the context too ---------------------------------

WINDOW_STATE = {"review", "project", "camera_id", "reader", "timeline", "frame_view"}


def _window_reads(path) -> list[str]:
    """Reads of the window's state (`window.review`, `self.window_.camera_id`, `getattr(window, "review")`, …)
    in a panel's source, outside its install function (which builds the menus and docks on the window)."""
    import ast

    tree = ast.parse(path.read_text())
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.name.startswith("install_"):
            continue
        for node in ast.walk(fn) if isinstance(fn, (ast.FunctionDef, ast.ClassDef)) else []:
            base, name = None, None
            if isinstance(node, ast.Attribute) and node.attr in WINDOW_STATE:
                base, name = node.value, node.attr
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getattr" and \
                    len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value in WINDOW_STATE:
                base, name = node.args[0], node.args[1].value
            if base is None:
                continue
            text = ast.unparse(base)
            if text in ("window", "w", "self.window_", "self.window", "self._window"):
                found.append(f"{path.name}:{node.lineno}: {text}.{name}")
    return sorted(set(found))


def test_viewport_train_and_jobs_panels_read_nothing_of_the_window_but_its_context():
    from pathlib import Path

    gui = Path(__file__).resolve().parents[2] / "walt3d_studio" / "gui"
    offenders = [hit for f in ("viewport/dock.py", "train_panel.py", "jobs_panel.py") for hit in _window_reads(gui / f)]
    assert offenders == [], "take these from window.context (gui/context.py):\n" + "\n".join(offenders)
    # the check finds such a read
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "p.py"
        f.write_text("class P:\n    def f(self):\n        return self.window_.review.track_id, getattr(window, 'camera_id')\n")
        assert len(_window_reads(f)) == 2


def test_train_dock_starts_its_jobs_through_the_context(qtbot, make_window, tmp_path, monkeypatch):
    from walt3d_studio.errors import BadInputError

    w = make_window()
    w.act_train_panel.trigger()
    panel = w.train_panel
    ds = tmp_path / "ds"
    (ds / "annotations").mkdir(parents=True)
    calls = []

    def run_process_job(args, title, *rest, **kw):  # what the context hands on to the window's job runner
        calls.append((args, title))
        return w.process_jobs.failed_now(title, BadInputError("not started in this test", ""))

    monkeypatch.setattr(w.context, "run_process_job", run_process_job)
    panel.dataset.setText(str(ds))
    panel.run_dir.setText(str(tmp_path / "run"))
    job = panel.start()
    assert [a[:2] for a, _t in calls] == [["train", str(ds)]] and job is panel.job
    assert job in w.process_jobs.jobs  # listed in the Jobs panel like any other child job


def test_the_lock_note_follows_the_camera_through_the_context(qtbot, opened, monkeypatch):
    w, rc, kp, events = opened
    seen = []
    monkeypatch.setattr(w.lock_note, "refresh", lambda: seen.append(w.context.camera_id))
    w.context.camera_changed.emit(w.camera_id)  # as the window does on a camera switch
    w.context.project_changed.emit(w.project)
    assert seen == [w.camera_id, w.camera_id]
