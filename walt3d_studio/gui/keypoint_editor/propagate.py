"""C: copy a vehicle's keypoints to the next frame of its track, as a proposal to accept.

Until the 3D fit proposes keypoints from the vehicle model, consecutive crops of one car differ mostly by the
box's motion, so the points are carried by it: x' = x1 + (x - x0) * w1 / w0 (same in y). They are stored as a
model proposal (model_version "copied:<source detection>", confidence 0.5 for placed points) that the editor
shows with "Enter accepts"; nothing is stored as a person's keypoints until it is accepted or edited.
"""
from __future__ import annotations

import numpy as np

from ...errors import BadInputError
from ...store import keypoints as kstore

COPIED_CONFIDENCE = 0.5


def shift_points(points: np.ndarray, box_from, box_to) -> np.ndarray:
    """Move (K, 3) keypoints with a box: scale about the box's corner and translate; absent points stay 0, 0."""
    p = np.array(points, dtype=np.float64, copy=True)
    x0, y0, w0, h0 = (float(v) for v in box_from)
    x1, y1, w1, h1 = (float(v) for v in box_to)
    on = p[:, 2] > 0
    p[on, 0] = x1 + (p[on, 0] - x0) * (w1 / max(w0, 1e-6))
    p[on, 1] = y1 + (p[on, 1] - y0) * (h1 / max(h0, 1e-6))
    p[~on, :2] = 0.0
    return p


def copy_to_next(project, detection_id: int, points: np.ndarray, schema) -> int:
    """Store `points` (of `detection_id`) moved to the next detection of its track as a proposal; returns that
    detection's id. Raises BadInputError when there is no next detection or it already has a person's points."""
    src = kstore.detection(project, detection_id)
    if src.track_id is None:
        raise BadInputError("This vehicle is not part of a track.", "Label the next frame's vehicle from the queue.")
    if not (np.asarray(points)[:, 2] > 0).any():
        raise BadInputError("This vehicle has no keypoints to copy yet.", "Place some first, then press C.")
    nxt = kstore.next_in_track(project, detection_id)
    if nxt is None:
        raise BadInputError(f"Track {src.track_id} has no later frame.", "This is its last detection.")
    if kstore.human_keypoints(project, nxt, schema=schema) is not None:
        raise BadInputError(f"The next frame's vehicle ({nxt}) already has keypoints from a person.",
                            "Open it with C again after clearing them, or go on with N.")
    dst = kstore.detection(project, nxt)
    moved = shift_points(points, src.box, dst.box)
    conf = np.where(moved[:, 2] > 0, COPIED_CONFIDENCE, 0.0)
    kstore.add_model_keypoints(project, [(nxt, moved, conf)], schema=schema, model_version=f"copied:{detection_id}")
    return nxt
