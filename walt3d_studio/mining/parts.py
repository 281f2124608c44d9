"""Parts of one object that came out as two blobs, joined before tracking (issue 12: "a blob too small under a
larger moving one (a roof, a windscreen) joins it").

When a car's middle (doors, side windows) matches the road over a band wider than the foreground detector's
closing size, the car comes out as two blobs: a small top piece (roof, windscreen) and the body. Mined apart,
the body has the wrong amodal mask and the top piece is no whole object.

A small blob is a *candidate part* of a larger one in the same frame when
- it is a slice of it, too small to be a whole object there: at most `max_height` of the larger blob's height
  and `max_area` of its area, but at least `min_width` of its width, flatter than it by `min_flatness`
  ((width ratio) / (height ratio)), and a band itself (width at least `min_aspect` x its height). The larger blob
  stands at nearly the same ground row, so it is the measure of one object there (the learned size prior is only
  known after the run). On the road clip a whole car farther along the lane, above a near one, is a smaller copy
  of it (width and height ratios alike, 0.2-0.45), never a slice; a walker is narrow; and a whole car beside a
  tall queue blob is a slice of that blob, but no band (width/height about 1);
- it lies over the larger one: at least `min_x_overlap` of its width inside the larger blob's columns, its
  centre above the larger blob's centre, and at most `max_gap` x the larger blob's height above its top;
- an image border that cuts it cuts the larger blob too (a car coming into view at the top above a queue is
  cut short by the border, not a slice). When both are cut by a side border, their widths say nothing and the
  three shape gates are skipped: a car coming into view at the side is joined from its first frames, or its roof
  would have a track of its own by the time it is joined, and the tracker would call the joined blob a merge.

Over the frames around this one (`window` before and after) the pair is then
- **together**: found in at least `min_frames` of them (this one included), the piece's place relative to the
  larger blob (from its bottom centre, in its widths and heights, so growth as it comes near does not count)
  varying by at most `tolerance`, while the larger blob travels at least `min_motion` of its size -- the piece
  is joined. A pair joined in the frame before at the same relative place stays joined.
- **apart**: found often enough, but the piece drifts off its place by more than the tolerance (a walker or a
  cart passing above a car at another velocity): nothing happens, the two go on as two objects.
- **undecided**: too few frames, or too little motion to tell (a queue crawling; a split in a single frame).
  The larger blob then gets the fact "part_above" and the rule rejects it: mined, it would be a car without its
  roof. The piece itself is left alone (the learned size prior rejects it as too small).

Why before tracking (a generator over the detection stream, `join_parts`): the tracker then sees the car as one
object. Joined after tracking, the roof would have a track of its own, and in the frames where the detector itself
saw roof and body as one blob the tracker would call that blob a merge of two tracks. Looking ahead needs the
next `window` frames, so the stream is held back by that many frames.

The joined detection's mask is the union of the pieces, and the gap between them is filled only column by
column where a column holds the piece above and the larger blob below (`fill_gap`): the rows between belong to
the same rigid object, as the detector's own hole filling would have had them had the band been narrower
(a car's side windows and doors are part of its amodal mask). Its `extra["joined_parts"]` records the pieces;
the occlusion rule copies that into the reasons, with the flag "joined_parts".
"""
from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from .detection import Detection


@dataclass
class PartSettings:
    window: int = 2              # frames looked at before and after (the stream is held back this many)
    min_frames: int = 3          # frames of the window (this one included) holding the same pair
    tolerance: float = 0.1       # spread of the piece's place relative to the larger blob, in its widths
    min_motion: float = 0.15     # the larger blob's travel over those frames, in its widths
    max_gap: float = 0.5         # piece bottom to larger blob top, in the larger blob's heights
    max_height: float = 0.6      # the piece's height, at most this x the larger blob's
    max_area: float = 0.5        # the piece's area, at most this x the larger blob's
    min_width: float = 0.5       # the piece's width, at least this x the larger blob's
    min_flatness: float = 1.5    # (width ratio) / (height ratio): a slice of the larger blob, not a smaller copy
    min_aspect: float = 2.5      # the piece's width / height: a band (roofs on the road clip: 3.2-5.2)
    min_x_overlap: float = 0.8   # share of the piece's width inside the larger blob's columns
    fill_gap: bool = True        # fill the rows between piece and blob in the columns holding both

    def to_dict(self) -> dict:
        return asdict(self)


def _edge_bits(boxes: np.ndarray, size: tuple[int, int] | None, px: float = 2) -> np.ndarray:
    """The image borders each box (rows x, y, w, h) comes within `px` of, as bits: left 1, top 2, right 4,
    bottom 8 (none without a `size`)."""
    bits = np.zeros(len(boxes), np.int64)
    if size is None:
        return bits
    x, y, w, h = boxes.T
    for bit, gap in ((1, x), (2, y), (4, size[0] - x - w), (8, size[1] - y - h)):
        bits |= np.where(gap <= px, bit, 0)
    return bits


def candidates(dets: list[Detection], st: PartSettings,
               size: tuple[int, int] | None = None) -> list[tuple[int, int, float]]:
    """(piece, host, gap in px) for every pair of one frame's detections whose sizes and places fit (no motion
    yet): the piece small and over the host. A piece cut by an image border (`size`: width, height) that does
    not cut the host too is no part: its size says nothing (a car coming into view at the top above a queue).

    Every pair of the frame is tested at once (rows: piece, columns: host; numpy, the same float arithmetic as
    one pair at a time): this runs on the main thread for each frame, and a dense frame has ~700 pairs."""
    n = len(dets)
    if n < 2:
        return []
    has = np.array([d.mask is not None for d in dets])
    b = np.array([d.box for d in dets], float).reshape(-1, 4)
    area = np.array([d.area if d.mask is not None else 0.0 for d in dets])
    sx, sy, sw, sh = (v[:, None] for v in b.T)   # the piece (rows)
    bx, by, bw, bh = (v[None] for v in b.T)      # the larger blob (columns)
    cut = _edge_bits(b, size)
    side = (cut & 5) != 0  # cut by the left or right border
    ok = has[:, None] & has[None] & ~np.eye(n, dtype=bool)
    ok &= (cut[:, None] & ~cut[None]) == 0       # an image border that cuts the piece cuts the host too
    ok &= ~(area[:, None] > st.max_area * area[None]) & ~(sh > st.max_height * bh)
    # widths cut short alike by a side border (a car coming into view) say nothing of the shape
    with np.errstate(divide="ignore", invalid="ignore"):
        slice_ = ~((sw < st.min_width * bw) | (sw / bw < st.min_flatness * sh / bh) | (sw < st.min_aspect * sh))
    ok &= side[:, None] | slice_
    ok &= ~(np.minimum(sx + sw, bx + bw) - np.maximum(sx, bx) < st.min_x_overlap * sw)
    gap = by - (sy + sh)
    ok &= ~((gap > st.max_gap * bh) | (sy + sh / 2 >= by + bh / 2))
    i, j = np.nonzero(ok)
    return [(p, q, float(gap[p, q])) for p, q in zip(i.tolist(), j.tolist())]


def _anchor(d: Detection) -> np.ndarray:
    x, y, w, h = d.box
    return np.array([x + w / 2, y + h])


def _offset(s: Detection, big: Detection) -> np.ndarray:
    """The piece's centre from the larger blob's bottom centre, in its widths (x) and heights (y): the same on
    every frame for a piece of one object, whether the object grows as it comes near or enters at a border."""
    x, y, w, h = s.box
    return (np.array([x + w / 2, y + h / 2]) - _anchor(big)) / np.array(big.box[2:4])


class _Frame:
    __slots__ = ("item", "source", "dets", "pairs", "joined")

    def __init__(self, item, st: PartSettings, size):
        self.item = item
        self.source = item[0].source_id
        self.dets = item[2]
        self.pairs = candidates(self.dets, st, size)
        self.joined: dict[int, int] = {}  # piece -> host, once decided


def _moves_together(t: int, frames: list[_Frame], pair: tuple[int, int, float], st: PartSettings) -> tuple[str, int]:
    """("together" | "apart" | "undecided", frames of the window holding the pair), see the module text."""
    here = frames[t]
    s, big = here.dets[pair[0]], here.dets[pair[1]]
    off0 = _offset(s, big)
    size = max(big.box[2], big.box[3])
    offs, anchors = [off0], [_anchor(big)]
    kept = False
    for k, f in enumerate(frames):
        if k == t or f.source != here.source or not f.pairs:
            continue
        steps = abs(k - t)
        # the same larger blob: the nearest host there, within half its size a frame; then the nearest piece
        best = None
        for i, j, _ in f.pairs:
            b2 = f.dets[j]
            d_host = np.linalg.norm(_anchor(b2) - anchors[0]) / size
            if d_host > 0.5 * steps:
                continue
            off = _offset(f.dets[i], b2)
            key = (round(d_host, 3), float(np.abs(off - off0).max()))
            if best is None or key < best[0]:
                best = (key, i, j, off)
        if best is None:
            continue
        _, i, j, off = best
        kept |= k == t - 1 and f.joined.get(i) == j and best[0][1] <= st.tolerance
        offs.append(off)
        anchors.append(_anchor(f.dets[j]))
    if kept:
        return "together", len(offs)
    if len(offs) < st.min_frames:
        return "undecided", len(offs)
    offs = np.array(offs)
    if np.any(offs.max(axis=0) - offs.min(axis=0) > st.tolerance):
        return "apart", len(offs)
    a = np.array(anchors)
    travel = np.linalg.norm(a.max(axis=0) - a.min(axis=0)) / size
    return ("together" if travel >= st.min_motion else "undecided"), len(offs)


def union(big: Detection, parts: list[Detection], fill_gap: bool = True) -> Detection:
    """One detection of `big` and its `parts` (masks only): the union of their masks, and with `fill_gap` the
    rows between a part and `big` in each column holding both (part above, big below)."""
    ds = [big] + parts
    x0 = min(d.mask_xy[0] for d in ds)
    y0 = min(d.mask_xy[1] for d in ds)
    x1 = max(d.mask_xy[0] + d.mask.shape[1] for d in ds)
    y1 = max(d.mask_xy[1] + d.mask.shape[0] for d in ds)
    m = np.zeros((y1 - y0, x1 - x0), bool)
    for d in ds:
        dx, dy = d.mask_xy[0] - x0, d.mask_xy[1] - y0
        m[dy:dy + d.mask.shape[0], dx:dx + d.mask.shape[1]] |= d.mask
    if fill_gap:
        big_m = np.zeros_like(m)
        dx, dy = big.mask_xy[0] - x0, big.mask_xy[1] - y0
        big_m[dy:dy + big.mask.shape[0], dx:dx + big.mask.shape[1]] = big.mask
        rows = np.arange(m.shape[0])[:, None]
        top_of_big = np.where(big_m.any(axis=0), np.argmax(big_m, axis=0), -1)
        for p in parts:
            pm = np.zeros_like(m)
            dx, dy = p.mask_xy[0] - x0, p.mask_xy[1] - y0
            pm[dy:dy + p.mask.shape[0], dx:dx + p.mask.shape[1]] = p.mask
            has = pm.any(axis=0)
            bottom_of_part = np.where(has, m.shape[0] - 1 - np.argmax(pm[::-1], axis=0), -1)
            cols = has & (top_of_big > bottom_of_part)
            m |= cols[None] & (rows > bottom_of_part[None]) & (rows < top_of_big[None])
    out = Detection.from_local_mask(m, x0, y0, big.category, min(d.score for d in ds), **big.extra)
    out.extra["joined_parts"] = [{"box": [round(float(v), 1) for v in p.box], "area": p.area} for p in parts]
    return out


def join_frame(frames: list[_Frame], t: int, st: PartSettings,
               classify: Callable | None = None) -> list[Detection]:
    """Frame t's detections with parts moving together joined into their hosts (a host keeps its place in the
    list); a host with an undecided piece over it gets extra["part_above"]."""
    here = frames[t]
    if not here.pairs:
        return here.dets
    together, undecided = [], {}
    for pair in here.pairs:
        how, n = _moves_together(t, frames, pair, st)
        if how == "together":
            together.append((pair[2], pair[0], pair[1], n))
        elif how == "undecided":
            undecided.setdefault(pair[1], (pair[0], n))
    joined_to: dict[int, int] = {}
    seen: dict[int, int] = {}
    for _, i, j, n in sorted(together):  # nearest host first; a piece joins one host, a host is no piece
        if i in joined_to or i in joined_to.values() or j in joined_to:
            continue
        joined_to[i] = j
        seen[j] = max(seen.get(j, 0), n)
    here.joined = joined_to
    out = []
    for j, d in enumerate(here.dets):
        if j in joined_to:
            continue
        parts = [here.dets[i] for i, h in joined_to.items() if h == j]
        if parts:
            d = union(d, parts, st.fill_gap)
            d.extra["joined_parts_frames"] = seen[j]
            if classify is not None:
                d.category, d.extra["size"] = classify(d.box, d.area)
        elif j in undecided and undecided[j][0] not in joined_to:
            i, n = undecided[j]
            d.extra["part_above"] = {"box": [round(float(v), 1) for v in here.dets[i].box], "frames": n}
        out.append(d)
    return out


def join_parts(stream: Iterable[tuple], settings: PartSettings | None = None, classify: Callable | None = None,
               size: tuple[int, int] | None = None) -> Iterator[tuple]:
    """The detection stream of (FrameInfo, frame, detections) with parts joined into their objects, held back by
    `settings.window` frames. `classify(box, area) -> (category, size)` re-classes a joined detection (the
    foreground detector's SizeClassifier); without it the host's class stays. `size`: the image's (width,
    height), for the border test."""
    st = settings or PartSettings()
    r = st.window
    buf: deque[_Frame] = deque()
    next_out = 0  # index in buf of the next frame to hand on
    for item in stream:
        buf.append(_Frame(item, st, size))
        if len(buf) - 1 - next_out >= r:  # frame next_out has its r frames ahead
            yield _emit(buf, next_out, st, classify)
            next_out += 1
            if next_out > r:
                buf.popleft()
                next_out -= 1
    while next_out < len(buf):
        yield _emit(buf, next_out, st, classify)
        next_out += 1


def _emit(buf: deque, t: int, st: PartSettings, classify) -> tuple:
    frames = list(buf)
    info, frame, _ = frames[t].item
    return info, frame, join_frame(frames, t, st, classify)
