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
    mesh_fn: object = None          # (composite object) -> (vertices_cam, faces) or None; tests' synthetic shapes
    _wires: dict = field(default_factory=dict)

    def reload(self) -> None:
        keep = self.current.id if self.current is not None else None
        self._wires.clear()  # composites may have been re-made under the same ids
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

    def wires(self, comp) -> tuple[dict, str]:
        """({idx: pixel geometry of its stored 3D fit, or None}, a note on what could not be drawn) of a composite,
        through its camera's calibration. Cached per composite (meshes are rebuilt from the stored poses)."""
        from ...composite.wireframe import object_drawing

        if comp.id in self._wires:
            return self._wires[comp.id]
        camera = self.project.calibration(comp.camera_id) if self.project is not None else None
        if camera is None:
            out = ({}, "no wireframes: this camera has no calibration")
        else:
            from ...keypoint_schema import load_schema

            skeleton = load_schema("person17").skeleton
            draw, missing, failed = {}, 0, []
            for o in comp.objects:
                try:
                    mesh = self.mesh_fn(o) if self.mesh_fn is not None else None
                    draw[o.idx] = object_drawing(camera, o.kind, o.pose or {}, mesh, skeleton)
                except Exception as e:  # noqa: BLE001 -- one unreadable fit must not hide the others
                    draw[o.idx] = None
                    failed.append(f"#{o.idx}: {e}")
                missing += draw[o.idx] is None
            note = ""
            if missing:
                note = f"{missing} of {len(comp.objects)} objects have no 3D fit to draw"
                if failed:
                    note += " (" + "; ".join(failed[:2]) + ")"
            out = (draw, note)
        if len(self._wires) > 64:
            self._wires.clear()
        self._wires[comp.id] = out
        return out

    def histogram(self, method: str = "walt3d", kind: str | None = None) -> dict[str, np.ndarray]:
        """{split: counts per occlusion bucket} over unrejected objects (of one class, or all) of unrejected
        composites."""
        out = {s: np.zeros(len(BUCKETS), int) for s in store_comp.SPLITS}
        for c in self.all:
            if c.method != method or self.is_rejected(c):
                continue
            rej = self.rejected_objects(c)
            for o in c.objects:
                if o.idx not in rej and (kind is None or o.kind == kind):
                    out[c.split][bucket_of(o.occlusion)] += 1
        return out

    def target(self, method: str = "walt3d") -> tuple[np.ndarray, str]:
        """(the occlusion histogram the compositor steered to, as fractions per bucket, and where it came from):
        the `target` setting of the runs that made these composites; uniform when none is recorded or the runs
        disagree (said so)."""
        from ...store.runs import get_run

        uniform = np.full(len(BUCKETS), 1.0 / len(BUCKETS))
        targets = set()
        for rid in sorted({c.run_id for c in self.all if c.method == method and c.run_id is not None}):
            run = get_run(self.project, rid)
            t = (run.settings or {}).get("target") if run is not None else None
            if t is not None and len(t) == len(BUCKETS):
                targets.add(tuple(float(v) for v in t))
        if len(targets) == 1:
            t = np.asarray(next(iter(targets)), float)
            return t / max(t.sum(), 1e-12), "the compositor's target"
        if len(targets) > 1:
            return uniform, "runs had different targets: uniform shown"
        return uniform, "uniform target"
