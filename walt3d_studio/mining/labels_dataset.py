"""Occlusion labels as a dataset: export to COCO JSON (one image per object crop) and import back.

Export writes FILE (COCO JSON, loadable by pycocotools) and the crops beside it in FILE's stem + "_crops/".
Each image is one labelled detection's RGBA crop; its single annotation carries the crop-frame box and RLE
mask, the category, ``occlusion_label`` (U / O / X) and a ``walt3d`` block saying where it came from (camera,
source file, exact source frame index, box in the frame, detection and track ids, who labelled it, what the
machine said). Import matches annotations to this project's detections by camera, source file name, source
frame index and box (IoU >= 0.9 with a detection of that frame), and appends the labels as one undoable edit.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from ..atomic import remove_stale, staging_folder, swap_in
from ..errors import BadInputError
from ..jobs import JobContext, silent

CATEGORY_IDS = {"car": 1, "person": 2, "other": 3}
FORMAT = "walt3d-occlusion-labels"


def export_labels(project, path, camera_id: int | None = None, ctx: JobContext | None = None) -> int:
    """Write the labelled detections (their effective human label) as a COCO dataset; returns how many."""
    from ..store.detections import detection_table
    from .crops import crop_bytes, decode_png_rgba, ensure_crops
    from .detection import encode_local_mask

    ctx = ctx or silent()
    path = Path(path)
    t = detection_table(project, camera_id=camera_id)
    keep = np.array([lab is not None for lab in t.label], bool)
    if not keep.any():
        raise BadInputError("No detection has a human occlusion label to export.",
                            "Label detections U / O / X first (review panel, or `walt3d labels import`).")
    if not project.readonly:  # a read-only project cannot store new crops: export those it has
        ensure_crops(project, t.id[keep], ctx)
        t = detection_table(project, camera_id=camera_id)
    keep = np.array([lab is not None and bool(c) for lab, c in zip(t.label, t.crop_path)], bool)
    if not keep.any():
        raise BadInputError("No labelled detection has a crop to export in this read-only project.",
                            "Open the project for writing once so the crops can be made, then export.")
    from ..store.detections import label_authors
    from ..store.frames import frame_sources

    frames = frame_sources(project)
    own = label_authors(project)
    crops_dir = path.with_name(path.stem + "_crops")
    # The whole export (crops and JSON) is built beside the target and swapped in at the end: a failure (full
    # disk, a kill) leaves the previous export whole and no temporary behind (stale ones are cleared first).
    tmp_dir = staging_folder(crops_dir)
    images, anns = [], []
    try:
        remove_stale(path)
        for n, i in enumerate(np.flatnonzero(keep), 1):
            did = int(t.id[i])
            fr = frames[int(t.frame_id[i])]
            cam, W, H, src = fr["camera"], fr["width"], fr["height"], fr["source_path"]
            png = crop_bytes(project.root / t.crop_path[i])  # a plain file or a span of a run's pack
            rgba = decode_png_rgba(png)
            name = f"{did}.png"
            _write_crop(tmp_dir / name, png)
            h, w = rgba.shape[:2]
            rle = encode_local_mask(rgba[..., 3] > 127, 0, 0, w, h)
            images.append({"id": n, "file_name": f"{crops_dir.name}/{name}", "width": w, "height": h,
                           "walt3d": {"camera": cam, "source": Path(src).name, "source_index": int(t.source_index[i]),
                                      "capture_time": float(t.capture_time[i]), "frame_size": [W, H],
                                      "frame_box": [float(v) for v in t.box[i]]}})
            anns.append({"id": n, "image_id": n, "category_id": CATEGORY_IDS.get(t.category[i], 3),
                         "bbox": [0, 0, w, h], "area": float(np.count_nonzero(rgba[..., 3] > 127)),
                         "segmentation": rle, "iscrowd": 0, "occlusion_label": t.label[i],
                         "walt3d": {"detection_id": did, "track_id": int(t.track_id[i]),
                                    "label_on": "detection" if did in own else "track", "who": own.get(did),
                                    "machine_verdict": t.machine_verdict[i], "decided_by": t.decided_by[i],
                                    "rule_verdict": t.rule_verdict[i],
                                    "p_unoccluded": None if np.isnan(t.p_unoccluded[i]) else float(t.p_unoccluded[i]),
                                    "score": float(t.score[i])}})
            ctx.progress(n, int(keep.sum()), "exporting labels")
        doc = {"info": {"description": "WALT3D Studio occlusion labels", "format": FORMAT, "version": 1,
                        "project": project.name, "date_created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
               "licenses": [],
               "categories": [{"id": i, "name": n, "supercategory": "object"} for n, i in CATEGORY_IDS.items()],
               "occlusion_labels": {"U": "unoccluded", "O": "occluded", "X": "not an object"},
               "images": images, "annotations": anns}
        json_tmp = tmp_dir / ".labels.json"
        json_tmp.write_text(json.dumps(doc))
        final_json = tmp_dir.with_name(f".{path.name}.{tmp_dir.name}.tmp")
        os.replace(json_tmp, final_json)  # beside the target; swapped in with the crops
        swap_in([(tmp_dir, crops_dir), (final_json, path)])
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        remove_stale(path)
        raise
    return len(anns)


def import_labels(project, path, who: str = "import", ctx: JobContext | None = None):
    """Append the file's labels to the matching detections as one edit (one transaction at the end: a cancelled
    import stores nothing). Returns (LabelEdit, matched, unmatched)."""
    from ..store.detections import LABELS, LabelChange, apply_label_changes, frame_boxes, own_labels
    from ..store.frames import frames_by_source_index
    from .detection import box_iou

    ctx = ctx or silent()

    path = Path(path)
    from .. import validate as V

    hint = "Give a file written by `walt3d labels export`."
    doc = V.read_json_file(path, hint)
    try:
        images = {V.integer(im["id"], "image id"): im for im in doc["images"]}
        anns = doc["annotations"]
        if not isinstance(anns, list):
            raise TypeError("annotations is not a list")
    except (V.Invalid, KeyError, TypeError) as e:
        raise BadInputError(f"{path.name} is not an occlusion-label dataset ({type(e).__name__}: {e}).",
                            "Give a file written by `walt3d labels export`.") from None
    cams = {c.name: c.id for c in project.cameras()}
    frame_of = frames_by_source_index(project)
    wanted: dict[int, str] = {}
    unmatched = 0
    for n, a in enumerate(anns, 1):
        ctx.progress(n - 1, len(anns), "matching labels")
        try:  # every field checked before anything is stored
            value = a["occlusion_label"]
            w = images[V.integer(a["image_id"], "image_id")]["walt3d"]
            if not isinstance(w["camera"], str) or not isinstance(w["source"], str):
                raise TypeError("camera and source must be names")
            key = (cams.get(w["camera"]), w["source"], V.integer(w["source_index"], "source_index"))
            box = np.asarray(V.box(w["frame_box"], "frame_box"), float)
            if not isinstance(value, (str, type(None))):
                raise TypeError("occlusion_label must be U, O or X")
        except (KeyError, TypeError, ValueError) as e:
            raise BadInputError(f"{path.name}: annotation {a.get('id', '?') if isinstance(a, dict) else '?'} lacks "
                                f"the walt3d fields ({e}). Nothing was imported.",
                                "Give a file written by `walt3d labels export`.") from None
        if value not in LABELS:
            raise BadInputError(f"{path.name}: annotation {str(a.get('id'))[:40]} has label {str(value)[:20]!r}. "
                                "Nothing was imported.",
                                "Labels are U, O or X.")
        fid = frame_of.get(key)
        if fid is None:
            unmatched += 1
            continue
        ids, boxes = frame_boxes(project, fid)
        if not ids:
            unmatched += 1
            continue
        iou = box_iou(box[None], boxes)[0]
        j = int(np.argmax(iou))
        if iou[j] < 0.9:
            unmatched += 1
            continue
        wanted[ids[j]] = value
    ctx.progress(len(anns), len(anns), "matching labels")
    ctx.check()
    if not wanted:
        raise BadInputError(f"None of the {len(anns)} labels in {path.name} matches a detection of this project.",
                            "Import labels into the project (and mining run) they were exported from.")
    own = own_labels(project.conn, sorted(wanted))
    changes = [LabelChange("detection", d, own.get(d), v) for d, v in sorted(wanted.items()) if own.get(d) != v]
    from ..store.detections import LabelEdit

    edit = apply_label_changes(project, changes, who, f"import {len(changes)} labels") if changes \
        else LabelEdit([], who)
    return edit, len(wanted), unmatched


def _write_crop(path: Path, png: bytes) -> None:
    """One crop of the export, into its staging folder (swapped in whole at the end)."""
    path.write_bytes(png)
