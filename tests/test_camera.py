import json
import math

import numpy as np
import pytest

from walt3d_studio.camera import Camera
from walt3d_studio.errors import CalibrationError


def oblique(**kw):
    args = dict(image_size=(1280, 720), focal_px=1000.0, pitch_deg=30.0, height_m=6.0, roll_deg=4.0)
    args.update(kw)
    return Camera.looking_at_ground(**args)


def test_project_backproject_round_trip():
    cam = oblique()
    px = np.array([[100.0, 500.0], [640.0, 360.0], [1200.0, 700.0], [3.0, 719.0]])
    X = cam.backproject_to_ground(px)
    assert np.allclose(X @ cam.n + cam.d, 0, atol=1e-9)  # on the ground plane
    assert np.allclose(cam.project(X), px, atol=1e-9)


def test_principal_point_depth_at_45_degrees():
    # camera 10 m up looking 45 degrees down: the optical axis meets the ground 10·√2 m away
    cam = Camera.looking_at_ground((640, 480), 500.0, 45.0, 10.0)
    z = cam.ground_depth(cam.principal_point)[0]
    assert z == pytest.approx(10 * math.sqrt(2), rel=1e-12)


def test_level_camera_horizon_is_principal_row():
    cam = Camera.looking_at_ground((640, 480), 500.0, 0.0, 1.5)
    a, b, c = cam.horizon_line()
    assert (a, b) == pytest.approx((0.0, 1.0))
    assert -c / b == pytest.approx(cam.principal_point[1])
    seg = cam.horizon_segment()
    assert np.allclose(seg, [[0, 239.5], [639, 239.5]])
    assert np.isnan(cam.backproject_to_ground([[320, 100]])).all()  # sky
    assert cam.ground_depth([[320, 400]])[0] > 0


def test_horizon_none_when_looking_straight_down():
    cam = Camera.looking_at_ground((640, 480), 500.0, 90.0, 20.0)
    assert cam.horizon_line() is None and cam.horizon_segment() is None
    # the centre pixel sees the ground right below, 20 m away
    assert cam.ground_depth(cam.principal_point)[0] == pytest.approx(20.0)


def test_horizon_side_sign_and_outside_image():
    cam = oblique()
    a, b, c = cam.horizon_line()
    below = np.array([640, 700, 1.0])
    assert a * below[0] + b * below[1] + c > 0  # positive on the ground side
    assert cam.horizon_segment() is None  # 30 degrees down with f=1000: horizon above the image


def test_world_frame():
    cam = oblique()
    R, t = cam.world_to_cam()
    assert np.allclose(R.T @ R, np.eye(3))
    assert np.linalg.det(R) == pytest.approx(1.0)
    assert np.allclose(R[:, 2], cam.n)  # world z = up
    # camera sits d above the world origin
    assert np.allclose(cam.camera_to_world_points(np.zeros(3)), [[0, 0, cam.d]])
    # ground points have world z = 0, and the two transforms are inverse
    X = cam.backproject_to_ground([[200, 600], [900, 500]])
    W = cam.camera_to_world_points(X)
    assert np.allclose(W[:, 2], 0, atol=1e-9)
    assert np.allclose(cam.world_to_camera_points(W), X)


def test_world_x_follows_image_x():
    cam = Camera.looking_at_ground((640, 480), 500.0, 40.0, 5.0)
    W = cam.pixels_to_ground_world([[300, 400], [400, 400]])
    # moving right along an image row moves along +world x (no roll: exactly along x)
    d = W[1] - W[0]
    assert d[0] > 0 and abs(d[1]) < 1e-9


def test_ground_footprint_and_box_pixels():
    cam = oblique()
    poly = cam.ground_footprint((2.0, 12.0), math.radians(30), 4.5, 1.8)
    assert poly.area == pytest.approx(4.5 * 1.8)
    assert poly.exterior.is_ccw  # seen from above
    assert np.allclose(np.array(poly.centroid.coords)[0], (2.0, 12.0))
    corners = cam.box_footprint_pixels((2.0, 12.0), math.radians(30), 4.5, 1.8, 1.5)
    assert corners.shape == (8, 2)
    # the first four are the footprint seen in the image; the top four lie above them (smaller y)
    fp = np.array(poly.exterior.coords)[:4]
    assert np.allclose(corners[:4], cam.world_to_pixels(np.c_[fp, np.zeros(4)]))
    assert (corners[4:, 1] < corners[:4, 1]).all()


def test_object_height_recovers_person():
    cam = oblique()
    foot_w = np.array([[1.0, 9.0, 0.0]])
    head_w = foot_w + [0, 0, 1.7]
    foot, head = cam.world_to_pixels(foot_w)[0], cam.world_to_pixels(head_w)[0]
    assert cam.object_height(foot, head) == pytest.approx(1.7, rel=1e-9)
    # a head click one pixel off moves the answer by little
    assert cam.object_height(foot, head + [1.0, 0.5]) == pytest.approx(1.7, abs=0.02)


def test_object_height_refuses_foot_in_sky():
    cam = Camera.looking_at_ground((640, 480), 500.0, 5.0, 1.5)
    with pytest.raises(CalibrationError, match="horizon"):
        cam.object_height((320, 10), (320, 5))


def test_ground_grid_lies_on_visible_ground():
    cam = oblique()
    segs = cam.ground_grid_segments(spacing=1.0, extent=30.0)
    assert len(segs) > 100
    w, h = cam.image_size
    pts = segs.reshape(-1, 2)
    assert (pts[:, 0] >= -1e-6).all() and (pts[:, 0] <= w - 1 + 1e-6).all()
    assert (pts[:, 1] >= -1e-6).all() and (pts[:, 1] <= h - 1 + 1e-6).all()
    W = cam.pixels_to_ground_world(pts)
    assert np.abs(W).max() <= 30 + 1e-6
    # every segment is a piece of a grid line: constant integer x or constant integer y in world metres
    Wseg = W.reshape(-1, 2, 2)

    def on_line(k):
        a, b = Wseg[:, 0, k], Wseg[:, 1, k]
        return np.isclose(a, b, atol=1e-6) & np.isclose(a, np.round(a), atol=1e-6)

    assert (on_line(0) | on_line(1)).all()
    assert (np.linalg.norm(Wseg[:, 1] - Wseg[:, 0], axis=1) <= 1.0 + 1e-9).all()


def test_ground_grid_empty_when_looking_at_the_sky():
    cam = Camera.looking_at_ground((640, 480), 500.0, -40.0, 1.5)
    assert cam.ground_grid_segments().shape == (0, 2, 2)


def test_distortion_round_trip():
    dist = np.array([-0.25, 0.08, 0.001, -0.0005, 0.0])
    cam = oblique(dist=dist)
    px = np.array([[50.0, 650.0], [640.0, 400.0], [1230.0, 700.0]])
    X = cam.backproject_to_ground(px)
    assert np.allclose(cam.project(X), px, atol=1e-6)
    # distortion matters: the ideal pinhole puts these pixels elsewhere
    assert np.abs(cam.undistort_pixels(px) - px).max() > 5


def test_json_round_trip(tmp_path):
    cam = oblique(dist=np.array([-0.1, 0.01, 0, 0, 0]), provenance={"method": "test", "f": np.float64(3.0)})
    path = tmp_path / "camera.json"
    cam.save(path)
    back = Camera.load(path)
    assert back.image_size == cam.image_size and back.version == 1
    for name in ("K", "dist", "n"):
        assert np.array_equal(getattr(back, name), getattr(cam, name))
    assert back.d == cam.d and back.provenance == {"method": "test", "f": 3.0}
    assert [p.name for p in tmp_path.iterdir()] == ["camera.json"]  # no temp file left behind


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "camera.json"
    oblique().save(path)
    before = path.read_text()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        oblique(height_m=9.0).save(path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["camera.json"]


def _write(tmp_path, data):
    path = tmp_path / "camera.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.mark.parametrize("field,value,words", [
    ("n", [0, -2, 0], "unit vector"),
    ("n", [0, -1], "'n'"),
    ("d", -3.0, "'d'"),
    ("d", 0, "'d'"),
    ("K", [[500, 0, 320], [10, 500, 240], [0, 0, 1]], "upper-triangular"),
    ("K", [[-500, 0, 320], [0, 500, 240], [0, 0, 1]], "focal length"),
    ("K", [[500, 0], [0, 500]], "'K'"),
    ("image_size", [640.5, 480], "image_size"),
    ("image_size", [0, 480], "image_size"),
    ("dist", [0.1, 0.2], "'dist'"),
    ("version", 7, "version 1"),
])
def test_invalid_fields_are_named(tmp_path, field, value, words):
    data = oblique().to_dict()
    data[field] = value
    with pytest.raises(CalibrationError) as err:
        Camera.load(_write(tmp_path, data))
    assert words in str(err.value)
    assert str(tmp_path / "camera.json") in err.value.message
    assert err.value.hint


def test_missing_field_and_bad_json(tmp_path):
    data = oblique().to_dict()
    del data["n"]
    with pytest.raises(CalibrationError, match="lacks the field"):
        Camera.load(_write(tmp_path, data))
    with pytest.raises(CalibrationError, match=r"not valid JSON \(line 1"):
        Camera.load(_write(tmp_path, '{"version": 1,'))
    with pytest.raises(CalibrationError, match="must be a JSON object"):
        Camera.load(_write(tmp_path, "[1, 2]"))
    with pytest.raises(CalibrationError, match="No camera calibration"):
        Camera.load(tmp_path / "missing.json")


def test_slightly_non_unit_normal_is_renormalised():
    data = oblique().to_dict()
    data["n"] = (np.array(data["n"]) * 1.0004).tolist()
    assert np.linalg.norm(Camera.from_dict(data).n) == pytest.approx(1.0, abs=1e-15)


def test_demo_calibrations_load():
    from pathlib import Path

    demo = Path(__file__).resolve().parent.parent / "resources" / "demo"
    for name, size in (("parking-lot-person-bicycle-car", (480, 270)), ("parking-lot-cars-top-down", (768, 432))):
        cam = Camera.load(demo / f"{name}.camera.json")
        assert cam.image_size == size
        assert 2.0 < cam.d < 30.0
        # the bottom centre of the image sees the lot a few metres to a few tens of metres away
        assert 2.0 < cam.ground_depth([[size[0] / 2, size[1] - 1]])[0] < 40.0
