"""PCK@alpha: the share of ground-truth keypoints predicted within alpha * max(w, h) of the GT amodal box.

Counted over ground-truth keypoints with v >= 1 ("all"), and separately over v = 2 ("visible") and
v = 1 ("occluded"). A missing prediction (NaN) counts as wrong. A distance exactly at the threshold is correct.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class PCKResult:
    alpha: float
    all: float          # NaN when there are no GT keypoints of that kind
    visible: float
    occluded: float
    n_all: int
    n_visible: int
    n_occluded: int
    per_keypoint: tuple[float, ...]  # over v >= 1, one per keypoint slot (NaN where never labelled)

    def to_dict(self) -> dict:
        """JSON-able (NaN becomes None)."""
        d = asdict(self)
        d["per_keypoint"] = list(self.per_keypoint)
        return {k: ([None if x != x else x for x in v] if isinstance(v, list) else (None if v != v else v))
                for k, v in d.items()}

    def summary(self) -> str:
        def pct(x):
            return "  n/a" if np.isnan(x) else f"{100 * x:5.1f}%"

        return (f"PCK@{self.alpha:g}: all {pct(self.all)} (n={self.n_all}), visible {pct(self.visible)} "
                f"(n={self.n_visible}), occluded {pct(self.occluded)} (n={self.n_occluded})")


def correct_mask(pred, gt, boxes, alpha: float = 0.1) -> np.ndarray:
    """(N, K) bool: prediction within alpha * max(w, h) of the GT point (over all slots, whatever v)."""
    pred = np.asarray(pred, dtype=np.float64)[..., :2]
    gt = np.asarray(gt, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if pred.ndim == 2:
        pred, gt = pred[None], gt[None]
    if pred.shape[:2] != gt.shape[:2] or gt.shape[2] < 3 or len(boxes) != len(gt):
        raise ValueError(f"shapes do not match: pred {pred.shape}, gt {gt.shape}, boxes {boxes.shape}")
    thr = alpha * np.maximum(boxes[:, 2], boxes[:, 3])
    dist = np.linalg.norm(pred - gt[..., :2], axis=-1)
    with np.errstate(invalid="ignore"):
        return np.nan_to_num(dist, nan=np.inf) <= thr[:, None]


def pck(pred, gt, boxes, alpha: float = 0.1) -> PCKResult:
    """pred (N, K, 2+) predicted x, y; gt (N, K, 3) COCO triplets; boxes (N, 4) GT amodal [x, y, w, h]."""
    gt_arr = np.asarray(gt, dtype=np.float64)
    if gt_arr.ndim == 2:
        gt_arr = gt_arr[None]
    ok = correct_mask(pred, gt_arr, boxes, alpha)
    v = gt_arr[..., 2]

    def rate(sel):
        n = int(sel.sum())
        return (float(ok[sel].mean()) if n else float("nan")), n

    a, na = rate(v >= 1)
    vis, nv = rate(v == 2)
    occ, no = rate(v == 1)
    labelled = v >= 1
    per = []
    for k in range(v.shape[1]):
        n = labelled[:, k].sum()
        per.append(float(ok[labelled[:, k], k].mean()) if n else float("nan"))
    return PCKResult(alpha, a, vis, occ, na, nv, no, tuple(per))
