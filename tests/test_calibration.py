import json
import math
from pathlib import Path

import numpy as np
import pytest

from walt3d_studio.calibration import (calibrate_from_lines_file, calibrate_rectangle, calibrate_vanishing_points,
                                       load_lines_file, summary)
from walt3d_studio.camera import Camera
from walt3d_studio.errors import BadInputError, CalibrationError

DEMO = Path(__file__).resolve().parent.parent / "resources" / "demo"


def scene(f=1100.0, pitch=25.0, roll=3.0, height=7.0, size=(1280, 720)):
    return Camera.looking_at_ground(size, f, pitch, height, roll_deg=roll)


def ground_px(cam, pts_world, noise=0.0, rng=None):
    px = cam.world_to_pixels(np.c_[np.asarray(pts_world, float), np.zeros(len(pts_world))])
    if noise:
        px = px + rng.normal(0, noise, px.shape)
    return px


def bay_lines(cam, noise=0.0, seed=0, yaw=0.45, origin=(-5.0, 9.0), width=10.0, length=18.0):
    """The outline of a 10 m x 18 m block of parking bays: its long sides (A), its short sides (B), and the
    near short side as the reference length (10 m)."""
    rng = np.random.default_rng(seed)
    c, s = math.cos(yaw), math.sin(yaw)

    def at(u, v):
        return (origin[0] + u * c - v * s, origin[1] + u * s + v * c)

    a = [ground_px(cam, [at(u, 0), at(u, length)], noise, rng) for u in (0.0, width)]
    b = [ground_px(cam, [at(0, v), at(width, v)], noise, rng) for v in (0.0, length)]
    ref = ground_px(cam, [at(0, 0), at(width, 0)], noise, rng)
    assert not np.isnan(np.r_[a, b]).any()
    return a, b, ref


def angle_deg(u, v):
    return math.degrees(math.acos(np.clip(u @ v, -1, 1)))


def test_vanishing_points_recover_a_known_camera():
    truth = scene()
    a, b, ref = bay_lines(truth)
    cam = calibrate_vanishing_points(a, b, truth.image_size, ref, 10.0)
    assert cam.focal == pytest.approx(truth.focal, rel=1e-6)
    assert np.allclose(cam.n, truth.n, atol=1e-9)
    assert cam.d == pytest.approx(truth.d, rel=1e-6)
    assert cam.provenance["method"] == "vanishing_points"
    assert cam.provenance["references"][0]["error_m"] == pytest.approx(0, abs=1e-6)
    assert np.allclose(cam.provenance["horizon"], truth.horizon_line())


@pytest.mark.parametrize("seed", range(5))
def test_vanishing_points_with_half_pixel_noise(seed):
    truth = scene()
    a, b, ref = bay_lines(truth, noise=0.5, seed=seed)
    cam = calibrate_vanishing_points(a, b, truth.image_size, ref, 10.0)
    assert cam.focal == pytest.approx(truth.focal, rel=0.02)
    assert angle_deg(cam.n, truth.n) < math.degrees(0.02)  # n within 2% (radians)
    assert cam.d == pytest.approx(truth.d, rel=0.02)


def test_several_references_are_each_remeasured():
    truth = scene()
    a, b, ref = bay_lines(truth)
    other = ground_px(truth, [(0.0, 20.0), (0.0, 24.0)])
    cam = calibrate_vanishing_points(a, b, truth.image_size, [ref, other], [10.0, 4.4])  # second one 10% off
    errs = [r["error_pct"] for r in cam.provenance["references"]]
    assert len(errs) == 2 and errs[0] > 0 > errs[1]  # the compromise scale splits the disagreement
    assert cam.provenance["references"][1]["measured_m"] == pytest.approx(4.0 * cam.d / truth.d)
    assert cam.d > truth.d  # the second reference, said to be longer than it is, pulls the scale up
    text = summary(cam)
    assert "known 4.4 m" in text and "%" in text


def test_refuses_lines_parallel_in_the_image():
    # a camera looking straight down sees every ground direction without convergence
    truth = scene(pitch=90.0, roll=0.0)
    a, b, ref = bay_lines(truth)
    with pytest.raises(CalibrationError, match="parallel in the image"):
        calibrate_vanishing_points(a, b, truth.image_size, ref, 10.0)


def test_refuses_directions_that_cannot_be_perpendicular():
    truth = scene()
    a, _, ref = bay_lines(truth)
    a2, _, _ = bay_lines(truth, yaw=0.85)  # a second family only 23 degrees from the first
    with pytest.raises(CalibrationError, match="f² ≤ 0"):
        calibrate_vanishing_points(a, a2, truth.image_size, ref, 10.0)


def test_refuses_implausible_focal_length():
    # an ultra-wide lens (f = 0.15 image widths): more than a pinhole model with f >= 0.2 widths can explain
    truth = scene(f=0.15 * 1280, pitch=30.0)
    a, b, ref = bay_lines(truth)
    with pytest.raises(CalibrationError, match="outside the plausible"):
        calibrate_vanishing_points(a, b, truth.image_size, ref, 10.0)


def test_single_b_line_with_horizon_lines():
    # angled bays: dividers (A), one perpendicular line (B), and the aisle edges at 45 degrees to both
    truth = scene(f=900.0, pitch=40.0, roll=-2.0, height=9.0)
    a, b, ref = bay_lines(truth, yaw=0.3, origin=(-4.0, 6.0), width=8.0, length=10.0)
    c, s = math.cos(0.3 + math.pi / 4), math.sin(0.3 + math.pi / 4)
    aisle = [ground_px(truth, [(x0, y0), (x0 + 8 * c, y0 + 8 * s)]) for x0, y0 in ((-5.0, 8.0), (1.0, 6.0))]
    cam = calibrate_vanishing_points(a, b[:1], truth.image_size, ref, 8.0, horizon_lines=aisle)
    assert cam.focal == pytest.approx(900.0, rel=1e-6)
    assert np.allclose(cam.n, truth.n, atol=1e-9)
    with pytest.raises(BadInputError, match="at least 2"):
        calibrate_vanishing_points(a, b[:1], truth.image_size, ref, 10.0)


def test_refuses_reference_above_horizon():
    truth = scene(pitch=5.0)
    a, b, _ = bay_lines(truth)
    with pytest.raises(CalibrationError, match="above the horizon"):
        calibrate_vanishing_points(a, b, truth.image_size, [[600, 10], [700, 10]], 5.0)


def test_rectangle_recovers_an_oblique_camera():
    truth = scene(f=900.0, pitch=50.0, roll=-3.0, height=12.0)
    corners = ground_px(truth, [(-1.0, 8.0), (1.5, 8.0), (1.5, 13.0), (-1.0, 13.0)])
    cam = calibrate_rectangle(corners, 2.5, 5.0, truth.image_size)
    assert cam.provenance["focal_source"] == "homography"
    assert cam.focal == pytest.approx(900.0, rel=1e-6)
    assert np.allclose(cam.n, truth.n, atol=1e-6)
    assert cam.d == pytest.approx(12.0, rel=1e-6)
    assert max(abs(r["error_m"]) for r in cam.provenance["references"]) < 1e-3


def test_rectangle_with_noise():
    truth = scene(f=900.0, pitch=45.0, roll=2.0, height=10.0)
    rng = np.random.default_rng(1)
    corners = ground_px(truth, [(-2.0, 6.0), (2.0, 6.0), (2.0, 14.0), (-2.0, 14.0)], 0.5, rng)
    cam = calibrate_rectangle(corners, 4.0, 8.0, truth.image_size)
    assert cam.focal == pytest.approx(900.0, rel=0.05)
    assert cam.d == pytest.approx(10.0, rel=0.05)


def test_rectangle_face_on_needs_focal():
    truth = scene(f=800.0, pitch=90.0, roll=0.0, height=15.0)
    corners = ground_px(truth, [(-1.0, -2.0), (1.5, -2.0), (1.5, 3.0), (-1.0, 3.0)])
    with pytest.raises(CalibrationError, match="face-on") as err:
        calibrate_rectangle(corners, 2.5, 5.0, truth.image_size)
    assert "focal_px" in err.value.hint
    cam = calibrate_rectangle(corners, 2.5, 5.0, truth.image_size, focal_px=800.0)
    assert cam.provenance["focal_source"] == "given"
    assert cam.d == pytest.approx(15.0, rel=1e-6)
    assert np.allclose(cam.n, truth.n, atol=1e-6)


def test_rectangle_above_the_ground():
    truth = scene(f=900.0, pitch=50.0, roll=0.0, height=8.0)
    roof = Camera(truth.image_size, truth.K, None, truth.n, truth.d - 1.5)  # the plane 1.5 m up
    corners = roof.world_to_pixels(np.array([[-1.0, 9.0, 0], [0.8, 9.0, 0], [0.8, 13.5, 0], [-1.0, 13.5, 0]]))
    cam = calibrate_rectangle(corners, 1.8, 4.5, truth.image_size, focal_px=900.0, height_m=1.5)
    assert cam.d == pytest.approx(8.0, rel=1e-6)


def test_rectangle_refuses_crossed_corners():
    truth = scene(pitch=50.0)
    corners = ground_px(truth, [(-1.0, 8.0), (1.5, 13.0), (1.5, 8.0), (-1.0, 13.0)])
    with pytest.raises(CalibrationError, match="convex"):
        calibrate_rectangle(corners, 2.5, 5.0, truth.image_size)


def write(tmp_path, data):
    path = tmp_path / "lines.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_lines_file_round_trip(tmp_path):
    truth = scene()
    a, b, ref = bay_lines(truth)
    path = write(tmp_path, {"mode": "vanishing_points", "image_size": list(truth.image_size), "note": "test bays",
                            "lines_a": [s.tolist() for s in a], "lines_b": [s.tolist() for s in b],
                            "reference": [{"p1": ref[0].tolist(), "p2": ref[1].tolist(), "length_m": 10.0}]})
    cam = calibrate_from_lines_file(path)
    assert cam.d == pytest.approx(7.0, rel=1e-6)
    assert cam.provenance["lines_file"] == "lines.json" and cam.provenance["note"] == "test bays"
    cam.save(tmp_path / "camera.json")
    assert Camera.load(tmp_path / "camera.json").provenance["references"][0]["length_m"] == 10.0


def test_rectangle_lines_file(tmp_path):
    truth = scene(f=900.0, pitch=50.0, height=12.0)
    corners = ground_px(truth, [(-1.0, 8.0), (1.5, 8.0), (1.5, 13.0), (-1.0, 13.0)])
    path = write(tmp_path, {"mode": "rectangle", "image_size": [1280, 720], "corners": corners.tolist(),
                            "width_m": 2.5, "length_m": 5.0, "focal_px": 900})
    assert calibrate_from_lines_file(path).d == pytest.approx(12.0, rel=1e-6)


@pytest.mark.parametrize("data,words", [
    ("{not json", "not valid JSON"),
    ({"mode": "circles"}, "'mode'"),
    ({"mode": "rectangle", "image_size": [640, 480], "corners": [[0, 0]] * 4, "width_m": 2, "length_m": 5,
      "lenght_m": 5}, "Unknown field"),
    ({"mode": "rectangle", "image_size": [640, 480], "corners": [[0, 0]] * 4, "width_m": 2}, "Missing field"),
    ({"mode": "rectangle", "image_size": [640, 480], "corners": [[0, 0]] * 3, "width_m": 2, "length_m": 5},
     "'corners'"),
    ({"mode": "rectangle", "image_size": [640, 480], "corners": [[0, 0]] * 4, "width_m": -2, "length_m": 5},
     "'width_m'"),
    ({"mode": "vanishing_points", "image_size": [640, 480], "lines_a": [[[0, 0], [10, 10]]],
      "lines_b": [[[0, 0], [10, 10]], [[0, 5], [10, 0]]], "reference": []}, "'lines_a'"),
    ({"mode": "vanishing_points", "image_size": "640x480", "lines_a": [], "lines_b": [], "reference": []},
     "'image_size'"),
])
def test_bad_lines_files_say_what_to_fix(tmp_path, data, words):
    with pytest.raises(BadInputError) as err:
        load_lines_file(write(tmp_path, data))
    assert words in err.value.message and str(tmp_path) in err.value.message
    assert err.value.hint


def test_missing_lines_file(tmp_path):
    with pytest.raises(BadInputError, match="No lines file"):
        load_lines_file(tmp_path / "nope.json")


def test_summary_reports_what_a_user_checks():
    truth = scene()
    a, b, ref = bay_lines(truth)
    text = summary(calibrate_vanishing_points(a, b, truth.image_size, ref, 10.0))
    assert "1100.0 px = 0.86 x image width" in text
    assert "7.00 m above the ground" in text and "25.0 deg below the horizon" in text
    assert "horizon" in text and "known 10 m, measured 10.00 m (+0.0%)" in text


@pytest.mark.parametrize("name", ["parking-lot-person-bicycle-car", "parking-lot-cars-top-down"])
def test_demo_lines_files_reproduce_the_stored_calibrations(name):
    made = calibrate_from_lines_file(DEMO / f"{name}.lines.json")
    stored = Camera.load(DEMO / f"{name}.camera.json")
    assert np.allclose(made.K, stored.K) and np.allclose(made.n, stored.n) and made.d == pytest.approx(stored.d)
