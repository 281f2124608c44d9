"""The 3D fit of a pasted object drawn through its camera, from what the composite stored (Qt-free).

A composite object's `pose` keeps the fit it was pasted with: vehicles `R`, `t` (object -> camera, DESIGN's vehicle
frame), `shape_coeffs` (α) and `shape_class`; people the SMPL-layout `global_orient`, `body_pose`, `transl`,
`betas`, `body_model` and `body_shape` (the track's whole shape: proxy height, template). `object_mesh` rebuilds
the camera-frame mesh from those with the same functions the compositor's renderer used
(`reconstruct.vehicle_shape.mesh_for_alpha`, `reconstruct.bodies.posed_mesh`), and `object_drawing` turns it
into pixel geometry with `reconstruct.overlay` (the fit review's overlay): vehicles their mesh wireframe plus the
3D box, people their silhouette outline plus the COCO-17 skeleton. Objects pasted without a 3D fit (WALT2D's
unfitted ones) have none, and say so.
"""
from __future__ import annotations

import numpy as np

EMPTY = np.zeros((0, 2, 2))


def object_mesh(kind: str, pose: dict):
    """(vertices in the camera frame (N, 3), faces (M, 3)) of the fit stored in `pose`, or None without one."""
    pose = pose or {}
    if kind == "vehicle":
        if pose.get("R") is None or pose.get("t") is None:
            return None
        from ..reconstruct.vehicle_shape import mesh_for_alpha

        v, f = mesh_for_alpha(np.asarray(pose.get("shape_coeffs") or [], float), pose.get("shape_class") or "car")
        return v @ np.asarray(pose["R"], float).T + np.asarray(pose["t"], float), f
    if kind == "person":
        params, shape = _body(pose)
        if params is None:
            return None
        from ..reconstruct.bodies import posed_mesh

        return posed_mesh(params, shape)
    return None


def _body(pose: dict):
    if pose.get("transl") is None or pose.get("global_orient") is None:
        return None, None
    params = {k: pose[k] for k in ("global_orient", "body_pose", "transl") if pose.get(k) is not None}
    shape = dict(pose.get("body_shape") or {})
    for k in ("betas", "body_model"):
        if pose.get(k) is not None:
            shape.setdefault(k, pose[k])
    return params, shape


def object_drawing(camera, kind: str, pose: dict, mesh=None, skeleton=()) -> dict | None:
    """{lines (S, 2, 2) thin, thick (B, 2, 2), polylines [(P, 2)]} in full-frame pixels (pixel centres at integer
    coordinates), or None when the object has no 3D fit. `mesh` (vertices_cam, faces) overrides the rebuilt one
    (tests' synthetic shapes); `skeleton` is the person17 schema's 0-based bone pairs."""
    from ..reconstruct import overlay as ov

    pose = pose or {}
    vf = mesh if mesh is not None else object_mesh(kind, pose)
    if vf is None:
        return None
    v, f = np.asarray(vf[0], float), np.asarray(vf[1], np.int64)
    if kind == "vehicle":
        thick = EMPTY
        if pose.get("R") is not None and pose.get("t") is not None:
            R, t = np.asarray(pose["R"], float), np.asarray(pose["t"], float)
            thick = ov.box_segments(camera, (v - t) @ R, R, t)   # the box in the vehicle's own frame
        return {"lines": ov.wireframe_segments(camera, v, f), "thick": thick, "polylines": []}
    thick = EMPTY
    params, shape = _body(pose)
    if params is not None and len(skeleton) and mesh is None:
        from ..reconstruct.bodies import coco17_keypoints

        thick = ov.skeleton_segments(camera, coco17_keypoints(params, shape), skeleton)
    return {"lines": EMPTY, "thick": thick, "polylines": ov.outline_polylines(camera, v, f)}
