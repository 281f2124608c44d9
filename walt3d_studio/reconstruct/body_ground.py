"""Bodies on the ground plane: a posed body placed upright at a ground point, its projected box, and the
placement that makes that box meet a detection's box (DESIGN: z = -d / (nᵀ K⁻¹ p) for the box bottom).

Shared by the built-in estimator and the plug-ins (HMR 2.0), so every estimator puts people on the ground the
same way. The body frame here is SMPL's canonical one (x = the body's left, y = up, z = facing) with its
origin on the floor below the pelvis; X_cam = R X_body + G with R's columns (left, up, facing) in the camera
frame and G the ground point.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import bodies


def box_bottom_pixels(boxes) -> np.ndarray:
    """Bottom-centre pixels (n,2) of boxes [x, y, w, h], in pixel-centre coordinates (a box covers its pixels)."""
    b = np.asarray(boxes, float).reshape(-1, 4)
    return np.c_[b[:, 0] + b[:, 2] / 2 - 0.5, b[:, 1] + b[:, 3] - 0.5]


def box_edges(boxes) -> np.ndarray:
    """(n,4) x0, y0, x1, y1 of boxes in pixel-centre coordinates (outer edges of the covered pixels)."""
    b = np.asarray(boxes, float).reshape(-1, 4)
    return np.c_[b[:, 0] - 0.5, b[:, 1] - 0.5, b[:, 0] + b[:, 2] - 0.5, b[:, 1] + b[:, 3] - 0.5]


def shape_for_height(body_model: str, height: float, betas=None) -> dict:
    """The track shape for a standing height: the proxy takes it directly, SMPL through betas[0]."""
    kind, file, sha = bodies.parse_body_model(body_model)
    b = np.zeros(bodies.N_BETAS) if betas is None else bodies._betas(betas)
    if kind == "proxy":
        b[0] = (height - bodies.PROXY_BASE_HEIGHT) / bodies.PROXY_HEIGHT_PER_BETA
        return {"betas": b.tolist(), "body_model": "proxy", "height_m": float(height)}
    b = bodies.smpl_betas_for_height(bodies.find_smpl_npz(file, sha), height, b)
    return {"betas": b.tolist(), "body_model": body_model, "height_m": float(height)}


@dataclass
class LocalBody:
    """A posed body (global orientation and translation zero) in the floor-origin body frame."""

    shape: dict
    body_pose: np.ndarray
    hull: np.ndarray          # (k,3) support points: a projected box's extremes are (almost exactly) among them
    origin: np.ndarray        # where the floor origin is in the model's own (rest-orientation) frame
    root: np.ndarray          # the root joint J0 in that frame
    top: float                # height of the posed body's highest point above the floor
    vertices: np.ndarray      # (N,3) all vertices, body frame
    faces: np.ndarray
    joints: np.ndarray        # (24,3) body frame

    def scaled(self, s: float, shape: dict) -> "LocalBody":
        """The same body scaled by s about its root joint (how the proxy's height control works)."""
        origin = self.root + s * (self.origin - self.root)
        return LocalBody(shape, self.body_pose, self.hull * s, origin, self.root, self.top * s, self.vertices * s,
                         self.faces, self.joints * s)


def _support_points(v: np.ndarray, k: int = 96) -> np.ndarray:
    """The vertices farthest along k directions spread over the sphere: under a hundred points whose projected
    box equals the whole body's to a few millimetres (directions ~20° apart on rounded ends)."""
    i = np.arange(k) + 0.5
    z = 1 - 2 * i / k
    r = np.sqrt(1 - z * z)
    a = np.pi * (1 + 5 ** 0.5) * i
    dirs = np.c_[r * np.cos(a), r * np.sin(a), z]
    return v[np.unique(np.argmax(v @ dirs.T, axis=0))]


def local_body(shape: dict, body_pose) -> LocalBody:
    bp = np.asarray(body_pose, float).reshape(69)
    p = {"global_orient": np.zeros(3), "body_pose": bp, "transl": np.zeros(3)}
    v, j, faces, _ = bodies._pose(p, shape)
    v, j = v[0], j[0]
    origin = np.array([j[0, 0], v[:, 1].min(), j[0, 2]])
    vl = v - origin
    hull = _support_points(vl)
    return LocalBody(shape, bp, hull, origin, j[0].copy(), float(vl[:, 1].max()), vl, faces, j - origin)


def upright_rotations(heading_cam, n) -> np.ndarray:
    """(m,3,3) rotations body → camera: upright on the ground (normal n) facing each heading (m,3)."""
    up = np.asarray(n, float) / np.linalg.norm(n)
    f = np.asarray(heading_cam, float).reshape(-1, 3)
    f = f - (f @ up)[:, None] * up
    f /= np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
    left = np.cross(up, f)
    return np.stack([left, np.broadcast_to(up, f.shape), f], axis=2)


def project_boxes(camera, R, G, pts, scale=None) -> np.ndarray:
    """Projected boxes (m,4) x0, y0, x1, y1 of body points `pts` (k,3) placed by R (m,3,3), G (m,3), optionally
    scaled about the ground point by `scale` (m,)."""
    s = None if scale is None else np.asarray(scale, float)[:, None, None]
    if camera.dist is None:  # the pinhole case inline, coordinates as (m, 3, k) rows: the estimator's inner loop
        X = np.matmul(R, np.ascontiguousarray(pts.T))
        if s is not None:
            X *= s
        X += G[:, :, None]
        K = camera.K
        with np.errstate(divide="ignore", invalid="ignore"):
            iz = np.where(X[:, 2] > 1e-9, 1.0 / X[:, 2], np.nan)
            u = (K[0, 0] * X[:, 0] + K[0, 1] * X[:, 1]) * iz + K[0, 2]
            v = K[1, 1] * X[:, 1] * iz + K[1, 2]
        return np.stack([u.min(axis=1), v.min(axis=1), u.max(axis=1), v.max(axis=1)], axis=1)
    X = np.matmul(pts[None], np.swapaxes(R, 1, 2))
    if s is not None:
        X *= s
    X += G[:, None, :]
    px = camera.project(X.reshape(-1, 3)).reshape(len(G), -1, 2)
    lo, hi = px.min(axis=1), px.max(axis=1)  # NaN (a point behind the camera) makes the box NaN: not placed
    return np.concatenate([lo, hi], axis=1)


def place_to_boxes(camera, R, G0, pts, boxes, iters: int = 3, scale=None) -> np.ndarray:
    """Ground points (m,3) that make each placed body's projected box bottom-centre meet the detection's:
    start from the box bottom's ray on the ground and move the foot pixel by the remaining miss."""
    obs = box_edges(boxes)
    target = np.c_[(obs[:, 0] + obs[:, 2]) / 2, obs[:, 3]]
    G = np.asarray(G0, float).copy()
    for _ in range(iters):
        pb = project_boxes(camera, R, G, pts, scale)
        miss = target - np.c_[(pb[:, 0] + pb[:, 2]) / 2, pb[:, 3]]
        foot_px = camera.project(G) + miss
        G_new = camera.backproject_to_ground(foot_px)
        ok = np.isfinite(G_new).all(axis=1)
        G[ok] = G_new[ok]
    return G


def scale_to_tops(camera, R, G, pts, boxes, iters: int = 4, base=None) -> np.ndarray:
    """Scale factors (m,) about the ground point that make each body's projected box top meet the detection's
    (starting the search around `base`, (m,), default 1)."""
    top = box_edges(boxes)[:, 1]
    b = np.ones(len(G)) if base is None else np.asarray(base, float)
    s0, s1 = 0.9 * b, 1.1 * b
    f0 = project_boxes(camera, R, G, pts, s0)[:, 1] - top
    f1 = project_boxes(camera, R, G, pts, s1)[:, 1] - top
    for _ in range(iters):
        denom = f1 - f0
        s2 = np.where(np.abs(denom) > 1e-9, s1 - f1 * (s1 - s0) / np.where(denom == 0, 1, denom), s1)
        s2 = np.clip(s2, 0.2, 3.0)
        s0, f0 = s1, f1
        s1, f1 = s2, project_boxes(camera, R, G, pts, s2)[:, 1] - top
    return s1


def smpl_params(R, G, body: LocalBody) -> list[dict]:
    """SMPL-layout parameters per placement: X_cam = R (X_model - origin) + G for every vertex, so
    global_orient = R and transl = G + R (J0 - origin) - J0 (SMPL turns the body about J0, then adds transl)."""
    rotvecs = bodies.matrix_to_rotvec(R).reshape(-1, 3)
    transl = G + np.einsum("mij,j->mi", R, body.root - body.origin) - body.root
    betas = list(body.shape.get("betas", [0.0] * bodies.N_BETAS))
    bp = body.body_pose.tolist()
    return [{"global_orient": r.tolist(), "body_pose": bp, "betas": betas, "transl": t.tolist()}
            for r, t in zip(rotvecs, transl)]


def smooth_track(times, points, bandwidth_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Local-linear (Gaussian-kernel) smoothing of positions along a track: (smoothed (n,3), velocity (n,3)
    per second). One point gives itself and zero velocity."""
    t = np.asarray(times, float)
    P = np.asarray(points, float)
    n = len(t)
    if n < 2:
        return P.copy(), np.zeros_like(P)
    dt = t[None, :] - t[:, None]                       # (i, j): time of j relative to i
    w = np.exp(-0.5 * (dt / bandwidth_s) ** 2)
    S0, S1, S2 = w.sum(1), (w * dt).sum(1), (w * dt * dt).sum(1)
    det = S0 * S2 - S1 ** 2
    T0, T1 = w @ P, (w * dt) @ P
    ok = det > 1e-9 * np.maximum(S0 * S2, 1e-12)
    level = np.where(ok[:, None], (S2[:, None] * T0 - S1[:, None] * T1) / np.where(ok, det, 1)[:, None],
                     T0 / S0[:, None])
    slope = np.where(ok[:, None], (S0[:, None] * T1 - S1[:, None] * T0) / np.where(ok, det, 1)[:, None], 0.0)
    return level, slope
