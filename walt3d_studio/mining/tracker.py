"""SORT-style tracking (Bewley et al. 2016): a constant-velocity Kalman filter per track on the box centre
and size, and Hungarian assignment (scipy's linear_sum_assignment) on IoU between predicted and detected
boxes.

One addition for time-lapse footage, where small objects can move more than their own size between frames:
detections left over after the IoU pass may still join a track whose predicted centre is within
`max_center_dist` box sizes and whose size is within a factor `max_size_ratio` (a second Hungarian pass on
that distance). Set `max_center_dist=0` for plain SORT.

Tracks are per camera and per source: the mining stage keeps one tracker per source and calls `reset()` at a
gap in capture time longer than `max_gap_s`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from .detection import box_iou


@dataclass
class TrackerSettings:
    min_iou: float = 0.2           # SORT's IoU gate (it uses 0.3; blobs from differencing jitter more)
    max_age: int = 2               # frames a track survives without a detection
    max_center_dist: float = 1.0   # second pass: centre distance in units of the predicted box's size
    max_size_ratio: float = 2.0    # second pass: allowed ratio of box areas
    max_gap_s: float = 60.0        # a longer gap in capture time starts new tracks

    def to_dict(self) -> dict:
        return asdict(self)


class _KalmanBox:
    """State [cx, cy, w, h, vcx, vcy, vw, vh]; measurement [cx, cy, w, h]."""

    F = np.eye(8)
    F[:4, 4:] = np.eye(4)
    Hm = np.eye(4, 8)

    def __init__(self, box):
        x, y, w, h = box
        self.x = np.array([x + w / 2, y + h / 2, w, h, 0, 0, 0, 0], float)
        s = max(w, h)
        self.P = np.diag([s, s, s, s, 10 * s, 10 * s, 10 * s, 10 * s]).astype(float) ** 2 * 0.01
        self._scale = s

    def _q(self):
        s = max(self.x[2], self.x[3], 1.0)
        return np.diag([0.05, 0.05, 0.05, 0.05, 0.1, 0.1, 0.05, 0.05]) ** 2 * s * s

    def predict(self) -> np.ndarray:
        self.x = self.F @ self.x
        self.x[2:4] = np.maximum(self.x[2:4], 1.0)
        self.P = self.F @ self.P @ self.F.T + self._q()
        return self.box()

    def update(self, box) -> None:
        x, y, w, h = box
        z = np.array([x + w / 2, y + h / 2, w, h])
        s = max(w, h, 1.0)
        R = np.diag([0.1, 0.1, 0.15, 0.15]) ** 2 * s * s
        S = self.Hm @ self.P @ self.Hm.T + R
        K = self.P @ self.Hm.T @ np.linalg.inv(S)
        self.x = self.x + K @ (z - self.Hm @ self.x)
        self.P = (np.eye(8) - K @ self.Hm) @ self.P

    def box(self) -> np.ndarray:
        cx, cy, w, h = self.x[:4]
        return np.array([cx - w / 2, cy - h / 2, w, h])


class SortTracker:
    """`update(boxes)` once per frame -> a track id for every box (ids are ints unique to this tracker)."""

    def __init__(self, settings: TrackerSettings | None = None):
        self.settings = settings or TrackerSettings()
        self._tracks: list[dict] = []
        self._next_id = 0

    def reset(self) -> None:
        self._tracks = []

    def update(self, boxes) -> np.ndarray:
        st = self.settings
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        pred = np.array([t["kf"].predict() for t in self._tracks]).reshape(-1, 4)
        ids = np.full(len(boxes), -1, np.int64)
        unmatched_det = list(range(len(boxes)))
        unmatched_trk = list(range(len(self._tracks)))
        if len(boxes) and len(self._tracks):
            iou = box_iou(boxes, pred)
            rows, cols = linear_sum_assignment(-iou)
            pairs = [(r, c) for r, c in zip(rows, cols) if iou[r, c] >= st.min_iou]
            if st.max_center_dist > 0:
                pairs += self._second_pass(boxes, pred, {r for r, _ in pairs}, {c for _, c in pairs})
            for r, c in pairs:
                t = self._tracks[c]
                t["kf"].update(boxes[r])
                t["age"] = 0
                ids[r] = t["id"]
            unmatched_det = [r for r in range(len(boxes)) if ids[r] < 0]
            matched_trk = {c for _, c in pairs}
            unmatched_trk = [c for c in range(len(self._tracks)) if c not in matched_trk]
        for c in unmatched_trk:
            self._tracks[c]["age"] += 1
        self._tracks = [t for t in self._tracks if t["age"] <= st.max_age]
        for r in unmatched_det:
            tid = self._next_id
            self._next_id += 1
            self._tracks.append({"id": tid, "kf": _KalmanBox(boxes[r]), "age": 0})
            ids[r] = tid
        return ids

    def _second_pass(self, boxes, pred, used_r, used_c):
        st = self.settings
        rs = [r for r in range(len(boxes)) if r not in used_r]
        cs = [c for c in range(len(pred)) if c not in used_c]
        if not rs or not cs:
            return []
        b, p = boxes[rs], pred[cs]
        bc = b[:, :2] + b[:, 2:] / 2
        pc = p[:, :2] + p[:, 2:] / 2
        size = np.sqrt(np.maximum(p[:, 2] * p[:, 3], 1.0))
        dist = np.linalg.norm(bc[:, None] - pc[None], axis=2) / size[None]
        ab, ap = b[:, 2] * b[:, 3], p[:, 2] * p[:, 3]
        ratio = np.maximum(ab[:, None], ap[None]) / np.maximum(np.minimum(ab[:, None], ap[None]), 1e-9)
        cost = np.where((dist <= st.max_center_dist) & (ratio <= st.max_size_ratio), dist, 1e6)
        rows, cols = linear_sum_assignment(cost)
        return [(rs[r], cs[c]) for r, c in zip(rows, cols) if cost[r, c] < 1e6]
