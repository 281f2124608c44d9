"""Detections computed elsewhere, as a detector: COCO results JSON or MOT txt.

COCO: a results list (``[{"image_id", "category_id", "bbox", "score", "segmentation"}, ...]``) or a full
dataset (``{"images", "annotations", "categories"}``). Masks may be RLE (compressed or not) or polygons, and
must be full-image masks of the camera's size. Frames are matched by file name when the file names images
(a dataset's ``images[].file_name``, or a string ``image_id``), else by index: integer ``image_id`` = the
frame's position in the camera's capture order (0-based; change with ``index_base``).

MOT (``frame, id, x, y, w, h, conf, ...`` per line, comma- or space-separated): boxes only, frame numbers
1-based positions in capture order; ``conf`` < 0 means no score (1.0). Class: ``mot_category`` ("person").

Everything is read and checked in `start`, before the mining job writes anything: a reference to a frame the
camera does not have, a mask of the wrong size or a malformed box is a BadInputError naming the first few.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import numpy as np

from .. import validate as V
from ..errors import BadInputError
from .detection import Detection, FrameInfo, decode_rle
from .detection import RunInfo

COCO_IDS = {1: "person", 3: "car"}
NAME_MAP = {"person": "person", "pedestrian": "person", "people": "person", "rider": "person",
            "car": "car", "vehicle": "car", "van": "car", "suv": "car"}


def category_of(name: str | None) -> str:
    return NAME_MAP.get((name or "").strip().lower(), "other")


class ImportedDetections:
    name = "import"
    needs_pixels = False
    needs_background = False
    thread_safe = True

    def __init__(self, path, index_base: int | None = None, mot_category: str = "person", min_score: float = 0.0):
        self.path = Path(path)
        if not self.path.is_file():
            raise BadInputError(f"No detections file at {self.path}.", "Check the path given to --import-detections.")
        self.index_base = index_base
        self.mot_category = mot_category
        self.min_score = float(min_score)
        self.by_frame: dict[int, list[Detection]] = {}
        self.settings = {"path": str(self.path), "index_base": index_base, "mot_category": mot_category,
                         "min_score": self.min_score}

    def start(self, run: RunInfo) -> None:
        self.W, self.H = run.width, run.height
        self.ids = [int(i) for i in run.frames.ids]
        names: dict[str, int] = {}
        for fid, name in run.file_names.items():
            names[str(name)] = fid
            names.setdefault(PurePosixPath(str(name)).name, fid)
        self.names = names
        text = self.path.read_text(encoding="utf-8", errors="replace")
        if self.path.suffix.lower() == ".json" or text.lstrip()[:1] in "[{":
            self._read_coco(text)
        else:
            self._read_mot(text)

    def detect(self, frame, info: FrameInfo) -> list[Detection]:
        return self.by_frame.get(info.frame_id, [])

    def close(self) -> None:
        self.by_frame.clear()

    # -- matching ----------------------------------------------------------------------------------
    def _frame_by_index(self, index, base: int) -> int | None:
        try:
            i = int(index) - base
        except (TypeError, ValueError):
            return None
        return self.ids[i] if 0 <= i < len(self.ids) else None

    def _frame_by_name(self, name: str) -> int | None:
        return self.names.get(name) or self.names.get(PurePosixPath(name.replace("\\", "/")).name)

    def _fail(self, what: str, items: list, hint: str):
        shown = ", ".join(str(x) for x in items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
        raise BadInputError(f"{self.path.name}: {what}: {shown}. Nothing was imported.", hint)

    # -- COCO --------------------------------------------------------------------------------------
    def _read_coco(self, text: str) -> None:
        data = V.load_json(text, self.path.name, "Give a COCO results JSON or a MOT txt file.")
        images, cats = {}, {}
        if isinstance(data, dict):
            anns = data.get("annotations")
            if not isinstance(anns, list):
                raise BadInputError(f"{self.path.name} has no 'annotations' list.",
                                    "Give a COCO results list or a COCO dataset with annotations.")
            images = {_key(im.get("id")): im for im in _list(data.get("images")) if isinstance(im, dict)}
            cats = {_key(c.get("id")): c.get("name") for c in _list(data.get("categories")) if isinstance(c, dict)}
        elif isinstance(data, list):
            anns = data
        else:
            raise BadInputError(f"{self.path.name} is neither a COCO results list nor a COCO dataset.",
                                "Give a COCO results JSON or a MOT txt file.")
        base = 0 if self.index_base is None else int(self.index_base)
        missing, bad_size, bad_box = [], [], []
        by_frame: dict[int, list[Detection]] = {}
        for n, a in enumerate(anns):
            if not isinstance(a, dict) or "image_id" not in a:
                bad_box.append(f"#{n} (no image_id)")
                continue
            ref = a["image_id"]
            try:  # every field checked before use: ids are integers or names, scores finite within 0..1
                if not isinstance(ref, str):
                    ref = V.integer(ref, "image_id")
                score = V.score(a.get("score"), "score")
                cid = a.get("category_id")
                if cid is not None and not isinstance(cid, str):
                    cid = V.integer(cid, "category_id")
                if not isinstance(a.get("category", ""), (str, type(None))):
                    raise V.Invalid("category must be a name")
            except V.Invalid as e:
                bad_box.append(f"#{n} ({e})")
                continue
            im = images.get(ref)
            if im is not None and isinstance(im.get("file_name"), str) and im.get("file_name"):
                fid = self._frame_by_name(str(im["file_name"]))
                shown = im["file_name"]
            elif isinstance(ref, str) and not ref.isdigit():
                fid, shown = self._frame_by_name(ref), ref
            else:
                fid, shown = self._frame_by_index(ref, base), f"index {ref}"
            if fid is None:
                missing.append(shown)
                continue
            if score < self.min_score:
                continue
            name = cats.get(cid)
            category = (category_of(name if isinstance(name, str) else None) if cid in cats
                        else COCO_IDS.get(cid, category_of(a.get("category"))))
            det, problem = self._coco_detection(a, category, score)
            if problem == "size":
                bad_size.append(f"#{n}")
                continue
            if problem:
                bad_box.append(f"#{n} ({problem})")
                continue
            if det is not None:
                by_frame.setdefault(fid, []).append(det)
        if missing:
            self._fail(f"{len(missing)} detection(s) refer to frames this camera does not have", missing,
                       "Match by the frames' file names, or by 0-based index in capture order "
                       "(see `walt3d info`); add the missing frames first if they belong to this camera.")
        if bad_size:
            self._fail(f"{len(bad_size)} mask(s) are not {self.W}x{self.H} (the camera's frame size)", bad_size,
                       "Masks must be full-image RLE or polygons in this camera's pixel coordinates.")
        if bad_box:
            self._fail(f"{len(bad_box)} detection(s) are malformed", bad_box,
                       "Each needs image_id and bbox [x, y, w, h] with w, h > 0.")
        self.by_frame = by_frame

    def _coco_detection(self, a: dict, category: str, score: float):
        seg = a.get("segmentation")
        mask = None
        if seg:
            try:
                if isinstance(seg, dict):
                    size = seg.get("size")
                    if not isinstance(size, list) or size != [self.H, self.W]:
                        return None, "size"
                    counts = seg.get("counts")
                    if not isinstance(counts, (str, list)) or (isinstance(counts, list) and (
                            not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts)
                            or sum(counts) != self.H * self.W)):
                        return None, "RLE counts do not cover the image"
                    mask = decode_rle(seg)
                elif isinstance(seg, list):
                    from pycocotools import mask as mask_util

                    polys = [p for p in seg if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
                    if not polys or len(polys) != len(seg):
                        return None, "polygon not a list of x, y pairs (at least 3 points)"
                    for p in polys:
                        for v in p:
                            V.finite(v, "polygon coordinate")
                    arr = np.concatenate([np.asarray(p, float) for p in polys])
                    if arr.size and (arr[0::2].max() > self.W + 1 or arr[1::2].max() > self.H + 1
                                     or arr.min() < -1):
                        return None, "size"
                    mask = mask_util.decode(mask_util.merge(mask_util.frPyObjects(polys, self.H, self.W))).astype(bool)
                else:
                    return None, "segmentation neither RLE nor polygons"
            except BadInputError:
                raise
            except V.Invalid as e:
                return None, str(e)
            except Exception as e:
                return None, f"unreadable mask: {type(e).__name__}"
            if mask.shape != (self.H, self.W):
                return None, "size"
            det = Detection.from_full_mask(mask, category, score)
            if det is not None:
                return det, None
        try:
            box = self._in_image(V.box(a.get("bbox")))
        except V.Invalid as e:
            return None, str(e)
        return Detection(category, score, box), None

    def _in_image(self, box):
        """A box must overlap the camera's frame and be no larger than a few frames (1e308 is not a car)."""
        x, y, w, h = box
        if not (x < self.W and y < self.H and x + w > 0 and y + h > 0) or w > 4 * self.W or h > 4 * self.H:
            raise V.Invalid(f"box {[round(v, 3) for v in box]} lies outside the {self.W}x{self.H} frame")
        return box

    # -- MOT ---------------------------------------------------------------------------------------
    def _read_mot(self, text: str) -> None:
        base = 1 if self.index_base is None else int(self.index_base)
        missing, bad = [], []
        by_frame: dict[int, list[Detection]] = {}
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.replace(",", " ").split()
            try:  # frame and id whole numbers, box and confidence finite
                if len(parts) < 6:
                    raise V.Invalid("fewer than 6 values")
                frame = V.integer_text(parts[0], "frame")
                V.integer_text(parts[1], "id")
                x, y, w, h = self._in_image(V.box([V.number_text(v, "box value") for v in parts[2:6]], "box"))
                conf = V.number_text(parts[6], "conf") if len(parts) > 6 else -1.0
            except V.Invalid as e:
                bad.append(f"line {n} ({e})")
                continue
            score = 1.0 if conf < 0 else min(1.0, conf)
            if score < self.min_score:
                continue
            fid = self._frame_by_index(frame, base)
            if fid is None:
                missing.append(f"frame {frame}")
                continue
            by_frame.setdefault(fid, []).append(Detection(self.mot_category, score, (x, y, w, h)))
        if bad:
            self._fail(f"{len(bad)} line(s) are not MOT rows (frame, id, x, y, w, h, conf, ...)", bad,
                       "Fix or remove those lines; boxes need w, h > 0.")
        if missing:
            self._fail(f"{len(missing)} row(s) refer to frames this camera does not have ({len(self.ids)} frames, "
                       f"numbered from {base})", missing, "MOT frame numbers are 1-based positions in capture order.")
        self.by_frame = by_frame


def _key(v):
    """A COCO id as a dict key: integers (not bools or 1.5) and names; anything else matches nothing."""
    if isinstance(v, str):
        return v
    try:
        return V.integer(v)
    except V.Invalid:
        return ("invalid", repr(v)[:40])


def _list(v) -> list:
    return v if isinstance(v, list) else []
