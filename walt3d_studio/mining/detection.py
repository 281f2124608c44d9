"""What a detector returns, and the mask/box helpers every mining module shares.

A `Detection` keeps its mask *local*: a bool array covering the integer box [x, y, w, h] (DESIGN "Boxes and
masks": a pixel (i, j) covers [i, i+1) x [j, j+1), a mask's box is [x0, y0, x1 - x0 + 1, y1 - y0 + 1]).
Full-image COCO RLE (what the store and the exports hold) is made from it without ever allocating a full frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CATEGORIES = ("car", "person", "other")


@dataclass
class FrameInfo:
    """Where a frame sits: its row in `frames`, its position in the camera's capture order, its source."""

    position: int
    frame_id: int
    source_id: int
    source_index: int
    capture_time: float
    file_name: str | None = None


@dataclass
class Detection:
    """One object in one frame.

    box: [x, y, w, h] in pixels (floats allowed for box-only detectors).
    mask: bool array of shape (h, w) for the integer box at `mask_xy`, or None for box-only detections.
    score: detector confidence in [0, 1]; detectors without scores give 1.0.
    """

    category: str
    score: float
    box: tuple[float, float, float, float]
    mask: np.ndarray | None = None
    mask_xy: tuple[int, int] = (0, 0)
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_local_mask(cls, mask: np.ndarray, x0: int, y0: int, category: str, score: float = 1.0,
                        **extra) -> "Detection | None":
        """From a bool mask whose top-left pixel is (x0, y0); the box is tightened to the mask's pixels."""
        mask = np.asarray(mask, bool)
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(mask.any(axis=0))
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
        local = mask[r0:r1 + 1, c0:c1 + 1]
        x, y = x0 + c0, y0 + r0
        return cls(category, float(score), (float(x), float(y), float(c1 - c0 + 1), float(r1 - r0 + 1)),
                   np.ascontiguousarray(local), (x, y), dict(extra))

    @classmethod
    def from_full_mask(cls, mask: np.ndarray, category: str, score: float = 1.0, **extra) -> "Detection | None":
        return cls.from_local_mask(mask, 0, 0, category, score, **extra)

    @property
    def area(self) -> float:
        if self.mask is not None:
            # counted once per mask (masks are never changed in place): the pair tests of a frame ask for it
            # thousands of times a frame in a dense scene
            cached = self.__dict__.get("_area")
            if cached is None or cached[0] is not self.mask:
                cached = self.__dict__["_area"] = (self.mask, float(np.count_nonzero(self.mask)))
            return cached[1]
        return float(self.box[2] * self.box[3])

    @property
    def int_box(self) -> tuple[int, int, int, int]:
        """The pixel index range the box covers, as x, y, w, h (for masks: exactly the mask's box)."""
        if self.mask is not None:
            h, w = self.mask.shape
            return self.mask_xy[0], self.mask_xy[1], w, h
        return pixel_range(self.box)

    def local_mask(self) -> np.ndarray:
        """The mask over `int_box` (all True for box-only detections)."""
        if self.mask is not None:
            return self.mask
        _, _, w, h = self.int_box
        return np.ones((h, w), bool)

    def rle(self, width: int, height: int) -> dict | None:
        """Full-image COCO RLE ({'size': [h, w], 'counts': str}) of the mask, or None for box-only."""
        if self.mask is None:
            return None
        return encode_local_mask(self.mask, self.mask_xy[0], self.mask_xy[1], width, height)


# ---------------------------------------------------------------------------------------------- masks


def pixel_range(box) -> tuple[int, int, int, int]:
    """The pixels a float box [x, y, w, h] touches, as integer x, y, w, h (crops cover exactly this)."""
    x, y, w, h = box
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    x1, y1 = int(np.ceil(x + w)) - 1, int(np.ceil(y + h)) - 1
    return x0, y0, max(1, x1 - x0 + 1), max(1, y1 - y0 + 1)


def encode_local_mask(mask: np.ndarray, x0: int, y0: int, width: int, height: int) -> dict:
    """COCO RLE of a full width x height image that is zero except `mask` placed at (x0, y0).

    Runs are counted in column-major order over the mask alone, so the cost is that of the box, not of the
    frame. Parts of the mask outside the image are clipped.
    """
    from pycocotools import mask as mask_util

    mask = np.asarray(mask, bool)
    h, w = mask.shape
    # clip to the image
    cx0, cy0 = max(0, -x0), max(0, -y0)
    cx1, cy1 = min(w, width - x0), min(h, height - y0)
    if cx1 <= cx0 or cy1 <= cy0:
        counts = [width * height]
    else:
        m = mask[cy0:cy1, cx0:cx1]
        X0, Y0 = x0 + cx0, y0 + cy0
        # Each column of the mask with a zero above and below it, in column-major order: the padding stands for
        # the rest of the image column, so every change of value lies inside one padded column. Padded position
        # i = c * hp + r (column c, row r; r = 1 is the mask's top row) is image pixel (X0 + c) * height + Y0 + r - 1.
        hp = m.shape[0] + 2
        cols = np.zeros((m.shape[1], hp), bool)
        cols[:, 1:-1] = m.T
        flat = cols.reshape(-1)
        i = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        starts = i + (i // hp) * (height - hp) + (X0 * height + Y0 - 1)
        if m.shape[0] == height:  # a run through a column's bottom goes on at the next one's top: not two runs
            same = np.flatnonzero(starts[1:] == starts[:-1])
            starts = np.delete(starts, np.concatenate([same, same + 1]))
        if starts.size and starts[-1] == width * height:  # ones up to the image's last pixel: no zeros after
            starts = starts[:-1]
        edges = np.concatenate(([0], starts, [width * height]))
        counts = (edges[1:] - edges[:-1]).tolist()
    rle = mask_util.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


def decode_rle(rle: dict) -> np.ndarray:
    """Full-image bool mask from COCO RLE (compressed string or uncompressed list counts)."""
    from pycocotools import mask as mask_util

    r = dict(rle)
    h, w = r["size"]
    if isinstance(r["counts"], list):
        r = mask_util.frPyObjects(r, h, w)
    elif isinstance(r["counts"], str):
        r["counts"] = r["counts"].encode("ascii")
    return mask_util.decode(r).astype(bool)


def rle_area(rle: dict) -> float:
    from pycocotools import mask as mask_util

    r = dict(rle)
    if isinstance(r["counts"], str):
        r["counts"] = r["counts"].encode("ascii")
    return float(mask_util.area(r))


def box_of_mask(mask: np.ndarray) -> list[int] | None:
    """[x0, y0, x1 - x0 + 1, y1 - y0 + 1] over the mask's column/row index range, or None when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def box_intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection area matrix between boxes a (N, 4) and b (M, 4), both [x, y, w, h]."""
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    return iw * ih


def box_iou(a: np.ndarray, b: np.ndarray, inter: np.ndarray | None = None) -> np.ndarray:
    """IoU matrix between boxes a (N, 4) and b (M, 4), both [x, y, w, h] (`inter`: their `box_intersection`,
    when the caller has it already)."""
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    if inter is None:
        inter = box_intersection(a, b)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def rgba_crop(frame: np.ndarray, det: Detection) -> np.ndarray:
    """The object's RGBA crop over its integer box: RGB from the frame, alpha = mask (255 for box-only)."""
    x, y, w, h = det.int_box
    H, W = frame.shape[:2]
    if x >= 0 and y >= 0 and x + w <= W and y + h <= H and frame.ndim == 3 and frame.shape[2] == 3 \
            and frame.dtype == np.uint8:
        # the usual case, a box inside an RGB frame, in two calls (mining cuts ~20 a frame on its pool, where
        # each Python-level numpy call holds the GIL): the colour with alpha 255, then alpha = mask x 255
        import cv2

        out = cv2.cvtColor(frame[y:y + h, x:x + w], cv2.COLOR_RGB2RGBA)
        if det.mask is not None:
            np.multiply(det.mask, np.uint8(255), out=out[:, :, 3])
        return out
    out = np.zeros((h, w, 4), np.uint8)
    fx0, fy0, fx1, fy1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if fx1 > fx0 and fy1 > fy0:
        out[fy0 - y:fy1 - y, fx0 - x:fx1 - x, :3] = frame[fy0:fy1, fx0:fx1, :3]
        alpha = det.local_mask()[fy0 - y:fy1 - y, fx0 - x:fx1 - x]
        out[fy0 - y:fy1 - y, fx0 - x:fx1 - x, 3] = alpha.astype(np.uint8) * 255
    return out


@dataclass
class RunInfo:
    """What a detector may need to know before the first frame (given to `Detector.start`)."""

    project: object            # walt3d_studio.store.Project (read access only)
    camera_id: int
    width: int
    height: int
    calibration: object | None  # walt3d_studio.camera.Camera or None
    frames: object             # the camera's FrameTable
    file_names: dict = field(default_factory=dict)  # frame id -> file name (image sources)
