"""Reading an exported amodal dataset (DESIGN "Datasets the program writes") for training and evaluation.

Layout of a dataset folder: `annotations/{split}.json` (COCO, one per split) with image `file_name`s relative
to the dataset folder. Per annotation: the amodal `bbox` and `segmentation` (RLE) — what the model learns —
plus `visible_*`, `occlusion`, `keypoints`. Categories carry their own `keypoints` names; the trainer maps
them into one keypoint head by the 29-slot two-class layout (vehicle slots 0–11, person 12–28; DESIGN).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BadInputError

CLASSES = ("vehicle", "person")           # model class i + 1 (0 is background)
SLOTS = {"vehicle": (0, 12), "person": (12, 17)}   # first slot and count in the 29-slot layout
N_SLOTS = 29
BUCKETS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0))


def bucket_label(b: tuple[float, float]) -> str:
    return f"{round(b[0] * 100)}-{round(b[1] * 100)}%"


def bucket_of(occlusion: float) -> int:
    """Index into BUCKETS; 1.0 belongs to the last bucket."""
    return min(int(max(float(occlusion), 0.0) * 5), 4)


def split_file(dataset: Path, split: str) -> Path:
    path = Path(dataset) / "annotations" / f"{split}.json"
    if not path.is_file():
        found = sorted(p.stem for p in (Path(dataset) / "annotations").glob("*.json"))
        raise BadInputError(f"{dataset} has no {split} split ({path} is missing).",
                            f"Splits found: {', '.join(found) or 'none'}. Export a dataset with `walt3d export`.")
    return path


def load_split(dataset: Path, split: str) -> dict:
    path = split_file(dataset, split)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BadInputError(f"{path} is not readable JSON ({e}).", "Export the dataset again.") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise BadInputError(f"{path} is not a COCO file (no {key} list).", "Export the dataset again.")
    return data


def category_classes(categories: list[dict]) -> dict[int, str]:
    """COCO category id -> our class name ('vehicle' / 'person'); other categories are not trained on."""
    out = {}
    for c in categories:
        name = str(c.get("name", "")).lower()
        if name in ("vehicle", "car"):
            out[int(c["id"])] = "vehicle"
        elif name == "person":
            out[int(c["id"])] = "person"
    return out


def to_slots(keypoints, cls: str) -> np.ndarray:
    """COCO triplets of one class -> (29, 3) in the two-class layout (other class's slots v = 0)."""
    out = np.zeros((N_SLOTS, 3), np.float32)
    first, n = SLOTS[cls]
    if keypoints:
        k = np.asarray(keypoints, np.float32).reshape(-1, 3)
        if len(k) != n:
            raise BadInputError(f"A {cls} annotation has {len(k)} keypoints; the {cls} schema has {n}.",
                                "Export the dataset with the shipped keypoint schemas.")
        out[first:first + n] = k
    return out


def from_slots(slots: np.ndarray, cls: str) -> np.ndarray:
    first, n = SLOTS[cls]
    return np.asarray(slots)[first:first + n]


@dataclass
class Sample:
    image_id: int
    path: Path
    width: int
    height: int
    anns: list[dict]


def samples(dataset: Path, split: str) -> tuple[list[Sample], dict]:
    """The split's images with their trainable annotations, and the COCO dict itself."""
    data = load_split(dataset, split)
    classes = category_classes(data["categories"])
    by_image: dict[int, list] = {}
    for a in data["annotations"]:
        if int(a["category_id"]) in classes and not a.get("iscrowd", 0):
            by_image.setdefault(int(a["image_id"]), []).append(a)
    out = []
    for im in data["images"]:
        path = Path(dataset) / im["file_name"]
        out.append(Sample(int(im["id"]), path, int(im["width"]), int(im["height"]), by_image.get(int(im["id"]), [])))
    return out, data


class TorchDataset:
    """A torch-style dataset: (image float tensor CxHxW in [0, 1], target dict) per image."""

    def __init__(self, dataset: Path, split: str):
        self.items, self.coco = samples(Path(dataset), split)
        self.classes = category_classes(self.coco["categories"])

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        import torch
        from PIL import Image
        from pycocotools import mask as mask_utils

        s = self.items[i]
        try:
            with Image.open(s.path) as im:
                img = np.asarray(im.convert("RGB"))
        except OSError as e:
            raise BadInputError(f"Image {s.path} cannot be read ({e}).", "Export the dataset again.") from None
        boxes, labels, masks, kps = [], [], [], []
        for a in s.anns:
            x, y, w, h = (float(v) for v in a["bbox"])
            if w < 1 or h < 1:
                continue
            cls = self.classes[int(a["category_id"])]
            seg = a["segmentation"]
            if isinstance(seg, dict) and isinstance(seg.get("counts"), str):
                seg = {"size": seg["size"], "counts": seg["counts"].encode()}
            elif isinstance(seg, list):
                seg = mask_utils.merge(mask_utils.frPyObjects(seg, s.height, s.width))
            masks.append(mask_utils.decode(seg))
            boxes.append([x, y, x + w, y + h])
            labels.append(CLASSES.index(cls) + 1)
            kps.append(to_slots(a.get("keypoints"), cls))
        n = len(boxes)
        target = {
            "boxes": torch.tensor(np.array(boxes, np.float32).reshape(n, 4)),
            "labels": torch.tensor(labels, dtype=torch.int64),
            "masks": torch.from_numpy(np.array(masks, np.uint8).reshape(n, s.height, s.width)),
            "keypoints": torch.from_numpy(np.array(kps, np.float32).reshape(n, N_SLOTS, 3)),
            "image_id": s.image_id,
        }
        return torch.from_numpy(img.copy()).permute(2, 0, 1).float().div(255.0), target


def dataset_checksum(dataset: Path) -> str:
    """sha256 over the annotation files (images are named by them), to record what a model was trained on."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted((Path(dataset) / "annotations").glob("*.json")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]
