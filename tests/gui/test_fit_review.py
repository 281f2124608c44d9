"""3D fits in the review (issues 14/15, "In the app"): the tracks table's fit columns, the fit overlay drawn at
known pixels in the review-state colour, the View toggle, and accept / reject with W / Shift+W, undoable back to
the frame where the verdict was given.

The fits are made by the test at known poses on the mined demo clip (a car and a pedestrian), so where each
line must be drawn is exact: the same camera projection of the same mesh."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from walt3d_studio.store.detections import detection_table
from walt3d_studio.store.fits import DetectionFit, TrackFit, fit_review, save_track_fits

from .test_review_workflow import _build, key, positions

pytestmark = pytest.mark.slow  # mines the demo clip once (a few seconds on 2 shared cores)


def vehicle_pose(camera, foot_px, yaw=0.3):
    """R, t (object -> camera) of a vehicle standing on the ground at a pixel's ground point."""
    Rwc, twc = camera.world_to_cam()
    xy = camera.pixels_to_ground_world(np.asarray(foot_px, float)[None])[0]
    c, s = np.cos(yaw), np.sin(yaw)
    Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    return Rwc @ Rz, Rwc @ np.array([xy[0], xy[1], 0.0]) + twc


def body_params(camera, foot_px):
    """SMPL-layout parameters of the proxy body standing upright on a pixel's ground point."""
    from scipy.spatial.transform import Rotation

    from walt3d_studio.reconstruct.bodies import proxy_rest

    Rwc, twc = camera.world_to_cam()
    M = np.column_stack([[1, 0, 0], [0, 0, 1], [0, -1, 0]]).astype(float)  # SMPL x, y(up), z -> world
    rest = proxy_rest({})
    J0 = rest.joints[0]
    pelvis_up = J0[1] - rest.vertices[:, 1].min()
    xy = camera.pixels_to_ground_world(np.asarray(foot_px, float)[None])[0]
    pelvis_cam = Rwc @ np.array([xy[0], xy[1], pelvis_up]) + twc
    R = Rwc @ M
    return {"global_orient": Rotation.from_matrix(R).as_rotvec().tolist(), "body_pose": [0.0] * 69,
            "betas": [0.0] * 10, "transl": (pelvis_cam - J0).tolist()}  # the root lands at J0 + transl


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    from walt3d_studio.store import Project

    root = _build(tmp_path_factory.mktemp("fits") / "demo")
    with Project.open(root) as p:
        cam = p.calibration(1)
        dt = detection_table(p, camera_id=1)
        fits = []
        for cat, kind, method in (("car", "vehicle", "keypoints+track"), ("person", "person", "builtin")):
            rows = [i for i in range(len(dt)) if dt.category[i] == cat and dt.track_id[i] is not None]
            tid = int(dt.track_id[rows[0]])
            dets = []
            for i in rows:
                if int(dt.track_id[i]) != tid:
                    continue
                x, y, w, h = dt.box[i]
                foot = (x + w / 2, y + h - 1)
                if kind == "vehicle":
                    R, t = vehicle_pose(cam, foot)
                    dets.append(DetectionFit(int(dt.id[i]), R, t))
                else:
                    dets.append(DetectionFit(int(dt.id[i]), params=body_params(cam, foot)))
            shape = {"alpha": [0.0]} if kind == "vehicle" else {"body_model": "proxy"}
            fits.append(TrackFit(tid, kind, method, status="ok" if kind == "vehicle" else "needs_review",
                                 shape=shape, quality={"reproj_px": 1.5, "iou": 0.8} if kind == "vehicle" else
                                 {"iou": 0.55}, detections=dets))
        save_track_fits(p, fits)
    return root


@pytest.fixture
def fitted(make_window, template, tmp_path):
    import shutil

    from walt3d_studio.gui.review import install_review

    dst = tmp_path / "demo.walt3d"
    shutil.copytree(template, dst, ignore=shutil.ignore_patterns(".lock"))
    w = make_window()
    rc = install_review(w)
    assert w.open_project(dst)
    w.settle()
    w.set_overlays_visible(False)  # horizon and grid off
    for a in (rc.act_masks, rc.act_boxes, rc.act_ids, rc.act_trails):
        a.setChecked(False)  # only the frame and the fits
    return w, rc


def _track(p, kind):
    return int(p.conn.execute("SELECT track_id FROM track_fits WHERE kind = ?", (kind,)).fetchone()[0])


def _cell(model, track_id, key):
    from walt3d_studio.gui.review.tracks_model import COLUMN_KEYS

    return model.data(model.index(model.row_of(track_id), COLUMN_KEYS.index(key)))


def _nearest(view, x, y, colour, r=2):
    """The screen pixel near image point (x, y) closest to a colour (lines are 2 px wide, antialiased)."""
    img = view.grab().toImage()
    pt = view.widget_pos_of_pixel(float(x), float(y))
    best = None
    for dx in range(-r, r + 1):
        for dy in range(-r, r + 1):
            c = img.pixelColor(pt.x() + dx, pt.y() + dy)
            got = np.array([c.red(), c.green(), c.blue()], float)
            d = np.abs(got - colour).max()
            if best is None or d < best[0]:
                best = (d, got)
    return best


def test_fit_columns_show_method_quality_and_state(qtbot, fitted):
    w, rc = fitted
    p, m = w.project, rc.panel.model
    car, person = _track(p, "vehicle"), _track(p, "person")
    assert [_cell(m, car, k) for k in ("fit_method", "fit_px", "fit_iou", "fit_review")] == \
        ["keypoints+track", "1.5", "0.80", "ok"]
    assert [_cell(m, person, k) for k in ("fit_method", "fit_px", "fit_iou", "fit_review")] == \
        ["builtin", "", "0.55", "needs review"]
    others = [int(t) for t in m.table.id if int(t) not in (car, person)]
    assert all(_cell(m, t, "fit_method") == "" for t in others)
    # sortable: by IoU the person (0.55) comes before the car (0.80), tracks without a fit last
    from walt3d_studio.gui.review.tracks_model import COLUMN_KEYS

    m.sort(COLUMN_KEYS.index("fit_iou"), Qt.AscendingOrder)
    assert [m.track_at(0), m.track_at(1)] == [person, car]


def test_overlay_draws_the_fit_where_the_camera_projects_it(qtbot, fitted):
    from walt3d_studio.gui.review.fit_overlay import STATE_COLOURS, fit_drawing
    from walt3d_studio.store.fits import fits_for_frame

    w, rc = fitted
    p = w.project
    car = _track(p, "vehicle")
    rc.select_track(car, jump=True)
    dets = detection_table(p, track_id=car)
    w.timeline.set_position(positions(w, [dets.frame_id[len(dets) // 2]])[0])  # mid-track: well inside the frame
    w.settle()
    fid = int(rc._frame_ids[rc.position])
    [(tf, df)] = [(tf, df) for tf, df in fits_for_frame(p, fid) if tf.track_id == car]
    g = fit_drawing(p.calibration(1), tf, df)
    assert len(g["thick"]) == 12 and len(g["lines"]) > 50  # the 3D box and the wireframe
    items = [it for it in rc.fits.item.items if it["track_id"] == car]
    assert len(items) == 1 and np.allclose(items[0]["thick"], g["thick"])
    # a box edge, at its midpoint, is drawn in "ok" cyan
    H, W = w.frame_view.image.shape[:2]
    inside = [s for s in g["thick"] if 3 <= s.mean(axis=0)[0] < W - 3 and 3 <= s.mean(axis=0)[1] < H - 3]
    seg = max(inside, key=lambda s: np.linalg.norm(s[1] - s[0]))
    mid = seg.mean(axis=0)
    frame = w.frame_view.image[int(round(mid[1])), int(round(mid[0]))].astype(float)
    cyan = np.array(STATE_COLOURS["ok"], float)
    assert np.abs(frame - cyan).max() > 60  # the frame itself is not that colour there
    d, _ = _nearest(w.frame_view, *mid, cyan)
    assert d <= 25
    # M toggles the fits off: no cyan there any more
    key(qtbot, w, Qt.Key_M)
    assert not rc.fits.act_show.isChecked()
    d, _ = _nearest(w.frame_view, *mid, cyan)
    assert d > 40
    key(qtbot, w, Qt.Key_M)
    # W accepts: green
    key(qtbot, w, Qt.Key_W)
    d, _ = _nearest(w.frame_view, *mid, np.array(STATE_COLOURS["accept"], float))
    assert d <= 25


def test_person_fit_has_outline_and_skeleton(qtbot, fitted):
    from walt3d_studio.keypoints.schema import load_schema
    from walt3d_studio.reconstruct.bodies import coco17_keypoints
    from walt3d_studio.gui.review.fit_overlay import fit_drawing
    from walt3d_studio.store.fits import track_fits

    w, rc = fitted
    p = w.project
    [tf] = track_fits(p, kind="person", with_detections=True)
    cam = p.calibration(1)
    df = DetectionFit(0, params=body_params(cam, (240.0, 200.0)))  # standing mid-image (the clip's walker is cut
    g = fit_drawing(cam, tf, df, load_schema("person17").skeleton)  # by the frame's top edge)
    assert len(g["thick"]) == len(load_schema("person17").skeleton) and len(g["polylines"]) >= 1
    # the skeleton's ends are the projected COCO-17 joints; the outline encloses them all
    import cv2

    kp = cam.project(coco17_keypoints(df.params, tf.shape))
    assert np.allclose(np.sort(g["thick"].reshape(-1, 2), axis=0)[[0, -1]],
                       np.sort(kp[np.unique(np.array(load_schema("person17").skeleton))], axis=0)[[0, -1]])
    outline = max(g["polylines"], key=len).astype(np.float32)
    assert all(cv2.pointPolygonTest(outline, (float(x), float(y)), True) > -1.5 for x, y in kp)
    # and the body stands on the ground point it was put on: the outline's bottom is at the foot pixel (the toes,
    # nearer the camera than the ankles, reach a few pixels lower)
    assert -1 < outline[:, 1].max() - 200.0 < 6 and abs(np.median(outline[:, 0]) - 240.0) < 8


def test_accept_reject_undo_redo_go_back_to_the_frame(qtbot, fitted):
    w, rc = fitted
    p, m = w.project, rc.panel.model
    car = _track(p, "vehicle")
    rc.select_track(car, jump=True)
    w.settle()
    pos = rc.position
    key(qtbot, w, Qt.Key_W)
    assert fit_review(p, car) == "accept" and _cell(m, car, "fit_review") == "accepted"
    key(qtbot, w, Qt.Key_W, Qt.ShiftModifier)
    assert fit_review(p, car) == "reject" and _cell(m, car, "fit_review") == "rejected"
    # elsewhere, undo: back to the frame of the edit, the verdict before (accepted)
    rc.select_track(None)
    w.timeline.set_position(0 if pos else 5)
    w.settle()
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    assert fit_review(p, car) == "accept" and _cell(m, car, "fit_review") == "accepted"
    assert w.timeline.position == pos and rc.track_id == car
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    assert fit_review(p, car) is None and _cell(m, car, "fit_review") == "ok"
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert fit_review(p, car) == "accept"
    # a track without a fit: nothing stored, a hint in the status bar
    others = [int(t) for t in m.table.id if _cell(m, int(t), "fit_method") == ""]
    rc.select_track(others[0], jump=True)
    w.settle()
    n = w.undo_stack.count()
    key(qtbot, w, Qt.Key_W)
    assert fit_review(p, others[0]) is None and w.undo_stack.count() == n
    assert "no 3D fit" in w.statusBar().currentMessage()
