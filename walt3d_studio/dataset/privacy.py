"""Privacy treatment of exported images: blur people's heads and vehicles' plates (the paper's release does).

Geometric by default, so no detector is needed and nothing is missed that the pseudo-groundtruth knows about:
- a person's head comes from the fitted body (its head joint, or the pelvis `transl` raised along the ground
  normal, projected with the camera), else from the head keypoints (nose, eyes, ears), else the top of its box;
- a vehicle's plate lies between its lamps (front pair, rear pair) from its keypoints; with a fitted pose only
  the face turned towards the camera is blurred.
Each region is cut to the object's visible mask, so a blur never spills onto whatever stands in front of it.
Extra passes: `cascade` runs OpenCV's shipped frontal-face cascade over the whole image (where the installed
OpenCV still ships it: OpenCV 5 moved it to contrib), and any name
registered in the entry-point group `walt3d_studio.privacy` is a plug-in detector: a callable taking the RGB
image and returning boxes `[x, y, w, h]` or a boolean mask.
"""
from __future__ import annotations

import os
from functools import lru_cache

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..errors import BadInputError

ENTRY_POINT_GROUP = "walt3d_studio.privacy"
BUILTIN = ("faces", "plates", "cascade")
HEAD_KPTS = (0, 1, 2, 3, 4)               # COCO-17 nose, eyes, ears
LAMP_PAIRS = ((4, 5, "front"), (6, 7, "rear"))  # vehicle12 head lights and tail lights
HEAD_RADIUS_M = 0.16                      # a head with some margin
PELVIS_TO_HEAD_M = 0.6
SMPL_HEAD_JOINT = 15


def plugin_names() -> list[str]:
    from importlib.metadata import entry_points

    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def check_blur(kinds) -> tuple[str, ...]:
    """Normalise a blur request ('faces,plates', ['none'], ...) and refuse unknown names before any work."""
    if isinstance(kinds, str):
        kinds = [k for k in kinds.split(",")]
    kinds = tuple(k.strip() for k in (kinds or ()) if k and k.strip())
    if kinds in ((), ("none",)):
        return ()
    known = set(BUILTIN) | set(plugin_names())
    bad = [k for k in kinds if k not in known]
    if bad:
        raise BadInputError(f"Unknown privacy treatment {', '.join(bad)}.",
                            f"Use any of {', '.join(sorted(known))}, or 'none'.")
    if "cascade" in kinds and not cascade_available():
        raise BadInputError("This OpenCV has no Haar face cascade (OpenCV 5 moved it to opencv-contrib).",
                            "Install opencv-contrib-python-headless, install a privacy plug-in, or leave out"
                            " 'cascade' (the geometric blur of faces and plates does not need it).")
    return kinds


def cascade_available() -> bool:
    return hasattr(cv2, "CascadeClassifier") and os.path.isfile(_cascade_file())


def _cascade_file() -> str:
    return os.path.join(getattr(cv2.data, "haarcascades", ""), "haarcascade_frontalface_default.xml") \
        if hasattr(cv2, "data") else ""


# ---- regions --------------------------------------------------------------------------------------------

def _decode(rle: dict) -> np.ndarray:
    r = dict(rle)
    if isinstance(r.get("counts"), str):
        r["counts"] = r["counts"].encode()
    return mask_utils.decode(r).astype(bool)


def _disc(shape, centre, radius) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.circle(m, (int(round(centre[0])), int(round(centre[1]))), max(1, int(round(radius))), 1, -1)
    return m.astype(bool)


def head_region(obj, shape, camera=None) -> np.ndarray | None:
    """The head of a person as a boolean mask (before cutting to the visible mask), or None."""
    pose = obj.pose or {}
    if camera is not None:
        head = None
        if pose.get("joints") is not None:
            joints = np.asarray(pose["joints"], float).reshape(-1, 3)
            head = joints[SMPL_HEAD_JOINT] if len(joints) > SMPL_HEAD_JOINT else None
        elif pose.get("transl") is not None:
            head = np.asarray(pose["transl"], float).reshape(3) + PELVIS_TO_HEAD_M * np.asarray(camera.n, float)
        if head is not None and head[2] > 1e-6:
            px = camera.project(head[None])[0]
            if np.isfinite(px).all():
                return _disc(shape, px, camera.focal * HEAD_RADIUS_M / head[2])
    kp = obj.keypoints
    if kp is not None and len(kp) >= 51:
        pts = np.asarray(kp, float).reshape(-1, 3)[list(HEAD_KPTS)]
        pts = pts[pts[:, 2] > 0]
        if len(pts):
            c = pts[:, :2].mean(0)
            spread = np.abs(pts[:, :2] - c).max() if len(pts) > 1 else 0.0
            return _disc(shape, c, max(1.6 * spread, 0.09 * obj.amodal_box[3], 2.0))
    x, y, w, h = obj.amodal_box
    if w <= 0 or h <= 0:
        return None
    r = max(h / 15.0, 2.0)  # a standing adult's head is about 1/7.5 of the height
    return _disc(shape, (x + w / 2.0, y + r), r * 1.2)


def plate_regions(obj, shape) -> list[np.ndarray]:
    """The plate areas of a vehicle, one boolean mask per visible face with both lamps known."""
    kp = obj.keypoints
    if kp is None or len(kp) < 36:
        return []
    pts = np.asarray(kp, float).reshape(-1, 3)
    pose = obj.pose or {}
    facing = None
    if pose.get("R") is not None and pose.get("t") is not None:
        fwd = np.asarray(pose["R"], float).reshape(3, 3)[:, 0]
        facing = "front" if float(fwd @ np.asarray(pose["t"], float).reshape(3)) < 0 else "rear"
    out = []
    for a, b, face in LAMP_PAIRS:
        if facing is not None and face != facing:
            continue
        if pts[a, 2] <= 0 or pts[b, 2] <= 0:
            continue
        pa, pb = pts[a, :2], pts[b, :2]
        span = float(np.linalg.norm(pb - pa))
        if span < 2.0:
            continue
        u = (pb - pa) / span
        v = np.array([-u[1], u[0]])
        if v[1] < 0:
            v = -v  # down the image: plates sit below the lamps
        c = (pa + pb) / 2 + 0.12 * span * v
        hw, hh = 0.25 * span, 0.12 * span
        poly = np.array([c - hw * u - hh * v, c + hw * u - hh * v, c + hw * u + hh * v, c - hw * u + hh * v])
        m = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(m, np.round(poly).astype(np.int32), 1)
        out.append(m.astype(bool))
    return out


@lru_cache(maxsize=1)
def _face_cascade():
    c = cv2.CascadeClassifier(_cascade_file())
    if c.empty():
        raise BadInputError("OpenCV's face cascade could not be loaded.", "Reinstall opencv-python-headless.")
    return c


def _boxes_to_mask(shape, boxes) -> np.ndarray:
    m = np.zeros(shape, bool)
    for x, y, w, h in boxes:
        x0, y0 = max(int(x), 0), max(int(y), 0)
        m[y0:int(y + h), x0:int(x + w)] = True
    return m


def _plugin(name: str):
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()
    raise BadInputError(f"No privacy plug-in named {name!r}.", f"Installed: {', '.join(plugin_names()) or 'none'}.")


# ---- applying ---------------------------------------------------------------------------------------------

def privacy_mask(image: np.ndarray, objects, kinds, camera=None) -> tuple[list[np.ndarray], dict]:
    """The regions to blur (one boolean mask each) and counts per treatment."""
    shape = image.shape[:2]
    regions, counts = [], {k: 0 for k in kinds}
    for obj in objects:
        visible = None
        if "faces" in kinds and obj.kind == "person":
            m = head_region(obj, shape, camera)
            if m is not None:
                visible = _decode(obj.visible_rle)
                m &= visible
                if m.any():
                    regions.append(m)
                    counts["faces"] += 1
        if "plates" in kinds and obj.kind == "vehicle":
            for m in plate_regions(obj, shape):
                visible = _decode(obj.visible_rle) if visible is None else visible
                m &= visible
                if m.any():
                    regions.append(m)
                    counts["plates"] += 1
    for k in kinds:
        if k in ("faces", "plates"):
            continue
        if k == "cascade":
            gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            boxes = _face_cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(12, 12))
        else:
            boxes = _plugin(k)(image)
        if isinstance(boxes, np.ndarray) and boxes.dtype == bool and boxes.shape == shape:
            m = boxes
        else:
            m = _boxes_to_mask(shape, [tuple(b)[:4] for b in (boxes if boxes is not None else [])])
        if m.any():
            regions.append(m)
            counts[k] += len(boxes) if not isinstance(boxes, np.ndarray) or boxes.dtype != bool else 1
    return regions, counts


def blur_regions(image: np.ndarray, regions) -> np.ndarray:
    """A copy of `image` with each region replaced by a strong blur of its surroundings (scaled to its size);
    pixels outside every region are left exactly as they were."""
    out = image.copy()
    H, W = image.shape[:2]
    for m in regions:
        ys, xs = np.nonzero(m)
        if not len(ys):
            continue
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        size = max(y1 - y0, x1 - x0)
        pad = max(2, size // 2)
        Y0, Y1, X0, X1 = max(0, y0 - pad), min(H, y1 + pad), max(0, x0 - pad), min(W, x1 + pad)
        crop = out[Y0:Y1, X0:X1]
        # pixelate then smooth: unrecoverable detail, no hard block edges
        cell = max(2, size // 5)
        small = cv2.resize(crop, (max(1, (X1 - X0) // cell), max(1, (Y1 - Y0) // cell)), interpolation=cv2.INTER_AREA)
        blurred = cv2.resize(small, (X1 - X0, Y1 - Y0), interpolation=cv2.INTER_LINEAR)
        blurred = cv2.GaussianBlur(blurred, (0, 0), sigmaX=max(1.0, size / 6.0))
        sub = m[Y0:Y1, X0:X1]
        crop[sub] = blurred[sub]
    return out


def apply_privacy(image: np.ndarray, objects, kinds, camera=None) -> tuple[np.ndarray, dict]:
    """Blur what `kinds` asks for; returns the new image (the same object when nothing was blurred) and counts."""
    if not kinds:
        return image, {}
    regions, counts = privacy_mask(image, objects, kinds, camera)
    return (blur_regions(image, regions) if regions else image), counts
