"""The 3D dock (issue 16): opens offscreen (VTK imported only then), shows the fits of the camera, moves each
vehicle's actor by its fitted pose when the frame changes, renders through the camera, and a project without
fits shows the hint instead of an error."""
from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

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
