"""Precision/recall of mined-unoccluded on a dense synthetic scene with exact truth (rendered shapes, not real
crops): four lanes of cars at different speeds, so faster ones catch up, touch (one foreground blob) and pass,
plus pairs of walkers that meet and part. Run it with the code to measure first on PYTHONPATH:

    PYTHONPATH=$PWD python bench/dense_truth.py            # this tree
    PYTHONPATH=/path/to/other/tree python bench/dense_truth.py

precision: mined detections that are exactly one true object not touching another / all mined;
recall: truly isolated objects (present, whole, untouched, not truncated) that are mined / all of them.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_mining_scenes import Obj, make_project  # noqa: E402


def scene(seed: int = 0) -> list[Obj]:
    rng = np.random.default_rng(seed)
    objs = []
    for lane, y in enumerate((20, 70, 120)):
        x = -60.0
        for k in range(6):
            v = float(rng.uniform(2.0, 5.0))
            x -= float(rng.uniform(50, 160))  # enters later
            col = tuple(int(c) for c in rng.integers(20, 255, 3))
            objs.append(Obj("rect", col, (44, 26), (x, y + rng.integers(-2, 3)), (v, 0.0), "car"))
    for k in range(5):  # walkers: pairs meeting head-on in the bottom band
        y = 175 + int(rng.integers(0, 20))
        t0 = int(rng.integers(0, 200))
        col = tuple(int(c) for c in rng.integers(20, 255, 3))
        col2 = tuple(int(c) for c in rng.integers(20, 255, 3))
        objs.append(Obj("ellipse", col, (14, 34), (-20 - 1.5 * t0, y), (1.5, 0.0), "person"))
        objs.append(Obj("ellipse", col2, (14, 34), (340 + 1.5 * t0, y + 1), (-1.5, 0.0), "person"))
    return objs


def main(n_frames: int = 300) -> None:
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store.detections import detection_table

    objs = scene()
    with tempfile.TemporaryDirectory() as tmp:
        p, cam, frames, truth = make_project(Path(tmp), objs, n_frames)
        with p:
            mine(p, cam)
            dt = detection_table(p, camera_id=cam)
            pos = {int(f): i for i, f in enumerate(p.frame_table(cam).ids)}
            k3 = np.ones((3, 3), np.uint8)
            touching = {}
            for t, rows in enumerate(truth):
                grown = [cv2.dilate(r["amodal"].astype(np.uint8), k3).astype(bool) for r in rows]
                for i, r in enumerate(rows):
                    touching[t, i] = r["present"] and any(j != i and rows[j]["present"] and (grown[i] & rows[j]["amodal"]).any()
                                                          for j in range(len(rows)))
            good = mined = 0
            why: dict[str, int] = {}
            mined_obj = set()
            for i in range(len(dt)):
                if dt.verdict[i] != "unoccluded":
                    continue
                t = pos[int(dt.frame_id[i])]
                x, y, w, h = dt.box[i].astype(int)
                inside = [j for j, r in enumerate(truth[t]) if r["present"]
                          and r["visible"][y:y + h, x:x + w].sum() > 0.3 * max(r["visible"].sum(), 1)]
                mined += 1
                if len(inside) == 1 and not touching[t, inside[0]]:
                    good += 1
                    mined_obj.add((t, inside[0]))
                else:
                    kind = "none" if not inside else ("touching" if len(inside) == 1 else f"{len(inside)} objects")
                    why[kind] = why.get(kind, 0) + 1
            isolated = [(t, i) for t, rows in enumerate(truth) for i, r in enumerate(rows)
                        if r["present"] and not r["truncated"] and not r["occluded"] and not touching[t, i]]
            merged_true = sum(1 for t, rows in enumerate(truth) for i, r in enumerate(rows) if touching[t, i])
            print(f"frames {n_frames}, detections {len(dt)}, object-frames touching another {merged_true}")
            print(f"mined {mined}, of them one whole untouched object {good}: precision {good / max(mined, 1):.3f}")
            print("wrong mined:", why)
            print(f"isolated object-frames {len(isolated)}, mined {len(mined_obj & set(isolated))}: "
                  f"recall {len(mined_obj & set(isolated)) / max(len(isolated), 1):.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
