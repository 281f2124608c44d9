"""Learn a camera's static-occluder mask from long-lived foreground (DESIGN "Occlusion rule"). Qt-free.

The occlusion rule treats a detection as occluded when its mask overlaps the camera's static-occluder mask by
more than delta of its area. Poles, trees and signs can be painted by a person; this module learns the rest
from what mining already found: an object that stays put for a long time (a parked car, a trailer, a sign the
detector keeps finding) is, for everything passing behind it, an occluder like a pole.

An object counts as *long-lived foreground* when either

1. **a track stays put**: the track has at least `min_detections` detections spanning at least `min_seconds`
   of capture time, and every box centre stays within `max_motion_px` of the track's median centre; or
2. **the same place is detected again and again** (a parked car the tracker split into many short tracks):
   detections are binned by box centre and size on a grid of `max_motion_px` cells; a bin (with its 8
   neighbours in centre) found in at least `min_fraction` of the camera's frames over the mined time range,
   and over at least `min_seconds`, is long-lived.

The mask of a long-lived object is the pixels covered by at least half of its (up to `max_samples`, evenly
spaced) detections' masks -- box-only detections count their box -- so jitter does not grow it. The learned
mask is the union of those, dilated by `dilate_px` so that the object's outline (where masks disagree) counts
too.

A caveat: once stored, the long-lived object itself overlaps the mask, so re-mining judges *it* occluded as
well; a person's label (U) still decides over the rule.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BadInputError


@dataclass
class LearnReport:
    mask: np.ndarray          # bool (H, W)
    tracks: list[int]         # track ids found stationary (criterion 1)
    places: int               # long-lived places found by the binned criterion (2)
    detections: int           # detections whose masks were used

    @property
    def coverage(self) -> float:
        return float(self.mask.mean()) if self.mask.size else 0.0

    def summary(self) -> str:
        return (f"{len(self.tracks)} stationary tracks and {self.places} long-lived places; "
                f"{self.coverage:.1%} of the image is a static occluder")


def learn_static_occluders(project, camera_id: int, *, min_seconds: float = 3600.0, max_motion_px: float = 5.0,
                           min_detections: int = 5, min_fraction: float = 0.5, dilate_px: int = 2,
                           max_samples: int = 25, ctx=None) -> np.ndarray:
    """The learned static-occluder mask (bool H x W) of a camera; see the module docstring. Stores nothing:
    save it with `store.detections.set_static_occluder(project, camera_id, mask, origin="learned")`."""
    return learn_report(project, camera_id, min_seconds=min_seconds, max_motion_px=max_motion_px,
                        min_detections=min_detections, min_fraction=min_fraction, dilate_px=dilate_px,
                        max_samples=max_samples, ctx=ctx).mask


def learn_report(project, camera_id: int, *, min_seconds: float = 3600.0, max_motion_px: float = 5.0,
                 min_detections: int = 5, min_fraction: float = 0.5, dilate_px: int = 2, max_samples: int = 25,
                 ctx=None) -> LearnReport:
    """Like `learn_static_occluders`, also saying what was found."""
    import cv2

    from ..store.detections import detection_rles, detection_table

    cam = project.camera(camera_id)
    W, H = int(cam.width or 0), int(cam.height or 0)
    if not W or not H:
        raise BadInputError(f"Camera {cam.name!r} has no frames yet.", "Add a time-lapse and mine it first.")
    dt = detection_table(project, camera_id=camera_id)
    if len(dt) == 0:
        raise BadInputError(f"Camera {cam.name!r} has no detections to learn from.",
                            "Mine it first (walt3d mine, or Mining > Mine...).")
    cx = dt.box[:, 0] + dt.box[:, 2] / 2
    cy = dt.box[:, 1] + dt.box[:, 3] / 2
    t = dt.capture_time
    m = max(float(max_motion_px), 1.0)
    groups: list[np.ndarray] = []  # index arrays into dt, one per long-lived object

    # 1. stationary long-lived tracks
    tracks = []
    order = np.argsort(dt.track_id, kind="stable")
    tid_sorted = dt.track_id[order]
    starts = np.flatnonzero(np.r_[True, tid_sorted[1:] != tid_sorted[:-1]])
    for s, e in zip(starts, np.r_[starts[1:], len(order)]):
        tid = int(tid_sorted[s])
        idx = order[s:e]
        if tid < 0 or len(idx) < min_detections or t[idx].max() - t[idx].min() < min_seconds:
            continue
        d = np.hypot(cx[idx] - np.median(cx[idx]), cy[idx] - np.median(cy[idx]))
        if d.max() <= max_motion_px:
            tracks.append(tid)
            groups.append(idx)

    # 2. the same place (centre and size on an m-pixel grid) detected in many frames
    places = 0
    table = project.frame_table(camera_id)
    in_range = (table.times >= t.min()) & (table.times <= t.max())
    n_frames = max(int(in_range.sum()), 1)
    keys = np.stack([np.round(cx / m), np.round(cy / m), np.round(dt.box[:, 2] / m),
                     np.round(dt.box[:, 3] / m)], axis=1).astype(np.int64)
    used = np.zeros(len(dt), bool)
    for g in groups:
        used[g] = True
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    lookup = {tuple(k): i for i, k in enumerate(uniq)}
    o = np.argsort(inv, kind="stable")  # detections of each bin, by one sort (bins are 0..len(uniq)-1)
    members = np.split(o, np.flatnonzero(np.diff(inv[o])) + 1)
    # distinct frames per bin
    pairs = np.unique(np.stack([inv, dt.frame_id]), axis=1)
    counts = np.bincount(pairs[0], minlength=len(uniq))
    for i in np.argsort(-counts):
        if counts[i] < min_fraction * n_frames:
            break
        k = uniq[i]
        near = [lookup[n] for n in ((k[0] + a, k[1] + b, k[2], k[3]) for a in (-1, 0, 1) for b in (-1, 0, 1))
                if n in lookup]
        idx = np.concatenate([members[j] for j in near])
        idx = idx[~used[idx]]
        if len(idx) < min_detections or len(np.unique(dt.frame_id[idx])) < min_fraction * n_frames \
                or t[idx].max() - t[idx].min() < min_seconds:
            continue
        used[idx] = True
        groups.append(idx)
        places += 1

    # masks: pixels in at least half of each object's sampled masks, union, dilated
    mask = np.zeros((H, W), bool)
    n_used = 0
    for gi, idx in enumerate(groups):
        if ctx is not None:
            ctx.check()
            ctx.progress(gi, len(groups), f"static occluder {gi + 1} of {len(groups)}")
        idx = idx[np.argsort(t[idx], kind="stable")]
        if len(idx) > max_samples:
            idx = idx[np.linspace(0, len(idx) - 1, max_samples).round().astype(int)]
        rles = detection_rles(project, dt.id[idx])
        votes = np.zeros((H, W), np.uint16)
        for j in idx:
            rle = rles.get(int(dt.id[j]))
            if rle is not None:
                from .detection import decode_rle

                votes += decode_rle(rle)
            else:
                x, y, w, h = dt.box[j]
                x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
                votes[y0:int(np.ceil(y + h)), x0:int(np.ceil(x + w))] += 1
        mask |= votes * 2 >= len(idx)
        n_used += len(idx)
    if dilate_px > 0 and mask.any():
        k = 2 * int(dilate_px) + 1
        mask = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
    if ctx is not None:
        ctx.progress(len(groups), len(groups), "static occluders learned")
    return LearnReport(mask, tracks, places, n_used)
