"""A keypoint dataset in memory (images, annotations, schemas), whatever file form it came from: COCO keypoints
JSON (`keypoints_coco`) or CarFusion text files (`carfusion`). Both readers build these records, so neither
imports the other (no keypoints_coco <-> carfusion cycle); also importable from `dataset.keypoints_coco`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..keypoint_schema import KeypointSchema


@dataclass
class KpImage:
    id: int
    file_name: str
    width: int | None = None
    height: int | None = None
    extra: dict = field(default_factory=dict)   # the `walt3d` block
    other: dict = field(default_factory=dict)   # any other COCO fields, kept as they were


@dataclass
class KpAnnotation:
    id: int
    image_id: int
    schema: str
    bbox: tuple[float, float, float, float]
    keypoints: np.ndarray  # (K, 3)
    area: float | None = None
    segmentation: object = None
    iscrowd: int = 0
    extra: dict = field(default_factory=dict)
    other: dict = field(default_factory=dict)


@dataclass
class KeypointDataset:
    images: list[KpImage] = field(default_factory=list)
    annotations: list[KpAnnotation] = field(default_factory=list)
    schemas: dict[str, KeypointSchema] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    image_root: str | None = None  # folder the images' file names are relative to
