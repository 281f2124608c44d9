"""`walt3d validate DATASET`: check an exported dataset against DESIGN's contracts before anyone trains on it.

Checks: pycocotools loads each split; ids unique (images, annotations, across splits); images exist with the
sizes written; masks have the image's size; every visible mask lies inside its amodal mask; occlusion =
1 − visible/amodal within 1 %; the HDF5 ids match the JSON and each instance map is exactly its image's
visible masks; no track and no source frame in two splits;
keypoints marked visible (v = 2) lie on the visible mask. Returns a list of problems (empty = valid).
"""
from __future__ import annotations

import contextlib
import io
import json
import struct
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils

from ..errors import BadInputError

OCCLUSION_TOL = 0.01
KEYPOINT_TOL_PX = 1  # a visible keypoint may sit this close to its visible mask (rounding at the edge)
MAX_PER_CHECK = 20   # problems listed per check before summarising


def _names(anns: list[dict]) -> tuple[str, str]:
    if anns and "a_segm" in anns[0]:
        return "a_segm", "i_segm"
    return "segmentation", "visible_segmentation"


def _image_size(path: Path) -> tuple[int, int] | None:
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return struct.unpack(">II", head[16:24])
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def _rle(r: dict) -> dict:
    r = dict(r)
    if isinstance(r.get("counts"), str):
        r["counts"] = r["counts"].encode()
    return r


class _Problems:
    def __init__(self):
        self.items: list[str] = []
        self.per: dict[str, int] = {}

    def add(self, check: str, text: str) -> None:
        n = self.per.get(check, 0) + 1
        self.per[check] = n
        if n <= MAX_PER_CHECK:
            self.items.append(f"[{check}] {text}")

    def result(self) -> list[str]:
        out = list(self.items)
        for check, n in self.per.items():
            if n > MAX_PER_CHECK:
                out.append(f"[{check}] ... and {n - MAX_PER_CHECK} more")
        return out


def validate_dataset(root, ctx=None) -> list[str]:
    root = Path(root)
    ann_dir = root / "annotations"
    if not ann_dir.is_dir():
        raise BadInputError(f"{root} is not a dataset folder (no annotations/).", "Give the folder `walt3d export` wrote.")
    files = sorted(ann_dir.glob("*.json"))
    if not files:
        raise BadInputError(f"{ann_dir} holds no split files.", "Export the dataset again.")
    P = _Problems()
    seen_images: dict[int, str] = {}
    seen_anns: dict[int, str] = {}
    track_split: dict[tuple, str] = {}
    frame_split: dict[tuple, str] = {}
    for n, path in enumerate(files):
        split = path.stem
        if ctx is not None:
            ctx.progress(n, len(files), split)
        data = _load(path, split, P)
        if data is None:
            continue
        images = {im["id"]: im for im in data.get("images", [])}
        anns = data.get("annotations", [])
        for im in data.get("images", []):
            if im["id"] in seen_images:
                P.add("ids", f"image id {im['id']} appears twice ({seen_images[im['id']]} and {split})")
            seen_images[im["id"]] = split
            _check_image(root, im, split, P)
        amodal_key, visible_key = _names(anns)
        for a in anns:
            if a["id"] in seen_anns:
                P.add("ids", f"annotation id {a['id']} appears twice ({seen_anns[a['id']]} and {split})")
            seen_anns[a["id"]] = split
            im = images.get(a["image_id"])
            if im is None:
                P.add("ids", f"{split}: annotation {a['id']} names image {a['image_id']}, which is not in the split")
                continue
            _check_masks(a, im, amodal_key, visible_key, split, P)
            w3 = a.get("walt3d") or {}
            cam = w3.get("camera")
            for key, table, what in ((a.get("track_id", w3.get("track_id")), track_split, "track"),
                                     (w3.get("source_frame_id"), frame_split, "source frame")):
                if key is None:
                    continue
                other = table.setdefault((cam, key), split)
                if other != split:
                    P.add("splits", f"{what} {key} of camera {cam} is in both {other} and {split}")
        _check_arrays(root, split, images, anns, P)
    return P.result()


def _load(path: Path, split: str, P: _Problems) -> dict | None:
    from pycocotools.coco import COCO

    try:
        with contextlib.redirect_stdout(io.StringIO()):
            COCO(str(path))
        return json.loads(path.read_text())
    except Exception as e:  # any failure to load is the finding
        P.add("load", f"{split}: pycocotools cannot load {path.name}: {type(e).__name__}: {e}")
        return None


def _check_image(root: Path, im: dict, split: str, P: _Problems) -> None:
    p = root / im["file_name"]
    if not p.is_file():
        P.add("images", f"{split}: image {im['id']} file {im['file_name']} is missing")
        return
    try:
        size = _image_size(p)
    except Exception as e:
        P.add("images", f"{split}: image {im['file_name']} cannot be read: {e}")
        return
    if tuple(size) != (im["width"], im["height"]):
        P.add("images", f"{split}: image {im['file_name']} is {size[0]}×{size[1]}, the JSON says "
                        f"{im['width']}×{im['height']}")


def _check_masks(a: dict, im: dict, amodal_key: str, visible_key: str, split: str, P: _Problems) -> None:
    try:
        am, vm = _rle(a[amodal_key]), _rle(a[visible_key])
    except KeyError as e:
        P.add("masks", f"{split}: annotation {a['id']} has no {e.args[0]}")
        return
    for name, r in (("amodal", am), ("visible", vm)):
        if list(r.get("size", [])) != [im["height"], im["width"]]:
            P.add("masks", f"{split}: annotation {a['id']}'s {name} mask is {r.get('size')}, the image is "
                           f"{[im['height'], im['width']]}")
            return
    a_area, v_area = float(mask_utils.area(am)), float(mask_utils.area(vm))
    inside = float(mask_utils.area(mask_utils.merge([am, vm], intersect=True)))
    if inside < v_area:
        P.add("visible⊆amodal", f"{split}: annotation {a['id']} has {int(v_area - inside)} visible px outside its"
                                f" amodal mask")
    occ = a.get("occlusion", a.get("occlude_rate"))
    want = 1.0 - v_area / a_area if a_area > 0 else 1.0
    if occ is None or abs(float(occ) - want) > OCCLUSION_TOL:
        P.add("occlusion", f"{split}: annotation {a['id']} has occlusion {occ}, its masks give {want:.4f}")
    kp = a.get("keypoints") or []
    if kp:
        pts = np.asarray(kp, float).reshape(-1, 3)
        vis = pts[pts[:, 2] == 2]
        if len(vis):
            m = mask_utils.decode(vm).astype(bool)
            if KEYPOINT_TOL_PX:
                from scipy.ndimage import binary_dilation

                m = binary_dilation(m, iterations=KEYPOINT_TOL_PX)
            H, W = m.shape
            xi, yi = np.round(vis[:, 0]).astype(int), np.round(vis[:, 1]).astype(int)
            ok = (xi >= 0) & (xi < W) & (yi >= 0) & (yi < H)
            ok[ok] = m[yi[ok], xi[ok]]
            if not ok.all():
                P.add("keypoints", f"{split}: annotation {a['id']} has {int((~ok).sum())} keypoint(s) marked visible"
                                   f" off its visible mask")
        if "num_keypoints" in a and int(a["num_keypoints"]) != int((pts[:, 2] > 0).sum()):
            P.add("keypoints", f"{split}: annotation {a['id']} num_keypoints {a['num_keypoints']} ≠ "
                               f"{int((pts[:, 2] > 0).sum())} labelled")


def _check_arrays(root: Path, split: str, images: dict, anns: list[dict], P: _Problems) -> None:
    path = root / "arrays" / f"{split}.h5"
    manifest = root / "manifest.json"
    want_arrays, without = True, set()
    if manifest.is_file():
        try:
            m = json.loads(manifest.read_text())
            want_arrays = bool(m.get("settings", {}).get("arrays", True))
            without = {int(i) for i in m.get("images_without_arrays", [])}
        except (ValueError, TypeError):
            P.add("manifest", "manifest.json is not valid JSON")
    images = {i: im for i, im in images.items() if i not in without}
    anns = [a for a in anns if a["image_id"] not in without]
    if not path.is_file():
        if want_arrays and images:
            P.add("arrays", f"{split}: {path.relative_to(root)} is missing")
        return
    import h5py

    from .arrays_h5 import image_index

    try:
        with h5py.File(path, "r") as f:
            index = image_index(f)
            h_imgs = set(index)
            h_anns = {int(v) for v in f["annotations"]["id"][()]}
            ann_by_image: dict[int, set] = {}
            by_id = {a["id"]: a for a in anns}
            vis_key = _names(anns)[1]
            for a in anns:
                ann_by_image.setdefault(a["image_id"], set()).add(a["id"])
            for iid in sorted(set(images) - h_imgs):
                P.add("arrays", f"{split}: image {iid} has no arrays in the HDF5")
            for iid in sorted(h_imgs - set(images)):
                P.add("arrays", f"{split}: the HDF5 has arrays for image {iid}, which is not in the JSON")
            for aid in sorted({a["id"] for a in anns} ^ h_anns):
                P.add("arrays", f"{split}: annotation {aid} is in only one of the JSON and the HDF5")
            for iid in sorted(h_imgs & set(images)):
                name, row = index[iid]
                im = images[iid]
                if name != f"{im['height']}x{im['width']}":
                    P.add("arrays", f"{split}: image {iid}'s arrays are {name}, the image is "
                                    f"{im['height']}x{im['width']}")
                id_row = f["images"][name]["instance_ann_ids"][row]
                ids = {int(v) for v in id_row[1:] if v}
                if ids != ann_by_image.get(iid, set()):
                    P.add("arrays", f"{split}: image {iid}'s instance ids {sorted(ids)} ≠ its annotations "
                                    f"{sorted(ann_by_image.get(iid, set()))}")
                    continue
                if name != f"{im['height']}x{im['width']}":
                    continue
                inst = f["images"][name]["instance"][row]
                for k, aid in enumerate(id_row):
                    a = by_id.get(int(aid)) if k and aid else None
                    if a is None or a.get(vis_key) is None:
                        continue
                    try:
                        vis = mask_utils.decode(_rle(a[vis_key])).astype(bool)
                    except Exception:  # noqa: BLE001 -- the masks check reports an unreadable mask
                        continue
                    if vis.shape != inst.shape:
                        continue
                    bad = int(np.count_nonzero((inst == k) != vis))
                    if bad:
                        P.add("instances", f"{split}: image {iid}'s instance map and annotation {aid}'s visible "
                                           f"mask differ at {bad} pixels")
    except (OSError, KeyError, ValueError) as e:
        P.add("arrays", f"{split}: {path.name} cannot be read: {e}")
