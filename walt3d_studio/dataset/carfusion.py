"""CarFusion keypoint text files (Reddy et al., CVPR 2018) to and from our vehicle12 keypoints.

Each line is `x,y,kp_id,instance,visibility`. CarFusion's 14 ids are 1-based: 1-8 map to our 0-7, 10-13 to
8-11, and 9 (Exhaust) and 14 (Center) are dropped. Visibility 1 (visible) becomes v = 2 and 2 (occluded)
v = 1; any other value is reported with its file and line and the point is left out (v = 0), never guessed.
Layout on disk: `SEQ/gt/NAME.txt` with the image `SEQ/images_jpg/NAME.jpg` (also looked for: `SEQ/images/`,
beside the text file, or in `image_dir`). Instance boxes are the labelled points' extent plus 10% per side,
clipped to the image. Qt-free.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..errors import BadInputError
from ..keypoint_schema import load_schema
from .. import validate as V
from ..validate import safe_file_part
from .keypoint_records import KeypointDataset, KpAnnotation, KpImage

CARFUSION_NAMES = ("Right_Front_wheel", "Left_Front_wheel", "Right_Back_wheel", "Left_Back_wheel",
                   "Right_Front_HeadLight", "Left_Front_HeadLight", "Right_Back_HeadLight", "Left_Back_HeadLight",
                   "Exhaust", "Right_Front_Top", "Left_Front_Top", "Right_Back_Top", "Left_Back_Top", "Center")
ID_TO_OURS = {**{i: i - 1 for i in range(1, 9)}, **{i: i - 2 for i in range(10, 14)}}
OURS_TO_ID = {v: k for k, v in ID_TO_OURS.items()}
DROPPED = {9: "Exhaust", 14: "Center"}
VIS_TO_V = {1: 2, 2: 1}
V_TO_VIS = {2: 1, 1: 2}
IMAGE_EXTS = (".jpg", ".jpeg", ".png")
BOX_PAD = 0.10


@dataclass
class CarFusionReport:
    files: int = 0
    points: int = 0
    dropped: dict[str, int] = field(default_factory=dict)  # Exhaust / Center points left out by design
    issues: list[tuple[str, int, str, str]] = field(default_factory=list)  # (file, line, text, problem)

    def messages(self) -> list[str]:
        return [f"{f}:{n}: {p} ({t!r})" for f, n, t, p in self.issues]


def parse_carfusion(text: str, source: str = "<text>", report: CarFusionReport | None = None
                    ) -> dict[int, np.ndarray]:
    """instance id -> (12, 3) vehicle12 triplets, from one CarFusion file's text."""
    report = report if report is not None else CarFusionReport()
    out: dict[int, np.ndarray] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        raw = line.strip()
        if not raw or raw.startswith("#"):
            continue
        parts = [p.strip() for p in raw.split(",")]
        try:  # finite coordinates, whole-number ids (no 'inf', '1e400' or 2.5)
            if len(parts) != 5:
                raise V.Invalid(f"{len(parts)} values")
            x, y = V.number_text(parts[0], "x"), V.number_text(parts[1], "y")
            kp, inst, vis = (V.integer_text(p, what) for p, what in zip(parts[2:], ("kp_id", "instance", "visibility")))
        except V.Invalid as e:
            report.issues.append((source, n, raw[:80], f"not 'x,y,kp_id,instance,visibility' ({e}); line left out"))
            continue
        if kp in DROPPED:
            report.dropped[DROPPED[kp]] = report.dropped.get(DROPPED[kp], 0) + 1
            continue
        if kp not in ID_TO_OURS:
            report.issues.append((source, n, raw, f"keypoint id {kp} is not 1..14; line left out"))
            continue
        if vis not in VIS_TO_V:
            report.issues.append((source, n, raw, f"visibility {vis} is neither 1 (visible) nor 2 (occluded); "
                                                  "point left out"))
            continue
        arr = out.setdefault(inst, np.zeros((12, 3)))
        k = ID_TO_OURS[kp]
        if arr[k, 2] > 0:
            report.issues.append((source, n, raw, f"instance {inst} repeats keypoint {kp}; the later line kept"))
        arr[k] = (x, y, VIS_TO_V[vis])
        report.points += 1
    return out


def format_carfusion(instances: dict[int, np.ndarray]) -> str:
    """vehicle12 triplets per instance -> CarFusion lines (labelled points only)."""
    lines = []
    for inst, arr in instances.items():
        for k, (x, y, v) in enumerate(np.asarray(arr, dtype=np.float64)):
            if v > 0:
                lines.append(f"{_fmt(x)},{_fmt(y)},{OURS_TO_ID[k]},{inst},{V_TO_VIS[int(v)]}")
    return "\n".join(lines) + ("\n" if lines else "")


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _text_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise BadInputError(f"{path} does not exist.", "Give a CarFusion gt .txt file or the dataset folder.")
    files = sorted(path.glob("*/gt/*.txt")) or sorted(path.glob("gt/*.txt")) or sorted(path.glob("*.txt"))
    if not files:
        raise BadInputError(f"No CarFusion text files under {path}.", "Expected SEQ/gt/NAME.txt files.")
    return files


def _find_image(txt: Path, image_dir: Path | None) -> Path | None:
    dirs = [txt.parent.parent / "images_jpg", txt.parent.parent / "images", txt.parent]
    if image_dir is not None:
        dirs.insert(0, image_dir)
    for d in dirs:
        for ext in IMAGE_EXTS:
            p = d / (txt.stem + ext)
            if p.is_file():
                return p
    return None


def read_carfusion(path: str | os.PathLike, image_dir: str | os.PathLike | None = None
                   ) -> tuple[KeypointDataset, CarFusionReport]:
    """A CarFusion file or folder as a vehicle12 keypoint dataset (file names relative to its image_root)."""
    from PIL import Image

    path = Path(path).expanduser().resolve()
    files = _text_files(path)
    root = path if path.is_dir() else path.parent
    idir = Path(image_dir).expanduser().resolve() if image_dir else None
    schema = load_schema("vehicle12")
    report = CarFusionReport(files=len(files))
    ds = KeypointDataset(schemas={schema.name: schema}, info={"description": "imported from CarFusion",
                                                              "source": str(path)}, image_root=str(root))
    ann_id = 0
    for image_id, txt in enumerate(files, start=1):
        try:
            text = txt.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            report.issues.append((str(txt), 0, "", f"cannot read: {e}"))
            continue
        rel_txt = os.path.relpath(txt, root)
        instances = parse_carfusion(text, rel_txt, report)
        img = _find_image(txt, idir)
        width = height = None
        if img is not None:
            try:
                with Image.open(img) as im:
                    width, height = im.size
            except OSError:
                img = None
        file_name = os.path.relpath(img, root) if img is not None else str(Path(rel_txt).with_suffix(".jpg"))
        group = txt.parent.parent.name if txt.parent.name == "gt" else txt.parent.name
        ds.images.append(KpImage(image_id, file_name, width, height,
                                 {"source": "carfusion", "labels": rel_txt}))
        for inst, kp in sorted(instances.items()):
            lab = kp[:, 2] > 0
            if not lab.any():
                continue
            ann_id += 1
            ds.annotations.append(KpAnnotation(ann_id, image_id, schema.name, _box(kp[lab, :2], width, height), kp,
                                               extra={"source": "carfusion", "instance": inst, "group": group}))
    return ds, report


def _box(pts: np.ndarray, width, height) -> tuple[float, float, float, float]:
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    px, py = BOX_PAD * (x1 - x0), BOX_PAD * (y1 - y0)
    x0, y0, x1, y1 = x0 - px, y0 - py, x1 + px, y1 + py
    if width and height:
        x0, y0, x1, y1 = max(x0, 0.0), max(y0, 0.0), min(x1, width - 1.0), min(y1, height - 1.0)
    return (round(float(x0), 3), round(float(y0), 3), round(float(x1 - x0), 3), round(float(y1 - y0), 3))


def write_carfusion(ds: KeypointDataset, out_dir: str | os.PathLike) -> list[Path]:
    """Write a vehicle12 dataset as CarFusion text files (one per image, OUT/gt/NAME.txt), atomically each."""
    out = Path(out_dir) / "gt"
    out.mkdir(parents=True, exist_ok=True)
    by_image: dict[int, dict[int, np.ndarray]] = {}
    for a in ds.annotations:
        if a.schema == "vehicle12":
            by_image.setdefault(a.image_id, {})[int(a.extra.get("instance", a.id))] = a.keypoints
    written = []
    for im in ds.images:
        if im.id not in by_image:
            continue
        p = out / (safe_file_part(Path(im.file_name).stem) + ".txt")
        write_text(p, format_carfusion(by_image[im.id]))
        written.append(p)
    return written
