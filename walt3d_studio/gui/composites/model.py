"""What the composites dock shows, without Qt: the filtered list, the current composite, its WALT2D twin,
rejections, occlusion histograms. The store stays the truth; this only caches one query, refreshed on edits."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...store import composites as store_comp
from ...training.dataset import BUCKETS, bucket_of


@dataclass
class Filters:
    split: str | None = None
    camera_id: int | None = None
    method: str | None = "walt3d"
    bucket: int | None = None          # an occlusion bucket any object falls in
    has_rejected: bool = False


@dataclass
class CompositesModel:
    project: object
    filters: Filters = field(default_factory=Filters)
    all: list = field(default_factory=list)
    shown: list = field(default_factory=list)
    rejections: dict = field(default_factory=lambda: {"composites": set(), "objects": set(), "tracks": set()})
    index: int = 0

    def reload(self) -> None:
        keep = self.current.id if self.current is not None else None
        self.all = store_comp.list_composites(self.project, with_objects=True) if self.project else []
        self.rejections = store_comp.rejections(self.project) if self.project else self.rejections
        self.apply(keep)

    def apply(self, keep_id: int | None = None) -> None:
        f = self.filters
        out = []
        for c in self.all:
            if f.split and c.split != f.split or f.method and c.method != f.method:
                continue
            if f.camera_id is not None and c.camera_id != f.camera_id:
                continue
            if f.bucket is not None and not any(bucket_of(o.occlusion) == f.bucket for o in c.objects):
                continue
            if f.has_rejected and not self.has_rejected(c):
                continue
            out.append(c)
        self.shown = out
        ids = [c.id for c in out]
        self.index = ids.index(keep_id) if keep_id in ids else min(self.index, max(len(out) - 1, 0))

    @property
    def current(self):
        return self.shown[self.index] if 0 <= self.index < len(self.shown) else None

    def step(self, delta: int) -> None:
        if self.shown:
            self.index = max(0, min(len(self.shown) - 1, self.index + delta))

    def rejected_objects(self, comp) -> set[int]:
        return {i for (cid, i) in self.rejections["objects"] if cid == comp.id}

    def is_rejected(self, comp) -> bool:
        return comp.id in self.rejections["composites"]

    def has_rejected(self, comp) -> bool:
        return self.is_rejected(comp) or bool(self.rejected_objects(comp))

    def twin(self, comp):
        """The other method's composite of the same camera, split, seed and background (WALT3D <-> WALT2D)."""
        if comp is None:
            return None
        want = "walt2d" if comp.method == "walt3d" else "walt3d"
        for c in self.all:
            if (c.method, c.camera_id, c.split, c.seed, c.window_key) == (want, comp.camera_id, comp.split,
                                                                          comp.seed, comp.window_key):
                return c
        return None

    def image(self, comp) -> np.ndarray:
        import cv2

        img = cv2.imread(str(Path(self.project.root) / comp.image_path), cv2.IMREAD_COLOR)
        if img is None:
            from ...errors import BadInputError

            raise BadInputError(f"Composite {comp.id}'s image {comp.image_path} is missing.",
                                "Re-run the compositor, or delete that composite.")
        return img[..., ::-1].copy()

    def arrays(self, comp) -> dict | None:
        if not comp.arrays_path:
            return None
        p = Path(self.project.root) / comp.arrays_path
        if not p.is_file():
            return None
        with np.load(p) as z:
            return {k: z[k] for k in ("depth", "normal", "instance") if k in z}

    def histogram(self, method: str = "walt3d") -> dict[str, np.ndarray]:
        """{split: counts per occlusion bucket} over unrejected objects of unrejected composites."""
        out = {s: np.zeros(len(BUCKETS), int) for s in store_comp.SPLITS}
        for c in self.all:
            if c.method != method or self.is_rejected(c):
                continue
            rej = self.rejected_objects(c)
            for o in c.objects:
                if o.idx not in rej:
                    out[c.split][bucket_of(o.occlusion)] += 1
        return out
