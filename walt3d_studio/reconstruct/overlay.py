"""2D overlays of a fitted vehicle: its wireframe and 3D box as pixel segments (Qt-free, so the frame
view, the screenshots script and reports draw the same lines)."""
from __future__ import annotations

import numpy as np

from .silhouette import NEAR

BOX_EDGES = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]])


def mesh_edges(faces) -> np.ndarray:
    """Unique undirected edges (E, 2) of a triangle mesh."""
    F = np.asarray(faces, np.int64)
    e = np.sort(np.r_[F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]], axis=1)
    return np.unique(e, axis=0)


def _segments(camera, X_cam, edges) -> np.ndarray:
    px = camera.project(X_cam)
    px[np.asarray(X_cam)[:, 2] < NEAR] = np.nan
    seg = px[edges]
    return seg[~np.isnan(seg).any(axis=(1, 2))]


def wireframe_segments(camera, vertices_cam, faces) -> np.ndarray:
    """Pixel segments (M, 2, 2) of the mesh's edges (edges with an end behind the camera are left out)."""
    return _segments(camera, np.asarray(vertices_cam, float), mesh_edges(faces))


def box_corners_obj(vertices_obj) -> np.ndarray:
    """The 8 corners (8, 3) of the object-frame bounding box: 4 on the ground, then the 4 above them."""
    lo, hi = np.asarray(vertices_obj).min(axis=0), np.asarray(vertices_obj).max(axis=0)
    xy = np.array([[hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]], [lo[0], lo[1]]])
    return np.r_[np.c_[xy, np.full(4, lo[2])], np.c_[xy, np.full(4, hi[2])]]


def box_segments(camera, vertices_obj, R, t) -> np.ndarray:
    """Pixel segments (12, 2, 2) of the fitted 3D box (fewer when corners are behind the camera)."""
    X = box_corners_obj(vertices_obj) @ np.asarray(R).T + np.asarray(t)
    return _segments(camera, X, BOX_EDGES)


def skeleton_segments(camera, keypoints_cam, skeleton) -> np.ndarray:
    """Pixel segments (S, 2, 2) of a body's bones: `keypoints_cam` (K, 3) camera-frame joints (e.g.
    `bodies.coco17_keypoints`), `skeleton` 0-based index pairs (the person17 schema's)."""
    return _segments(camera, np.asarray(keypoints_cam, float), np.asarray(skeleton, np.int64).reshape(-1, 2))


def outline_polylines(camera, vertices_cam, faces, pad: int = 2) -> list[np.ndarray]:
    """The mesh silhouette's outer edges as closed pixel polylines [(P, 2)], traced from the same rasteriser
    the fit quality uses (`silhouette_mask`), so the outline drawn is the silhouette that was scored."""
    import cv2

    from .silhouette import project_mesh, silhouette_mask

    px = project_mesh(camera, vertices_cam)
    px = px[np.isfinite(px).all(axis=1)]
    if len(px) == 0:
        return []
    w, h = camera.image_size
    x0, y0 = (max(int(np.floor(v)) - pad, 0) for v in px.min(axis=0))
    x1, y1 = min(int(np.ceil(px[:, 0].max())) + pad, w), min(int(np.ceil(px[:, 1].max())) + pad, h)
    if x1 <= x0 or y1 <= y0:
        return []
    m = silhouette_mask(camera, vertices_cam, faces, roi=(x0, y0, x1 - x0, y1 - y0))
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1, 2).astype(float) + [x0, y0] for c in contours if len(c) >= 3]
