"""RGBA crops of detections: written while mining (mined objects), and on demand for the ones a person or the
classifier later marks unoccluded, so that later stages never decode video.

Each crop is a PNG. A mining run appends its crops to one file, `<run folder>/crops.pack`, and a detection's
`crop_path` names its span there: `arrays/crops/cam1/<run>/crops.pack#<offset>+<length>`. One file a run, not
one a crop: a run mines ~20 objects a frame in a dense scene, and creating a file costs from ~20 us (tmpfs) to
~1 ms (a busy ext4, NTFS, network shares), which set the mining rate where a file was made per crop. Crops
made on demand afterwards (a few at a time) are plain PNG files (`.../extra/<detection>.png`), as are those of
projects mined before packs; `crop_bytes` and `read_png_rgba` read either.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import cv2
import numpy as np

from ..atomic import fsync_dir, write_bytes
from ..jobs import JobContext, silent
from .detection import Detection, decode_rle, rgba_crop


# zlib level 1 with every row filtered "up" (the row above subtracted): OpenCV's default tries all five PNG
# filters on each row, which took half the encoding time of a car-sized crop (2.4 -> 1.1 ms for ~100x100 px on
# this project's 2-core machines) for files only ~4 % smaller. Lossless either way.
_PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP]


def write_png_rgba(path: Path, rgba: np.ndarray) -> None:
    """Write one RGBA crop as a PNG file, atomically and synced (crops made on demand, a few at a time)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, encode_png_rgba(rgba))


def encode_png_rgba(rgba: np.ndarray) -> bytes:
    """An RGBA crop as PNG bytes (what packs hold and `write_png_rgba` writes)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA), _PNG_PARAMS)
    if not ok:
        raise OSError("could not encode a crop as PNG")
    return buf.tobytes()


PACK_NAME = "crops.pack"
_SPAN = re.compile(r"(\d+)\+(\d+)")


def pack_span(path: str | os.PathLike) -> tuple[str, int, int] | None:
    """(pack file, offset, length) when `path` names a crop inside a pack (`.../crops.pack#<offset>+<length>`),
    else None (a plain file)."""
    head, sep, tail = os.fspath(path).rpartition("#")
    m = _SPAN.fullmatch(tail) if sep and head.endswith(PACK_NAME) else None
    return (head, int(m.group(1)), int(m.group(2))) if m else None


def crop_file(path: str | os.PathLike) -> str:
    """The file that holds a crop: its run's pack, or the plain PNG itself."""
    span = pack_span(path)
    return os.fspath(path) if span is None else span[0]


def crop_bytes(path: str | os.PathLike) -> bytes:
    """The PNG bytes of a crop: a plain file, or a span of a run's pack. FileNotFoundError when it is gone."""
    span = pack_span(path)
    if span is None:
        return Path(path).read_bytes()
    pack, offset, length = span
    with open(pack, "rb") as f:
        f.seek(offset)
        data = f.read(length)
    if len(data) != length:  # a pack cut short (a disk that filled up, a copy stopped half-way)
        raise FileNotFoundError(f"{pack} ends before the crop at {offset}+{length}")
    return data


class CropPack:
    """A mining run's crops, appended to one file in the run's own folder (made on the first crop). `add`
    returns the crop's path as the run's records hold it: `rel/crops.pack#<offset>+<length>`. Not
    thread-safe: the pipeline's main thread appends, in frame order, what the pool encoded. `close` makes the
    file durable (one fsync, where a file a crop needed an `os.sync` for the run)."""

    def __init__(self, folder: Path, rel: Path):
        self.folder, self.rel = Path(folder), Path(rel) / PACK_NAME
        self._f = None
        self._size = 0

    def add(self, png: bytes) -> str:
        if self._f is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._f = open(self.folder / PACK_NAME, "ab")
            self._size = self._f.tell()
        offset = self._size
        self._f.write(png)
        self._size += len(png)
        return f"{self.rel.as_posix()}#{offset}+{len(png)}"

    def close(self, durable: bool = True) -> None:
        if self._f is None:
            return
        f, self._f = self._f, None
        try:
            f.flush()
            if durable:
                os.fsync(f.fileno())
        finally:
            f.close()
        if durable:
            fsync_dir(self.folder)
            fsync_dir(self.folder.parent)


def read_png_rgba(path: str | os.PathLike) -> np.ndarray:
    """An RGBA crop from a plain PNG file or a span of a pack (see `crop_bytes`)."""
    return decode_png_rgba(crop_bytes(path), path)


def decode_png_rgba(png: bytes, name: object = "a crop") -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(f"{name} is not a readable PNG")
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
