"""The 3D fit of a composite object drawn through its camera from the pose the composite stored (the review
dock's wireframes layer): vehicles' 3D box and mesh edges, people's outline and skeleton, nothing without a fit."""
import numpy as np

from composite_project import _pose, camera
from walt3d_studio.composite.wireframe import object_drawing, object_mesh
from walt3d_studio.gui.composites import layers as L
from walt3d_studio.keypoints.schema import load_schema
from walt3d_studio.reconstruct import bodies
from walt3d_studio.reconstruct.vehicle_shape import mesh_for_alpha


def test_vehicle_box_corners_land_where_the_camera_projects_them():
    cam = camera()
    R, t = _pose(cam, (1.0, 15.0), 0.4)
    pose = {"R": R.tolist(), "t": t.tolist(), "shape_coeffs": [], "shape_class": "car"}
    d = object_drawing(cam, "vehicle", pose)
    assert d is not None and len(d["thick"]) == 12 and len(d["lines"]) > 100
    v, _ = mesh_for_alpha([])
    lo, hi = v.min(0), v.max(0)
    corner = np.array([hi[0], lo[1], lo[2]]) @ R.T + t           # front right, on the ground
    px = cam.project(corner[None])[0]
    ends = d["thick"].reshape(-1, 2)
    assert np.min(np.linalg.norm(ends - px, axis=1)) < 1e-6
    # drawn: the corner's pixel turns the wire colour; without the layer it stays the picture's
    img = np.full((cam.image_size[1], cam.image_size[0], 3), 40, np.uint8)
    s = 3
    out = L.render(img, [], {"wireframes"}, scale=s, wires={0: d})
    cx, cy = (np.round((px + 0.5) * s - 0.5)).astype(int)
    assert (out[cy, cx] == L.WIRE).all()
    assert (L.render(img, [], set(), scale=s, wires={0: d})[cy, cx] == 40).all()
    mesh_v, _ = object_mesh("vehicle", pose)
    assert np.allclose(mesh_v, v @ R.T + t)


def test_person_outline_spans_feet_to_head_and_has_a_skeleton():
    cam = camera()
    Rw, tw = cam.world_to_cam()
    foot = Rw @ np.array([-1.0, 12.0, 0.0]) + tw
    shape = {"body_model": "proxy", "height_m": 1.8}
    params = {"global_orient": bodies.upright_orient(Rw @ np.array([1.0, 0, 0]), cam.n).tolist(),
              "body_pose": bodies.walking_pose(0.0).reshape(-1).tolist()}
    params = bodies.place_on_ground(params, shape, foot, cam.n, cam.d)
    pose = {"global_orient": list(params["global_orient"]), "body_pose": list(params["body_pose"]),
            "transl": list(params["transl"]), "betas": None, "body_model": "proxy", "body_shape": shape}
    d = object_drawing(cam, "person", pose, skeleton=load_schema("person17").skeleton)
    assert d is not None and d["polylines"] and len(d["thick"]) >= 12
    pts = np.concatenate(d["polylines"])
    foot_px = cam.project(foot[None])[0]
    head_px = cam.project((foot + 1.8 * np.asarray(cam.n))[None])[0]
    assert abs(pts[:, 1].max() - foot_px[1]) < 3 and abs(pts[:, 1].min() - head_px[1]) < 4
    assert pts[:, 0].min() < foot_px[0] < pts[:, 0].max()


def test_no_fit_no_drawing():
    cam = camera()
    assert object_drawing(cam, "vehicle", {"category": "car"}) is None
    assert object_drawing(cam, "person", {"transl": None}) is None
    assert object_mesh("bicycle", {}) is None
