"""A detection's crop, placed in its frame: what keypoint datasets export and the keypoint model trains on.

A detection's crop (`detections.crop_path`, an RGBA PNG relative to the project folder) is placed in its
frame by the PNG text chunk `walt3d_crop` = JSON {"x0": .., "y0": .., "scale": 1.0}: crop pixel (i, j) shows
frame point (x0 + i / scale, y0 + j / scale). Without that chunk a crop that is exactly the box's pixel range
(what mining writes today) lies at the box's top-left pixel. Any other crop, or a missing crop file, falls
back to cutting the window out of the decoded frame, so keypoints (always in frame coordinates) stay exact.

Qt-free, torch-free. Lives below both `dataset/` and `keypoints/` (no keypoints data <-> dataset cycle); also
importable from `walt3d_studio.keypoints.data`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadInputError

CROP_KEY = "walt3d_crop"


@dataclass
class Crop:
    image: np.ndarray  # RGB (or RGBA) uint8
    x0: float = 0.0
    y0: float = 0.0
    scale: float = 1.0  # crop pixels per frame pixel

    def to_crop(self, pts) -> np.ndarray:
        pts = np.array(pts, dtype=np.float64)
        pts[..., 0] = (pts[..., 0] - self.x0) * self.scale
        pts[..., 1] = (pts[..., 1] - self.y0) * self.scale
        return pts

    def to_frame(self, pts) -> np.ndarray:
        pts = np.array(pts, dtype=np.float64)
        pts[..., 0] = pts[..., 0] / self.scale + self.x0
        pts[..., 1] = pts[..., 1] / self.scale + self.y0
        return pts

    def box_to_crop(self, box) -> tuple[float, float, float, float]:
        x, y, w, h = box
        return ((x - self.x0) * self.scale, (y - self.y0) * self.scale, w * self.scale, h * self.scale)


def write_crop(path: str | Path, rgba: np.ndarray, x0: float, y0: float, scale: float = 1.0) -> None:
    """Save an RGBA crop with its placement in the frame (what mining should write; used by tests)."""
    import os

    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(CROP_KEY, json.dumps({"x0": x0, "y0": y0, "scale": scale}))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    from ..atomic import atomic_path

    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(rgba)).save(tmp, format="PNG", pnginfo=info)


def read_crop(path: str | Path, box=None) -> Crop | None:
    """The crop and its placement, or None when the file is missing or its placement is unknown.

    Placement: the `walt3d_crop` text chunk; else, when `box` is given and the crop is exactly the box's
    pixel range (how mining writes crops: `mining.detection.rgba_crop`), the box's top-left pixel."""
    import io

    from PIL import Image

    from ..mining.crops import crop_bytes

    try:
        with Image.open(io.BytesIO(crop_bytes(path))) as im:  # a plain file or a span of a run's pack
            meta = (getattr(im, "text", None) or {}).get(CROP_KEY) or im.info.get(CROP_KEY)
            arr = np.asarray(im.convert("RGBA"))
    except (OSError, ValueError):
        return None
    if meta is not None:
        try:
            place = json.loads(meta)
            return Crop(arr, float(place.get("x0", 0.0)), float(place.get("y0", 0.0)), float(place.get("scale", 1.0)))
        except (ValueError, TypeError, AttributeError):
            return None
    if box is not None:
        from ..mining.detection import pixel_range

        x0, y0, w, h = pixel_range(box)
        if arr.shape[:2] == (h, w):
            return Crop(arr, float(x0), float(y0), 1.0)
    return None


class CropSource:
    """Crops of a project's detections: the stored crop when it can be placed, else cut from the frame.

    Use as a context manager (it keeps one frame reader per camera open)."""

    def __init__(self, project, context: float = 0.5):
        self.project = project
        self.context = context
        self._readers: dict[int, object] = {}
        self._positions: dict[int, dict[int, int]] = {}
        self.from_frames = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        for r in self._readers.values():
            r.close()
        self._readers.clear()

    def crop(self, det) -> Crop:
        if det.crop_path:
            c = read_crop(self.project.root / det.crop_path, det.box)
            if c is not None:
                return c
        return self._from_frame(det)

    def _from_frame(self, det) -> Crop:
        if det.camera_id not in self._readers:
            self._readers[det.camera_id] = self.project.frame_reader(det.camera_id, cache_bytes=64 << 20)
            ids = self._readers[det.camera_id].table.ids
            self._positions[det.camera_id] = {int(f): i for i, f in enumerate(ids)}
        pos = self._positions[det.camera_id].get(int(det.frame_id))
        if pos is None:
            raise BadInputError(f"Detection {det.id} refers to frame {det.frame_id}, which is not in its camera.",
                                "The project is inconsistent; re-run mining.")
        frame = self._readers[det.camera_id].frame(pos)
        self.from_frames += 1
        x, y, w, h = det.box
        pad = self.context * max(w, h) + 2
        x0, y0 = int(max(np.floor(x - pad), 0)), int(max(np.floor(y - pad), 0))
        x1, y1 = int(min(np.ceil(x + w + pad), frame.shape[1])), int(min(np.ceil(y + h + pad), frame.shape[0]))
        return Crop(np.ascontiguousarray(frame[y0:y1, x0:x1]), float(x0), float(y0), 1.0)
