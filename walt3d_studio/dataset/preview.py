"""Pictures of an exported dataset's pseudo-groundtruth: each sampled image with its amodal masks outlined, its
visible masks filled and its keypoints marked (visible filled, occluded hollow). Used by the demo's report and the
dataset card; reads only the exported files, so it shows exactly what a trainer will see."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

COLOURS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255)]


def _decode(seg, h: int, w: int) -> np.ndarray:
    from pycocotools import mask as mask_utils

    if isinstance(seg, list):  # polygons
        rle = mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    else:
        rle = dict(seg)
        if isinstance(rle.get("counts"), list):
            rle = mask_utils.frPyObjects(rle, h, w)
        elif isinstance(rle.get("counts"), str):
            rle["counts"] = rle["counts"].encode()
    return mask_utils.decode(rle).astype(bool)


def draw_layers(image: np.ndarray, annotations: list[dict]) -> np.ndarray:
    """RGB image with each annotation's visible mask tinted, amodal mask outlined and keypoints drawn."""
    import cv2

    h, w = image.shape[:2]
    out = image.copy()
    for i, a in enumerate(sorted(annotations, key=lambda a: -a.get("depth_rank", 0))):
        colour = np.array(COLOURS[i % len(COLOURS)], np.float32)
        vis_seg = a.get("visible_segmentation")
        if vis_seg is not None:
            vis = _decode(vis_seg, h, w)
            out[vis] = (0.55 * out[vis] + 0.45 * colour).astype(np.uint8)
        amodal = _decode(a["segmentation"], h, w).astype(np.uint8)
        contours, _ = cv2.findContours(amodal, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, tuple(int(c) for c in colour), 2, cv2.LINE_AA)
        kps = np.asarray(a.get("keypoints") or [], float).reshape(-1, 3)
        for x, y, v in kps:
            if v > 0:
                cv2.circle(out, (int(round(x)), int(round(y))), 3, (255, 255, 255), -1 if v == 2 else 1, cv2.LINE_AA)
    return out


def draw_samples(datasets: Path, out_dir: Path, per_method: int = 3, split: str = "test") -> list[tuple[Path, str]]:
    """For each dataset folder under DATASETS, draw the PER_METHOD most occluded images of SPLIT into OUT_DIR;
    returns (png path, caption) pairs. Datasets without that split are skipped."""
    from PIL import Image

    datasets, out_dir = Path(datasets), Path(out_dir)
    written = []
    for ds in sorted(p for p in datasets.iterdir() if (p / "annotations" / f"{split}.json").is_file()):
        coco = json.loads((ds / "annotations" / f"{split}.json").read_text())
        by_image: dict = {}
        for a in coco["annotations"]:
            by_image.setdefault(a["image_id"], []).append(a)
        # the images with the most occlusion show what the method is for
        ranked = sorted(coco["images"], key=lambda im: -sum(a.get("occlusion", 0) for a in by_image.get(im["id"], [])))
        for im in ranked[:per_method]:
            rgb = np.asarray(Image.open(ds / im["file_name"]).convert("RGB"))
            anns = by_image.get(im["id"], [])
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / f"{ds.name}-{im['id']}.png"
            Image.fromarray(draw_layers(rgb, anns)).save(path)
            occ = [a.get("occlusion", 0.0) for a in anns]
            written.append((path, f"{ds.name}: image {im['id']}, {len(anns)} objects, occlusion up to "
                                  f"{max(occ, default=0) * 100:.0f}%"))
    return written
