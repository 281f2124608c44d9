"""Mask shape as evidence of a merge: a blob made of two objects that touch has a waist.

Foreground differencing returns two touching objects as one blob. When they touch over only part of their
outline (two cars corner to corner, two walkers shoulder to shoulder), the blob's outline has two deep
convexity defects facing each other across a narrow neck. `two_lobes` finds that: solidity (area / convex
hull area) below `max_solidity` first (cheap; a single car is nearly convex), then
the pair of deep defects (each at least `min_depth` of the blob's size, sqrt(area)) whose neck -- the
straight cut between their deepest points -- is short (at most `max_neck` of the smaller piece's size) and
cuts the blob into two pieces each holding at least `min_share` of its area. A walker's legs give one deep
defect (no facing pair); a cut between crotch and armpit leaves a piece too small or a neck too long.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class Lobes:
    solidity: float
    two_lobes: bool
    neck_px: float = 0.0
    shares: tuple[float, float] = (1.0, 0.0)


def two_lobes(mask: np.ndarray, max_solidity: float = 0.95, min_depth: float = 0.12, max_neck: float = 0.6,
              min_share: float = 0.25, work_px: int = 96) -> Lobes:
    """Whether a bool mask looks like two objects joined by a waist (see the module text)."""
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    h, w = m.shape
    s = max(1.0, max(h, w) / work_px)  # the test does not need full resolution
    if s > 1:
        m = cv2.resize(m, (max(1, int(round(w / s))), max(1, int(round(h / s)))), interpolation=cv2.INTER_NEAREST)
    area = float(np.count_nonzero(m))
    if area < 16:
        return Lobes(1.0, False)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    c = max(contours, key=cv2.contourArea)
    hull_idx = cv2.convexHull(c, returnPoints=False)
    hull_area = cv2.contourArea(cv2.convexHull(c))
    solidity = min(1.0, area / max(hull_area, 1.0))
    if solidity >= max_solidity or len(c) < 8:
        return Lobes(solidity, False)
    try:
        defects = cv2.convexityDefects(c, np.sort(hull_idx, axis=0))
    except cv2.error:  # self-intersecting hull order on tiny contours
        return Lobes(solidity, False)
    if defects is None:
        return Lobes(solidity, False)
    size = np.sqrt(area)
    deep = [((int(c[f][0][0]), int(c[f][0][1])), d / 256.0) for _, _, f, d in defects.reshape(-1, 4)
            if d / 256.0 >= min_depth * size]
    best = Lobes(solidity, False)
    for i in range(len(deep)):
        for j in range(i + 1, len(deep)):
            (p, _), (q, _) = deep[i], deep[j]
            neck = float(np.hypot(p[0] - q[0], p[1] - q[1]))
            cut = m.copy()
            cv2.line(cut, p, q, 0, 2)
            n, lab, stats, _ = cv2.connectedComponentsWithStats(cut, connectivity=4)
            if n < 3:
                continue
            parts = sorted(stats[1:, cv2.CC_STAT_AREA], reverse=True)[:2]
            shares = (parts[0] / area, parts[1] / area)
            if shares[1] >= min_share and neck <= max_neck * np.sqrt(parts[1]):
                return Lobes(solidity, True, neck * s, (round(shares[0], 3), round(shares[1], 3)))
    return best
