"""One-click export of the composites as an amodal dataset (DESIGN: "Datasets the program writes").

Layout of a dataset folder (file names in the JSON are relative to the dataset folder)::

    images/<split>/<image_id>.png     the composites, privacy treatment applied
    annotations/<split>.json          COCO (or KINS names) per split
    arrays/<split>.h5                 per image depth / normal / instance, per annotation the 3D arrays
    manifest.json                     versions, seeds, settings, counts, checksums
    README.md, occlusion.png          the dataset card

Rejected composites and rejected objects are left out (a rejected object's pixels are 65535, "ignore", in the
instance map; it still hides what is behind it). Everything is written into a temporary folder beside OUT and
renamed at the end, so a cancel or a failure leaves no OUT.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import struct
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import __version__
from ..atomic import atomic_folder
from ..errors import BadInputError
from ..jobs import JobContext
from ..store import composites as store_comp
from ..store import datasets as store_ds
from ..store.runs import recorded_run
from .arrays_h5 import IGNORE_INSTANCE, ArraysWriter
from .privacy import apply_privacy, check_blur

FORMATS = ("coco-amodal", "kins")
CATEGORIES = (("vehicle", "vehicle12"), ("person", "person17"))  # category id = position + 1
# DESIGN names -> KINS names
KINS_NAMES = {"segmentation": "a_segm", "visible_segmentation": "i_segm", "bbox": "a_bbox",
              "visible_bbox": "i_bbox", "area": "a_area", "visible_area": "i_area"}
JSON_SKIP = ("joints", "vertices")  # big arrays live in the HDF5 only
WORKERS = max(1, min(4, os.cpu_count() or 1))


@dataclass
class ExportSettings:
    fmt: str = "coco-amodal"
    blur: tuple = ("faces", "plates")
    arrays: bool = True
    methods: tuple = ("walt3d",)
    seed: int = 0  # the export draws nothing at random; kept for the one stage shape

    def check(self) -> "ExportSettings":
        if self.fmt not in FORMATS:
            raise BadInputError(f"Unknown dataset format {self.fmt!r}.", f"Use one of {', '.join(FORMATS)}.")
        bad = [m for m in self.methods if m not in store_comp.METHODS]
        if bad or not self.methods:
            raise BadInputError(f"Unknown composite method(s) {', '.join(bad) or '(none)'}.",
                                f"Use any of {', '.join(store_comp.METHODS)}.")
        self.blur = check_blur(self.blur)
        self.methods = tuple(self.methods)
        return self


def categories() -> list[dict]:
    from ..keypoint_schema import load_schema

    return [load_schema(schema).coco_category(i + 1) for i, (_, schema) in enumerate(CATEGORIES)]


def _cat_id(kind: str) -> int:
    for i, (k, _) in enumerate(CATEGORIES):
        if k == kind:
            return i + 1
    raise BadInputError(f"A composite object has unknown kind {kind!r}.", "Re-run the compositor.")


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return struct.unpack(">II", data[16:24])
    return None


def _rle_area(rle: dict) -> float:
    from pycocotools import mask as mask_utils

    r = dict(rle)
    if isinstance(r["counts"], str):
        r["counts"] = r["counts"].encode()
    return float(mask_utils.area(r))


def _enc(rle: dict) -> dict:
    r = dict(rle)
    if isinstance(r["counts"], str):
        r["counts"] = r["counts"].encode()
    return r


def occluders(objects) -> dict[int, list[int]]:
    """{idx: [idx of nearer objects whose visible mask covers part of its amodal mask]}."""
    from pycocotools import mask as mask_utils

    out = {o.idx: [] for o in objects}
    for a in objects:
        for b in objects:
            if b.depth_rank < a.depth_rank:
                inter = mask_utils.merge([_enc(a.amodal_rle), _enc(b.visible_rle)], intersect=True)
                if mask_utils.area(inter) > 0:
                    out[a.idx].append(b.idx)
    return out


def _annotation(obj, ann_id: int, image_id: int, occ_ids: list[int], camera: str, source_frame, fmt: str) -> dict:
    pose = obj.pose or {}
    kp = obj.keypoints
    walt3d = {"track_id": obj.track_id, "detection_id": obj.detection_id, "source_frame_id": source_frame,
              "camera": camera, "category": pose.get("category", obj.kind)}
    walt3d.update({k: v for k, v in pose.items() if k not in JSON_SKIP and k not in walt3d})
    a_area, v_area = _rle_area(obj.amodal_rle), _rle_area(obj.visible_rle)
    ann = {"id": ann_id, "image_id": image_id, "category_id": _cat_id(obj.kind), "iscrowd": 0,
           "segmentation": obj.amodal_rle, "bbox": [float(v) for v in obj.amodal_box], "area": a_area,
           "visible_segmentation": obj.visible_rle, "visible_bbox": [float(v) for v in obj.visible_box],
           "visible_area": v_area, "occlusion": float(obj.occlusion), "depth_rank": int(obj.depth_rank),
           "occluded_by": occ_ids, "track_id": obj.track_id, "walt3d": walt3d}
    if kp is not None:
        ann["keypoints"] = [float(v) for v in kp]
        ann["num_keypoints"] = int(sum(1 for v in kp[2::3] if v > 0))
    else:
        ann["keypoints"], ann["num_keypoints"] = [], 0
    if fmt == "kins":
        for ours, theirs in KINS_NAMES.items():
            ann[theirs] = ann.pop(ours)
        ann["bbox"], ann["area"] = ann["a_bbox"], ann["a_area"]  # what every COCO loader indexes by
        ann["occlude_rate"] = ann["occlusion"]
    return ann


def _remap_instance(instance: np.ndarray, kept_idx: list[int], all_idx: list[int]) -> np.ndarray:
    """Store values (idx + 1) to dataset values (position among the kept annotations + 1; rejected = ignore)."""
    lut = np.zeros(max(all_idx + [0]) + 2, np.uint16)
    for i in all_idx:
        lut[i + 1] = IGNORE_INSTANCE
    for pos, i in enumerate(kept_idx):
        lut[i + 1] = pos + 1
    inst = np.asarray(instance).astype(np.int64)
    inst = np.clip(inst, 0, len(lut) - 1)
    return lut[inst]


def _open(project):
    from ..store import Project

    if hasattr(project, "conn"):
        return project, False
    return Project.open(project), True


def export_dataset(project, out, fmt: str = "coco-amodal", blur=("faces", "plates"), arrays: bool = True,
                   ctx: JobContext | None = None, force: bool = False, methods=("walt3d",)) -> dict:
    """Write the project's (unrejected) composites as a dataset at `out`; returns a summary dict.

    `project` is an open Project or its folder. Refuses an existing `out` unless `force`."""
    settings = ExportSettings(fmt=fmt, blur=blur, arrays=arrays, methods=tuple(methods)).check()
    out = Path(out).expanduser().resolve()
    if out.exists() and not force:
        raise BadInputError(f"{out} already exists.", "Choose a new folder, or pass --force to replace it.")
    ctx = ctx or JobContext()
    project, owned = _open(project)
    try:
        comps = [c for m in settings.methods for c in store_comp.list_composites(project, method=m,
                                                                                 with_objects=True)]
        rej = store_comp.rejections(project)
        comps = [c for c in comps if c.id not in rej["composites"]]
        comps.sort(key=lambda c: (store_comp.SPLITS.index(c.split), c.id))
        if not comps:
            raise BadInputError("There are no (unrejected) composites to export.",
                                "Make composites first (walt3d composite PROJECT), or un-reject some.")
        if settings.arrays and all(c.arrays_path is None for c in comps):
            settings.arrays = False  # nothing to write (e.g. composites of an uncalibrated camera); the card says so
        with recorded_run(project, "export", {**asdict(settings), "out": str(out)}) as rec:
            summary = _write(project, out, comps, rej["objects"], settings, ctx, force)
            summary["dataset_id"] = store_ds.record_dataset(project, str(out), settings.fmt, asdict(settings),
                                                            summary["counts"], summary["checksum"], rec.id)
            rec.counts.update(summary["counts"]["total"])
            summary["run_id"] = rec.id
        return summary
    finally:
        if owned:
            project.close()


def _write(project, out: Path, comps, rejected_objs, settings: ExportSettings, ctx: JobContext, force: bool) -> dict:
    from .card import write_card

    t0 = time.time()
    cams = {c["id"]: c for c in store_ds.camera_rows(project)}
    calib = {cid: project.calibration(cid) for cid in cams}
    det_frames = store_ds.detection_frames(project, [o.detection_id for c in comps for o in c.objects
                                                     if (o.pose or {}).get("source_frame_id") is None])
    cats = categories()
    files: dict[str, str] = {}
    splits: dict[str, dict] = {}
    privacy_counts: dict[str, int] = {}
    image_id = ann_id = 0
    no_arrays: list[int] = []  # images whose composite has no arrays (the rest of the split has them)
    with atomic_folder(out, replace=force) as tmp, ThreadPoolExecutor(WORKERS) as pool:
        h5 = {}
        prepared = _prefetch(pool, lambda c: _prepare(project, c, settings, calib.get(c.camera_id)), comps)
        try:
            for n, comp in enumerate(comps):
                ctx.progress(n, len(comps), f"{comp.split} image {n + 1}")
                sp = splits.setdefault(comp.split, {"images": [], "annotations": []})
                if settings.arrays and comp.split not in h5:
                    of_split = [c for c in comps if c.split == comp.split]
                    h5[comp.split] = ArraysWriter(tmp / "arrays" / f"{comp.split}.h5", len(of_split),
                                                  max(c.n_objects for c in of_split))
                image_id += 1
                data, size, counts, arrays = next(prepared)
                for k, v in counts.items():
                    privacy_counts[k] = privacy_counts.get(k, 0) + v
                rel = f"images/{comp.split}/{image_id:06d}.png"
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp / rel).write_bytes(data)
                files[rel] = hashlib.sha256(data).hexdigest()
                cam_name = cams.get(comp.camera_id, {}).get("name", str(comp.camera_id))
                sp["images"].append({"id": image_id, "file_name": rel, "width": int(size[0]), "height": int(size[1]),
                                     "walt3d": {"composite_id": comp.id, "camera": cam_name,
                                                "camera_id": comp.camera_id, "method": comp.method,
                                                "seed": comp.seed, "background": comp.window_key,
                                                "run_id": comp.run_id}})
                kept = [o for o in comp.objects if (comp.id, o.idx) not in rejected_objs]
                ids = {}
                for o in kept:
                    ann_id += 1
                    ids[o.idx] = ann_id
                occ = occluders(comp.objects)
                for o in kept:
                    frame = (o.pose or {}).get("source_frame_id")
                    frame = frame if frame is not None else det_frames.get(o.detection_id)
                    sp["annotations"].append(_annotation(o, ids[o.idx], image_id,
                                                         [ids[i] for i in occ[o.idx] if i in ids], cam_name,
                                                         frame, settings.fmt))
                    if settings.arrays and comp.arrays_path:
                        h5[comp.split].add_annotation(ids[o.idx], image_id, o.pose or {})
                if settings.arrays and not comp.arrays_path:
                    no_arrays.append(image_id)
                elif settings.arrays:
                    arr = arrays
                    arr["instance"] = _remap_instance(arr["instance"], [o.idx for o in kept],
                                                      [o.idx for o in comp.objects])
                    h5[comp.split].add_image(image_id, arr, [ids[o.idx] for o in kept])
        finally:
            for f in h5.values():
                f.close()
        ctx.progress(len(comps), len(comps), "writing annotations")
        for split, sp in splits.items():
            doc = {"info": {"description": "WALT3D Studio amodal dataset", "version": __version__,
                            "format": settings.fmt, "split": split, "date_created": time.strftime("%Y-%m-%d")},
                   "licenses": [], "images": sp["images"], "annotations": sp["annotations"], "categories": cats}
            rel = f"annotations/{split}.json"
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            data = json.dumps(doc, separators=(",", ":")).encode()
            (tmp / rel).write_bytes(data)
            files[rel] = hashlib.sha256(data).hexdigest()
        for split in splits:
            if settings.arrays:
                rel = f"arrays/{split}.h5"
                files[rel] = _sha256_file(tmp / rel)
        counts = _counts(splits, cats)
        card_files = write_card(tmp, project, splits, cats, counts, settings, comps, privacy_counts)
        for rel in card_files:
            files[rel] = _sha256_file(tmp / rel)
        manifest = {"format": "walt3d-dataset", "version": 1, "annotation_format": settings.fmt,
                    "versions": _versions(), "settings": asdict(settings), "counts": counts,
                    "seeds": sorted({c.seed for c in comps}),
                    "runs": store_ds.runs_by_id(project, {c.run_id for c in comps}),
                    "splits": list(splits), "privacy": {"treatments": list(settings.blur), "regions": privacy_counts},
                    "instance_ignore": IGNORE_INSTANCE, "images_without_arrays": no_arrays,
                    "created_at": time.time(), "files": files}
        mdata = json.dumps(manifest, indent=1).encode()
        (tmp / "manifest.json").write_bytes(mdata)
        ctx.check()  # a cancel up to the last moment leaves no OUT
    return ExportSummary(path=str(out), format=settings.fmt, counts=counts, checksum=hashlib.sha256(mdata).hexdigest(),
                         seconds=time.time() - t0, privacy=privacy_counts, arrays=settings.arrays,
                         images_without_arrays=len(no_arrays))


class ExportSummary(dict):
    """What an export returns: a dict (path, format, counts, checksum, seconds, privacy, ...) with a one-line
    `summary()` for reports."""

    def summary(self) -> str:
        c = self["counts"]
        per = ", ".join(f"{k} {v['images']}" for k, v in c["splits"].items())
        extra = "" if self.get("arrays") else ", no arrays"
        if self.get("images_without_arrays"):
            extra = f", {self['images_without_arrays']} images without arrays"
        return (f"{c['total']['images']} images ({per}), {c['total']['annotations']} annotations{extra} "
                f"→ {self['path']}")


def _prepare(project, comp, settings: ExportSettings, camera) -> tuple:
    """The per-image work that needs no ordering (runs on worker threads; OpenCV and zlib release the GIL):
    read the PNG, blur it, encode it again, load the arrays. Returns (png bytes, (w, h), blur counts, arrays)."""
    src = project.root / comp.image_path
    if not src.is_file():
        raise BadInputError(f"Composite {comp.id}'s image {comp.image_path} is missing.",
                            "Re-run the compositor, or delete that composite.")
    data = src.read_bytes()
    size, counts = _png_size(data), {}
    if settings.blur:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        new, counts = apply_privacy(rgb, comp.objects, settings.blur, camera)
        size = (rgb.shape[1], rgb.shape[0])
        if new is not rgb:
            data = cv2.imencode(".png", cv2.cvtColor(new, cv2.COLOR_RGB2BGR))[1].tobytes()
    elif size is None:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        size = (img.shape[1], img.shape[0])
    arrays = None
    if settings.arrays and comp.arrays_path:
        path = project.root / comp.arrays_path
        if not path.is_file():
            raise BadInputError(f"Composite {comp.id}'s arrays {comp.arrays_path} are missing.",
                                "Re-run the compositor, delete that composite, or export with --no-arrays.")
        with np.load(path) as z:
            arrays = {k: z[k] for k in ("depth", "normal", "instance")}
    return data, size, counts, arrays


def _prefetch(pool, fn, items, ahead: int | None = None):
    """fn over items on the pool, yielded in order, at most `ahead` in flight (bounded memory)."""
    ahead = ahead or 4 * WORKERS
    futures: deque = deque()
    it = iter(items)
    for item in it:
        futures.append(pool.submit(fn, item))
        if len(futures) >= ahead:
            break
    while futures:
        yield futures.popleft().result()
        for item in it:
            futures.append(pool.submit(fn, item))
            break


def _counts(splits: dict, cats: list[dict]) -> dict:
    names = {c["id"]: c["name"] for c in cats}
    out = {"total": {"images": 0, "annotations": 0}, "splits": {}}
    for split, sp in splits.items():
        per_cat: dict[str, int] = {}
        for a in sp["annotations"]:
            per_cat[names[a["category_id"]]] = per_cat.get(names[a["category_id"]], 0) + 1
        out["splits"][split] = {"images": len(sp["images"]), "annotations": len(sp["annotations"]),
                                "categories": per_cat}
        out["total"]["images"] += len(sp["images"])
        out["total"]["annotations"] += len(sp["annotations"])
    return out


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _versions() -> dict:
    import h5py
    import pycocotools

    return {"walt3d_studio": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "opencv": cv2.__version__, "h5py": h5py.__version__,
            "pycocotools": getattr(pycocotools, "__version__", "?")}
