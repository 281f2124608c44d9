"""The vehicle (and person) keypoint dataset as COCO keypoints JSON: codec, project export and import.

COCO form: each category carries `keypoints` (names) and a 1-based `skeleton`, plus `walt3d.schema` and
`walt3d.flip_pairs` (0-based); annotations carry `bbox` (the amodal box), `keypoints` as [x, y, v] triplets
(v = 0 absent, 1 labelled but occluded, 2 visible), `num_keypoints` (v > 0), `area`, `iscrowd` and a `walt3d`
block (detection id, camera, frame, track) that lets an export be imported back into its project without loss.
Images are either per-object crops (`images/det<ID>.png`, keypoints in crop pixels; the image's `walt3d` block
says where the crop lies in the frame) or whole frames (`images/<camera>_<frame id>.jpg`).

Files are written atomically (temp file + os.replace). Qt-free.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, remove_stale, staging_folder
from ..errors import BadInputError
from ..keypoint_schema import KeypointSchema, builtin_schemas, load_schema, schema_from_dict
from .keypoint_records import KeypointDataset, KpAnnotation, KpImage  # noqa: F401 (importable from here)
from .. import validate as V
from ..validate import path_under, safe_file_part

EXTERNAL_DIR = Path("keypoints") / "external"
_IMAGE_KEYS = {"id", "file_name", "width", "height", "walt3d"}
_ANN_KEYS = {"id", "image_id", "category_id", "bbox", "keypoints", "num_keypoints", "area", "segmentation",
             "iscrowd", "walt3d"}


# -- codec -----------------------------------------------------------------------------------------

def _num(v: float):
    v = round(float(v), 3) + 0.0
    return int(v) if v.is_integer() else v


def to_coco(ds: KeypointDataset) -> dict:
    """The dataset as a COCO keypoints dict (loadable by pycocotools, detectron2, mmpose)."""
    cat_ids = {name: i + 1 for i, name in enumerate(ds.schemas)}
    images = []
    for im in ds.images:
        d = {"id": int(im.id), "file_name": im.file_name, "width": im.width, "height": im.height, **im.other}
        if im.extra:
            d["walt3d"] = im.extra
        images.append(d)
    anns = []
    for a in ds.annotations:
        kp = np.asarray(a.keypoints, dtype=np.float64)
        flat = []
        for x, y, v in kp:
            flat += [_num(x), _num(y), int(v)]
        d = {"id": int(a.id), "image_id": int(a.image_id), "category_id": cat_ids[a.schema],
             "bbox": [_num(v) for v in a.bbox], "keypoints": flat, "num_keypoints": int((kp[:, 2] > 0).sum()),
             "area": _num(a.area if a.area is not None else a.bbox[2] * a.bbox[3]), "iscrowd": int(a.iscrowd),
             **a.other}
        if a.segmentation is not None:
            d["segmentation"] = a.segmentation
        if a.extra:
            d["walt3d"] = a.extra
        anns.append(d)
    out = {"info": {"description": "WALT3D Studio keypoint dataset", "date_created": time.strftime("%Y-%m-%d"),
                    **ds.info},
           "licenses": [], "images": images, "annotations": anns,
           "categories": [s.coco_category(cat_ids[n]) for n, s in ds.schemas.items()]}
    if ds.image_root is not None:
        out["walt3d"] = {"image_root": ds.image_root}
    return out


def _category_schema(cat: dict, source: str) -> KeypointSchema:
    names = cat.get("keypoints")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise BadInputError(f"{source}: category {str(cat.get('name'))[:40]!r} has keypoints that are not a list of "
                            "names.", "A COCO keypoint category lists its keypoint names.")
    w = cat.get("walt3d") or {}
    if not isinstance(w, dict):
        w = {}
    wanted = w.get("schema")
    for name in ([wanted] if wanted in builtin_schemas() else []) + builtin_schemas():
        s = load_schema(name)
        if list(s.keypoints) == list(names):
            return s
    skel = cat.get("skeleton") or []
    try:
        skeleton = [[V.integer(a) - 1, V.integer(b) - 1] for a, b in skel]  # COCO skeletons are 1-based
    except (TypeError, ValueError):  # V.Invalid is a ValueError
        raise BadInputError(f"{source}: category {cat.get('name')!r} has a malformed skeleton.",
                            "A COCO skeleton is a list of 1-based [a, b] pairs.") from None
    return schema_from_dict({"name": wanted or str(cat.get("name")), "category": str(cat.get("name")),
                             "keypoints": list(names), "skeleton": skeleton,
                             "flip_pairs": w.get("flip_pairs", [])}, source=f"{source} (category {cat.get('name')})")


def from_coco(data: dict, source: str = "COCO file") -> KeypointDataset:
    """Parse a COCO keypoints dict; categories without `keypoints` and their annotations are left out.
    Raises BadInputError naming the annotation for malformed keypoints or a visibility other than 0/1/2."""
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list) \
            or not isinstance(data.get("images"), list) or not isinstance(data.get("categories"), list):
        raise BadInputError(f"{source} is not a COCO file (it needs images, annotations and categories lists).",
                            "Give a COCO keypoints JSON file, or --carfusion for CarFusion text files.")
    schemas: dict[int, KeypointSchema] = {}
    for cat in data["categories"]:
        if isinstance(cat, dict) and cat.get("keypoints"):
            try:
                cid = V.integer(cat.get("id"), "id")
            except V.Invalid as e:
                raise BadInputError(f"{source}: category {str(cat.get('name'))[:40]!r}: {e}. Nothing was imported.",
                                    "Every COCO category needs an integer id.") from None
            schemas[cid] = _category_schema(cat, source)
    if not schemas:
        raise BadInputError(f"{source} has no keypoint categories (no category lists `keypoints`).",
                            "Give a COCO keypoints file.")
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    w3 = data.get("walt3d") if isinstance(data.get("walt3d"), dict) else {}
    root = w3.get("image_root") if isinstance(w3.get("image_root"), str) else None
    ds = KeypointDataset(schemas={s.name: s for s in schemas.values()}, info=dict(info), image_root=root)
    for im in data["images"]:
        try:
            if not isinstance(im, dict) or not isinstance(im.get("file_name"), str):
                raise V.Invalid("no file_name")
            size = [None if im.get(k) is None else V.integer(im.get(k), k) for k in ("width", "height")]
            if any(v is not None and not 0 < v <= 100_000 for v in size):
                raise V.Invalid(f"size {size} out of range")
            w3 = im.get("walt3d") or {}
            if not isinstance(w3, dict):
                raise V.Invalid("walt3d is not an object")
            if "crop_origin" in w3:  # where a crop lies in its frame: used to map its keypoints back
                co = w3["crop_origin"]
                if not isinstance(co, list) or len(co) != 2:
                    raise V.Invalid("walt3d.crop_origin must be [x0, y0]")
                [V.finite(v, "walt3d.crop_origin") for v in co]
                if V.finite(w3.get("crop_scale", 1.0), "walt3d.crop_scale") <= 0:
                    raise V.Invalid("walt3d.crop_scale must be > 0")
            for k in ("detection_id", "frame_id"):
                if w3.get(k) is not None:
                    V.integer(w3[k], f"walt3d.{k}")
            ds.images.append(KpImage(V.integer(im.get("id"), "id"), im["file_name"], size[0], size[1], dict(w3),
                                     {k: v for k, v in im.items() if k not in _IMAGE_KEYS}))
        except V.Invalid as e:
            raise BadInputError(f"{source}: image {str(im.get('id') if isinstance(im, dict) else im)[:40]} is "
                                f"malformed ({e}). Nothing was imported.",
                                "Every COCO image needs an integer id, a file_name and whole-pixel width/height.") from None
    image_ids = {im.id for im in ds.images}
    bad_v = []
    for a in data["annotations"]:
        if not isinstance(a, dict):
            raise BadInputError(f"{source}: an annotation is not an object ({str(a)[:40]}). Nothing was imported.",
                                "Every COCO annotation is a JSON object.")
        cat = a.get("category_id")
        if isinstance(cat, (dict, list)) or cat not in schemas:
            continue
        sch = schemas[cat]
        aid = a.get("id")
        kp = a.get("keypoints")
        if not isinstance(kp, list) or len(kp) != 3 * len(sch):
            raise BadInputError(f"{source}: annotation {str(aid)[:40]} has {len(kp) if isinstance(kp, list) else 'no'} "
                                f"keypoint values; category {sch.category!r} needs {3 * len(sch)} ({len(sch)} x [x, y, v]).",
                                "Fix or remove that annotation.")
        try:  # every value up front: integer ids, finite coordinates and box, a detection id that is an integer
            aid = V.integer(aid, "id")
            V.integer(a.get("image_id"), "image_id")
            for v in kp:
                V.finite(v, "keypoint value")
            bb = a.get("bbox")
            if not isinstance(bb, list) or len(bb) != 4 or any(v < 0 for v in [V.finite(c, "bbox") for c in bb][2:]):
                raise V.Invalid(f"bbox must be [x, y, w, h] with w, h >= 0, not {str(bb)[:40]}")
            if a.get("area") is not None:
                V.finite(a.get("area"), "area")
            V.integer(a.get("iscrowd", 0), "iscrowd")
            w3 = a.get("walt3d") or {}
            if not isinstance(w3, dict):
                raise V.Invalid("walt3d is not an object")
            for k in ("detection_id", "frame_id"):
                if w3.get(k) is not None:
                    V.integer(w3[k], f"walt3d.{k}")
        except V.Invalid as e:
            raise BadInputError(f"{source}: annotation {str(aid)[:40]}: {e}. Nothing was imported.",
                                "Fix or remove that annotation.") from None
        arr = np.asarray(kp, dtype=np.float64).reshape(-1, 3)
        if not np.all(np.isin(arr[:, 2], (0, 1, 2))):
            bad_v.append((aid, sorted({float(v) for v in arr[:, 2] if v not in (0, 1, 2)})))
            continue
        if a.get("image_id") not in image_ids:
            raise BadInputError(f"{source}: annotation {aid} refers to image {a.get('image_id')}, which is not listed.",
                                "Fix the file's images list.")
        bbox = a.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise BadInputError(f"{source}: annotation {aid} has no [x, y, w, h] bbox.", "Every annotation needs a bbox.")
        ds.annotations.append(KpAnnotation(
            int(aid), int(a["image_id"]), sch.name, tuple(float(v) for v in bbox), arr,
            None if a.get("area") is None else float(a["area"]), a.get("segmentation"), int(a.get("iscrowd", 0)),
            dict(a.get("walt3d") or {}), {k: v for k, v in a.items() if k not in _ANN_KEYS}))
    if bad_v:
        ids = ", ".join(f"{i} (v={'/'.join(f'{v:g}' for v in vs)})" for i, vs in bad_v[:5])
        raise BadInputError(f"{source}: {len(bad_v)} annotation(s) have keypoint visibility other than 0, 1, 2: {ids}"
                            + (" ..." if len(bad_v) > 5 else "") + ".",
                            "COCO visibility is 0 absent, 1 labelled but occluded, 2 visible; fix those values.")
    return ds


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, separators=(",", ":"))


def write_coco(ds: KeypointDataset, path: str | os.PathLike) -> None:
    write_json_atomic(path, to_coco(ds))


def read_coco(path: str | os.PathLike) -> KeypointDataset:
    path = Path(path).expanduser()
    try:
        data = V.read_json_file(path, "Give a COCO keypoints JSON file.")
    except BadInputError as e:
        if "does not exist" in e.message:
            raise
        raise BadInputError(f"Cannot read {path.name} as JSON: {e.message}", e.hint) from None
    if V.depth(data) > V.MAX_DEPTH:
        raise BadInputError(f"{path.name} is nested more than {V.MAX_DEPTH} levels deep.", "Give a COCO keypoints JSON file.")
    ds = from_coco(data, source=path.name)
    if ds.image_root is None:
        ds.image_root = str(path.resolve().parent)
    return ds


# -- the project's dataset -------------------------------------------------------------------------

@dataclass
class ExportSummary:
    path: Path
    images: int
    annotations: int
    from_frames: int  # crops that had to be cut from decoded frames


def _save_image(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    fmt = "PNG" if path.suffix.lower() == ".png" else "JPEG"
    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(arr)).save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))


def export_keypoints(project, out_path: str | os.PathLike, *, images: str = "crops",
                     schemas: tuple[str, ...] = ("vehicle12",), camera_id: int | None = None,
                     write_images: bool = True, ctx=None) -> ExportSummary:
    """Write the project's human keypoints as COCO keypoints JSON (+ images/ beside it)."""
    from ..jobs import silent
    from ..store import keypoints as kstore

    if images not in ("crops", "frames"):
        raise BadInputError(f"Unknown image mode {images!r}.", "Use crops or frames.")
    ctx = ctx or silent()
    out_path = Path(out_path).expanduser()
    final_img_dir = out_path.parent / "images"
    # Images are built in a folder beside images/ and moved in only once all of them (and the JSON) are done, so
    # a failure leaves the previous export as it was and no temporary behind.
    img_dir = staging_folder(final_img_dir) if write_images else final_img_dir
    ds = KeypointDataset(schemas={s.name: s for s in (kstore.resolve_schema(n, project) for n in schemas)},
                         info={"project": project.name, "images": images})
    rows = [r for name in ds.schemas for r in kstore.human_labelled(project, schema=name, camera_id=camera_id)]
    dets = {d.id: d for d in kstore.detections(project, [r.detection_id for r in rows])}
    cams = {c.id: c for c in project.cameras()}
    try:
        _export_rows(project, ds, rows, dets, cams, images, img_dir, write_images, ctx)
        from_frames = ds.info.pop("_from_frames", 0)
        json_tmp = out_path.parent / f".{out_path.name}.{img_dir.name}.tmp"
        write_coco(ds, json_tmp)
        if write_images:
            final_img_dir.mkdir(parents=True, exist_ok=True)
            for f in sorted(img_dir.iterdir()):  # each image replaced atomically; others' images stay
                path_under(final_img_dir, f.name)
                os.replace(f, final_img_dir / f.name)
        os.replace(json_tmp, out_path)
    except BaseException:
        remove_stale(out_path)
        raise
    finally:
        if write_images:
            shutil.rmtree(img_dir, ignore_errors=True)
    ctx.progress(len(rows), len(rows), "done")
    return ExportSummary(out_path, len(ds.images), len(ds.annotations), from_frames)


def _export_rows(project, ds, rows, dets, cams, images, img_dir, write_images, ctx) -> None:
    from .crops import CropSource

    seen_frames: set[int] = set()
    seen_crops: set[int] = set()
    readers: dict[int, object] = {}
    with CropSource(project) as src:
        try:
            for i, r in enumerate(rows):
                ctx.progress(i, len(rows), "exporting keypoints")
                det = dets[r.detection_id]
                cam = cams[det.camera_id]
                extra = {"detection_id": det.id, "frame_id": det.frame_id, "camera": cam.name,
                         "track_id": det.track_id, "capture_time": det.capture_time, "who": r.who}
                pts = r.points.copy()
                if images == "crops":
                    crop = src.crop(det)
                    name = f"det{det.id}.png"
                    if det.id not in seen_crops:
                        seen_crops.add(det.id)
                        if write_images:
                            _save_image(path_under(img_dir, name), crop.image)
                        h, w = crop.image.shape[:2]
                        ds.images.append(KpImage(det.id, f"images/{name}", w, h,
                                                 {"detection_id": det.id, "frame_id": det.frame_id, "camera": cam.name,
                                                  "crop_origin": [crop.x0, crop.y0], "crop_scale": crop.scale}))
                    pts[:, :2] = np.where(pts[:, 2:] > 0, crop.to_crop(pts[:, :2]), 0.0)
                    bbox, image_id, seg = crop.box_to_crop(det.box), det.id, None
                else:
                    name = f"{safe_file_part(cam.name)}_{det.frame_id}.jpg"  # never a path, whatever the name
                    if det.frame_id not in seen_frames:
                        seen_frames.add(det.frame_id)
                        if write_images:
                            if det.camera_id not in readers:
                                readers[det.camera_id] = project.frame_reader(det.camera_id)
                            reader = readers[det.camera_id]
                            pos = int(np.flatnonzero(reader.table.ids == det.frame_id)[0])
                            _save_image(path_under(img_dir, name), reader.frame(pos))
                        ds.images.append(KpImage(det.frame_id, f"images/{name}", cam.width, cam.height,
                                                 {"frame_id": det.frame_id, "camera": cam.name,
                                                  "capture_time": det.capture_time}))
                    bbox, image_id = det.box, det.frame_id
                    seg = json.loads(det.mask_rle) if det.mask_rle else None
                area = None
                if seg is not None:
                    from pycocotools import mask as mask_util

                    rle = dict(seg)
                    if isinstance(rle.get("counts"), str):
                        rle["counts"] = rle["counts"].encode()
                    area = float(mask_util.area(rle))
                ds.annotations.append(KpAnnotation(det.id, image_id, r.schema, tuple(bbox), pts, area, seg, 0, extra))
        finally:
            for rd in readers.values():
                rd.close()
        ds.info["_from_frames"] = src.from_frames


@dataclass
class ImportSummary:
    updated: int = 0          # detections whose human keypoints were set from the file
    unchanged: int = 0        # detections whose human keypoints already matched
    external: int = 0         # annotations kept as extra training data (not objects of this project)
    missing_images: int = 0   # external annotations left out because their image file is missing
    issues: list[str] = field(default_factory=list)  # lines or annotations reported, not guessed
    external_path: Path | None = None

    def summary(self) -> str:
        s = (f"{self.updated} detection(s) updated, {self.unchanged} unchanged, {self.external} external "
             f"annotation(s) kept for training")
        if self.missing_images:
            s += f", {self.missing_images} left out (image missing)"
        if self.issues:
            s += f", {len(self.issues)} issue(s) reported"
        return s


_FAMILIES = {"vehicle": {"vehicle", "car", "truck", "bus", "van"}, "person": {"person", "pedestrian", "people"}}


def _family(names) -> str | None:
    for fam, words in _FAMILIES.items():
        if any(str(n).lower() in words for n in names):
            return fam
    return None


def _fits(schema: KeypointSchema, detection_category: str | None) -> bool:
    """Whether a schema's keypoints may be stored on a detection of this class (vehicle points never on a
    person or an 'other'); a custom schema of a class we cannot tell is allowed."""
    if detection_category is not None and schema.applies_to(detection_category):
        return True
    fam = _family([schema.category, *getattr(schema, "detection_categories", ())])
    return fam is None or _family([detection_category or "other"]) == fam


def _frame_points(images: dict[int, KpImage], a: KpAnnotation) -> np.ndarray:
    """An annotation's keypoints in frame coordinates (undoing a crop export)."""
    im = images.get(a.image_id)
    pts = np.array(a.keypoints, dtype=np.float64)
    if im is not None and "crop_origin" in im.extra:
        x0, y0 = im.extra["crop_origin"]
        s = float(im.extra.get("crop_scale", 1.0))
        lab = pts[:, 2] > 0
        pts[lab, 0] = pts[lab, 0] / s + x0
        pts[lab, 1] = pts[lab, 1] / s + y0
    return np.round(pts, 3)


def import_keypoints(project, path: str | os.PathLike | None = None, *, dataset: KeypointDataset | None = None,
                     carfusion: bool = False, image_dir: str | None = None, who: str | None = None,
                     ctx=None) -> ImportSummary:
    """Bring a keypoint dataset into the project.

    Annotations whose `walt3d.detection_id` is a detection of this project on the same frame set that
    detection's human keypoints (one transaction for the whole file; unchanged ones are not rewritten).
    Everything else (e.g. CarFusion) is kept as extra training data in keypoints/external/NAME.json."""
    from ..store import keypoints as kstore

    summary = ImportSummary()
    if dataset is None:
        if path is None:
            raise ValueError("give a path or a dataset")
        if carfusion:
            from .carfusion import read_carfusion

            dataset, report = read_carfusion(path, image_dir=image_dir)
            summary.issues += report.messages()
        else:
            dataset = read_coco(path)
    name = Path(path).stem if path is not None else "dataset"
    from ..store.detections import detection_columns

    ids = [int(a.extra["detection_id"]) for a in dataset.annotations if isinstance(a.extra.get("detection_id"), int)]
    known = detection_columns(project, ids, ("frame_id", "category"))
    frames = {d: r["frame_id"] for d, r in known.items()}
    categories = {d: r["category"] for d, r in known.items()}
    to_write, external = [], []
    images = {im.id: im for im in dataset.images}
    for a in dataset.annotations:
        det_id = a.extra.get("detection_id")
        if isinstance(det_id, int) and det_id in frames and frames[det_id] == a.extra.get("frame_id", frames[det_id]):
            pts = _frame_points(images, a)
            sch = dataset.schemas[a.schema]
            cat = categories.get(det_id)
            if not _fits(sch, cat):  # vehicle points on a person (or 'other') are not stored
                summary.issues.append(f"annotation {a.id}: {sch.name} keypoints ({sch.category}) for detection "
                                      f"{det_id}, which is a {cat!r}; not stored")
                continue
            cur = kstore.human_keypoints(project, det_id, schema=sch)
            if cur is not None and np.array_equal(cur.points, pts):
                summary.unchanged += 1
            else:
                to_write.append((det_id, sch, pts))
        else:
            external.append(a)
    summary.updated = kstore.import_human_keypoints(project, to_write, who=who or f"import:{name}")
    if external:
        root = Path(dataset.image_root or (Path(path).parent if path else ".")).resolve()
        keep = []
        for a in external:
            im = images.get(a.image_id)
            if im is None or not (root / im.file_name).is_file():
                summary.missing_images += 1
                summary.issues.append(f"annotation {a.id}: image {im.file_name if im else a.image_id} not found under {root}")
            else:
                keep.append(a)
        if keep:
            used = {a.image_id for a in keep}
            ext = KeypointDataset([images[i] for i in sorted(used)], keep,
                                  {n: dataset.schemas[n] for n in {a.schema for a in keep}}, dict(dataset.info),
                                  str(root))
            dest = project.root / EXTERNAL_DIR / f"{name}.json"
            write_coco(ext, dest)
            summary.external, summary.external_path = len(keep), dest
    return summary


def external_datasets(project) -> list[tuple[str, KeypointDataset, str]]:
    """(name, dataset, image root) of every keypoint dataset imported as extra training data."""
    out = []
    for p in sorted((project.root / EXTERNAL_DIR).glob("*.json")):
        ds = read_coco(p)
        out.append((p.stem, ds, ds.image_root or str(p.parent)))
    return out
