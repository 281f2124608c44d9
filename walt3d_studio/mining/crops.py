"""RGBA crops of detections: written while mining (mined objects), and on demand for the ones a person or the
classifier later marks unoccluded, so that later stages never decode video."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..atomic import write_bytes
from ..jobs import JobContext, silent
from .detection import Detection, decode_rle, rgba_crop


# zlib level 1 with every row filtered "up" (the row above subtracted): OpenCV's default tries all five PNG
# filters on each row, which took half the encoding time of a car-sized crop (2.4 -> 1.1 ms for ~100x100 px on
# this project's 2-core machines) for files only ~4 % smaller. Lossless either way.
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]


def write_png_rgba(path: Path, rgba: np.ndarray, durable: bool = True) -> None:
    """Write an RGBA crop as PNG: atomically and synced to disk, or with `durable=False` as a plain write into a
    folder that exists already and no one reads yet, which its writer syncs once when done
    (`atomic.sync_written`): two fsyncs a crop cost ~0.5-1 ms, more than everything else mining does for a small
    object.

    The plain write is one `cv2.imwrite` (the same PNG bytes as `imencode`; encoding, open, write and close in
    one call without the GIL): mining writes ~20 crops a frame on its thread pool, and each return from a call
    that let the GIL go may wait for another thread to hand it back, so the fewer such calls the better. If
    OpenCV cannot write the path (on Windows it cannot open non-ASCII names), Python writes the bytes."""
    params = _PNG_PARAMS
    bgra = cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)
    if not durable and cv2.imwrite(os.fspath(path), bgra, params):
        return
    ok, buf = cv2.imencode(".png", bgra, params)
    if not ok:
        raise OSError(f"could not encode {os.path.basename(path)}")
    if durable:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, buf.tobytes())
    else:
        Path(path).write_bytes(buf.tobytes())


def read_png_rgba(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(path)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGRA)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)


def detection_from_row(box, rle: dict | None, category: str = "other", score: float = 1.0) -> Detection:
    """Rebuild a Detection (local mask) from what the store holds."""
    if rle is not None:
        full = decode_rle(rle)
        x, y, w, h = (int(round(v)) for v in box)
        d = Detection.from_local_mask(full[y:y + h, x:x + w], x, y, category, score)
        if d is not None:
            return d
    return Detection(category, float(score), tuple(float(v) for v in box))


def ensure_crops(project, detection_ids, ctx: JobContext | None = None) -> int:
    """Write the missing crops of these detections (decoding their frames in capture order). Returns how many."""
    from ..store.detections import detection_rles, detections_without_crops, set_crop_paths

    ctx = ctx or silent()
    rows = detections_without_crops(project, detection_ids)
    if not rows:
        return 0
    rles = detection_rles(project, [r["id"] for r in rows])
    by_cam: dict[int, list] = {}
    for r in rows:
        by_cam.setdefault(r["camera_id"], []).append(r)
    done = 0
    paths: dict[int, str] = {}
    for cam, items in by_cam.items():
        reader = project.frame_reader(cam, cache_bytes=0)
        try:
            pos_of = {int(fid): i for i, fid in enumerate(reader.table.ids)}
            items.sort(key=lambda r: pos_of[r["frame_id"]])
            last_pos, frame = None, None
            for r in items:
                pos = pos_of[r["frame_id"]]
                if pos != last_pos:
                    frame = reader.frame(pos)
                    last_pos = pos
                det = detection_from_row((r["x"], r["y"], r["w"], r["h"]), rles.get(r["id"]))
                rel = Path("arrays") / "crops" / f"cam{cam}" / "extra" / f"{r['id']}.png"
                write_png_rgba(project.root / rel, rgba_crop(frame, det))
                paths[r["id"]] = str(rel)
                done += 1
                ctx.progress(done, len(rows), "writing crops")
        finally:
            reader.close()
    set_crop_paths(project, paths)
    return done


def ensure_mined_crops(project, camera_id: int | None = None, ctx: JobContext | None = None) -> int:
    """Crops for every detection whose effective verdict is unoccluded (a person's U, the classifier's or the
    rule's) that has none yet -- run after labelling, so later stages find every mined object's crop."""
    from ..store.detections import detection_table

    t = detection_table(project, camera_id=camera_id)
    need = t.mined & np.array([not c for c in t.crop_path], bool)
    return ensure_crops(project, t.id[need], ctx) if need.any() else 0


def sweep_orphan_crops(project, camera_id: int) -> int:
    """Remove the crop folders of this camera's mining runs that never reached the store (a `mine` killed before
    its merge). Each run writes its own folder, `arrays/crops/cam<N>/<run>/`, and a merged run's crops are all
    referenced by detections, so a run folder nothing points at is garbage. Call it only while holding the
    project's write lock (no other run can be writing one). Returns how many files were removed."""
    import shutil

    from ..store.detections import crop_folders_in_use

    root = project.root / "arrays" / "crops" / f"cam{camera_id}"
    if not root.is_dir():
        return 0
    keep = crop_folders_in_use(project, camera_id) | {str(Path("arrays") / "crops" / f"cam{camera_id}" / "extra")}
    removed = 0
    for run in root.iterdir():
        rel = str(run.relative_to(project.root))
        if run.is_dir() and rel not in keep:
            removed += sum(1 for p in run.rglob("*") if p.is_file())
            shutil.rmtree(run, ignore_errors=True)
    return removed
