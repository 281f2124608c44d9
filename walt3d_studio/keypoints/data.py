"""Object crops and labelled samples for the keypoint model. Qt-free, torch-free.

A detection's crop (`detections.crop_path`, an RGBA PNG relative to the project folder) is placed in its
frame by the PNG text chunk `walt3d_crop` = JSON {"x0": .., "y0": .., "scale": 1.0}: crop pixel (i, j) shows
frame point (x0 + i / scale, y0 + j / scale). Without that chunk a crop that is exactly the box's pixel range
(what mining writes today) lies at the box's top-left pixel. Any other crop, or a missing crop file, falls
back to cutting the window out of the decoded frame, so keypoints (always in frame coordinates) stay exact.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
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
    from PIL import Image

    try:
        with Image.open(path) as im:
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


@dataclass
class Sample:
    """One labelled object: an image holding it, its box and keypoints in that image's coordinates."""

    image: np.ndarray
    box: tuple[float, float, float, float]
    keypoints: np.ndarray  # (total, 3) in the joint layout (other classes' slots v = 0)
    schema: str
    group: str  # samples of one group (a track, a video) always land in the same split
    key: str  # "det:123" or "ext:<dataset>:<ann id>"
    detection_id: int | None = None
    crop: Crop | None = field(default=None, repr=False)


def split_of(group: str, val_fraction: float, seed: int = 0) -> str:
    """'val' or 'train', from a hash of the group: stable as data is added, no track in two splits."""
    if val_fraction <= 0:
        return "train"
    h = int.from_bytes(hashlib.sha1(f"{seed}:{group}".encode()).digest()[:8], "big") / 2 ** 64
    return "val" if h < val_fraction else "train"


def split_samples(samples: list[Sample], val_fraction: float, seed: int = 0) -> tuple[list[Sample], list[Sample]]:
    train = [s for s in samples if split_of(s.group, val_fraction, seed) == "train"]
    val = [s for s in samples if split_of(s.group, val_fraction, seed) == "val"]
    return train, val


def project_samples(project, layout, ctx=None, *, camera_id: int | None = None) -> list[Sample]:
    """Every detection with human keypoints of a class in `layout`, as a sample in its crop's coordinates."""
    from ..store import keypoints as kstore

    rows = []
    for sch in layout.schemas:
        rows += [(sch, r) for r in kstore.human_labelled(project, schema=sch.name, camera_id=camera_id)]
    out: list[Sample] = []
    dets = {d.id: d for d in kstore.detections(project, [r.detection_id for _, r in rows])}
    with CropSource(project) as src:
        for i, (sch, r) in enumerate(rows):
            if ctx is not None and i % 16 == 0:
                ctx.progress(i, len(rows), "loading crops")
            det = dets[r.detection_id]
            crop = src.crop(det)
            pts = r.points.copy()
            pts[:, :2] = crop.to_crop(pts[:, :2])
            pts[pts[:, 2] == 0, :2] = 0
            group = f"track:{det.track_id}" if det.track_id is not None else f"det:{det.id}"
            out.append(Sample(crop.image, crop.box_to_crop(det.box), layout.pack(sch.name, pts), sch.name, group,
                              f"det:{det.id}", det.id, crop))
    return out


def external_samples(project, layout, ctx=None) -> list[Sample]:
    """Samples from keypoint datasets imported into the project (keypoints/external/*.json)."""
    from ..dataset.keypoints_coco import external_datasets

    out: list[Sample] = []
    from PIL import Image

    for name, ds, root in external_datasets(project):
        images = {im.id: im for im in ds.images}
        by_image: dict[int, list] = {}
        for a in ds.annotations:
            if a.schema in layout.names:
                by_image.setdefault(a.image_id, []).append(a)
        for n, (image_id, anns) in enumerate(sorted(by_image.items())):
            if ctx is not None and n % 16 == 0:
                ctx.progress(n, len(by_image), f"loading {name}")
            path = Path(root) / images[image_id].file_name
            try:
                with Image.open(path) as im:
                    arr = np.asarray(im.convert("RGB"))
            except OSError:
                continue  # reported at import time; images may have moved since
            for a in anns:
                x, y, w, h = a.bbox
                pad = 0.5 * max(w, h) + 2
                x0, y0 = int(max(np.floor(x - pad), 0)), int(max(np.floor(y - pad), 0))
                x1, y1 = int(min(np.ceil(x + w + pad), arr.shape[1])), int(min(np.ceil(y + h + pad), arr.shape[0]))
                crop = Crop(np.ascontiguousarray(arr[y0:y1, x0:x1]), float(x0), float(y0))
                pts = a.keypoints.copy()
                pts[:, :2] = crop.to_crop(pts[:, :2])
                pts[pts[:, 2] == 0, :2] = 0
                group = f"ext:{name}:{a.extra.get('group', image_id)}"
                out.append(Sample(crop.image, crop.box_to_crop(a.bbox), layout.pack(a.schema, pts), a.schema, group,
                                  f"ext:{name}:{a.id}", None, crop))
    return out
