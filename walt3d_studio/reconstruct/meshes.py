"""One answer to "what mesh does this fit stand for, in camera coordinates" for every renderer (the frame view's
overlay, the 3D viewport, the compositor's depth/normal/silhouette rasteriser), so they all draw the same shape.

Vehicles: `vehicle_shape.mesh_for_alpha(alpha, shape['class']) -> (vertices_obj (N,3), faces (M,3))` in DESIGN's
vehicle frame.
People: `bodies.posed_mesh(params, shape) -> (vertices_cam (N,3), faces (M,3))` from SMPL-layout parameters.
"""
from __future__ import annotations

import numpy as np


def mesh_in_camera(track_fit, detection_fit) -> tuple[np.ndarray, np.ndarray]:
    """(vertices in the camera frame (N,3) float64, faces (M,3) int) for one fitted object in one frame."""
    if track_fit.kind == "vehicle":
        from .vehicle_shape import mesh_for_alpha

        # the class picks the model (cars and buses/trucks are separate PCA models with their own α)
        v, f = mesh_for_alpha(np.asarray(track_fit.shape.get("alpha", []), dtype=float),
                              track_fit.shape.get("class", "car"))
        return v @ np.asarray(detection_fit.R).T + np.asarray(detection_fit.t), f
    if track_fit.kind == "person":
        from .bodies import posed_mesh

        return posed_mesh(detection_fit.params, track_fit.shape)
    raise ValueError(f"no mesh for fits of kind {track_fit.kind!r}")
