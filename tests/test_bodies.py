"""The proxy body: SMPL's layout (24 joints, tree, 6890 vertices), posing by LBS, height control, keypoints."""
import numpy as np
import pytest

from walt3d_studio.camera import Camera
from walt3d_studio.errors import BadInputError
from walt3d_studio.reconstruct import bodies as b

FACING_CAMERA = [np.pi, 0, 0]  # rest body (y up, facing +z) upright in the OpenCV frame, facing the camera


def test_rest_layout_and_height_control():
    body = b.proxy_rest({"height_m": 1.8})
    assert body.vertices.shape == (6890, 3) and body.faces.shape == (13776, 3) and body.joints.shape == (24, 3)
    assert body.height == pytest.approx(1.8)
    assert np.allclose(body.w.sum(axis=1), 1)
    J = body.joints
    # joints in anatomical order along the body: ankles < knees < hips < pelvis < spine < neck < head
    y = J[:, 1]
    assert y[7] < y[4] < y[1] < y[0] < y[3] < y[6] < y[9] < y[12] < y[15]
    assert J[1, 0] > 0 > J[2, 0]  # left is +x
    # betas[0] drives the height when height_m is absent; betas[1] widens the build without changing height
    tall = b.proxy_rest({"betas": [2.0]})
    assert tall.height == pytest.approx(b.PROXY_BASE_HEIGHT + 2 * b.PROXY_HEIGHT_PER_BETA)
    wide = b.proxy_rest({"height_m": 1.8, "betas": [0, 2.0]})
    assert wide.height == pytest.approx(1.8)
    assert np.ptp(wide.vertices[:, 0]) > 1.1 * np.ptp(body.vertices[:, 0])
    with pytest.raises(BadInputError):
        b.proxy_rest({"height_m": 7})


def test_posed_mesh_facing_camera_in_camera_frame():
    params = {"global_orient": FACING_CAMERA, "body_pose": np.zeros(69), "transl": [0.5, 0.2, 6.0]}
    shape = {"betas": [0] * 10, "body_model": "proxy", "height_m": 1.7}
    v, f = b.posed_mesh(params, shape)
    assert v.dtype == np.float64 and v.shape == (6890, 3) and f.shape == (13776, 3)
    assert np.ptp(v[:, 1]) == pytest.approx(1.7)
    J = b.posed_joints(params, shape)
    assert J.shape == (24, 3)
    assert np.allclose(J[0], b.SMPL_PELVIS_REST + [0.5, 0.2, 6.0])  # SMPL: the root turns in place, then transl
    # head up (smaller y in the OpenCV frame), nose towards the camera, the body's left on the image's right
    k = b.coco17_keypoints(params, shape)
    assert k.shape == (17, 3)
    nose, lsh, rsh, lank = k[0], k[5], k[6], k[15]
    assert nose[1] < lsh[1] < lank[1]
    assert nose[2] < J[0, 2]
    assert lsh[0] > rsh[0]


def test_pose_moves_only_the_limb_and_matches_a_4x4_chain():
    shape = {"height_m": 1.7}
    rest = b.posed_mesh({"global_orient": np.zeros(3), "body_pose": np.zeros(69), "transl": np.zeros(3)}, shape)[0]
    pose = np.zeros(69)
    pose[(18 - 1) * 3:(18 - 1) * 3 + 3] = [0, 0, 1.0]  # left elbow
    bent = b.posed_mesh({"global_orient": np.zeros(3), "body_pose": pose, "transl": np.zeros(3)}, shape)[0]
    moved = np.linalg.norm(bent - rest, axis=1) > 1e-6
    assert 100 < moved.sum() < 1500  # the forearm and hand (plus a smooth seam), not the body
    J = b.posed_joints({"global_orient": np.zeros(3), "body_pose": pose, "transl": np.zeros(3)}, shape)
    Jr = b.proxy_rest(shape).joints
    # the wrist turned 1 rad about z around the elbow
    R = b.rodrigues(np.array([0, 0, 1.0]))
    assert np.allclose(J[20], Jr[18] + R @ (Jr[20] - Jr[18]))


def test_walking_body_stands_on_the_ground_where_placed():
    cam = Camera.looking_at_ground((640, 480), 600, 20, 4.0)
    foot = cam.backproject_to_ground(np.array([[300.0, 400.0]]))[0]
    shape = {"height_m": 1.75}
    p = {"global_orient": b.upright_orient([1, 0, 0], cam.n), "body_pose": b.walking_pose(1.0, 0.4)}
    p = b.place_on_ground(p, shape, foot, cam.n, cam.d)
    v, _ = b.posed_mesh(p, shape)
    h = v @ cam.n + cam.d
    assert h.min() == pytest.approx(0, abs=1e-9) and 1.6 < h.max() < 1.76
    assert np.allclose(b.ground_point(b.posed_joints(p, shape)[None], cam.n, cam.d)[0], foot)
    # facing direction of travel: the nose is ahead (+x) of the pelvis
    k = b.coco17_keypoints(p, shape)
    assert k[0, 0] > b.posed_joints(p, shape)[0, 0] + 0.05


def test_bad_body_model_names():
    with pytest.raises(BadInputError):
        b.parse_body_model("smplx:foo")
    assert b.parse_body_model("proxy") == ("proxy", None, None)
    with pytest.raises(BadInputError, match="set-model"):
        b.posed_mesh({}, {"body_model": "smpl:m.pkl:" + "0" * 64})
