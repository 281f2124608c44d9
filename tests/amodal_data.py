"""A tiny amodal dataset in the exported format (DESIGN), with exact truth, for the training and eval tests.

Cars are grey boxes with dark wheels, people thin red ellipses, on a textured ground; a nearer object may
hide part of a farther one, so each annotation has a real amodal mask, visible mask and occlusion fraction.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils


def _rle(m):
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    r["counts"] = r["counts"].decode()
    return r


def _box(m):
    ys, xs = np.nonzero(m)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


CATEGORIES = [
    {"id": 1, "name": "vehicle", "keypoints": [f"v{i}" for i in range(12)], "skeleton": []},
    {"id": 2, "name": "person", "keypoints": [f"p{i}" for i in range(17)], "skeleton": []},
]


def make_dataset(root: Path, n_images: dict | None = None, size=(160, 120), seed: int = 0) -> Path:
    n_images = n_images or {"train": 8, "test": 4}
    rng = np.random.default_rng(seed)
    w, h = size
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    ann_id = 1
    for split, n in n_images.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        images, anns = [], []
        for i in range(n):
            img = (rng.integers(90, 120, (h, w, 3))).astype(np.uint8)
            objs = []
            for _ in range(int(rng.integers(1, 4))):
                if rng.random() < 0.7:
                    bw, bh = int(rng.integers(40, 60)), int(rng.integers(22, 32))
                    x, y = int(rng.integers(0, w - bw)), int(rng.integers(20, h - bh))
                    m = np.zeros((h, w), bool)
                    m[y:y + bh, x:x + bw] = True
                    kps = [[x + bw * (0.2 + 0.6 * (k % 2)), y + bh * (0.3 + 0.6 * (k // 6)), 2] for k in range(12)]
                    objs.append((1, m, (200, 200, 205), kps, y + bh))
                else:
                    rw, rh = int(rng.integers(5, 8)), int(rng.integers(16, 24))
                    cx, cy = int(rng.integers(rw, w - rw)), int(rng.integers(rh + 20, h - rh))
                    yy, xx = np.mgrid[:h, :w]
                    m = ((xx - cx) / rw) ** 2 + ((yy - cy) / rh) ** 2 <= 1
                    kps = [[cx, cy - rh + 2 * rh * k / 16, 2] for k in range(17)]
                    objs.append((2, m, (220, 40, 40), kps, cy + rh))
            objs.sort(key=lambda o: o[4])  # far (higher in the image) first
            covered = np.zeros((h, w), bool)
            visible = []
            for cat, m, colour, kps, _ in reversed(objs):  # nearest first for visibility
                visible.append(m & ~covered)
                covered |= m
            visible = visible[::-1]
            for (cat, m, colour, kps, _), vis in zip(objs, visible):
                img[m] = colour
                if cat == 1:
                    img[m & (np.arange(h)[:, None] > _box(m)[1] + 0.8 * _box(m)[3])] = (30, 30, 30)
            for (cat, m, colour, kps, _), vis in zip(objs, visible):
                occ = 1.0 - vis.sum() / m.sum()
                k = np.array(kps, float)
                xi = np.clip(k[:, 0].astype(int), 0, w - 1)
                yi = np.clip(k[:, 1].astype(int), 0, h - 1)
                k[:, 2] = np.where(vis[yi, xi], 2, 1)
                a = {"id": ann_id, "image_id": i + 1, "category_id": cat, "iscrowd": 0,
                     "bbox": _box(m), "area": int(m.sum()), "segmentation": _rle(m),
                     "visible_bbox": _box(vis) if vis.any() else [0, 0, 0, 0], "visible_area": int(vis.sum()),
                     "visible_segmentation": _rle(vis), "occlusion": float(occ),
                     "keypoints": k.ravel().tolist(), "num_keypoints": int((k[:, 2] > 0).sum())}
                anns.append(a)
                ann_id += 1
            name = f"images/{split}/{i:04d}.png"
            Image.fromarray(img).save(root / name)
            images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
        (root / "annotations" / f"{split}.json").write_text(
            json.dumps({"images": images, "annotations": anns, "categories": CATEGORIES}))
    return root
