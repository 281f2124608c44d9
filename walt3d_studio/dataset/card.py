"""The dataset card (README.md in the dataset) and its occlusion histogram (occlusion.png).

The card says what a reader of the dataset needs before using it: counts per split and class, the occlusion
distribution, which cameras and time spans the objects came from, the seeds and settings of the runs that made
it, where the footage came from and under which licence, what privacy treatment was applied, and how to load it
(the loading snippets are executed by the tests, so they stay true).
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from .. import __version__
from ..store import datasets as store_ds
from ..training.dataset import BUCKETS, bucket_label, bucket_of  # the same buckets as the evaluation

LICENCE_FILES = ("ATTRIBUTION.md", "LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "LICENCE.md", "COPYING")


def histogram_png(path: Path, splits: dict, cats: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.2), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    bins = np.linspace(0, 1, 11)
    names = {c["id"]: c["name"] for c in cats}
    for split, sp in splits.items():
        for cid, name in names.items():
            occ = [a["occlusion"] for a in sp["annotations"] if a["category_id"] == cid]
            if occ:
                ax.hist(occ, bins=bins, histtype="step", linewidth=1.5, label=f"{split} {name} ({len(occ)})")
    ax.set_xlabel("occlusion (fraction of the amodal mask hidden)")
    ax.set_ylabel("objects")
    ax.set_xlim(0, 1)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)


def _licence(source_path: str) -> str:
    p = Path(source_path)
    for folder in ([p] if p.is_dir() else []) + [p.parent]:
        for name in LICENCE_FILES:
            f = folder / name
            if f.is_file():
                lines = [ln.rstrip() for ln in f.read_text(errors="replace").splitlines() if ln.strip()][:12]
                return f"from `{f.name}` beside it:\n\n" + "\n".join("    " + ln for ln in lines)
    return "not recorded (no ATTRIBUTION.md or LICENSE beside the footage): **fill this in before sharing**"


def _local(t: float, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return datetime.fromtimestamp(t, ZoneInfo(tz)).isoformat(timespec="seconds")


def write_card(tmp: Path, project, splits: dict, cats: list[dict], counts: dict, settings, comps,
               privacy_counts: dict) -> list[str]:
    """Write README.md and occlusion.png into the dataset folder; returns their relative paths."""
    histogram_png(tmp / "occlusion.png", splits, cats)
    names = {c["id"]: c["name"] for c in cats}
    L = [f"# WALT3D Studio dataset: {project.name}", "",
         f"Made by WALT3D Studio {__version__} ({settings.fmt}) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
         f" from the project `{project.root.name}`: composites of objects mined from stationary time-lapse, pasted"
         " far to near onto empty backgrounds (WALT3D, CVPR 2024), with amodal and visible masks, boxes, keypoints"
         " and 3D fits as pseudo-groundtruth.", "",
         "## Counts", "", "| split | images | annotations | " + " | ".join(names.values()) + " |",
         "|---|---|---|" + "---|" * len(names)]
    for split, c in counts["splits"].items():
        L.append(f"| {split} | {c['images']} | {c['annotations']} | "
                 + " | ".join(str(c["categories"].get(n, 0)) for n in names.values()) + " |")
    L += ["", "## Occlusion", "", "![occlusion histogram](occlusion.png)", "",
          "| split | class | " + " | ".join(bucket_label(b) for b in BUCKETS) + " |",
          "|---|---|" + "---|" * len(BUCKETS)]
    for split, sp in splits.items():
        for cid, name in names.items():
            occ = [bucket_of(a["occlusion"]) for a in sp["annotations"] if a["category_id"] == cid]
            if occ:
                L.append(f"| {split} | {name} | " + " | ".join(str(occ.count(i)) for i in range(len(BUCKETS)))
                         + " |")
    # cameras and time spans of the source frames the objects came from
    frames = {a["walt3d"].get("source_frame_id") for sp in splits.values() for a in sp["annotations"]}
    times = store_ds.frame_times(project, frames)
    L += ["", "## Cameras and time spans", ""]
    for cam in store_ds.camera_rows(project):
        used = [a for sp in splits.values() for a in sp["annotations"] if a["walt3d"]["camera"] == cam["name"]]
        if not used:
            continue
        ts = [times[a["walt3d"]["source_frame_id"]] for a in used if a["walt3d"].get("source_frame_id") in times]
        span = f"{_local(min(ts), cam['tz'])} .. {_local(max(ts), cam['tz'])} ({cam['tz']})" if ts else "unknown"
        L.append(f"- **{cam['name']}** ({cam['width']}×{cam['height']}): {len(used)} objects from "
                 f"{len({a['walt3d'].get('track_id') for a in used})} tracks; source frames {span}")
    L += ["", "## Runs that made it", "",
          f"Composite methods: {', '.join(sorted({c.method for c in comps}))}; seeds: "
          f"{', '.join(str(s) for s in sorted({c.seed for c in comps}))}.", ""]
    runs = store_ds.runs_by_id(project, {c.run_id for c in comps})
    for r in runs:
        L.append(f"- run {r['id']} `{r['stage']}` (walt3d {r['version']}, {r['status']}): "
                 f"`{json.dumps(r['settings'], sort_keys=True)}`")
    if not runs:
        L.append("- the composites carry no run record (made outside `walt3d composite`)")
    L.append(f"- export settings: `{json.dumps({'format': settings.fmt, 'blur': list(settings.blur), 'arrays': settings.arrays, 'methods': list(settings.methods)})}`")
    L += ["", "## Sources and licences", ""]
    cams = {c["id"]: c["name"] for c in store_ds.camera_rows(project)}
    for s in store_ds.source_rows(project):
        L.append(f"- camera {cams.get(s['camera_id'], s['camera_id'])}: {s['kind']} `{Path(s['path']).name}`"
                 f" ({s['n_frames']} frames); licence {_licence(s['path'])}")
    if not store_ds.source_rows(project):
        L.append("- no sources recorded in the project: **fill in where the footage came from before sharing**")
    L += ["", "## Privacy", ""]
    if settings.blur:
        L.append("Applied: " + ", ".join(settings.blur) + ". Regions blurred: "
                 + (", ".join(f"{k} {v}" for k, v in privacy_counts.items()) or "none") + ".")
        L.append("Heads come from each person's fitted body (or head keypoints), plates from the region between a"
                 " vehicle's lamps; each region is cut to the object's visible mask. Blurring is geometric and can"
                 " miss people or plates the pipeline never fitted (e.g. in the background image): check before"
                 " publishing.")
    else:
        L.append("**None**: the export was asked not to blur faces or plates. Do not publish these images.")
    if not settings.arrays:
        L += ["", "No HDF5 arrays in this dataset (not asked for, or the composites carry none)."]
    L += ["", "## Files and fields", "",
          "- `images/<split>/<id>.png`; `annotations/<split>.json` (COCO; `file_name` is relative to this folder)",
          "- `arrays/<split>.h5`: per image size `images/<H>x<W>/` holds `image_id` (n), `depth` (n,H,W) float32"
          " metres along z (NaN above the horizon), `normal` (n,H,W,3) float16 unit normals (camera frame),"
          " `instance` (n,H,W) uint16 (0 = background, k = `instance_ann_ids[row, k]`, 65535 = a rejected object"
          " that still hides what is behind it); `annotations/` holds `id`, `image_id` and the 3D arrays `R`, `t`,"
          " `shape_coeffs`, `global_orient`, `body_pose`, `betas`, `transl` (NaN where an object lacks one); gzip 4,"
          " one chunk per image",
          "- `manifest.json`: versions, settings, seeds, runs, counts, sha256 of every file",
          "- per annotation: amodal `segmentation`/`bbox`/`area`, `visible_segmentation`/`visible_bbox`/"
          "`visible_area`, `occlusion` (1 − visible/amodal), `depth_rank` (0 = nearest), `occluded_by`"
          " (annotation ids), `keypoints`/`num_keypoints` (v: 0 absent, 1 occluded, 2 visible), `track_id`,"
          " `walt3d` (source frame, camera, 3D pose and shape, fit quality)" if settings.fmt == "coco-amodal" else
          "- per annotation (KINS names): `a_segm`/`a_bbox`/`a_area` amodal, `i_segm`/`i_bbox`/`i_area` visible,"
          " `bbox`/`area` (amodal, for COCO loaders), `occlusion`, `depth_rank`, `occluded_by`, `keypoints`,"
          " `track_id`, `walt3d`"]
    L += ["", "## How to load", "", "Run these from this folder.", ""] + loading_snippets(settings.fmt, list(splits))
    (tmp / "README.md").write_text("\n".join(L) + "\n")
    return ["README.md", "occlusion.png"]


def loading_snippets(fmt: str, splits: list[str]) -> list[str]:
    split = splits[0]
    amodal, visible = ("segmentation", "visible_segmentation") if fmt == "coco-amodal" else ("a_segm", "i_segm")
    return ["### pycocotools", "", "```python", f"""from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

coco = COCO("annotations/{split}.json")
ann = coco.loadAnns(coco.getAnnIds())[0]
amodal = mask_utils.decode(ann["{amodal}"])    # H x W uint8, the full object
visible = mask_utils.decode(ann["{visible}"])  # the part that can be seen
print(len(coco.getImgIds()), "images;", amodal.sum(), "amodal px,", visible.sum(), "visible px")""", "```", "",
            "### A torchvision Dataset", "", "```python", f"""import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from torchvision.transforms.functional import pil_to_tensor


class Walt3DDataset(torch.utils.data.Dataset):
    def __init__(self, root, split="{split}"):
        self.root = Path(root)
        data = json.loads((self.root / "annotations" / f"{{split}}.json").read_text())
        self.images = data["images"]
        self.anns = {{}}
        for a in data["annotations"]:
            self.anns.setdefault(a["image_id"], []).append(a)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        info = self.images[i]
        image = pil_to_tensor(Image.open(self.root / info["file_name"]).convert("RGB")).float() / 255
        anns = self.anns.get(info["id"], [])
        h, w = info["height"], info["width"]

        def masks(key):
            if not anns:
                return torch.zeros((0, h, w), dtype=torch.uint8)
            return torch.from_numpy(np.stack([mask_utils.decode(a[key]) for a in anns]))

        target = {{"boxes": torch.tensor([[x, y, x + bw, y + bh] for x, y, bw, bh in (a["bbox"] for a in anns)],
                                        dtype=torch.float32).reshape(-1, 4),
                  "labels": torch.tensor([a["category_id"] for a in anns], dtype=torch.int64),
                  "masks": masks("{amodal}"), "visible_masks": masks("{visible}"),
                  "occlusion": torch.tensor([a["occlusion"] for a in anns], dtype=torch.float32)}}
        return image, target


dataset = Walt3DDataset(".")
image, target = dataset[0]
print(image.shape, target["boxes"].shape, target["masks"].shape)""", "```", "",
            "### detectron2", "", "```python", f"""from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json

for split in {splits!r}:
    DatasetCatalog.register(f"walt3d_{{split}}", lambda s=split: load_coco_json(
        f"annotations/{{s}}.json", ".", f"walt3d_{{s}}",
        extra_annotation_keys=["{visible}", "occlusion", "depth_rank", "track_id"]))
    MetadataCatalog.get(f"walt3d_{{split}}").set(json_file=f"annotations/{{split}}.json", image_root=".",
                                               evaluator_type="coco")""", "```",
            "", "detectron2 reads `segmentation` as the instance mask: these are the amodal masks."]
