"""The 3D dock (issue 16): opens offscreen (VTK imported only then), shows the fits of the camera, moves each
vehicle's actor by its fitted pose when the frame changes, renders through the camera (lens distortion included)
with each object's silhouette edge against its mined mask and the IoU, agrees with the store's rasteriser, frames
the selected mesh (F), filters to the fits that need review and steps through them (Space), and a project without
fits shows the hint instead of an error."""
from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

from PySide6.QtCore import Qt

from walt3d_studio.store.detections import detection_table

from .test_fit_review import template  # noqa: F401  (the mined demo with fits at known poses)
from .test_review_workflow import positions

pytestmark = pytest.mark.slow  # VTK import and the mined demo: seconds


@pytest.fixture
def opened(make_window, template, tmp_path):  # noqa: F811
    dst = tmp_path / "demo.walt3d"
    shutil.copytree(template, dst, ignore=shutil.ignore_patterns(".lock"))

    def open_(strip_fits=False):
        if strip_fits:
            from walt3d_studio.store import Project

            with Project.open(dst) as p, p.transaction() as c:
                c.execute("DELETE FROM fits")
                c.execute("DELETE FROM track_fits")
        w = make_window()
        assert w.open_project(dst)
        w.settle()
        return w
    return open_


def test_dock_opens_and_frame_change_moves_the_actors(qtbot, opened):
    from walt3d_studio.store.fits import track_fits

    w = opened()
    vp = w.viewport
    assert vp.scene is None and not vp.isVisible()  # nothing of VTK until the dock is shown
    vp.show()
    qtbot.waitUntil(lambda: vp.scene is not None or vp.error is not None, timeout=60000)
    assert vp.error is None and "vtk" in sys.modules
    assert vp.n_fits == 2 and "2 fitted track(s)" in vp.hint.text()
    [car] = track_fits(w.project, kind="vehicle", with_detections=True)
    dt = detection_table(w.project, track_id=car.track_id)
    frame_of = dict(zip(dt.id.tolist(), dt.frame_id.tolist()))
    seen = []
    for df in (car.detections[5], car.detections[-5]):
        w.timeline.set_position(positions(w, [frame_of[df.detection_id]])[0])
        w.settle()
        a = vp.scene.actors[car.track_id]
        assert a.GetVisibility()
        M = np.array([[a.GetUserMatrix().GetElement(i, j) for j in range(4)] for i in range(4)])
        assert np.allclose(M, vp.scene.world_from_object(df), atol=1e-9)
        # the object's origin in the world is the camera's view of its fitted translation
        Rcw, tcw = w.project.calibration(w.camera_id).cam_to_world()
        assert np.allclose(M[:3, 3], Rcw @ df.t + tcw)
        seen.append(M)
    assert not np.allclose(seen[0], seen[1])  # the car moved between the two frames
    assert vp.last_image.shape[2] == 3 and vp.last_image.std() > 5  # something drawn


def test_camera_view_draws_the_mesh_over_the_frame(qtbot, opened):
    from walt3d_studio.gui.review.fit_overlay import fit_drawing
    from walt3d_studio.store.fits import fits_for_frame

    w = opened()
    vp = w.viewport
    vp.show()
    qtbot.waitUntil(lambda: vp.scene is not None, timeout=60000)
    car = next(t for t, s in w.review.fits.summaries.items() if s["kind"] == "vehicle")
    dt = detection_table(w.project, track_id=car)
    w.timeline.set_position(positions(w, [dt.frame_id[len(dt) // 2]])[0])
    w.settle()
    vp.btn_camera.setChecked(True)
    img = vp.last_image
    cam = w.project.calibration(w.camera_id)
    assert img.shape[:2] == (cam.image_size[1], cam.image_size[0])  # rendered at the camera's own size
    fid = int(dt.frame_id[len(dt) // 2])
    [(tf, df)] = [(tf, df) for tf, df in fits_for_frame(w.project, fid) if tf.track_id == car]
    box = fit_drawing(cam, tf, df)["thick"].reshape(-1, 2)
    cx, cy = np.clip(box.mean(axis=0).round().astype(int), 0, [cam.image_size[0] - 1, cam.image_size[1] - 1])
    frame = w.frame_view.image[cy, cx, :3].astype(float)
    got = img[cy, cx].astype(float)
    assert got[2] > frame[2] + 20  # the half-transparent blue mesh over the car's centre
    far = img[2, 2].astype(float)  # a corner far from every object: the frame itself (backdrop)
    assert np.abs(far - w.frame_view.image[2, 2, :3].astype(float)).max() < 40


def test_no_fits_shows_the_hint(qtbot, opened):
    from walt3d_studio.gui.viewport.dock import NO_FITS_HINT

    w = opened(strip_fits=True)
    vp = w.viewport
    vp.show()
    qtbot.waitUntil(lambda: vp.scene is not None, timeout=60000)
    assert vp.error is None and vp.n_fits == 0 and vp.hint.text() == NO_FITS_HINT
    w.timeline.set_position(3)
    w.settle()  # frame changes with nothing to show are fine
    assert vp.scene.actors == {}


def test_missing_opengl_shows_a_message_and_the_app_works(qtbot, opened, monkeypatch):
    import walt3d_studio.gui.viewport.scene as scene_mod

    class NoGL:
        def __init__(self, *a, **k):
            raise RuntimeError("could not create an OpenGL context")

    monkeypatch.setattr(scene_mod, "FitScene", NoGL)
    w = opened()
    vp = w.viewport
    vp.show()
    assert vp.scene is None and "needs OpenGL" in vp.image.text() and "OpenGL context" in vp.image.text()
    w.timeline.set_position(4)  # the rest of the app goes on
    w.settle()
    assert w.timeline.position == 4 and w.review.position == 4


def test_pick_selects_the_track_and_selection_highlights_the_mesh(qtbot, opened):
    from walt3d_studio.gui.review.fit_overlay import fit_drawing
    from walt3d_studio.store.fits import fits_for_frame

    w = opened()
    vp, rc = w.viewport, w.review
    vp.show()
    qtbot.waitUntil(lambda: vp.scene is not None, timeout=60000)
    car = next(t for t, s in rc.fits.summaries.items() if s["kind"] == "vehicle")
    dt = detection_table(w.project, track_id=car)
    fid = int(dt.frame_id[len(dt) // 2])
    w.timeline.set_position(positions(w, [fid])[0])
    w.settle()
    assert rc.track_id is None
    vp.btn_camera.setChecked(True)  # through the camera: the render's pixels are the frame's pixels
    cam = w.project.calibration(w.camera_id)
    [(tf, df)] = [(tf, df) for tf, df in fits_for_frame(w.project, fid) if tf.track_id == car]
    cx, cy = fit_drawing(cam, tf, df)["thick"].reshape(-1, 2).mean(axis=0)
    assert vp.pick(cx, cy) == car
    assert rc.track_id == car  # selected in the review (table and frame view follow it)
    assert vp.scene.actors[car].GetProperty().GetEdgeVisibility()
    assert vp.pick(2, 2) is None  # the backdrop: nothing
    rc.select_track(None)
    assert not vp.scene.actors[car].GetProperty().GetEdgeVisibility()


# ---------------------------------------------------------------------------------- through the camera, exactly

def _centre_coverage(camera, v, f):
    """Reference silhouette: the pixels whose centre lies inside a projected triangle (what a GPU rasterises)."""
    px = camera.project(v)
    w, h = camera.image_size
    m = np.zeros((h, w), bool)
    for a, b, c in px[f]:
        x0, y0 = np.maximum(np.floor(np.min([a, b, c], axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(np.max([a, b, c], axis=0)).astype(int), [w - 1, h - 1])
        if x1 < x0 or y1 < y0:
            continue
        yy, xx = np.mgrid[y0:y1 + 1, x0:x1 + 1]

        def side(p, q):
            return (q[0] - p[0]) * (yy - p[1]) - (q[1] - p[1]) * (xx - p[0])
        s1, s2, s3 = side(a, b), side(b, c), side(c, a)
        m[y0:y1 + 1, x0:x1 + 1] |= ((s1 >= 0) & (s2 >= 0) & (s3 >= 0)) | ((s1 <= 0) & (s2 <= 0) & (s3 <= 0))
    return m


def _street(dist):
    """A 1280x720 camera 7 m up (with or without lens distortion) and three cars on its ground plane."""
    from walt3d_studio.camera import Camera
    from walt3d_studio.store.fits import DetectionFit, TrackFit

    cam = Camera.looking_at_ground((1280, 720), focal_px=1000.0, pitch_deg=25.0, height_m=7.0, dist=dist)
    Rwc, twc = cam.world_to_cam()
    fits = []
    for k, (x, y, yaw) in enumerate([(-5.0, 14.0, 0.3), (3.0, 22.0, 1.2), (6.5, 11.0, -0.5)]):
        c, s = np.cos(yaw), np.sin(yaw)
        Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        fits.append(TrackFit(k + 1, "vehicle", "test", shape={"alpha": [0.3, -0.2]}, quality={"iou": 0.8},
                             detections=[DetectionFit(100 + k, Rwc @ Rz, Rwc @ np.array([x, y, 0.0]) + twc)]))
    return cam, fits, {100 + k: 7 for k in range(len(fits))}


@pytest.mark.parametrize("dist", [None, [-0.25, 0.08, 0.001, -0.001, 0.0]], ids=["pinhole", "distorted"])
def test_camera_mode_silhouettes_agree_with_the_rasteriser(dist):
    """The VTK render through the camera and the store's rasteriser (the one the compositor and the fit quality
    use) give the same silhouette of the same fit: IoU >= 0.98 per object; without distortion VTK covers exactly
    the pixels whose centres the projected mesh covers (the convention of Camera.project)."""
    from walt3d_studio.gui.viewport.dock import _prepare_vtk_env
    from walt3d_studio.reconstruct.meshes import mesh_in_camera
    from walt3d_studio.reconstruct.silhouette import mask_iou, silhouette_mask

    _prepare_vtk_env()
    from walt3d_studio.gui.viewport.scene import FitScene

    cam, fits, frame_of = _street(dist)
    scene = FitScene()
    scene.load(cam, fits, frame_of)
    scene.set_frame(7)
    scene.camera_view(None)
    img = scene.render()
    assert img.shape == (720, 1280, 3)
    assert (scene.warp.maps is None) == (dist is None)
    for tf in fits:
        v, f = mesh_in_camera(tf, tf.detections[0])
        got = scene.silhouette(tf.track_id)
        assert got.sum() > 3000  # each car is seen, not a speck
        assert mask_iou(got, silhouette_mask(cam, v, f)) >= 0.98, tf.track_id
        exact = mask_iou(got, _centre_coverage(cam, v, f))
        # with distortion the reference's straight triangle edges between distorted vertices differ from the
        # warped render's (correctly curved) ones by a fraction of a pixel
        assert exact >= (0.999 if dist is None else 0.985), (tf.track_id, exact)
        ys, xs = np.nonzero(got)
        assert scene.pick(xs.mean(), ys.mean()) == tf.track_id or scene.pick(xs[0], ys[0]) == tf.track_id
        assert scene.silhouettes[tf.track_id]["iou"] is None  # no mined mask known: "no mask" is written


def test_camera_mode_draws_the_silhouette_edge_against_the_mined_mask(qtbot, opened):
    """Through the camera each fitted object's silhouette (from the VTK render) is outlined against its mined mask,
    with their IoU; the silhouette is the rasteriser's (IoU >= 0.98) on the demo's fitted car."""
    from walt3d_studio.reconstruct.meshes import mesh_in_camera
    from walt3d_studio.reconstruct.silhouette import mask_iou, silhouette_mask
    from walt3d_studio.store.fits import fits_for_frame

    w = opened()
    vp = w.viewport
    vp.show()
    qtbot.waitUntil(lambda: vp.scene is not None, timeout=60000)
    car = next(t for t, s in w.review.fits.summaries.items() if s["kind"] == "vehicle")
    dt = detection_table(w.project, track_id=car)
    fid = int(dt.frame_id[len(dt) // 2])
    w.timeline.set_position(positions(w, [fid])[0])
    w.settle()
    vp.btn_camera.setChecked(True)
    cam = w.project.calibration(w.camera_id)
    [(tf, df)] = [(tf, df) for tf, df in fits_for_frame(w.project, fid) if tf.track_id == car]
    sil = vp.scene.silhouettes[car]
    mask = vp.scene.silhouette(car)
    v, f = mesh_in_camera(tf, df)
    assert mask_iou(mask, silhouette_mask(cam, v, f)) >= 0.98
    mined = vp.mined_mask(df.detection_id)
    assert mined is not None and sil["iou"] == pytest.approx(mask_iou(mask, mined))
    img = vp.last_image
    # the silhouette's edge is drawn in the vehicle colour just along its boundary, the mined mask's in white
    import cv2

    m8 = mask.astype(np.uint8)
    k3 = np.ones((3, 3), np.uint8)
    ring = cv2.dilate(m8, k3).astype(bool) & ~cv2.erode(m8, k3).astype(bool)
    edge = img[ring].astype(int)
    assert np.mean((edge[:, 2] > 200) & (edge[:, 0] < 140)) > 0.5  # mostly the vehicle blue (76, 165, 255)
    mr = mined.astype(np.uint8)
    mring = mr.astype(bool) & ~cv2.erode(mr, np.ones((3, 3), np.uint8)).astype(bool)
    assert np.mean(img[mring].min(axis=1) > 200) > 0.3  # the mined outline in white, where no edge covers it
    inside = cv2.erode(m8, np.ones((9, 9), np.uint8)).astype(bool)
    frame = w.frame_view.image[..., :3]
    assert img[inside][:, 2].mean() > frame[inside][:, 2].mean() + 20  # the mesh, half-transparent, over the car


def test_f_frames_the_selected_mesh(qtbot, opened):
    w = opened()
    vp, rc = w.viewport, w.review
    vp.show()
    qtbot.waitUntil(lambda: vp.scene is not None, timeout=60000)
    car = next(t for t, s in rc.fits.summaries.items() if s["kind"] == "vehicle")
    dt = detection_table(w.project, track_id=car)
    w.timeline.set_position(positions(w, [int(dt.frame_id[len(dt) // 2])])[0])
    w.settle()
    before = vp.last_image.copy()
    vp.image.setFocus()
    qtbot.keyClick(vp.image, Qt.Key_F)  # nothing selected: a hint, the view stays
    assert "Select a track" in vp.hint.text() and np.array_equal(vp.last_image, before)
    rc.select_track(car, jump=False)
    vp.btn_camera.setChecked(True)
    qtbot.keyClick(vp.image, Qt.Key_F)  # the window's F (fit the frame) does not take it: the render has focus
    assert not vp.scene.through_camera and not vp.btn_camera.isChecked()
    img = vp.last_image
    h, wd = img.shape[:2]
    # the car's mesh is in the middle of the view and fills a good part of it
    blue = (img[..., 2].astype(int) > img[..., 0].astype(int) + 60)
    ys, xs = np.nonzero(blue)
    assert abs(xs.mean() - wd / 2) < 0.1 * wd and abs(ys.mean() - h / 2) < 0.15 * h
    assert (xs.max() - xs.min()) > 0.3 * wd or (ys.max() - ys.min()) > 0.3 * h
    b = np.array(vp.scene.actors[car].GetBounds()).reshape(3, 2).mean(axis=1)
    assert np.allclose(vp.scene.renderer.GetActiveCamera().GetFocalPoint(), b)


def test_needs_review_filter_and_space_steps_through_them(qtbot, opened):
    w = opened()
    vp, rc = w.viewport, w.review
    vp.show()
    qtbot.waitUntil(lambda: vp.scene is not None, timeout=60000)
    todo = [t for t, s in rc.fits.summaries.items() if s["status"] == "needs_review"]
    ok = [t for t, s in rc.fits.summaries.items() if s["status"] == "ok"]
    assert len(todo) == 1 and len(ok) == 1  # the demo: the person's fit needs review, the car's is fine
    assert vp.tracks_needing_review() == todo
    vp.needs_review.setChecked(True)
    assert vp.scene.only == set(todo)
    person_frames = set(detection_table(w.project, track_id=todo[0]).frame_id.tolist())
    car_frames = set(detection_table(w.project, track_id=ok[0]).frame_id.tolist())
    both = sorted(person_frames & car_frames)
    if both:  # a frame with both: only the one needing review is drawn
        w.timeline.set_position(positions(w, [both[0]])[0])
        w.settle()
        assert vp.scene.actors[todo[0]].GetVisibility()
        assert ok[0] not in vp.scene.actors or not vp.scene.actors[ok[0]].GetVisibility()
    vp.image.setFocus()
    qtbot.keyClick(vp.image, Qt.Key_Space)  # the next fit needing review: selected, its first frame shown
    assert rc.track_id == todo[0]
    first = min(vp.scene.track_frames[todo[0]])  # its first frame with a fitted pose
    assert w.timeline.position == positions(w, [first])[0]
    assert vp.scene.selected == todo[0] and vp.scene.actors[todo[0]].GetVisibility()
    assert "needs review (1 of 1)" in vp.hint.text()
    assert rc.fits.act_accept.isEnabled()
    rc.fits.act_accept.trigger()  # W, the window's key: the verdict is a person's; the filter empties
    w.settle()
    assert rc.fits.state(todo[0]) == "accept" and vp.tracks_needing_review() == []
    assert vp.scene.only == set() and not vp.scene.actors[todo[0]].GetVisibility()
    qtbot.keyClick(vp.image, Qt.Key_Space)
    assert "No fit needs review" in vp.hint.text()
    w.undo_stack.undo()  # undo brings it back into the filter
    w.settle()
    assert vp.tracks_needing_review() == todo and vp.scene.only == set(todo)


def test_orbit_draws_the_same_picture_from_one_merged_actor():
    """While only the view moves, the frame's meshes and markers are one actor (fast in software GL): the picture
    is the one the separate actors give, and picking still finds each track."""
    from walt3d_studio.gui.viewport.dock import _prepare_vtk_env

    _prepare_vtk_env()
    from walt3d_studio.gui.viewport.scene import FitScene

    cam, fits, frame_of = _street(None)
    scene = FitScene()
    scene.load(cam, fits, frame_of)
    scene.set_frame(7)
    scene.orbit(20.0, 5.0)
    merged = scene.render((640, 400))
    assert scene._merged is not None and scene._merged.GetVisibility()
    assert not any(a.GetVisibility() for a in scene.actors.values())  # stood in for by the merged actor
    scene.set_frame(7)  # a frame change: the tracks' own actors again
    assert not scene._merged.GetVisibility() and all(a.GetVisibility() for a in scene.actors.values())
    separate = scene.render((640, 400))
    diff = np.abs(merged.astype(int) - separate.astype(int)).max(axis=2)
    assert separate.std() > 5 and diff.mean() < 1.0 and np.mean(diff > 8) < 0.002
    scene.orbit(0.0, 0.0)
    img = scene.render((640, 400))
    blue = img[..., 2].astype(int) > img[..., 0].astype(int) + 60
    ys, xs = np.nonzero(blue)
    assert scene.pick(xs[len(xs) // 2], ys[len(ys) // 2]) in {tf.track_id for tf in fits}


def test_a_burst_of_drags_costs_one_render(qtbot, opened, monkeypatch):
    """Orbiting: mouse moves that arrive before the next render share it (fewer re-renders), and the view turned."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    w = opened()
    vp = w.viewport
    vp.show()
    qtbot.waitUntil(lambda: vp.scene is not None, timeout=60000)
    w.settle()
    calls = []
    real = vp.scene.render
    # count the renders made while moving (half size); the full-size one when the view settles is not one of them
    half = (max(vp.image.width() // 2, 64), max(vp.image.height() // 2, 48))
    monkeypatch.setattr(vp.scene, "render", lambda *a, **k: (calls.append(1) if a and tuple(a[0]) == half else None)
                        or real(*a, **k))
    before = np.array(vp.scene.renderer.GetActiveCamera().GetPosition())
    lab = vp.image

    def send(kind, x, buttons):
        p = QPointF(x, 60)
        ev = QMouseEvent(kind, p, lab.mapToGlobal(QPoint(int(x), 60)).toPointF(), Qt.LeftButton, buttons,
                         Qt.NoModifier)
        QApplication.sendEvent(lab, ev)

    send(QMouseEvent.Type.MouseButtonPress, 50, Qt.LeftButton)
    for x in range(60, 160, 10):  # ten moves delivered back to back, before the event loop runs
        send(QMouseEvent.Type.MouseMove, x, Qt.LeftButton)
    assert calls == []
    qtbot.waitUntil(lambda: len(calls) >= 1, timeout=10000)
    QApplication.processEvents()
    assert len(calls) == 1
    send(QMouseEvent.Type.MouseButtonRelease, 160, Qt.NoButton)
    assert not np.allclose(before, vp.scene.renderer.GetActiveCamera().GetPosition())  # the view turned


def test_orbiting_draws_at_half_size_and_the_still_view_at_full_size(qtbot, opened):
    """While the view moves it is rendered at half the widget's size and scaled up (fluid in software GL); when
    the drag ends the picture is full size again, so picks and screenshots are exact."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    w = opened()
    vp = w.viewport
    vp.show()
    qtbot.waitUntil(lambda: vp.scene is not None, timeout=60000)
    w.settle()
    lab = vp.image
    full = (max(lab.height(), 48), max(lab.width(), 64))
    assert vp.last_image.shape[:2] == full

    def send(kind, x, buttons):
        ev = QMouseEvent(kind, QPointF(x, 60), lab.mapToGlobal(QPoint(int(x), 60)).toPointF(), Qt.LeftButton,
                         buttons, Qt.NoModifier)
        QApplication.sendEvent(lab, ev)

    send(QMouseEvent.Type.MouseButtonPress, 50, Qt.LeftButton)
    send(QMouseEvent.Type.MouseMove, 90, Qt.LeftButton)
    qtbot.waitUntil(lambda: vp.last_image.shape[:2] != full, timeout=10000)
    assert vp.last_image.shape[:2] == (max(full[0] // 2, 48), max(full[1] // 2, 64))
    assert lab.pixmap().width() >= full[1] - 1 or lab.pixmap().height() >= full[0] - 1  # scaled up to fill
    send(QMouseEvent.Type.MouseButtonRelease, 90, Qt.NoButton)
    assert vp.last_image.shape[:2] == full


def test_the_viewport_follows_the_context_not_the_review(qtbot, opened):
    """The 3D dock learns the selection, the frame and fit verdicts from window.context (gui/context.py): a
    selection published there highlights the mesh, a verdict announced as store_changed('fit_reviews') updates
    the 'needs review' filter, and a picked mesh is asked for with context.request_selection."""
    from walt3d_studio.store.fits import set_fit_review

    w = opened()
    vp, ctx = w.viewport, w.context
    vp.show()
    qtbot.waitUntil(lambda: vp.scene is not None, timeout=60000)
    todo = vp.tracks_needing_review()
    assert len(todo) == 1
    car = next(t for t in vp.scene.fits if t not in todo)
    requested = []
    ctx.selection_requested.connect(requested.append)
    ctx.request_selection(car)  # as a pick does: the review obliges and publishes the selection
    assert requested == [car] and ctx.track_id == car and vp.scene.selected == car
    ctx.select(None, None)
    assert vp.scene.selected is None
    vp.needs_review.setChecked(True)
    assert vp.scene.only == set(todo)
    set_fit_review(w.project, todo[0], "accept", "someone")  # a verdict written elsewhere …
    assert vp.tracks_needing_review() == todo               # … is not known until it is announced
    ctx.notify_store_changed("fit_reviews", w.camera_id)
    assert vp.tracks_needing_review() == [] and vp.scene.only == set()
