"""A cheap colour descriptor per detection, for track stitching (issue 12: "appearance + motion").

`colour_descriptor(frame, det)` is the mean colour of the detection's masked pixels (box-only detections: the
whole box), converted to CIE Lab (L 0-100, a and b about -128..127). It costs one masked mean per detection.
`colour_distance` compares two descriptors with L weighted by one half: the same object's lightness moves with
exposure, shadows and the part of it a mask keeps, its hue much less. Measured on the road clip (docs/mining.md,
"Track stitching"): the same car 1-8 frames apart is within about 6 units (95th percentile); cars of
different colours are 20-100 apart, while two grey or two white cars are as close as one car to itself.
"""
from __future__ import annotations

import cv2
import numpy as np


def colour_descriptor(frame: np.ndarray | None, det) -> list[float] | None:
    """Mean Lab colour [L, a, b] of `det`'s mask pixels in the RGB `frame` (None without a frame or pixels)."""
    if frame is None:
        return None
    x, y, w, h = det.int_box
    H, W = frame.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return None
    m = det.local_mask()[y0 - y:y1 - y, x0 - x:x1 - x]
    if not m.any():
        return None
    crop = frame[y0:y1, x0:x1]
    if crop.ndim == 2:
        crop = np.repeat(crop[..., None], 3, axis=2)
    mean = cv2.mean(np.ascontiguousarray(crop[..., :3]), mask=m.astype(np.uint8))[:3]
    lab = cv2.cvtColor(np.array([[mean]], np.float32) / 255.0, cv2.COLOR_RGB2LAB)[0, 0]
    return [round(float(v), 2) for v in lab]


def colour_distance(a, b, l_weight: float = 0.5) -> float:
    """Distance between two Lab descriptors, lightness down-weighted (nan when either is missing)."""
    if a is None or b is None:
        return float("nan")
    d = np.asarray(a, float) - np.asarray(b, float)
    return float(np.sqrt((l_weight * d[0]) ** 2 + d[1] ** 2 + d[2] ** 2))


def track_colour(records: list[dict]) -> list[float] | None:
    """The per-channel median descriptor of a few records (a fragment's first or last detections)."""
    cols = [r.get("colour") for r in records if r.get("colour") is not None
            and "merged" not in r.get("reasons", {}).get("flags", ())]
    if not cols:
        return None
    return [float(v) for v in np.median(np.array(cols, float), axis=0)]
