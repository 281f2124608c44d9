"""SORT-style tracking (Bewley et al. 2016): a constant-velocity Kalman filter per track on the box centre
and size, and Hungarian assignment (scipy's linear_sum_assignment) on IoU between predicted and detected
boxes.

One addition for time-lapse footage, where small objects can move more than their own size between frames:
detections left over after the IoU pass may still join a track whose predicted centre is within
`max_center_dist` box sizes and whose size is within a factor `max_size_ratio` (a second Hungarian pass on
that distance). Set `max_center_dist=0` for plain SORT.

Tracks are per camera and per source: the mining stage keeps one tracker per source and calls `reset()` at a
gap in capture time longer than `max_gap_s`.

Merges and splits (foreground blobs never overlap: two objects that touch become *one* blob, so the occlusion
shows up here, not in the IoU rule). Before assignment, a detection into which the predicted boxes of two or
more confirmed tracks fall (each at least `merge_cover` inside it and at least `merge_min_share` of its box) is
*merged*: no track is updated with it (they coast on their velocity, up to `max_merge_age` frames, and take
their own detections again when the blob parts; a coasting track is kept inside its blob's box),
`merged[det] = [track ids]` says who is in it, and it gets
the id of the largest of them. A split is a new detection lying mostly (`merge_cover`) inside the prediction
of a track that matched another detection also inside that prediction: one blob became two, so its frames
around the split are suspect. `events` lists this frame's merges and splits as (kind, [track ids]).
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
    merge_cover: float = 0.6       # fraction of a predicted box inside a detection for it to be "in" the blob
    merge_min_share: float = 0.12  # a track in a merge covers at least this fraction of the blob's box
    merge_min_hits: int = 2        # only tracks seen this often count (not one-frame noise)
    max_merge_age: int = 30        # frames a track may enter merges by prediction alone (0: merges off);
                                   # once in, it stays while the blob goes on (IoU >= 0.5 frame to frame)

    def to_dict(self) -> dict:
        return asdict(self)


class _KalmanBox:
    """State [cx, cy, w, h] with velocities [vcx, vcy, vw, vh]; measurement [cx, cy, w, h].

    With a constant-velocity model, diagonal noise and a diagonal start, the 8x8 filter never couples one
    coordinate with another: it is four independent filters of (position, velocity), each with a 2x2
    covariance [[a, c], [c, b]]. They run here as such, in plain floats: the same filter as the 8x8 matrix
    form (the same formulas, only without multiplying the zeros), at a tenth of the cost -- numpy's per-call
    overhead on 8x8 arrays was most of the tracker's time in a frame of 30 objects."""

    __slots__ = ("x", "v", "a", "b", "c")
    _Q_POS = (0.05 ** 2,) * 4                       # process noise, in units of the box's size squared
    _Q_VEL = (0.1 ** 2, 0.1 ** 2, 0.05 ** 2, 0.05 ** 2)
    _R = (0.1 ** 2, 0.1 ** 2, 0.15 ** 2, 0.15 ** 2)  # measurement noise, same units

    def __init__(self, box):
        x, y, w, h = (float(v) for v in box)
        self.x = [x + w / 2, y + h / 2, w, h]
        self.v = [0.0, 0.0, 0.0, 0.0]
        s = max(w, h)
        self.a = [s ** 2 * 0.01] * 4         # var(position)
        self.b = [(10 * s) ** 2 * 0.01] * 4  # var(velocity)
        self.c = [0.0] * 4             # cov(position, velocity)

    def predict(self) -> tuple[float, float, float, float]:
        x, v, a, b, c = self.x, self.v, self.a, self.b, self.c
        for i in range(4):
            x[i] += v[i]
        x[2], x[3] = max(x[2], 1.0), max(x[3], 1.0)
        s = max(x[2], x[3], 1.0)
        for i in range(4):  # F P F^T + Q with F = [[1, 1], [0, 1]]
            a[i], c[i], b[i] = a[i] + c[i] + c[i] + b[i] + self._Q_POS[i] * s * s, c[i] + b[i], \
                b[i] + self._Q_VEL[i] * s * s
        return self.box()

    def update(self, box) -> None:
        x, y, w, h = (float(v) for v in box)
        z = (x + w / 2, y + h / 2, w, h)
        s = max(w, h, 1.0)
        xs, v, a, b, c = self.x, self.v, self.a, self.b, self.c
        for i in range(4):
            S = a[i] + self._R[i] * s * s
            k0, k1 = a[i] / S, c[i] / S  # the gain on position and on velocity
            e = z[i] - xs[i]
            xs[i] += k0 * e
            v[i] += k1 * e
            a[i], c[i], b[i] = (1 - k0) * a[i], (1 - k0) * c[i], b[i] - k1 * c[i]

    def keep_inside(self, box) -> None:
        """Shift the state's centre so its box lies within `box` (a track coasting inside a merged blob goes
        where the blob goes instead of drifting out of it on a stale velocity)."""
        bx, by, bw, bh = (float(v) for v in box)
        w, h = self.x[2], self.x[3]
        self.x[0] = min(max(self.x[0], bx + min(w, bw) / 2), bx + bw - min(w, bw) / 2)
        self.x[1] = min(max(self.x[1], by + min(h, bh) / 2), by + bh - min(h, bh) / 2)

    def box(self) -> tuple[float, float, float, float]:
        cx, cy, w, h = self.x
        return (cx - w / 2, cy - h / 2, w, h)


class SortTracker:
    """`update(boxes)` once per frame -> a track id for every box (ids are ints unique to this tracker)."""

    def __init__(self, settings: TrackerSettings | None = None):
        self.settings = settings or TrackerSettings()
        self._tracks: list[dict] = []
        self._next_id = 0
        self.merged: dict[int, list[int]] = {}
        self.events: list[tuple[str, list[int]]] = []

    def reset(self) -> None:
        self._tracks = []

    def update(self, boxes) -> np.ndarray:
        st = self.settings
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        pred = np.array([t["kf"].predict() for t in self._tracks], float).reshape(-1, 4)
        ids = np.full(len(boxes), -1, np.int64)
        self.merged, self.events = {}, []
        in_merge = self._find_merges(boxes, pred)
        for r, cs in in_merge.items():
            cs = sorted(cs, key=lambda c: -pred[c, 2] * pred[c, 3])
            for c in cs:
                t = self._tracks[c]
                if t.get("merged_box") is None:
                    self.events.append(("merge", [self._tracks[k]["id"] for k in cs]))
                t["merged_box"], t["merge_age"], t["age"] = boxes[r], t.get("merge_age", 0) + 1, 0
                t["kf"].keep_inside(boxes[r])
            ids[r] = self._tracks[cs[0]]["id"]
            self.merged[r] = [self._tracks[c]["id"] for c in cs]
        taken_trk = {c for cs in in_merge.values() for c in cs}
        rows_free = [r for r in range(len(boxes)) if r not in in_merge]
        cols_free = [c for c in range(len(self._tracks)) if c not in taken_trk]
        pairs = []
        if rows_free and cols_free:
            b, p = boxes[rows_free], pred[cols_free]
            iou = box_iou(b, p)
            rows, cols = linear_sum_assignment(-iou)
            local = [(r, c) for r, c in zip(rows, cols) if iou[r, c] >= st.min_iou]
            if st.max_center_dist > 0:
                local += self._second_pass(b, p, {r for r, _ in local}, {c for _, c in local})
            pairs = [(rows_free[r], cols_free[c]) for r, c in local]
        for r, c in pairs:
            t = self._tracks[c]
            if t.get("merged_box") is not None:
                self.events.append(("unmerge", [t["id"]]))
            t["kf"].update(boxes[r])
            t["age"], t["hits"], t["merged_box"], t["merge_age"] = 0, t["hits"] + 1, None, 0
            ids[r] = t["id"]
        matched_trk = {c for _, c in pairs} | taken_trk
        for c in range(len(self._tracks)):
            if c not in matched_trk:
                self._tracks[c]["age"] += 1
                self._tracks[c]["merged_box"] = None
        old = self._tracks
        self._tracks = [t for t in self._tracks if t["age"] <= st.max_age]
        by_det = {r: c for r, c in pairs}
        for r in range(len(boxes)):
            if ids[r] >= 0:
                continue
            tid = self._next_id
            self._next_id += 1
            self._tracks.append({"id": tid, "kf": _KalmanBox(boxes[r]), "age": 0, "hits": 1})
            ids[r] = tid
            parent = self._split_parent(boxes, pred, r, by_det)
            if parent is not None:
                self.events.append(("split", [old[parent]["id"], tid]))
        return ids

    def _find_merges(self, boxes, pred) -> dict[int, list[int]]:
        """{detection: [track indices]} for detections holding two or more confirmed tracks."""
        st = self.settings
        if st.max_merge_age <= 0 or len(boxes) == 0 or len(pred) < 2:
            return {}
        cover = _inside(pred, boxes)  # (tracks, dets): fraction of each prediction inside each detection
        det_area = np.maximum(boxes[:, 2] * boxes[:, 3], 1e-9)
        share = (pred[:, 2] * pred[:, 3])[:, None] / det_area[None]
        tracks = self._tracks
        seen = np.array([t["hits"] >= st.merge_min_hits for t in tracks])
        young = np.array([t.get("merge_age", 0) < st.max_merge_age for t in tracks])
        joins = young[:, None] & (cover >= st.merge_cover) & (share >= st.merge_min_share)
        # a track already in a merged blob stays in while the blob goes on (a queue can last long)
        was = [c for c, t in enumerate(tracks) if t.get("merged_box") is not None]
        if was:
            joins[was] |= box_iou(np.array([tracks[c]["merged_box"] for c in was], float), boxes) >= 0.5
        able = seen[:, None] & joins  # (tracks, dets): may be in that detection's merge
        out: dict[int, list[int]] = {}
        used = np.zeros(len(tracks), bool)
        order = np.argsort(-det_area)  # the largest blob first claims its tracks
        for r in order[able.sum(axis=0)[order] >= 2]:
            cs = np.flatnonzero(able[:, r] & ~used)
            if len(cs) >= 2:
                out[int(r)] = cs.tolist()
                used[cs] = True
        return out

    def _split_parent(self, boxes, pred, r, by_det) -> int | None:
        """The track (index into the tracks before this frame) whose predicted blob held detection r and
        another detection it matched: one blob parted in two."""
        if len(pred) == 0:
            return None
        cover_r = _inside(boxes[r][None], pred)[0]  # fraction of detection r inside each prediction
        for r2, c in by_det.items():
            if r2 != r and cover_r[c] >= self.settings.merge_cover \
                    and _inside(boxes[r2][None], pred[c][None])[0, 0] >= self.settings.merge_cover:
                return c
        return None

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


def _inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M): the fraction of each box of a (N, 4) lying inside each box of b (M, 4), boxes [x, y, w, h]."""
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    iw = np.clip(np.minimum((a[:, 0] + a[:, 2])[:, None], (b[:, 0] + b[:, 2])[None])
                 - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum((a[:, 1] + a[:, 3])[:, None], (b[:, 1] + b[:, 3])[None])
                 - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    return iw * ih / np.maximum(a[:, 2] * a[:, 3], 1e-9)[:, None]
