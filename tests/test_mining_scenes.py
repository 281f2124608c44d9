"""Synthetic scenes with exact masks for the mining tests (helpers), and a check of the builder itself.

A scene is a textured background and objects of known colour (rectangles and ellipses) moving in straight
lines. Objects are painted far to near (by the bottom of their box: lower in the image = nearer, as on a
ground plane), so ground truth is exact: each object's amodal mask, its visible mask, whether it is
occluded (visible < amodal) and truncated (amodal box within 2 px of the border).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from walt3d_studio.mining.detection import Detection, box_of_mask


@dataclass
class Obj:
    shape: str      # rect / ellipse
    colour: tuple
    size: tuple     # w, h
    start: tuple    # x, y of the top-left corner in frame 0
    velocity: tuple = (0.0, 0.0)
    category: str = "car"


def background(w: int, h: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 90 + 30 * (xx / w) + 20 * (yy / h)
    img = np.stack([base, base + 5, base - 5], axis=2) + rng.normal(0, 3, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def amodal_mask(o: Obj, t: int, w: int, h: int) -> np.ndarray:
    x = int(round(o.start[0] + o.velocity[0] * t))
    y = int(round(o.start[1] + o.velocity[1] * t))
    m = np.zeros((h, w), np.uint8)
    ow, oh = o.size
    if o.shape == "rect":
        cv2.rectangle(m, (x, y), (x + ow - 1, y + oh - 1), 1, -1)
    else:
        cv2.ellipse(m, (x + ow // 2, y + oh // 2), (ow // 2, oh // 2), 0, 0, 360, 1, -1)
    return m.astype(bool)


def render(objs: list[Obj], n_frames: int, w: int = 320, h: int = 240, seed: int = 0):
    """(background, frames, truth) where truth[t] is a list per object of dicts: amodal, visible (bool masks),
    occluded, truncated, present."""
    bg = background(w, h, seed)
    frames, truth = [], []
    for t in range(n_frames):
        img = bg.copy()
        masks = [amodal_mask(o, t, w, h) for o in objs]
        bottoms = [(box_of_mask(m)[1] + box_of_mask(m)[3]) if m.any() else -1 for m in masks]
        order = np.argsort(bottoms, kind="stable")  # far (higher bottom) first
        visible = [m.copy() for m in masks]
        for rank, i in enumerate(order):
            img[masks[i]] = objs[i].colour
            for j in order[:rank]:
                visible[j] &= ~masks[i]
        frames.append(img)
        rows = []
        for i, m in enumerate(masks):
            box = box_of_mask(m)
            trunc = box is not None and (box[0] <= 2 or box[1] <= 2 or w - (box[0] + box[2]) <= 2
                                         or h - (box[1] + box[3]) <= 2)
            rows.append({"amodal": m, "visible": visible[i], "present": bool(m.any()),
                         "occluded": bool(m.any() and visible[i].sum() < m.sum()), "truncated": bool(trunc)})
        truth.append(rows)
    return bg, frames, truth


def write_frames(folder: Path, frames) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"cam_20240501_0800{i:02d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder


def make_project(tmp_path: Path, objs: list[Obj], n_frames: int, w: int = 320, h: int = 240, *,
                 name: str = "scene", store_background: bool = True):
    """A project with the scene as an image-folder source and its exact background stored (window 'all')."""
    from walt3d_studio.store import Project

    bg, frames, truth = render(objs, n_frames, w, h)
    folder = write_frames(tmp_path / f"{name}_frames", frames)
    p = Project.create(tmp_path / name)
    cam = p.add_camera("cam", "UTC")
    p.add_source(folder, cam)
    if store_background:
        p.save_background(cam, "all", bg.astype(np.float32), n_frames=n_frames, first_time=None, last_time=None,
                          settings={"hours_per_window": None})
    return p, cam, frames, truth


def coco_results(truth, w: int, h: int, objs: list[Obj], key: str = "visible") -> list[dict]:
    """COCO results (RLE masks, image_id = frame index) of every present object's `key` mask."""
    out = []
    for t, rows in enumerate(truth):
        for i, r in enumerate(rows):
            if not r["present"] or not r[key].any():
                continue
            d = Detection.from_full_mask(r[key], objs[i].category)
            out.append({"image_id": t, "category_id": {"person": 1, "car": 3}.get(objs[i].category, 99),
                        "bbox": list(d.box), "score": 0.99, "segmentation": d.rle(w, h), "object": i})
    return out


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data))
    return path


# ------------------------------------------------------------------------------------------------ check


def test_scene_truth_is_consistent():
    objs = [Obj("rect", (250, 30, 30), (40, 30), (50, 100)), Obj("ellipse", (30, 30, 250), (40, 40), (70, 110))]
    bg, frames, truth = render(objs, 1)
    a, b = truth[0]
    assert b["visible"].sum() == b["amodal"].sum() and not b["occluded"]  # lower bottom: painted last, in front
    assert a["occluded"] and 0 < a["visible"].sum() < a["amodal"].sum()
    assert np.all(frames[0][b["amodal"]] == (30, 30, 250))
