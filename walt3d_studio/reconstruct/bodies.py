"""Human bodies in SMPL's layout: the shipped proxy body, a user's SMPL model (via smplx), posing and keypoints.

Parameters follow DESIGN (people): `global_orient` (3, axis-angle, camera frame), `body_pose` (23*3 axis-angle,
each joint relative to its parent), `betas` (10) and `transl` (metres, camera frame). As in SMPL, a body is
posed about its root joint J0 and then moved by `transl`: X_cam = R0 (X_rest - J0) + J0 + transl for the pelvis
part. The canonical (rest) body stands along +y, faces +z, its left is +x — so a person upright and facing the
camera has global_orient = (π, 0, 0) in the OpenCV camera frame (y down).

The proxy body is built from SMPL-topology meshes (6890 vertices) and Meshcapade's 24-part vertex segmentation
(resources/body, see ATTRIBUTION.md): joints are the centres of the seams between a part and its parent, the
skinning weights are the parts smoothed a few rings across the seams, and `shape` controls height and build:
  shape = {"betas": [...10], "body_model": "proxy" | "smpl:<file>:<sha256>", "height_m": h (optional),
           "proxy_template": "neutral" | "man" | "woman" (optional)}
For the proxy, `height_m` (standing height) wins over betas[0] (+7 cm per unit); betas[1] widens the build.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from ..errors import BadInputError
from ..resources import resource

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle", "right_ankle",
    "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand")
PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21])
# Meshcapade's part name for the vertices each SMPL joint moves
PART_OF_JOINT = (
    "hips", "leftUpLeg", "rightUpLeg", "spine", "leftLeg", "rightLeg", "spine1", "leftFoot", "rightFoot", "spine2",
    "leftToeBase", "rightToeBase", "neck", "leftShoulder", "rightShoulder", "head", "leftArm", "rightArm",
    "leftForeArm", "rightForeArm", "leftHand", "rightHand", "leftHandIndex1", "rightHandIndex1")
N_JOINTS = 24
N_BETAS = 10

COCO17_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
                "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
                "right_knee", "left_ankle", "right_ankle")
# face keypoints are SMPL-topology vertices (the commonly used ones); the rest are joints
_COCO_FACE_VERTICES = (332, 2800, 6260, 583, 4071)
_COCO_BODY_JOINTS = (16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)

# SMPL's neutral rest pelvis (metres, approximate): the proxy's pelvis is put there so that `transl` means
# about the same for the proxy and for a real SMPL model
SMPL_PELVIS_REST = np.array([0.0, -0.223, 0.028])
PROXY_BASE_HEIGHT = 1.70
PROXY_HEIGHT_PER_BETA = 0.07
PROXY_BUILD_PER_BETA = 0.06
_SMOOTH_RINGS = 3
_MAX_INFLUENCES = 4


@dataclass(frozen=True)
class RestBody:
    """A body in its rest pose for one shape: vertices (N,3), faces (M,3), joints (24,3), sparse skinning
    (influence joint indices (N,k) and weights (N,k), rows summing to 1)."""

    vertices: np.ndarray
    faces: np.ndarray
    joints: np.ndarray
    w_idx: np.ndarray
    w: np.ndarray
    posedirs: np.ndarray | None = None   # SMPL only: (N*3, 207) pose-corrective offsets

    @cached_property
    def dense_weights(self) -> np.ndarray:
        W = np.zeros((len(self.w), N_JOINTS))
        np.put_along_axis(W, self.w_idx, self.w, axis=1)
        return W

    @property
    def height(self) -> float:
        return float(self.vertices[:, 1].max() - self.vertices[:, 1].min())


# ---- the proxy body ---------------------------------------------------------------------------------------


def _read_obj(path: Path) -> tuple[np.ndarray, np.ndarray]:
    verts, faces = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("v "):
            verts.append(line.split()[1:4])
        elif line.startswith("f "):
            faces.append([int(t.split("/")[0]) - 1 for t in line.split()[1:4]])
    return np.asarray(verts, dtype=float), np.asarray(faces, dtype=np.int64)


def _seam_centre(v: np.ndarray, child: list[int], parent: list[int]) -> np.ndarray:
    """Centre of the seam between two parts: their shared vertices, or the vertices facing each other."""
    shared = sorted(set(child) & set(parent))
    if shared:
        return v[shared].mean(axis=0)
    from scipy.spatial import cKDTree

    dc, _ = cKDTree(v[parent]).query(v[child])
    dp, _ = cKDTree(v[child]).query(v[parent])
    near = np.r_[np.asarray(child)[dc < dc.min() + 0.01], np.asarray(parent)[dp < dp.min() + 0.01]]
    return v[near].mean(axis=0)


@lru_cache(maxsize=1)
def _proxy_base() -> dict:
    """Templates (man, woman, neutral), joints and skinning weights of the proxy, in SMPL's rest frame."""
    import json

    import scipy.sparse as sp

    man, faces = _read_obj(resource("body", "human_man.obj"))
    woman, faces_w = _read_obj(resource("body", "human_woman.obj"))
    if man.shape != (6890, 3) or woman.shape != man.shape or not np.array_equal(faces, faces_w):
        raise BadInputError("The shipped proxy body meshes are not in SMPL's topology.",
                            "Reinstall WALT3D Studio from a full checkout.")
    parts = json.loads(resource("body", "smpl_vert_segmentation.json").read_text(encoding="utf-8"))
    templates = {"man": man, "woman": woman, "neutral": (man + woman) / 2}
    joints = {}
    for name, v in templates.items():
        J = np.zeros((N_JOINTS, 3))
        for j in range(1, N_JOINTS):
            J[j] = _seam_centre(v, parts[PART_OF_JOINT[j]], parts[PART_OF_JOINT[PARENTS[j]]])
        hips = (J[1] + J[2]) / 2
        J[0] = hips + 0.45 * (J[3] - hips)  # SMPL's pelvis sits a little under half way from the hips to spine1
        shift = SMPL_PELVIS_REST - J[0]
        templates[name] = v + shift
        joints[name] = J + shift
    # skinning: one-hot parts (seam vertices shared), smoothed over a few rings of mesh neighbours
    n = len(man)
    W = np.zeros((n, N_JOINTS))
    for j, part in enumerate(PART_OF_JOINT):
        W[parts[part], j] += 1.0
    e = np.r_[faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]
    A = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    A = ((A + A.T) > 0).astype(float) + sp.identity(n)
    A = sp.diags(1.0 / np.asarray(A.sum(axis=1)).ravel()) @ A
    W /= W.sum(axis=1, keepdims=True)
    for _ in range(_SMOOTH_RINGS):
        W = A @ W
    idx = np.argsort(-W, axis=1)[:, :_MAX_INFLUENCES]
    w = np.take_along_axis(W, idx, axis=1)
    w /= w.sum(axis=1, keepdims=True)
    return {"templates": templates, "joints": joints, "faces": faces, "w_idx": idx, "w": w}


def proxy_rest(shape: dict | None = None) -> RestBody:
    """The proxy body for a shape: standing height from `height_m` (or betas[0]), build from betas[1]."""
    shape = shape or {}
    base = _proxy_base()
    which = shape.get("proxy_template", "neutral")
    if which not in base["templates"]:
        raise BadInputError(f"Unknown proxy template {which!r}.", "Use 'neutral', 'man' or 'woman'.")
    v, J = base["templates"][which], base["joints"][which]
    betas = _betas(shape.get("betas"))
    height = shape.get("height_m")
    if height is None:
        height = PROXY_BASE_HEIGHT + PROXY_HEIGHT_PER_BETA * betas[0]
    height = float(height)
    if not 0.3 <= height <= 3.0:
        raise BadInputError(f"A body height of {height:.2f} m is not a person's.", "Use a height between 0.3 and 3 m.")
    floor = v[:, 1].min()
    s = height / (v[:, 1].max() - floor)
    build = max(0.5, 1.0 + PROXY_BUILD_PER_BETA * betas[1])
    scale = np.array([s * build, s, s * build])
    # scale about the pelvis (so transl keeps its meaning), keeping the body's axis where it was
    v2 = (v - J[0]) * scale + J[0]
    J2 = (J - J[0]) * scale + J[0]
    return RestBody(v2, base["faces"], J2, base["w_idx"], base["w"])


def _betas(b) -> np.ndarray:
    out = np.zeros(N_BETAS)
    if b is not None:
        b = np.asarray(b, dtype=float).ravel()[:N_BETAS]
        out[:len(b)] = b
    return out


# ---- SMPL models given by the user ------------------------------------------------------------------------

_model_dirs: list[Path] = []


def add_model_dir(path) -> None:
    """Also look for converted SMPL models (`<sha256>.npz`) in this folder (a project's `bodies/`)."""
    p = Path(path)
    if p not in _model_dirs:
        _model_dirs.insert(0, p)


def parse_body_model(name: str | None) -> tuple[str, str | None, str | None]:
    """'proxy' → ('proxy', None, None); 'smpl:<file>:<sha256>' → ('smpl', file, sha256)."""
    if name in (None, "", "proxy"):
        return "proxy", None, None
    kind, _, rest = str(name).partition(":")
    file, _, sha = rest.rpartition(":")
    if kind != "smpl" or not file or len(sha) != 64:
        raise BadInputError(f"Unknown body model {name!r}.", "Use 'proxy' or 'smpl:<file>:<sha256>'.")
    return kind, file, sha


def find_smpl_npz(file: str, sha: str, hint: str | None = None) -> Path:
    """The converted model `<sha>.npz`: at `hint` (a fit's shape["npz_path"]), in the folders given to
    add_model_dir, or in $WALT3D_BODY_MODELS."""
    if hint and Path(hint).name == f"{sha}.npz" and Path(hint).exists():
        return Path(hint)
    dirs = list(_model_dirs)
    env = os.environ.get("WALT3D_BODY_MODELS")
    if env:
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    for d in dirs:
        p = d / f"{sha}.npz"
        if p.exists():
            return p
    raise BadInputError(f"The SMPL model {file} (sha256 {sha[:12]}…) these fits were made with is not available.",
                        "Point the project at it again: walt3d bodies set-model PROJECT --smpl PATH --trust.")


@lru_cache(maxsize=4)
def _smpl_layer(npz_path: str):
    import smplx
    import smplx.utils

    import contextlib
    import io

    data = dict(np.load(npz_path, allow_pickle=False))
    n_betas = min(N_BETAS, data["shapedirs"].shape[-1])
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning about 10 betas on stdout
        layer = smplx.SMPL(model_path=str(Path(npz_path).parent), data_struct=smplx.utils.Struct(**data),
                           num_betas=n_betas, create_transl=False, create_global_orient=False,
                           create_body_pose=False, create_betas=False)
    return layer, n_betas


def _smpl_forward(npz: Path, params: dict, betas: np.ndarray):
    """(vertices (B,N,3), joints (B,24,3), faces) from smplx, posed per params (arrays of shape (B, ...))."""
    import torch

    layer, nb = _smpl_layer(str(npz))
    B = len(params["global_orient"])
    with torch.no_grad():
        out = layer(global_orient=torch.as_tensor(params["global_orient"], dtype=torch.float32).reshape(B, 3),
                    body_pose=torch.as_tensor(params["body_pose"], dtype=torch.float32).reshape(B, 69),
                    betas=torch.as_tensor(np.broadcast_to(betas[:nb], (B, nb)).copy(), dtype=torch.float32),
                    transl=torch.as_tensor(params["transl"], dtype=torch.float32).reshape(B, 3))
    return (out.vertices.double().numpy(), out.joints[:, :N_JOINTS].double().numpy(),
            np.asarray(layer.faces, dtype=np.int64))


def smpl_rest_height(npz: Path, betas) -> float:
    b = _betas(betas)
    zero = {"global_orient": np.zeros((1, 3)), "body_pose": np.zeros((1, 69)), "transl": np.zeros((1, 3))}
    v, _, _ = _smpl_forward(npz, zero, b)
    return float(v[0, :, 1].max() - v[0, :, 1].min())


def smpl_betas_for_height(npz: Path, height: float, betas=None) -> np.ndarray:
    """betas with betas[0] set so that the rest body is `height` tall (stature is close to linear in betas)."""
    b = _betas(betas)
    b0, b1 = b.copy(), b.copy()
    b0[0], b1[0] = 0.0, 1.0
    h0, h1 = smpl_rest_height(npz, b0), smpl_rest_height(npz, b1)
    if abs(h1 - h0) > 1e-6:
        b[0] = float(np.clip((height - h0) / (h1 - h0), -5, 5))
    return b


# ---- posing ------------------------------------------------------------------------------------------------


def rodrigues(rotvecs) -> np.ndarray:
    """Axis-angle (..., 3) to rotation matrices (..., 3, 3)."""
    r = np.asarray(rotvecs, dtype=float)
    theta = np.linalg.norm(r, axis=-1, keepdims=True)
    k = r / np.maximum(theta, 1e-12)
    x, y, z = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros_like(x)
    Kx = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(r.shape[:-1] + (3, 3))
    s, c = np.sin(theta)[..., None], np.cos(theta)[..., None]
    return np.eye(3) + s * Kx + (1 - c) * (Kx @ Kx)


def matrix_to_rotvec(R) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_matrix(np.asarray(R, dtype=float)).as_rotvec()


def _pose_array(params: dict) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """(rotvecs (B,24,3), transl (B,3), B, batched) from params whose fields may carry a batch dimension."""
    go = np.asarray(params.get("global_orient", np.zeros(3)), dtype=float)
    batched = go.ndim == 2
    go = go.reshape(-1, 3)
    B = len(go)
    bp = np.asarray(params.get("body_pose", np.zeros(69)), dtype=float).reshape(B, -1)
    if bp.shape[1] != 69:
        raise BadInputError(f"body_pose has {bp.shape[1]} numbers; SMPL's has 69 (23 joints × 3).",
                            "Give 23 axis-angle rotations, one per joint after the pelvis.")
    tr = np.asarray(params.get("transl", np.zeros(3)), dtype=float).reshape(B, 3)
    return np.concatenate([go[:, None], bp.reshape(B, 23, 3)], axis=1), tr, B, batched


def pose_rest(body: RestBody, rotvecs: np.ndarray, transl: np.ndarray, with_vertices: bool = True):
    """Linear blend skinning of a rest body, batched: rotvecs (B,24,3), transl (B,3) → (vertices (B,N,3) or None,
    joints (B,24,3))."""
    Rl = rodrigues(rotvecs)                                   # (B,24,3,3) local rotations
    J = body.joints
    B = len(Rl)
    Rg = np.empty_like(Rl)
    Tg = np.empty((B, N_JOINTS, 3))
    Rg[:, 0], Tg[:, 0] = Rl[:, 0], J[0]
    for j in range(1, N_JOINTS):
        p = PARENTS[j]
        Rg[:, j] = Rg[:, p] @ Rl[:, j]
        Tg[:, j] = Tg[:, p] + Rg[:, p] @ (J[j] - J[p])
    joints = Tg + transl[:, None]
    if not with_vertices:
        return None, joints
    off = Tg - np.einsum("bjik,jk->bji", Rg, J)             # A_j x = Rg_j x + off_j
    A = np.concatenate([Rg.reshape(B, N_JOINTS, 9), off], axis=2)   # (B,24,12)
    M = body.dense_weights @ A                                # (B,N,12): blended transform per vertex
    v = body.vertices
    verts = np.empty((B, len(v), 3))
    for i in range(3):
        verts[..., i] = (M[..., 3 * i] * v[:, 0] + M[..., 3 * i + 1] * v[:, 1] + M[..., 3 * i + 2] * v[:, 2]
                         + M[..., 9 + i] + transl[:, i:i + 1])
    return verts, joints


def rest_body(shape: dict | None) -> RestBody | None:
    """The proxy's rest body for a shape, or None for an SMPL model (posed by smplx)."""
    kind, _, _ = parse_body_model((shape or {}).get("body_model"))
    return proxy_rest(shape) if kind == "proxy" else None


def _pose(params: dict, shape: dict, with_vertices: bool = True):
    shape = shape or {}
    rv, tr, B, batched = _pose_array(params)
    kind, file, sha = parse_body_model(shape.get("body_model"))
    if kind == "proxy":
        body = proxy_rest(shape)
        v, j = pose_rest(body, rv, tr, with_vertices)
        faces = body.faces
    else:
        npz = find_smpl_npz(file, sha, shape.get("npz_path"))
        v, j, faces = _smpl_forward(npz, {"global_orient": rv[:, 0], "body_pose": rv[:, 1:].reshape(B, 69),
                                          "transl": tr}, _betas(shape.get("betas")))
    return v, j, faces, batched


def posed_mesh(params: dict, shape: dict) -> tuple[np.ndarray, np.ndarray]:
    """(vertices in the camera frame (N,3) float64, faces (M,3) int) of one posed body."""
    v, _, faces, batched = _pose(params, shape)
    return (v if batched else v[0]), faces


def posed_joints(params: dict, shape: dict) -> np.ndarray:
    """SMPL's 24 joints (24,3) in the camera frame."""
    _, j, _, batched = _pose(params, shape, with_vertices=False)
    return j if batched else j[0]


def coco17_from(vertices: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """COCO-17 keypoints (…,17,3) from posed vertices (…,N,3) and joints (…,24,3)."""
    face = vertices[..., list(_COCO_FACE_VERTICES), :]
    body = joints[..., list(_COCO_BODY_JOINTS), :]
    return np.concatenate([face, body], axis=-2)


def coco17_keypoints(params: dict, shape: dict) -> np.ndarray:
    """COCO-17 keypoints (17,3) in the camera frame: face points from mesh vertices, the others from joints."""
    v, j, _, batched = _pose(params, shape)
    k = coco17_from(v, j)
    return k if batched else k[0]


def root_joint(shape: dict) -> np.ndarray:
    """The rest position of the root joint J0 for a shape (posing keeps it at J0 + transl)."""
    kind, file, sha = parse_body_model((shape or {}).get("body_model"))
    if kind == "proxy":
        return proxy_rest(shape).joints[0].copy()
    zero = {"global_orient": np.zeros((1, 3)), "body_pose": np.zeros((1, 69)), "transl": np.zeros((1, 3))}
    _, j, _ = _smpl_forward(find_smpl_npz(file, sha), zero, _betas(shape.get("betas")))
    return j[0, 0]


def retarget_transl(params: dict, from_shape: dict, to_shape: dict) -> dict:
    """The same pose for another body model: transl changed so the root joint stays where it was."""
    out = dict(params)
    out["transl"] = (np.asarray(params["transl"], float) + root_joint(from_shape) - root_joint(to_shape)).tolist()
    return out


# ---- simple poses (the built-in estimator's, and tests') ------------------------------------------------------


def _rot(axis: str, angle: float) -> np.ndarray:
    v = {"x": (1.0, 0, 0), "y": (0, 1.0, 0), "z": (0, 0, 1.0)}[axis]
    return rodrigues(np.asarray(v) * angle)


def walking_pose(phase: float = 0.0, stride: float = 0.0, arm_drop: float = 1.3) -> np.ndarray:
    """body_pose (69,) of a person standing (stride 0) or walking (stride ≈ 0.4 rad of hip swing) at a gait phase
    (radians): arms hanging by the sides, legs and arms swinging in opposition."""
    s = float(np.sin(phase))
    R = np.repeat(np.eye(3)[None], N_JOINTS, axis=0)
    # hips: rotating about -x swings a leg forward (+z, the way the body faces)
    R[1] = _rot("x", -stride * s)
    R[2] = _rot("x", stride * s)
    # knees bend backwards (+x), more on the leg that is swinging through
    R[4] = _rot("x", 0.05 + 1.2 * stride * max(0.0, -s))
    R[5] = _rot("x", 0.05 + 1.2 * stride * max(0.0, s))
    # arms down from the T-pose, swinging against the legs
    R[16] = _rot("x", 0.5 * stride * s) @ _rot("z", -arm_drop)
    R[17] = _rot("x", -0.5 * stride * s) @ _rot("z", arm_drop)
    R[18] = _rot("y", 0.15)
    R[19] = _rot("y", -0.15)
    return matrix_to_rotvec(R[1:]).reshape(69)


def upright_orient(heading_cam, n) -> np.ndarray:
    """global_orient (axis-angle) of a body standing upright on a ground with up-normal `n` (camera frame) and
    facing `heading_cam` (a camera-frame direction, projected onto the ground)."""
    up = np.asarray(n, dtype=float) / np.linalg.norm(n)
    f = np.asarray(heading_cam, dtype=float)
    f = f - (f @ up) * up
    f /= np.linalg.norm(f)
    left = np.cross(up, f)  # canonical x (the body's left) = y × z
    return matrix_to_rotvec(np.column_stack([left, up, f]))


def ground_point(joints: np.ndarray, n, d: float) -> np.ndarray:
    """Where a body stands: its pelvis dropped onto the ground plane n·X + d = 0 (camera frame, (...,3))."""
    n = np.asarray(n, dtype=float)
    pelvis = np.asarray(joints)[..., 0, :]
    return pelvis - (pelvis @ n + d)[..., None] * n


def place_on_ground(params: dict, shape: dict, foot_cam, n, d: float) -> dict:
    """params with `transl` set so the body stands at `foot_cam` (its ground point) with its lowest vertex on
    the ground plane."""
    n = np.asarray(n, dtype=float)
    p = dict(params, transl=np.zeros(3))
    v, _ = posed_mesh(p, shape)
    j = posed_joints(p, shape)
    low = float((v @ n).min())                    # lowest vertex's n-coordinate (d = 0 here)
    pelvis = j[0]
    # move horizontally so the pelvis is above foot_cam, vertically so the lowest vertex touches the ground
    horiz = np.asarray(foot_cam, float) - (pelvis - (pelvis @ n) * n)
    horiz -= (horiz @ n) * n
    p["transl"] = horiz + (-d - low) * n
    return p
