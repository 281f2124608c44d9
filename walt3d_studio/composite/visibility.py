"""Pseudo-groundtruth of one composite from its paste: amodal mask and box (the object's whole mined mask),
visible mask and box (what is left after the nearer objects), occlusion fraction, depth rank and keypoint
visibility (DESIGN: v = 0 stays 0, 1 stays 1, 2 becomes 1 under a nearer object's visible mask).

Everything is read off the label map the paste produced (which object is on top at each pixel), so the masks
agree with the pixels by construction, and each object costs only its box.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..mining.detection import box_of_mask, encode_local_mask
from .paste import _clip
from .scene import SceneObject


@dataclass
class ObjectTruth:
    index: int                  # into the scene's object list
    idx: int                    # paste position, 0 = farthest
    depth_rank: int             # 0 = nearest
    amodal_rle: dict
    visible_rle: dict
    amodal_box: list
    visible_box: list
    amodal_area: int
    visible_area: int
    occlusion: float
    keypoints: np.ndarray | None
    visible_local: np.ndarray   # bool over the object's box (kept for tests and drawing)


def keypoint_visibility(points: np.ndarray | None, label: np.ndarray, pos: int) -> np.ndarray | None:
    """COCO triplets after the paste: a labelled-visible point (v = 2) under an object pasted later than `pos`
    (nearer) becomes 1 (DESIGN); so does one that is not on the object's own visible pixels — a fitted model's
    projected point can fall just off the mined mask, and a point marked visible must lie on what is seen of its
    object (docs/compositing.md). Absent (0) and occluded (1) points keep their v."""
    if points is None:
        return None
    kp = np.array(points, np.float64, copy=True).reshape(-1, 3)
    h, w = label.shape
    xi = np.rint(kp[:, 0]).astype(np.int64)
    yi = np.rint(kp[:, 1]).astype(np.int64)
    for k in np.flatnonzero(kp[:, 2] == 2):
        x, y = xi[k], yi[k]
        if not (0 <= x < w and 0 <= y < h) or label[y, x] != pos:
            kp[k, 2] = 1
    return kp


def _amodal(o: SceneObject, w: int, h: int):
    """(RLE, area, box) of the object's amodal mask: the same in every composite, so kept on the object."""
    key = ("amodal", w, h)
    if key not in o.cache:
        x, y = o.box[0], o.box[1]
        b = box_of_mask(o.mask)
        o.cache[key] = (encode_local_mask(o.mask, x, y, w, h), int(np.count_nonzero(o.mask)),
                        [b[0] + x, b[1] + y, b[2], b[3]] if b else [0, 0, 0, 0])
    return o.cache[key]


def pseudo_gt(objs: list[SceneObject], order: list[int], label: np.ndarray) -> list[ObjectTruth]:
    """One ObjectTruth per pasted object, in paste order."""
    h, w = label.shape
    n = len(order)
    out = []
    for pos, i in enumerate(order):
        o = objs[i]
        x, y = o.box[0], o.box[1]
        sl, ms = _clip(o.box, w, h)
        amodal = o.mask
        vis = np.zeros_like(amodal)
        if sl is not None:
            vis[ms] = label[sl] == pos
        a_rle, a_area, abox = _amodal(o, w, h)
        v_area = int(np.count_nonzero(vis))
        vbox = box_of_mask(vis) if v_area else None
        out.append(ObjectTruth(
            index=i, idx=pos, depth_rank=n - 1 - pos,
            amodal_rle=a_rle, visible_rle=a_rle if v_area == a_area else encode_local_mask(vis, x, y, w, h),
            amodal_box=abox,
            visible_box=[vbox[0] + x, vbox[1] + y, vbox[2], vbox[3]] if vbox else [0, 0, 0, 0],
            amodal_area=a_area, visible_area=v_area,
            occlusion=1.0 - v_area / a_area if a_area else 0.0,
            keypoints=keypoint_visibility(o.keypoints, label, pos), visible_local=vis))
    return out


def instance_map(label: np.ndarray) -> np.ndarray:
    """uint16 (H, W): 0 = background, else paste position + 1 (the store's `instance` array)."""
    return (label.astype(np.int32) + 1).astype(np.uint16)
