"""Labelled samples for the keypoint model: the project's human keypoints and imported keypoint datasets, in
their crops' coordinates. Qt-free, torch-free. A detection's crop and its placement in the frame (`Crop`,
`CropSource`, `read_crop`, `write_crop`) live in `walt3d_studio.dataset.crops` and are importable from here.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..dataset.crops import CROP_KEY, Crop, CropSource, read_crop, write_crop  # noqa: F401 (importable from here)


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
