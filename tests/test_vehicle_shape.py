"""The vehicle shape model and its mesh: plausible dimensions, PCA components, watertight meshes, and the
silhouette rasteriser on known pixels."""
import numpy as np
import pytest

from walt3d_studio.camera import Camera
from walt3d_studio.errors import BadInputError
from walt3d_studio.reconstruct import silhouette as sil
from walt3d_studio.reconstruct import vehicle_shape as vs


def test_csv_has_enough_real_vehicles_of_every_body_type():
    rows = vs.read_vehicle_rows()
    cars = [r for r in rows if r.kind == "car"]
    assert len(cars) >= 40
    assert {"hatchback", "sedan", "estate", "suv", "van", "pickup"} <= {r.body for r in cars}
    assert any(r.kind == "bus_truck" for r in rows)
    for r in rows:
        d = r.dims
        assert d["wheelbase"] < d["length"] and d["track_front"] < d["width"] and d["overhang_front"] < d["length"] / 2
        assert 0.25 < d["wheel_radius"] < 0.6 and 1900 < r.year < 2030


def test_keypoints_of_a_golf_follow_its_published_dimensions():
    golf = next(r for r in vs.read_vehicle_rows() if r.model == "Golf VII")
    kp = vs.keypoints_from_dims(golf.dims)
    assert kp.shape == (12, 3)
    # wheels: hub height = wheel radius, wheelbase and track as published; right (index 0) at -y
    np.testing.assert_allclose(kp[:4, 2], 0.316)
    assert kp[0, 0] - kp[2, 0] == pytest.approx(2.637)
    assert kp[1, 1] - kp[0, 1] == pytest.approx(1.549) and kp[0, 1] < 0
    assert kp[0, 0] == pytest.approx(4.255 / 2 - 0.883)
    np.testing.assert_allclose(kp[8:, 2], 1.452)                # roof corners at the roof
    np.testing.assert_allclose(kp[vs.MIRROR] * [1, -1, 1], kp)  # left-right symmetric


def test_pca_keeps_95_percent_and_mean_is_a_plausible_car():
    m = vs.load_shape_model("car")
    assert m.mean.shape == (12, 3) and m.components.shape == (m.n_components, 12, 3)
    assert m.variance_ratio.sum() >= 0.95 and 1 <= m.n_components <= 10
    assert np.all(np.diff(m.variance_ratio) <= 0)
    flat = m.components.reshape(m.n_components, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(m.n_components), atol=1e-9)
    d = vs.dimensions(m.mean)
    assert 4.0 < d["length"] < 5.2 and 1.3 < d["height"] < 1.9 and 2.5 < d["wheelbase"] < 3.1
    assert 1.45 < d["track"] < 1.75
    # the model reproduces its own source vehicles closely (≥ 95 % variance kept)
    X = np.array([vs.keypoints_from_dims(r.dims) for r in vs.read_vehicle_rows() if r.kind == "car"])
    alpha = np.einsum("nkc,pkc->np", X - m.mean, m.components)
    resid = X - vs.keypoints_for_alpha(alpha[0])
    assert np.abs(resid[0]).max() < 0.3
    bus = vs.load_shape_model("bus_truck")
    assert vs.dimensions(bus.mean)["length"] > 6


def test_alpha_moves_keypoints_along_components_and_bad_alpha_is_refused():
    m = vs.load_shape_model()
    a = np.zeros(m.n_components)
    a[0] = 0.5
    np.testing.assert_allclose(vs.keypoints_for_alpha(a) - m.mean, 0.5 * m.components[0])
    np.testing.assert_allclose(vs.keypoints_for_alpha([]), m.mean)
    with pytest.raises(BadInputError):
        vs.keypoints_for_alpha(np.ones(m.n_components + 1))
    with pytest.raises(BadInputError):
        vs.load_shape_model("tank")


def test_meshes_are_watertight_low_poly_and_pass_through_the_roof_corners():
    import trimesh

    m = vs.load_shape_model()
    rng = np.random.default_rng(3)
    for alpha in [None] + [rng.normal(size=m.n_components) * m.stddev * 2 for _ in range(10)]:
        v, f = vs.mesh_for_alpha(alpha)
        mesh = trimesh.Trimesh(v, f, process=False)
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
        assert len(f) <= 2000 and v.dtype == np.float64
        kp = vs.keypoints_for_alpha(alpha)
        for p in kp[8:]:
            assert np.min(np.linalg.norm(v - p, axis=1)) < 1e-5  # α is cached to 1e-6
        assert v[:, 2].min() == pytest.approx(0, abs=1e-9)     # tyres touch the ground
    assert vs.mesh_for_alpha(None)[0] is vs.mesh_for_alpha(np.zeros(m.n_components))[0]  # cached


def _cube(centre, size):
    import trimesh

    b = trimesh.creation.box(extents=[size] * 3)
    return np.asarray(b.vertices) + centre, np.asarray(b.faces)


def test_silhouette_of_a_cube_covers_the_known_pixels():
    cam = Camera((200, 100), np.array([[100.0, 0, 100], [0, 100, 50], [0, 0, 1]]), None,
                 np.array([0.0, -1, 0]), 1.5)
    v, f = _cube([0, 0, 10], 2.0)   # front face at z = 9: x, y in [-1, 1] -> pixels 100 ± 11.1
    m = sil.silhouette_mask(cam, v, f)
    assert m.shape == (100, 200)
    assert m[50, 100] and m[40, 90] and m[60, 110]
    assert not m[50, 115] and not m[35, 100]
    assert abs(m.sum() - (200 / 9) ** 2) < 60   # the near face's square, 22.2 px on a side
    roi = sil.silhouette_mask(cam, v, f, roi=(80, 30, 40, 40))
    np.testing.assert_array_equal(roi, m[30:70, 80:120])
    assert sil.mask_iou(m, m) == 1.0 and sil.mask_iou(m, ~m) == 0.0


def test_silhouette_applies_lens_distortion():
    K = np.array([[100.0, 0, 100], [0, 100, 50], [0, 0, 1]])
    plain = Camera((200, 100), K, None, np.array([0.0, -1, 0]), 1.5)
    barrel = Camera((200, 100), K, np.array([-0.3, 0, 0, 0, 0]), np.array([0.0, -1, 0]), 1.5)
    v, f = _cube([3, 0, 6], 1.0)
    a, b = sil.silhouette_mask(plain, v, f), sil.silhouette_mask(barrel, v, f)
    # barrel distortion pulls the off-centre cube towards the image centre
    assert np.nonzero(b)[1].mean() < np.nonzero(a)[1].mean() - 1


def test_visibility_along_rays():
    v, f = _cube([0, 0, 10], 2.0)
    pts = np.array([[0, 0, 9.0], [0, 0, 11.0], [0.5, 0.5, 9.0], [3, 0, 10]])
    np.testing.assert_array_equal(sil.visible_points(v, f, pts, tol=0.01), [True, False, True, True])
    np.testing.assert_allclose(sil.ray_hits(v, f, pts[:1]), 9.0)


def test_mesh_in_camera_uses_the_fits_class_and_pose():
    from walt3d_studio.reconstruct.meshes import mesh_in_camera
    from walt3d_studio.store.fits import DetectionFit, TrackFit

    R, t = np.eye(3), np.array([1.0, 2.0, 20.0])
    det = DetectionFit(1, R=R, t=t)
    car, _ = mesh_in_camera(TrackFit(1, "vehicle", "keypoints", shape={"alpha": [0.2], "class": "car"}), det)
    bus, _ = mesh_in_camera(TrackFit(1, "vehicle", "keypoints", shape={"alpha": [0.0], "class": "bus_truck"}), det)
    np.testing.assert_allclose(car, vs.mesh_for_alpha([0.2])[0] + t)
    assert np.ptp(bus[:, 0]) > 6 > np.ptp(car[:, 0])
