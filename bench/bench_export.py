"""Dataset export speed: `export_dataset` on N small composites, against a naive exporter in the same process.

    .venv/bin/python bench/bench_export.py [--n 10000] [--size 128x96] [--baseline-n 1000] [--workdir DIR]

Composites: the synthetic scene of the export tests (a car partly hidden by a person, keypoints, 3D pose, depth /
normal / instance arrays) on noise images, N distinct PNG + NPZ files written through the store API like the
compositor writes them (building them is not timed).
Ours: `export_dataset` (1) without arrays and no blur, (2) without arrays with the default privacy blur,
(3) with the HDF5 arrays and the default blur. Baseline (the obvious way): copy each image, decode every mask and
write it as COCO polygons (cv2.findContours), `json.dump(indent=2)` per split, and with arrays one HDF5 file per
image (gzip 4). The baseline runs on --baseline-n composites (it is slow) and is compared per image.
Times are wall clock and process CPU time (the fairer figure on a shared, oversubscribed machine); each figure is
one run. --workdir keeps the built projects for another run.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def naive_export(project, out: Path, arrays: bool) -> int:
    import h5py
    from pycocotools import mask as mask_utils

    from walt3d_studio.store.composites import list_composites

    comps = list_composites(project, with_objects=True)
    docs: dict[str, dict] = {}
    ann_id = 0
    for n, c in enumerate(comps, 1):
        d = docs.setdefault(c.split, {"images": [], "annotations": []})
        img_dir = out / "images" / c.split
        img_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project.root / c.image_path, img_dir / f"{n}.png")
        img = cv2.imread(str(img_dir / f"{n}.png"))
        d["images"].append({"id": n, "file_name": f"images/{c.split}/{n}.png", "width": img.shape[1],
                            "height": img.shape[0]})
        for o in c.objects:
            ann_id += 1
            polys = {}
            for key, r in (("segmentation", o.amodal_rle), ("visible_segmentation", o.visible_rle)):
                m = mask_utils.decode({"size": r["size"], "counts": r["counts"].encode()})
                cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
                polys[key] = [cc.reshape(-1).astype(float).tolist() for cc in cs]
            d["annotations"].append({"id": ann_id, "image_id": n, "category_id": 1 if o.kind == "vehicle" else 2,
                                     "bbox": o.amodal_box, "visible_bbox": o.visible_box, **polys,
                                     "occlusion": o.occlusion, "keypoints": o.keypoints, "pose": o.pose})
        if arrays:
            (out / "arrays").mkdir(exist_ok=True)
            with np.load(project.root / c.arrays_path) as z, h5py.File(out / "arrays" / f"{n}.h5", "w") as f:
                for k in ("depth", "normal", "instance"):
                    f.create_dataset(k, data=z[k], compression="gzip", compression_opts=4)
    for split, d in docs.items():
        (out / f"{split}.json").write_text(json.dumps(d, indent=2))
    return len(comps)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--baseline-n", type=int, default=1000)
    ap.add_argument("--size", default="128x96")
    ap.add_argument("--workdir", help="build the projects here and keep them (reused when present)")
    a = ap.parse_args()
    import export_scene

    export_scene.W, export_scene.H = (int(v) for v in a.size.split("x"))
    from walt3d_studio.dataset.export import export_dataset

    from walt3d_studio.store import Project

    tmp = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="bench_export_"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()

        def build(name, n):
            if (tmp / name / "project.sqlite").exists():
                return Project.open(tmp / name)
            return export_scene.make_project(tmp / name, n_per_split=n)

        big = build("big.walt3d", a.n // 3)
        small = build("small.walt3d", max(1, a.baseline_n // 3))
        n_big = len(big.conn.execute("SELECT id FROM composites").fetchall())
        n_small = len(small.conn.execute("SELECT id FROM composites").fetchall())
        print(f"built {n_big} + {n_small} composites {a.size} in {time.perf_counter() - t:.1f} s")
        export_dataset(small, tmp / "warm", blur="none", arrays=False, force=True)  # imports (matplotlib...) out of the timing
        rows = []
        for name, kw, base_arrays in (("no arrays, no blur", dict(blur="none", arrays=False), False),
                                      ("no arrays, blur faces+plates", dict(arrays=False), False),
                                      ("HDF5 arrays, blur faces+plates", dict(arrays=True), True)):
            out = tmp / f"ours_{len(rows)}"
            shutil.rmtree(out, ignore_errors=True)
            t, c = time.perf_counter(), time.process_time()
            export_dataset(big, out, **kw)
            ours, ours_cpu = n_big / (time.perf_counter() - t), n_big / (time.process_time() - c)
            shutil.rmtree(out)
            out = tmp / f"base_{len(rows)}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            t, c = time.perf_counter(), time.process_time()
            naive_export(small, out, base_arrays)
            base, base_cpu = n_small / (time.perf_counter() - t), n_small / (time.process_time() - c)
            shutil.rmtree(out)
            rows.append((name, ours, base))
            print(f"{name:32s} wall: ours {ours:7.1f}/s naive {base:7.1f}/s ratio {ours / base:5.2f}x | "
                  f"CPU: ours {ours_cpu:7.1f}/s naive {base_cpu:7.1f}/s ratio {ours_cpu / base_cpu:5.2f}x",
                  flush=True)
        big.close()
        small.close()
    finally:
        if not a.workdir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
