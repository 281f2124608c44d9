"""The review dock's picture of one composite: its image with the chosen pseudo-groundtruth layers drawn on it.

Plain numpy/OpenCV (no Qt), so tests check exact pixels. Layers, bottom to top: `depth`, `normals`, `instances`
(array layers blended over the image), `amodal` (outline), `visible` (tinted fill), `boxes` (amodal solid,
visible thin white), `keypoints` (filled = visible, hollow = occluded), `wireframes` (each object's stored 3D fit
through the camera: a vehicle's mesh edges thin and its 3D box thick, a person's silhouette outline and skeleton;
see composite/wireframe.py), then outlines of the rejected objects (red) and of WALT2D's impossible objects
(magenta).
"""
from __future__ import annotations

import cv2
import numpy as np
from pycocotools import mask as mask_utils

LAYERS = ("amodal", "visible", "boxes", "keypoints", "wireframes", "depth", "normals", "instances")
PALETTE = np.array([(230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178),
                    (213, 94, 0), (204, 121, 167), (150, 150, 150)], np.uint8)  # Okabe-Ito, RGB
VISIBLE_ALPHA = 0.45
ARRAY_ALPHA = 0.7
REJECTED = (255, 0, 0)
IMPOSSIBLE = (255, 0, 255)
WIRE = (255, 255, 0)         # a fit's 3D box / skeleton / outline: one bright colour over any picture
WIRE_ALPHA = 0.6             # its thin mesh edges, blended (a car's mesh is dense)
RADIUS_M = {"vehicle": 2.0, "person": 0.3}  # ground footprint radius for "two objects in one place"


def colour(idx: int) -> np.ndarray:
    return PALETTE[idx % len(PALETTE)]


def decode(rle: dict) -> np.ndarray:
    r = dict(rle)
    if isinstance(r.get("counts"), str):
        r["counts"] = r["counts"].encode()
    return mask_utils.decode(r).astype(bool)


def _blend(out: np.ndarray, layer: np.ndarray, alpha: float, where=None) -> None:
    mixed = (out.astype(np.float32) * (1 - alpha) + layer.astype(np.float32) * alpha + 0.5).astype(np.uint8)
    if where is None:
        out[:] = mixed
    else:
        out[where] = mixed[where]


def depth_rgb(depth: np.ndarray) -> np.ndarray:
    """Near = bright, far = dark (inverse depth, TURBO colour map); NaN (sky) black."""
    d = np.asarray(depth, np.float32)
    ok = np.isfinite(d) & (d > 0)
    out = np.zeros(d.shape + (3,), np.uint8)
    if ok.any():
        inv = np.zeros_like(d)
        inv[ok] = 1.0 / d[ok]
        lo, hi = inv[ok].min(), inv[ok].max()
        g = np.zeros(d.shape, np.uint8)
        g[ok] = np.clip((inv[ok] - lo) / max(hi - lo, 1e-9) * 255, 0, 255).astype(np.uint8)
        out = cv2.applyColorMap(g, cv2.COLORMAP_TURBO)[..., ::-1].copy()
        out[~ok] = 0
    return out


def normals_rgb(normal: np.ndarray) -> np.ndarray:
    n = np.nan_to_num(np.asarray(normal, np.float32))
    return np.clip((n + 1) * 127.5, 0, 255).astype(np.uint8)


def instances_rgb(instance: np.ndarray) -> np.ndarray:
    inst = np.asarray(instance).astype(np.int64)
    out = np.zeros(inst.shape + (3,), np.uint8)
    for v in np.unique(inst):
        if v == 0:
            continue
        out[inst == v] = (255, 0, 0) if v == 65535 else colour(int(v) - 1)
    return out


def impossible_pairs(objects) -> set[tuple[int, int]]:
    """Pairs (idx, idx) no camera could see: their ground positions overlap (two objects in one place), or the
    one pasted on top is farther away in 3D than the one it covers (the WALT2D shortcut's typical error)."""
    pos = {}
    for o in objects:
        p = (o.pose or {}).get("t") if o.kind == "vehicle" else (o.pose or {}).get("transl")
        if p is not None:
            pos[o.idx] = np.asarray(p, float).reshape(3)
    out = set()
    for i, a in enumerate(objects):
        for b in objects[i + 1:]:
            if a.idx in pos and b.idx in pos:
                d = np.linalg.norm((pos[a.idx] - pos[b.idx])[[0, 2]])
                if d < RADIUS_M.get(a.kind, 1.0) + RADIUS_M.get(b.kind, 1.0) - 1e-9:
                    out.add((a.idx, b.idx))
                    continue
                # b was pasted after a (on top); it must not be farther than a where they overlap
                if pos[b.idx][2] > pos[a.idx][2] + 1e-6:
                    overlap = (decode(a.amodal_rle) & decode(b.visible_rle)).any()
                    if overlap:
                        out.add((a.idx, b.idx))
    return out


def render(image: np.ndarray, objects, layers, arrays: dict | None = None, rejected=(), impossible=(),
           scale: int = 1, wires: dict | None = None) -> np.ndarray:
    """The composite (RGB uint8) with `layers` drawn, `scale` times larger (nearest neighbour: crisp pixels).
    `wires` {idx: object_drawing(...) or None} feeds the `wireframes` layer."""
    layers = set(layers)
    out = np.ascontiguousarray(image[..., :3]).copy()
    if arrays:
        if "depth" in layers and arrays.get("depth") is not None:
            _blend(out, depth_rgb(arrays["depth"]), ARRAY_ALPHA)
        if "normals" in layers and arrays.get("normal") is not None:
            _blend(out, normals_rgb(arrays["normal"]), ARRAY_ALPHA)
        if "instances" in layers and arrays.get("instance") is not None:
            inst = instances_rgb(arrays["instance"])
            _blend(out, inst, ARRAY_ALPHA, np.asarray(arrays["instance"]) > 0)
    if "visible" in layers:
        for o in objects:
            m = decode(o.visible_rle)
            _blend(out, np.broadcast_to(colour(o.idx), out.shape), VISIBLE_ALPHA, m)
    if scale > 1:
        out = cv2.resize(out, (out.shape[1] * scale, out.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    s = scale
    thick = max(1, scale // 2)
    for o in objects:
        c = tuple(int(v) for v in colour(o.idx))
        if "amodal" in layers:
            _outline(out, decode(o.amodal_rle), c, s, thick)
        if "boxes" in layers:
            x, y, w, h = o.amodal_box
            cv2.rectangle(out, (int(x * s), int(y * s)), (int((x + w) * s) - 1, int((y + h) * s) - 1), c, thick)
            x, y, w, h = o.visible_box
            if w > 0 and h > 0:
                cv2.rectangle(out, (int(x * s), int(y * s)), (int((x + w) * s) - 1, int((y + h) * s) - 1),
                              (255, 255, 255), 1)
        if "keypoints" in layers and o.keypoints:
            r = max(2, scale)
            for x, y, v in np.asarray(o.keypoints, float).reshape(-1, 3):
                if v <= 0:
                    continue
                p = (int(round((x + 0.5) * s - 0.5)), int(round((y + 0.5) * s - 0.5)))
                cv2.circle(out, p, r, c, -1 if v >= 2 else 1, lineType=cv2.LINE_AA)
    if "wireframes" in layers and wires:
        draw_wires(out, wires, s)
    flagged = {i for pair in impossible for i in pair}
    for o in objects:
        if o.idx in rejected:
            _outline(out, decode(o.amodal_rle), REJECTED, s, thick + 1)
        elif o.idx in flagged:
            _outline(out, decode(o.amodal_rle), IMPOSSIBLE, s, thick + 1)
    return out


def _zoom(pts, s: int) -> np.ndarray:
    """Full-frame pixel coordinates (pixel centres at integers) -> the zoomed picture's, as cv2's fixed point."""
    return np.round((np.asarray(pts, float) + 0.5) * s - 0.5).astype(np.int32)


def draw_wires(out: np.ndarray, wires: dict, s: int) -> None:
    """Each fit's thin mesh edges (blended), then its 3D box / skeleton and outline solid, in WIRE."""
    thin = out.copy()
    any_thin = False
    for d in wires.values():
        if d is not None and len(d["lines"]):
            cv2.polylines(thin, list(_zoom(d["lines"], s)), False, WIRE, 1)
            any_thin = True
    if any_thin:
        _blend(out, thin, WIRE_ALPHA, (thin != out).any(axis=2))
    thick = max(1, s // 2)
    for d in wires.values():
        if d is None:
            continue
        if len(d["thick"]):
            cv2.polylines(out, list(_zoom(d["thick"], s)), False, WIRE, thick)
        for poly in d["polylines"]:
            cv2.polylines(out, [_zoom(poly, s)], True, WIRE, thick)


def _outline(out, mask, colour, scale, thick) -> None:
    m = mask.astype(np.uint8)
    if scale > 1:
        m = cv2.resize(m, (m.shape[1] * scale, m.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, cs, -1, colour, thick)


def object_at(objects, x: float, y: float):
    """The object seen at image pixel (x, y): the nearest whose visible mask covers it, else whose amodal does."""
    xi, yi = int(x), int(y)
    for key in ("visible_rle", "amodal_rle"):
        for o in sorted(objects, key=lambda o: o.depth_rank):
            m = decode(getattr(o, key))
            if 0 <= yi < m.shape[0] and 0 <= xi < m.shape[1] and m[yi, xi]:
                return o
    return None


def describe(o, rejected: bool = False) -> str:
    pose = o.pose or {}
    q = pose.get("fit_quality") or {}
    fit = ", ".join(f"{k} {v:.2f}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in q.items())
    return (f"#{o.idx} {pose.get('category', o.kind)} · track {o.track_id} · occlusion {o.occlusion:.0%} · "
            f"depth rank {o.depth_rank}" + (f" · fit {fit}" if fit else "") + (" · REJECTED" if rejected else ""))
