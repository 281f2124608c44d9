"""Splitting a merged blob along the gaps the detector's closing bridged.

The foreground detector closes its mask so that one object's pieces (a car's body and roof where paint matches
the road) become one blob, and the same closing joins two objects a few pixels apart -- two cars nose to tail in
a far queue, or side by side in two lanes -- into one blob, which the tracker then rightly calls merged. The
blob's foreground *before* closing (`foreground.Unclosed`) usually still shows the gap. When the tracker has two
or more of its tracks inside a blob, `split_blob` gives each track the pieces whose centre lies in its predicted
box (the nearest box centre where predictions overlap), closes each track's pieces on their own (within the
blob) and returns one detection per track.

It declines -- the blob stays merged, never mined -- whenever the pieces do not separate cleanly:
- a large piece spans two predictions (the objects really touch: no gap to split along);
- a large piece lies in no prediction (something the tracker does not know about is in the blob);
- a track's share is empty or does not look like its prediction (box IoU < `min_iou`).
"""
from __future__ import annotations

import cv2
import numpy as np

from .detection import Detection, box_iou, box_of_mask
from .foreground import _fill_holes, full_resolution

LARGE = 0.1     # a piece holding this share of the blob's unclosed pixels must be unambiguous
SPAN = 0.3      # a large piece with this share of its pixels in another track's prediction (and not its own) spans
MIN_IOU = 0.4   # a track's share against its predicted box


def split_blob(det: Detection, tracks: list[tuple[int, np.ndarray]], touch_px: float = 0.0,
               min_iou: float = MIN_IOU) -> list[Detection] | None:
    """One detection per track for a blob holding `tracks` [(track id, predicted box [x, y, w, h]), ...] (full
    resolution), or None when its pieces do not separate cleanly (see the module text). Each part's
    extra["touches"] lists the tracks of the parts within `touch_px` (full-resolution pixels) of it."""
    u = det.extra.get("unclosed")
    if u is None or len(tracks) < 2:
        return None
    n, labels, stats, cents = cv2.connectedComponentsWithStats(u.opened, connectivity=8, ltype=cv2.CV_32S)
    if n - 1 < len(tracks):
        return None  # fewer pieces than objects: nothing to split along
    # the predictions in the blob's own reduced pixels
    pred = np.array([b for _, b in tracks], float) / u.s - [u.x0, u.y0, 0, 0]
    x0, y0 = pred[:, 0], pred[:, 1]
    x1, y1 = x0 + pred[:, 2], y0 + pred[:, 3]
    centre = pred[:, :2] + pred[:, 2:] / 2
    total = float(stats[1:, cv2.CC_STAT_AREA].sum())
    owner = np.full(n, -1)
    for k in range(1, n):
        cx, cy = cents[k]
        inside = np.flatnonzero((cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1))
        large = stats[k, cv2.CC_STAT_AREA] >= LARGE * total
        if inside.size == 0:
            if large:
                return None
            continue  # a crumb outside every prediction: the nearest share takes it below
        d = np.hypot(*((centre[inside] - (cx, cy)) / np.maximum(pred[inside, 2:], 1)).T)
        owner[k] = inside[np.argmin(d)]
        if large and _spans(labels, stats, k, pred, owner[k]):
            return None
    for k in np.flatnonzero(owner[1:] < 0) + 1:  # crumbs join the nearest share
        cx, cy = cents[k]
        owner[k] = int(np.argmin(np.hypot(*((centre - (cx, cy)) / np.maximum(pred[:, 2:], 1)).T)))
    taken = np.zeros_like(u.blob)
    shares, out = [], []
    for t, (tid, _) in enumerate(tracks):
        mine = np.isin(labels, np.flatnonzero(owner == t)).astype(np.uint8)
        if not mine.any():
            return None
        share = cv2.morphologyEx(mine, cv2.MORPH_CLOSE, u.close) & u.blob & (1 - taken)
        share = _fill_holes(share) & u.blob
        taken |= share
        box = box_of_mask(share)
        if box is None or box_iou(np.array([box], float), pred[t:t + 1])[0, 0] < min_iou:
            return None
        part = full_resolution(share, u.x0, u.y0, u.s, u.W, u.H)
        if part is None:
            return None
        part.score = det.score
        part.category, part.extra["size"] = u.classify(part.box, part.area)
        part.extra["split_from"] = [int(i) for i, _ in tracks]
        shares.append(share)
        out.append(part)
    # parts closer than the detector's closing size: a gap that narrow cannot be told from contact (the masks
    # of touching cars are eroded where paint matches the road), so the caller must not mine them
    r = max(1, int(round(touch_px / u.s)))
    near = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    for a, part in enumerate(out):
        grown = cv2.dilate(shares[a], near)
        part.extra["touches"] = [int(tracks[b][0]) for b in range(len(out)) if b != a and (grown & shares[b]).any()]
    return out


def _spans(labels, stats, k, pred, own) -> bool:
    """Whether piece k has at least SPAN of its pixels inside another prediction and outside its own."""
    x, y, w, h = (int(v) for v in stats[k, :4])
    ys, xs = np.nonzero(labels[y:y + h, x:x + w] == k)
    xs, ys = xs + x + 0.5, ys + y + 0.5
    def inside(b):
        return (xs >= b[0]) & (xs < b[0] + b[2]) & (ys >= b[1]) & (ys < b[1] + b[3])
    not_own = ~inside(pred[own])
    return any(np.count_nonzero(inside(b) & not_own) >= SPAN * xs.size for j, b in enumerate(pred) if j != own)



def note_split(verdict: str, reasons: dict, track_keys: list[str], touching: list[str]) -> str:
    """Record in a verdict's reasons that its detection was split off a blob holding these tracks (keys), and
    which of them it touches; returns the rule's verdict: a part touching another is not mined ("rejected",
    flag "touching"), however whole it looks -- where two objects touch, the line between them is a guess."""
    reasons["split_from"] = list(track_keys)
    reasons["split"] = "split from a blob with tracks " + ", ".join(str(k).split(":")[-1] for k in track_keys)
    flags = reasons.setdefault("flags", [])
    flags.append("split")
    if touching:
        reasons["split_touching"] = list(touching)
        if "touching" not in flags:
            flags.append("touching")
        if verdict == "unoccluded":
            return "rejected"
    return verdict
