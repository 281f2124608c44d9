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
