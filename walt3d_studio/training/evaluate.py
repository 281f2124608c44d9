"""Evaluation by occlusion level (paper §5–6, Fig. 6–8): AP box and AP mask of the amodal predictions, overall
and per occlusion bucket (0–20, 20–40, 40–60, 60–80, 80–100 %), and PCK@0.1 of keypoints per bucket.

Per bucket, ground truth outside the bucket is ignored (a prediction matched to it counts neither way) while
unmatched predictions still count as false positives — the usual way to report accuracy against occlusion.
pycocotools does the matching: each ground truth's `area` is replaced by its bucket's code and every
prediction's by a code inside the bucket, so its area-range filter does exactly that.
"""
from __future__ import annotations

import contextlib
import copy
import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_text
from ..jobs import JobContext, silent
from .dataset import BUCKETS, CLASSES, bucket_label, bucket_of, category_classes, from_slots, load_split


def _coco(gt: dict):
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = gt
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints "creating index..."
        coco.createIndex()
    return coco


def _ap(gt: dict, results: list[dict], iou_type: str, bucket: int | None) -> tuple[float, float]:
    """(AP@[.5:.95], AP@.5) of `results` against `gt`, restricted to one occlusion bucket or all."""
    from pycocotools.cocoeval import COCOeval

    gt = copy.deepcopy(gt)
    anns = [a for a in gt["annotations"] if not a.get("iscrowd", 0)]
    if bucket is not None:
        for a in gt["annotations"]:
            a["area"] = bucket_of(a.get("occlusion", 0.0)) + 0.5
    if not anns or (bucket is not None and not any(bucket_of(a.get("occlusion", 0.0)) == bucket for a in anns)):
        return math.nan, math.nan
    coco_gt = _coco(gt)
    if not results:
        return 0.0, 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(copy.deepcopy(results))
    if bucket is not None:
        for a in coco_dt.anns.values():
            a["area"] = bucket + 0.5
    ev = COCOeval(coco_gt, coco_dt, iou_type)
    ev.params.imgIds = sorted(coco_gt.getImgIds())
    ev.params.maxDets = [100]
    ev.params.areaRng = [[bucket, bucket + 1] if bucket is not None else [0, 1e10]]
    ev.params.areaRngLbl = ["all"]
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
    p = ev.eval["precision"][:, :, :, 0, 0]  # T x R x K
    valid = p[p > -1]
    ap = float(valid.mean()) if valid.size else math.nan
    p50 = p[0][p[0] > -1]
    return ap, (float(p50.mean()) if p50.size else math.nan)


def _pck_by_bucket(gt: dict, results: list[dict], alpha: float = 0.1) -> dict:
    """PCK@alpha per bucket: each ground truth with keypoints is matched to the best same-class prediction
    with box IoU >= 0.5 in its image; an unmatched ground truth counts all its keypoints as wrong."""
    from pycocotools import mask as mask_utils

    by_img: dict[int, list] = {}
    for r in results:
        if "keypoints" in r:
            by_img.setdefault(int(r["image_id"]), []).append(r)
    hits = np.zeros(5)
    counts = np.zeros(5)
    for a in gt["annotations"]:
        k = np.asarray(a.get("keypoints") or [], float).reshape(-1, 3)
        labelled = k[:, 2] >= 1 if len(k) else np.zeros(0, bool)
        if not labelled.any():
            continue
        b = bucket_of(a.get("occlusion", 0.0))
        counts[b] += labelled.sum()
        cands = [r for r in by_img.get(int(a["image_id"]), []) if r["category_id"] == a["category_id"]]
        if not cands:
            continue
        ious = mask_utils.iou([r["bbox"] for r in cands], [a["bbox"]], [0]).ravel()
        best = int(np.argmax(ious))
        if ious[best] < 0.5:
            continue
        pred = np.asarray(cands[best]["keypoints"], float).reshape(-1, 3)[:, :2]
        thresh = alpha * max(a["bbox"][2], a["bbox"][3])
        ok = np.linalg.norm(pred - k[:, :2], axis=1) <= thresh
        hits[b] += (ok & labelled).sum()
    return {bucket_label(BUCKETS[i]): (float(hits[i] / counts[i]) if counts[i] else math.nan) for i in range(5)}


def evaluate_predictions(gt: dict, results: list[dict]) -> dict:
    """AP box / AP mask (overall and per bucket) and PCK@0.1 per bucket of COCO-format `results`."""
    out = {"n_images": len(gt["images"]), "n_annotations": len(gt["annotations"]), "n_predictions": len(results),
           "overall": {}, "buckets": {}}
    kinds = [("box", "bbox", results), ("mask", "segm", [r for r in results if "segmentation" in r])]
    for name, iou_type, res in kinds:
        ap, ap50 = _ap(gt, res, iou_type, None)
        out["overall"][f"AP_{name}"], out["overall"][f"AP50_{name}"] = ap, ap50
    counts = [0] * 5
    for a in gt["annotations"]:
        counts[bucket_of(a.get("occlusion", 0.0))] += 1
    pck = _pck_by_bucket(gt, results)
    for i, bucket in enumerate(BUCKETS):
        row = {"n_gt": counts[i]}
        for name, iou_type, res in kinds:
            row[f"AP_{name}"], row[f"AP50_{name}"] = _ap(gt, res, iou_type, i)
        row["PCK@0.1"] = pck[bucket_label(bucket)]
        out["buckets"][bucket_label(bucket)] = row
    return out


def predict(model, dataset: Path, split: str, device: str = "cpu", score_threshold: float = 0.05,
            ctx: JobContext | None = None) -> tuple[dict, list[dict]]:
    """Run a model over a split: (the split's COCO dict, predictions as COCO results with RLE masks)."""
    import torch
    from PIL import Image
    from pycocotools import mask as mask_utils

    ctx = ctx or silent()
    gt = load_split(dataset, split)
    ids_of = {cls: cid for cid, cls in category_classes(gt["categories"]).items()}
    results = []
    model.eval()
    for n, im in enumerate(gt["images"]):
        with Image.open(Path(dataset) / im["file_name"]) as f:
            img = torch.from_numpy(np.asarray(f.convert("RGB")).copy()).permute(2, 0, 1).float().div(255.0)
        with torch.no_grad():
            out = model([img.to(device)])[0]
        for i in range(len(out["scores"])):
            score = float(out["scores"][i])
            cls = CLASSES[int(out["labels"][i]) - 1]
            if score < score_threshold or cls not in ids_of:
                continue
            x0, y0, x1, y1 = (float(v) for v in out["boxes"][i])
            m = (out["masks"][i, 0] >= 0.5).cpu().numpy().astype(np.uint8)
            rle = mask_utils.encode(np.asfortranarray(m))
            rle["counts"] = rle["counts"].decode()
            r = {"image_id": int(im["id"]), "category_id": ids_of[cls], "score": score,
                 "bbox": [x0, y0, x1 - x0, y1 - y0], "segmentation": rle}
            if "keypoints" in out:
                kp = from_slots(out["keypoints"][i].cpu().numpy(), cls).copy()
                kp[:, 2] = 1
                r["keypoints"] = kp.ravel().tolist()
            results.append(r)
        ctx.progress(n + 1, len(gt["images"]), f"image {n + 1}/{len(gt['images'])}")
    return gt, results


def evaluate(dataset: str | Path, model_path: str | Path, split: str = "test", device: str = "auto",
             out_dir: str | Path | None = None, ctx: JobContext | None = None) -> dict:
    from .model import load_model, pick_device

    load_split(dataset, split)  # a missing split is said before the model is loaded
    device = pick_device(device)
    model, ck = load_model(model_path, device)
    gt, results = predict(model, Path(dataset), split, device, ctx=ctx)
    report = evaluate_predictions(gt, results)
    report.update(model=str(model_path), model_version=ck.get("model_version"), split=split,
                  dataset=str(dataset), label=Path(model_path).parent.name)
    if out_dir is not None:
        write_report(report, Path(out_dir))
    return report


def write_report(report: dict, out_dir: Path) -> None:
    """eval.json, eval.csv (one row per bucket) and the occlusion plot, each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text(out_dir / "eval.json", json.dumps(report, indent=1))
    with atomic_path(out_dir / "eval.csv") as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["bucket", "n_gt", "AP_box", "AP50_box", "AP_mask", "AP50_mask", "PCK@0.1"])
        w.writerow(["all", report["n_annotations"], *(report["overall"][k] for k in
                                                      ("AP_box", "AP50_box", "AP_mask", "AP50_mask")), ""])
        for b, row in report["buckets"].items():
            w.writerow([b, row["n_gt"], row["AP_box"], row["AP50_box"], row["AP_mask"], row["AP50_mask"],
                        row["PCK@0.1"]])
    plot_runs([report], out_dir / "occlusion.png")


def plot_runs(reports: list[dict], out_png: str | Path, labels: list[str] | None = None,
              metric: str = "AP_mask", title: str | None = None) -> None:
    """The paper's figure: accuracy against occlusion level, one line per run (e.g. WALT3D / WALT2D / none)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = labels or [r.get("label") or f"run {i + 1}" for i, r in enumerate(reports)]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), dpi=110)
    names = [bucket_label(b) for b in BUCKETS]
    for ax, m in zip(axes, (metric, "PCK@0.1")):
        top = 0.0
        for rep, lab in zip(reports, labels):
            ys = np.array([np.nan if rep["buckets"][n][m] is None else rep["buckets"][n][m] for n in names], float)
            ax.plot(range(5), ys, marker="o", label=lab)
            if np.isfinite(ys).any():
                top = max(top, float(np.nanmax(ys)))
        ax.set_xticks(range(5), names)
        ax.set_xlabel("occlusion")
        ax.set_ylabel(m.replace("_", " "))
        # 0..1 when the values use it; small values (short training runs) get an axis they can be read on
        ax.set_ylim(0, 1 if top > 0.5 else max(0.05, round(top * 1.25, 2)))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(out_png, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
