"""Pasting pixels: each object's RGBA crop onto the background in paste order (far to near), touching only its
box. Optional edge feathering (1-2 px, inside the mask only, so masks and visibility are unchanged) and a
per-object gain that matches the source frame's lighting to the background's (the paper names lighting mismatch
as a limitation): the crop's pixels around the object (inside its box, outside its mask) are the source frame's
ground there, so the ratio of the background's median to theirs, per channel, is the lighting change.
"""
from __future__ import annotations

import cv2
import numpy as np

from .scene import SceneObject

GAIN_RANGE = (0.6, 1.6)   # beyond this the surround is not the same ground (another object, a shadow)
MIN_SURROUND = 30         # pixels needed to trust a gain


def label_map(size: tuple[int, int], objs: list[SceneObject], order: list[int]) -> np.ndarray:
    """(H, W) int16: the paste position (index into `order`) of the object seen at each pixel, -1 for
    background. Later (nearer) objects overwrite earlier ones, exactly as the pixels are pasted."""
    w, h = size
    lab = np.full((h, w), -1, np.int16)
    for pos, i in enumerate(order):
        o = objs[i]
        sl, ms = _clip(o.box, w, h)
        if sl is not None:
            np.copyto(lab[sl], pos, where=o.mask[ms])
    return lab


def _clip(box, w: int, h: int):
    """(frame slices, local slices) of a box clipped to the frame, or (None, None) when outside."""
    x, y, bw, bh = box
    x0, y0, x1, y1 = max(0, x), max(0, y), min(w, x + bw), min(h, y + bh)
    if x1 <= x0 or y1 <= y0:
        return None, None
    return (slice(y0, y1), slice(x0, x1)), (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))


def object_gain(o: SceneObject, background: np.ndarray) -> np.ndarray:
    """Per-channel gain (3,) = median(background around the object) / median(source frame around it)."""
    h, w = background.shape[:2]
    sl, ms = _clip(o.box, w, h)
    if sl is None or o.rgba is None:
        return np.ones(3)
    ring = ~o.mask[ms]
    if np.count_nonzero(ring) < MIN_SURROUND:
        return np.ones(3)
    src = o.rgba[ms][..., :3][ring].astype(np.float64)
    dst = background[sl][ring].astype(np.float64)
    g = (np.median(dst, axis=0) + 1.0) / (np.median(src, axis=0) + 1.0)
    if (g < GAIN_RANGE[0]).any() or (g > GAIN_RANGE[1]).any():
        return np.ones(3)
    return g


def feather_alpha(mask: np.ndarray, px: float) -> np.ndarray:
    """Float alpha in [0, 1]: 1 deep inside the mask, falling over about `px` pixels at its edge, 0 outside."""
    if px <= 0:
        return mask.astype(np.float32)
    m = np.pad(mask.astype(np.uint8), 1)                      # pixels at the box edge are at the mask's edge
    dist = cv2.distanceTransform(m, cv2.DIST_L2, 3)[1:-1, 1:-1]
    return np.clip(dist / (px + 1.0), 0.0, 1.0).astype(np.float32) * mask


def paste(background: np.ndarray, objs: list[SceneObject], order: list[int], feather: float = 0.0,
          gain: bool = False) -> np.ndarray:
    """The composite (H, W, 3) uint8: crops pasted far to near onto a copy of the background."""
    out = np.array(background, np.uint8, copy=True)
    h, w = out.shape[:2]
    for i in order:
        o = objs[i]
        sl, ms = _clip(o.box, w, h)
        if sl is None or o.rgba is None:
            continue
        mask = o.mask[ms]
        rgb = o.rgba[ms][..., :3]
        if gain:
            g = object_gain(o, background)
            if not np.allclose(g, 1.0):
                rgb = np.clip(rgb * g + 0.5, 0, 255).astype(np.uint8)
        region = out[sl]
        if feather > 0:
            a = feather_alpha(mask, feather)[..., None]
            region[...] = np.clip(a * rgb + (1.0 - a) * region + 0.5, 0, 255).astype(np.uint8)
        else:
            np.copyto(region, rgb, where=mask[..., None])
    return out
