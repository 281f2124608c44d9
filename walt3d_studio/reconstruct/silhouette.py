"""The one silhouette rasteriser (fit quality, the compositor, the viewport's 2D overlay all use it) and
mesh visibility along camera rays.

A mesh's silhouette is the union of its projected triangles. Vertices are projected with the camera's own
projection (lens distortion included, camera.py), triangles are filled one by one with OpenCV at 1/16 px
precision: filling them all in one cv2.fillPoly call would XOR where they overlap. Back faces are skipped (for
a closed mesh the front faces cover the same pixels). Straight triangle edges between distorted vertices
are exact up to the distortion's curvature across one triangle (sub-pixel for low-poly vehicles).
"""
from __future__ import annotations

import cv2
import numpy as np

_SHIFT = 4  # cv2 fixed-point bits: 1/16 px
NEAR = 0.05  # metres: triangles with a vertex nearer than this to the camera plane are not drawn


def project_mesh(camera, vertices_cam) -> np.ndarray:
    """Pixels (N, 2) of mesh vertices (NaN for vertices behind the near plane)."""
    V = np.asarray(vertices_cam, dtype=float)
    px = camera.project(V)
    px[V[:, 2] < NEAR] = np.nan
    return px


def silhouette_mask(camera, vertices_cam, faces, roi=None) -> np.ndarray:
    """bool (H, W) mask of the pixels the mesh covers (pixel centres at integer coordinates). With
    roi=(x0, y0, w, h) only that window is drawn and a (h, w) mask returned (for fitting)."""
    w_img, h_img = camera.image_size
    x0, y0, w, h = (0, 0, w_img, h_img) if roi is None else (int(v) for v in roi)
    mask = np.zeros((h, w), np.uint8)
    F = np.asarray(faces, dtype=np.int64)
    if len(F) == 0:
        return mask.astype(bool)
    px = project_mesh(camera, vertices_cam)
    tri = px[F]                                            # (M, 3, 2)
    ok = ~np.isnan(tri).any(axis=(1, 2))
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    # image y points down, so an outward (counter-clockwise in 3D) front face has negative signed area here;
    # keep degenerate ones too: culling by sign is only a speed-up, both signs are correct to draw
    ok &= area <= 0
    if not ok.any():  # e.g. a mesh with the other winding: draw everything
        ok = ~np.isnan(tri).any(axis=(1, 2))
    pts = np.round((tri[ok] - [x0, y0]) * (1 << _SHIFT)).astype(np.int32)
    lim = (1 << 30) - 1
    inside = (np.abs(pts) < lim).all(axis=(1, 2))
    for t in pts[inside]:
        cv2.fillConvexPoly(mask, t, 1, lineType=cv2.LINE_8, shift=_SHIFT)
    return mask.astype(bool)


def mask_iou(a, b) -> float:
    """Intersection over union of two bool masks of the same shape (0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} vs {b.shape}")
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 0.0


def ray_hits(vertices_cam, faces, points_cam) -> np.ndarray:
    """For each point, the nearest distance along the ray from the camera centre through it at which the
    mesh is hit (inf when it is not): Möller–Trumbore, vectorised over points × triangles."""
    V = np.asarray(vertices_cam, float)
    F = np.asarray(faces, np.int64)
    P = np.asarray(points_cam, float).reshape(-1, 3)
    dist = np.linalg.norm(P, axis=1)
    D = P / np.maximum(dist, 1e-12)[:, None]               # (n, 3) unit ray directions from the origin
    a, b, c = V[F[:, 0]], V[F[:, 1]], V[F[:, 2]]
    e1, e2 = b - a, c - a                                  # (m, 3)
    h = np.cross(D[:, None, :], e2[None, :, :])            # (n, m, 3)
    det = np.einsum("nmk,mk->nm", h, e1)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        s = -a[None, :, :]                                 # origin - a (NaN where det = 0: masked below)
        u = np.einsum("nmk,nmk->nm", np.broadcast_to(s, h.shape), h) * inv
        q = np.cross(s, e1[None, :, :])                    # (1, m, 3)
        v = np.einsum("nk,nmk->nm", D, np.broadcast_to(q, h.shape)) * inv
        t = np.einsum("mk,nmk->nm", e2, np.broadcast_to(q, h.shape)) * inv
    with np.errstate(invalid="ignore"):
        hit = (np.abs(det) > 1e-12) & (u >= 0) & (v >= 0) & (u + v <= 1) & (t > 1e-6)
    t = np.where(hit, t, np.inf)
    return t.min(axis=1) if t.shape[1] else np.full(len(P), np.inf)


def visible_points(vertices_cam, faces, points_cam, tol: float = 0.25) -> np.ndarray:
    """bool (n,): a point is visible unless the mesh is hit more than `tol` metres nearer along its ray
    (points on or just inside the surface, like hub centres behind the body side, count as on it)."""
    P = np.asarray(points_cam, float).reshape(-1, 3)
    return ray_hits(vertices_cam, faces, P) >= np.linalg.norm(P, axis=1) - tol
