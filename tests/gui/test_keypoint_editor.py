"""The vehicle keypoint editor: placing, skipping, states, swapping, dragging, undo, proposals, the queue,
reopening, the rendered markers, the Keypoints menu and its jobs, and a screenshot of the demo clip."""
from __future__ import annotations


import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication

from walt3d_studio.store import Project
from walt3d_studio.store import keypoints as ks
from walt3d_studio.store.detections import label_detections

from .gui_helpers import wait_job

W, H = 320, 240
HOURS = (8, 9, 10, 11)
# mined vehicles: (frame index, box); frame 3 also holds an occluded car that is not in the queue
BOXES = [(0, (100, 80, 80, 60)), (1, (40, 40, 100, 70)), (2, (150, 100, 60, 50))]
T8 = 1714550400.0  # 2024-05-01 08:00 UTC


def _frame(i: int) -> np.ndarray:
    """R = x, G = y, B = 60 i: every pixel tells where it is."""
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = (np.arange(W) % 256)[None, :]
    img[..., 1] = (np.arange(H) % 256)[:, None]
    img[..., 2] = 60 * i
    return img


def _add_detection(p, frame_id, box, verdict="unoccluded", category="car"):
    x, y, w, h = box
    with p.transaction() as c:
        det = c.execute("INSERT INTO detections (frame_id, track_id, detector, category, score, x, y, w, h, area,"
                        " created_at) VALUES (?, NULL, 'test', ?, 1.0, ?, ?, ?, ?, ?, 0)",
                        (frame_id, category, x, y, w, h, w * h)).lastrowid
        c.execute("INSERT INTO verdicts (detection_id, verdict, decided_by) VALUES (?, ?, 'rule')", (det, verdict))
    return det


@pytest.fixture
def kp_project(tmp_path):
    """4 frames an hour apart; 3 mined cars (rule verdicts), an occluded car and one a person marked U."""
    from PIL import Image

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, hour in enumerate(HOURS):
        Image.fromarray(_frame(i)).save(folder / f"cam_20240501_{hour:02d}0000.png")
    root = tmp_path / "kp.walt3d"
    with Project.create(root) as p:
        cam = p.add_camera("lot", "UTC")
        p.add_source(folder, cam)
        frames = [int(f) for f in p.frame_table(cam).ids]
        dets = [_add_detection(p, frames[i], box) for i, box in BOXES]
        _add_detection(p, frames[3], (10, 10, 50, 40), verdict="occluded")
        marked = _add_detection(p, frames[3], (200, 150, 90, 60), verdict="occluded")
        label_detections(p, [marked], "U")  # a person's U makes it mined
        dets.append(marked)
    return root, dets


@pytest.fixture
def editor(qtbot, window, kp_project):
    from walt3d_studio.gui.keypoint_editor import install_keypoint_editor

    root, dets = kp_project
    assert window.open_project(root)
    ctrl = install_keypoint_editor(window)
    ed = ctrl.open_editor()
    ed.settle()
    qtbot.waitUntil(lambda: ed.canvas.width() > 300)
    focus(qtbot, window, ed)
    return ctrl, ed, dets


def focus(qtbot, window, ed):
    if QApplication.activeWindow() is not window:
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    ed.canvas.setFocus()
    qtbot.waitUntil(ed.canvas.hasFocus, timeout=2000)


def click(qtbot, ed, x, y):
    qtbot.mouseClick(ed.canvas.viewport(), Qt.LeftButton, pos=ed.canvas.widget_pos_of_frame(x, y))


def key(qtbot, ed, k, mod=Qt.NoModifier):
    qtbot.keyClick(ed.canvas, k, mod)


def human(window, det):
    row = ks.human_keypoints(window.project, det)
    return None if row is None else row.points


def grab_array(widget) -> np.ndarray:
    img = widget.grab().toImage().convertToFormat(QImage.Format_RGB888)
    w, h = img.width(), img.height()
    return np.frombuffer(img.constBits(), np.uint8).reshape(h, img.bytesPerLine())[:, :3 * w].reshape(h, w, 3).copy()


# ------------------------------------------------------------------------------------------------ tests

def test_opens_on_the_first_queued_vehicle_with_its_crop(window, editor):
    ctrl, ed, dets = editor
    assert ed.isVisible() and ed.detection.id == dets[0]
    assert "0 done, 4 to go (of 4)" in ed.status.text()  # 3 by the rule + 1 a person marked U
    img = ed.canvas.image_item.image  # the crop with context, placed in frame pixels
    rect = ed.canvas.image_item.mapRectToView(ed.canvas.image_item.boundingRect())
    x0, y0 = rect.left() + 0.5, rect.top() + 0.5
    assert x0 < 100 and y0 < 80 and x0 + img.shape[1] > 180  # box (100, 80, 80, 60) plus context
    np.testing.assert_array_equal(img[5, 7], _frame(0)[int(y0) + 5, int(x0) + 7])
    assert "Right_Front_wheel" in ed.canvas.banner.text()
    assert [a.text() for a in window.menuBar().actions()].count("&Edit") == 1  # undo/redo: it made the stack
    menu = [a.text() for a in ctrl.menu.actions()]
    for text in ("Open &editor", "&Train keypoint model…", "&Predict keypoints", "E&xport COCO keypoints…",
                 "&Import COCO keypoints…"):
        assert text in menu


def test_clicks_place_keypoints_in_schema_order_at_frame_pixels(qtbot, window, editor):
    ctrl, ed, dets = editor
    targets = [(110, 130), (170, 128), (120, 100), (165, 95)]
    for k, (x, y) in enumerate(targets):
        click(qtbot, ed, x, y)
        pts = human(window, dets[0])
        assert pts[k, 2] == 2 and np.allclose(pts[k, :2], (x, y), atol=0.75), (k, pts[k])
        assert ed.current == k + 1
    assert np.all(pts[4:, 2] == 0)
    assert ed.schema.keypoints[4] in ed.canvas.banner.text()
    assert ed.diagram.current == 4 and ed.list.item(4).font().bold()
    # four edits, four rows, four undo steps
    assert len(ks.keypoint_history(window.project, dets[0])) == 4 and window.undo_stack.count() == 4


def test_tab_skips_and_the_state_keys(qtbot, window, editor):
    ctrl, ed, dets = editor
    key(qtbot, ed, Qt.Key_Tab)
    pts = human(window, dets[0])
    assert pts is not None and pts[0, 2] == 0 and ed.current == 1  # skipping is an edit: absent
    click(qtbot, ed, 130, 120)
    assert human(window, dets[0])[1, 2] == 2 and ed.selected == 1
    key(qtbot, ed, Qt.Key_2)
    assert human(window, dets[0])[1, 2] == 1
    key(qtbot, ed, Qt.Key_1)
    assert human(window, dets[0])[1, 2] == 2
    key(qtbot, ed, Qt.Key_V)
    assert human(window, dets[0])[1, 2] == 1
    key(qtbot, ed, Qt.Key_V)
    pts = human(window, dets[0])
    assert pts[1].tolist() == [0, 0, 0]  # absent keeps no position
    # 2 on a point not placed yet: the next click places it occluded
    ed.set_current(3)
    key(qtbot, ed, Qt.Key_2)
    assert "occluded" in ed.canvas.banner.text()
    click(qtbot, ed, 150, 100)
    assert human(window, dets[0])[3, 2] == 1
    key(qtbot, ed, Qt.Key_3)
    assert human(window, dets[0])[3, 2] == 0
    key(qtbot, ed, Qt.Key_Tab, Qt.ShiftModifier)  # steps back without an edit
    assert ed.current == 3


def test_f_swaps_left_and_right_by_the_flip_pairs(qtbot, window, editor):
    ctrl, ed, dets = editor
    for x, y in [(110, 130), (170, 128), (112, 100)]:  # RF wheel, LF wheel, RB wheel
        click(qtbot, ed, x, y)
    before = human(window, dets[0])
    n_rows = len(ks.keypoint_history(window.project, dets[0]))
    key(qtbot, ed, Qt.Key_F)  # also the frame view's Fit: the editor's F wins while it has focus
    after = human(window, dets[0])
    flip = ed.schema.flip_index()
    np.testing.assert_allclose(after, before[flip])
    assert after[0].tolist() == before[1].tolist() and after[3].tolist() == before[2].tolist()
    assert len(ks.keypoint_history(window.project, dets[0])) == n_rows + 1


def test_editor_keys_stay_in_the_editor(qtbot, window, editor):
    ctrl, ed, dets = editor
    click(qtbot, ed, 110, 130)
    click(qtbot, ed, 170, 128)
    before = human(window, dets[0])
    window.frame_view.setFocus()
    qtbot.waitUntil(window.frame_view.hasFocus)
    qtbot.keyClick(window.frame_view, Qt.Key_F)  # the window's Fit, not a swap
    qtbot.keyClick(window.frame_view, Qt.Key_N)
    np.testing.assert_array_equal(human(window, dets[0]), before)
    assert ed.detection.id == dets[0]


def test_drag_moves_a_point_as_one_edit(qtbot, window, editor):
    ctrl, ed, dets = editor
    click(qtbot, ed, 110, 130)
    n_rows = len(ks.keypoint_history(window.project, dets[0]))
    c = ed.canvas
    vp = c.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, pos=c.widget_pos_of_frame(110, 130))
    for t in np.linspace(0.1, 1.0, 6):
        p = QPointF(c.widget_pos_of_frame(110 + 20 * t, 130 - 10 * t))
        QApplication.sendEvent(vp, QMouseEvent(QEvent.MouseMove, p, vp.mapToGlobal(p), Qt.NoButton,
                                               Qt.LeftButton, Qt.NoModifier))
        if t < 1:  # the marker follows the mouse before anything is written
            assert len(ks.keypoint_history(window.project, dets[0])) == n_rows
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=c.widget_pos_of_frame(130, 120))
    pts = human(window, dets[0])
    assert np.allclose(pts[0, :2], (130, 120), atol=0.75) and pts[0, 2] == 2
    assert len(ks.keypoint_history(window.project, dets[0])) == n_rows + 1
    assert ed.current == 1  # dragging does not move the cursor


def test_undo_redo_restore_the_store_and_the_vehicle(qtbot, window, editor):
    ctrl, ed, dets = editor
    stack = window.undo_stack
    states = [human(window, dets[0])]
    for x, y in [(110, 130), (170, 128)]:
        click(qtbot, ed, x, y)
        states.append(human(window, dets[0]))
    key(qtbot, ed, Qt.Key_2)
    states.append(human(window, dets[0]))
    key(qtbot, ed, Qt.Key_F)
    states.append(human(window, dets[0]))
    assert stack.count() == 4
    for k in range(4, 0, -1):
        stack.undo()
        got = human(window, dets[0])
        if states[k - 1] is None:
            assert got is None and ks.get_keypoints(window.project, dets[0]) is None
        else:
            np.testing.assert_array_equal(got, states[k - 1])
    assert ed.current == 0
    for k in range(1, 5):
        stack.redo()
        np.testing.assert_array_equal(human(window, dets[0]), states[k])
    # undo of an edit on another vehicle brings that vehicle back on screen; Ctrl+Z works from the window
    key(qtbot, ed, Qt.Key_N)
    assert ed.detection.id == dets[1]
    qtbot.keyClick(ed.canvas, Qt.Key_Z, Qt.ControlModifier)
    assert ed.detection.id == dets[0]
    np.testing.assert_array_equal(human(window, dets[0]), states[3])


def test_enter_accepts_the_model_proposal(qtbot, window, editor):
    ctrl, ed, dets = editor
    prop = ed.schema.empty()
    prop[:4] = [[50, 100, 2], [130, 98, 2], [60, 60, 1], [125, 55, 2]]  # vehicle 1: box (40, 40, 100, 70)
    ks.add_model_keypoints(window.project, [(dets[1], prop, np.full(12, 0.8))], schema="vehicle12",
                           model_version="m1")
    key(qtbot, ed, Qt.Key_N)
    ed.settle()
    assert ed.detection.id == dets[1]
    assert ed.canvas.proposal is not None and ed.canvas.human is None
    assert "proposal" in ed.canvas.banner.text() and "proposed" in ed.list.item(0).text()
    assert len(ed.canvas.proposal_marks.data) == 4 and len(ed.canvas.marks.data) == 0  # drawn hollow, apart
    # hollow: inside a proposed marker (off its skeleton lines) the image shows through
    arr = grab_array(ed.canvas.viewport())
    pos = ed.canvas.widget_pos_of_frame(50, 100)
    r, g = arr[pos.y() + 2, pos.x() - 3, :2].astype(int)
    assert abs(r - 50) <= 4 and abs(g - 100) <= 4, (r, g)
    key(qtbot, ed, Qt.Key_Return)
    np.testing.assert_allclose(human(window, dets[1]), prop)
    assert ed.canvas.proposal is None and len(ed.canvas.marks.data) == 4
    window.undo_stack.undo()
    assert human(window, dets[1]) is None and ed.canvas.proposal is not None


def test_n_walks_the_queue_under_the_filters(qtbot, window, editor):
    ctrl, ed, dets = editor
    click(qtbot, ed, 110, 130)  # the first vehicle now has keypoints: done
    assert "1 done, 3 to go" in ed.status.text()
    seen = [ed.detection.id]
    for _ in range(4):
        assert ed.next_vehicle()
        seen.append(ed.detection.id)
    # capture order, the occluded car never comes; at the end the queue wraps to the first still unlabelled
    assert seen == dets + [dets[1]]
    key(qtbot, ed, Qt.Key_P)
    assert ed.detection.id == dets[3]
    ed.queue.min_size.setValue(90)  # longer box side >= 90 px: vehicles 1 (100) and 3 (90)
    assert "of 2" in ed.status.text()
    ed.open_detection(dets[0])
    key(qtbot, ed, Qt.Key_N)
    assert ed.detection.id == dets[1]
    key(qtbot, ed, Qt.Key_N)
    assert ed.detection.id == dets[3]
    ed.queue.min_size.setValue(0)
    ed.queue.set_time_range(T8 + 3600, T8 + 3 * 3600)  # 09:00 to 11:00: vehicles 1 and 2
    assert "0 done, 2 to go (of 2)" in ed.status.text()
    key(qtbot, ed, Qt.Key_N)
    assert ed.detection.id == dets[1]


def test_keypoints_survive_closing_and_reopening(qtbot, window, editor, kp_project):
    ctrl, ed, dets = editor
    for x, y in [(110, 130), (170, 128)]:
        click(qtbot, ed, x, y)
    key(qtbot, ed, Qt.Key_2)
    expect = human(window, dets[0])
    root = kp_project[0]
    window.close_project()
    assert ed.project is None and ed.detection is None and not ed.isVisible()
    assert window.undo_stack.count() == 0  # edits of a closed project cannot be undone
    assert window.open_project(root)
    ctrl.open_editor()
    ed.settle()
    assert ed.detection.id == dets[1]  # the first vehicle is done: the queue starts at the next one
    ed.open_detection(dets[0])
    np.testing.assert_array_equal(ed.canvas.human, expect)
    assert ed.current == 2 and "1 occluded" in ed.status.text()
    with Project.open(root, readonly=True) as q:
        np.testing.assert_array_equal(ks.get_keypoints(q, dets[0]).points, expect)


def test_a_placed_marker_has_its_colour_on_screen(qtbot, window, editor):
    ctrl, ed, dets = editor
    click(qtbot, ed, 120, 125)
    ed.deselect()
    qtbot.wait(10)
    arr = grab_array(ed.canvas.viewport())
    pos = ed.canvas.widget_pos_of_frame(120, 125)
    colour = np.array(ed.colours[0])
    got = arr[pos.y() - 1:pos.y() + 2, pos.x() - 1:pos.x() + 2].reshape(-1, 3).astype(int)
    assert np.abs(got - colour).max(axis=1).min() <= 12, (got, colour)
    # beside the marker: the image (R = x, G = y of the frame)
    far = ed.canvas.widget_pos_of_frame(150, 135)
    assert abs(int(arr[far.y(), far.x(), 0]) - 150) <= 3 and abs(int(arr[far.y(), far.x(), 1]) - 135) <= 3


def test_ctrl_f_shows_the_vehicle_in_the_full_frame(qtbot, window, editor):
    ctrl, ed, dets = editor
    key(qtbot, ed, Qt.Key_N)
    click(qtbot, ed, 60, 100)
    assert window.timeline.position == 0
    key(qtbot, ed, Qt.Key_F, Qt.ControlModifier)
    window.settle()
    assert window.timeline.position == 1 and ed.overlay.box.isVisible()
    xs, ys = ed.overlay.box.getData()
    assert xs.min() == 39.5 and ys.min() == 39.5 and len(ed.overlay.marks.data) == 1
    window.timeline.set_position(2)
    assert not ed.overlay.box.isVisible()


def test_editing_waits_while_a_job_runs(qtbot, window, editor):
    import threading

    ctrl, ed, dets = editor
    click(qtbot, ed, 110, 130)
    assert window.act_undo.isEnabled()
    gate = threading.Event()
    job = window.jobs.start(lambda ctx: gate.wait(5), "Blocking")  # a job is the project's only writer
    assert not ed.act_skip.isEnabled() and not ctrl.act_train.isEnabled() and not window.act_undo.isEnabled()
    click(qtbot, ed, 170, 128)
    assert human(window, dets[0])[1, 2] == 0
    gate.set()
    wait_job(qtbot, job)
    assert ed.act_skip.isEnabled() and window.act_undo.isEnabled()
    click(qtbot, ed, 170, 128)
    assert human(window, dets[0])[1, 2] == 2


def test_a_vehicle_removed_by_a_job_leaves_the_screen(qtbot, window, editor):
    ctrl, ed, dets = editor
    key(qtbot, ed, Qt.Key_N)
    with window.project.transaction() as c:  # what re-mining does to the vehicle on screen
        c.execute("DELETE FROM detections WHERE id = ?", (dets[1],))
    job = window.jobs.start(lambda ctx: None, "Re-mining")
    wait_job(qtbot, job)
    assert ed.detection is None and "N takes the next" in ed.canvas.placeholder.text()
    key(qtbot, ed, Qt.Key_N)
    assert ed.detection.id == dets[0]


def test_edits_go_on_the_window_undo_stack(qtbot, window, kp_project):
    from walt3d_studio.gui.keypoint_editor import install_keypoint_editor

    stack = window.undo_stack
    assert window.open_project(kp_project[0])
    ctrl = install_keypoint_editor(window)  # the window installed it already: the same controller
    assert ctrl is window.keypoint_editor and ctrl.undo_stack is stack
    ed = ctrl.open_editor()
    ed.settle()
    assert ed.place(110, 130) and stack.count() == 1 and stack.text(0) == "Place Right_Front_wheel"
    window.undo()
    assert human(window, kp_project[1][0]) is None


def test_works_beside_the_occlusion_review(qtbot, window, kp_project):
    """Installed beside the review panel: one shared undo stack, no key taken from either."""
    review = pytest.importorskip("walt3d_studio.gui.review")
    from walt3d_studio.gui.keypoint_editor import install_keypoint_editor

    assert window.open_project(kp_project[0])
    rc = review.install_review(window)
    ctrl = install_keypoint_editor(window)
    assert install_keypoint_editor(window) is ctrl
    assert ctrl.undo_stack is rc.undo_stack is window.undo_stack
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles.count("&Edit") == 1 and "&Keypoints" in titles
    ed = ctrl.open_editor()
    ed.settle()
    focus(qtbot, window, ed)
    dets = kp_project[1]
    for x, y in [(110, 130), (170, 128)]:
        click(qtbot, ed, x, y)
    key(qtbot, ed, Qt.Key_F)
    assert human(window, dets[0])[0, 0] > 150  # swapped: the right front wheel is now the one on the right
    key(qtbot, ed, Qt.Key_N)
    assert ed.detection.id == dets[1]
    qtbot.keyClick(ed.canvas, Qt.Key_Z, Qt.ControlModifier)  # the review's Edit > Undo undoes the swap
    assert ed.detection.id == dets[0] and human(window, dets[0])[0, 0] < 150


def test_the_editor_follows_the_window_camera(qtbot, window, editor):
    """After a camera switch the queue is the new camera's (it used to keep the first camera's)."""
    from PIL import Image

    ctrl, ed, dets = editor
    p = window.project
    folder = window.project.root.parent / "frames2"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(_frame(i)).save(folder / f"cam2_20240502_{10 + i:02d}0000.png")
    cam2 = p.add_camera("gate", "UTC")
    p.add_source(folder, cam2)
    f2 = [int(f) for f in p.frame_table(cam2).ids]
    other = _add_detection(p, f2[1], (40, 30, 90, 60))
    window._refresh_cameras(cam2)  # as after File > Add time-lapse to a new camera
    qtbot.waitUntil(lambda: ed.detection is not None and ed.detection.id == other, timeout=3000)
    assert ed.queue.camera.currentData() == cam2
    assert "0 done, 1 to go (of 1)" in ed.status.text()
    first = window.camera_combo.itemData(0)
    window.select_camera(first)
    qtbot.waitUntil(lambda: ed.detection is not None and ed.detection.id == dets[0], timeout=3000)
    assert ed.queue.camera.currentData() == first and "(of 4)" in ed.status.text()


def _orphan_with_a_successor(window, dets):
    """A person's keypoints on vehicle dets[1]; a re-mine replaces it by a detection whose box moved a little
    (no carry-over match, but the same car): the keypoints become an orphan lying on the new detection."""
    pts = np.array([[60.0 + 5 * k, 50.0 + 3 * k, 2] for k in range(12)])
    ks.set_human_keypoints(window.project, dets[1], pts, who="ann")
    frame_id = ks.detection(window.project, dets[1]).frame_id
    with window.project.transaction() as c:  # as a re-mine that found no close enough match for it
        c.execute("DELETE FROM detections WHERE id = ?", (dets[1],))
    new = _add_detection(window.project, frame_id, (52, 48, 100, 70))
    return pts, new


def test_orphaned_keypoints_are_listed_apart_never_offered_as_fresh_work(qtbot, window, editor):
    """The vehicle an orphaned keypoint set lies on is left out of the queue; the set is counted apart."""
    from walt3d_studio.store.orphans import orphan_claimed_detections

    ctrl, ed, dets = editor
    pts, new = _orphan_with_a_successor(window, dets)
    assert orphan_claimed_detections(window.project, "vehicle12") == {new}
    c = ks.queue_counts(window.project, schema="vehicle12")
    assert (c.done, c.to_go, c.orphaned) == (0, 3, 1)  # dets[0], dets[2], the marked one; the orphan apart
    assert new in ks.labelling_queue(window.project)  # the raw list still has it; the queue skips it
    seen = set()
    for _ in range(6):
        ed.next_vehicle()
        seen.add(ed.detection.id)
    assert new not in seen and seen == {dets[0], dets[2], dets[3]}
    assert "1 orphaned keypoint set(s): tick “Orphaned keypoints”" in ed.status.text()
    assert not ed.discard_orphan_button.isVisible()  # only with the orphaned keypoints
    assert ed.queue.orphans.text() == "Orphaned keypoints (1)"


def test_orphaned_keypoints_reattach_with_enter_and_undo(qtbot, window, editor):
    from walt3d_studio.store.orphans import list_orphans

    ctrl, ed, dets = editor
    pts, new = _orphan_with_a_successor(window, dets)
    ed.next_vehicle()
    ed.queue.orphans.setChecked(True)  # the orphan mode: N / P go through the orphaned sets
    ed.settle()
    assert ed.orphan is not None and ed.detection.id == new
    assert "Orphaned keypoints of ann" in ed.canvas.banner.text()
    assert ed.act_accept.isEnabled() and ed.act_discard_orphan.isEnabled() and not ed.act_skip.isEnabled()
    assert ed.discard_orphan_button.isVisible()
    focus(qtbot, window, ed)
    key(qtbot, ed, Qt.Key_Return)
    np.testing.assert_allclose(human(window, new), pts)
    (o,) = list_orphans(window.project, include_resolved=True)
    assert o.resolved == f"attached:{new}" and ks.queue_counts(window.project).orphaned == 0
    assert ed.orphan is None and "No orphaned keypoints" in ed.canvas.placeholder.text()
    window.undo()
    assert human(window, new) is None and ed.orphan is not None and ed.detection.id == new
    assert list_orphans(window.project)[0].resolved is None
    window.redo()
    np.testing.assert_allclose(human(window, new), pts)
    # back to the plain queue: the vehicle, now labelled, counts as done
    ed.queue.orphans.setChecked(False)
    c = ks.queue_counts(window.project)
    assert (c.done, c.to_go, c.orphaned) == (1, 3, 0)


def test_orphaned_keypoints_discard_returns_the_vehicle_to_the_queue(qtbot, window, editor):
    from walt3d_studio.store.orphans import list_orphans

    ctrl, ed, dets = editor
    pts, new = _orphan_with_a_successor(window, dets)
    ed.queue.orphans.setChecked(True)
    assert ed.orphan is not None
    assert ed.discard_orphan()
    assert list_orphans(window.project, include_resolved=True)[0].resolved == "discarded"
    c = ks.queue_counts(window.project)
    assert (c.to_go, c.orphaned) == (4, 0) and human(window, new) is None
    window.undo()
    assert ks.queue_counts(window.project).orphaned == 1 and ed.orphan is not None


def test_an_orphan_without_a_vehicle_says_what_to_do(qtbot, window, editor):
    ctrl, ed, dets = editor
    ks.set_human_keypoints(window.project, dets[1], np.array([[110.0, 90.0, 2]] * 12), who="ann")
    with window.project.transaction() as c:  # as a re-mine that found nothing there
        c.execute("DELETE FROM detections WHERE id = ?", (dets[1],))
    ed.next_vehicle()
    assert "1 orphaned keypoint set(s)" in ed.status.text()
    ed.queue.orphans.setChecked(True)
    assert ed.orphan is not None and ed.detection is None
    assert "no vehicle in their old frame" in ed.canvas.placeholder.text()
    assert not ed.reattach_orphan() and ed.act_discard_orphan.isEnabled()
