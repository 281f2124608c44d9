"""Issue 12's truth figures on dense scenes built from REAL mined crops (bench/real_crop_scenes.py).

    PYTHONPATH=$PWD .venv/bin/python bench/dense_real_truth.py [--frames-road 300] [--frames-lot 150]
    PYTHONPATH=/path/to/other/tree .venv/bin/python bench/dense_real_truth.py   # the same scenes, other code

Two scenes, each a project of its own (image folder + the exact background the crops were pasted on):
- road: the bridge clip's median background, two lanes of cars coming toward the camera, in groups of 1-4
  queued bumper to bumper (each car's bottom 3 px inside the box of the one in front), crops of 11 single cars
  mined from the clip itself, scaled with the clip's perspective;
- lot: the parking-lot GIF's median background, walkers (crops of the clip's pedestrian) alone or in pairs
  side by side (the second a little nearer, overlapping a third of the first's width), on three paths.

Precision of mined-unoccluded: a mined detection is right when exactly one true object is in it (>= 30 % of
that object's visible pixels inside its box), that object touches no other (amodal masks 1 px apart) and the
detection is the whole object (box IoU with the object's amodal box >= 0.5). Recall: of the object-frames that
are present, whole (not occluded, not truncated) and touch nothing, the fraction mined (a right detection).
The crop pool is mined once with the code on PYTHONPATH and cached (WALT3D_BENCH_CACHE, default
/tmp/walt3d-real-crops); to run two trees on the same scenes, give both the same WALT3D_BENCH_CACHE (the pool
is then the first tree's). A fresh cache mines the pool with the code being measured, as a fresh checkout does.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_crop_scenes import build_scene, crop_pool  # noqa: E402

ROAD_LANES = [(222, 12, 10, 300), (252, 12, 167, 300)]       # bottom-centre paths: far end -> off the bottom
LOT_PATHS = [(-20, 140, 500, 140), (500, 190, -20, 190), (-20, 235, 500, 235)]


def scenes(n_road: int, n_lot: int, seed: int = 0, stride: int = 2):
    """[(name, background, frames, truth)]; stride: frames per walker pose (0: each walker keeps one pose)."""
    road = crop_pool("road")
    lot = crop_pool("lot", categories=("person",), max_jump=1.0, per_track=20)
    lot.scale_fit = (0.0, float(np.median([c.rgba.shape[0] for c in lot.crops])))  # one walker: no perspective fit
    out = []
    if n_road:
        f, t = build_scene(road, n_road, seed, lanes=ROAD_LANES, group_sizes=(1, 1, 2, 2, 3, 4),
                           gap_frames=(10, 40), speed_frames=(50, 80))
        out.append(("road", road.background, f, t))
    if n_lot:
        f, t = build_scene(lot, n_lot, seed + 1, lanes=LOT_PATHS, group_sizes=(1, 1, 2), side_by_side=True,
                           gap_frames=(5, 25), speed_frames=(70, 120), stride=stride)
        out.append(("lot", lot.background, f, t))
    return out


def scene_project(tmp: Path, name: str, background, frames):
    """(project, camera): the scene's frames as an image folder and its exact background (window 'all'); the
    project is open (the caller closes it: `with p:`)."""
    from walt3d_studio.store import Project

    folder = tmp / f"{name}_frames"
    folder.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"cam_20240501_{8 + i // 3600:02d}{(i // 60) % 60:02d}{i % 60:02d}.png"),
                    cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    p = Project.create(tmp / name)
    cam = p.add_camera("cam", "UTC")
    p.add_source(folder, cam)
    p.save_background(cam, "all", background.astype(np.float32), n_frames=len(frames), first_time=None,
                      last_time=None, settings={"hours_per_window": None})
    return p, cam


def run_scene(tmp: Path, name: str, background, frames, truth, settings=None) -> dict:
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store.detections import detection_table

    p, cam = scene_project(tmp, name, background, frames)
    with p:
        t0 = time.perf_counter()
        mine(p, cam, settings)
        secs = time.perf_counter() - t0
        dt = detection_table(p, camera_id=cam)
        pos = {int(f): i for i, f in enumerate(p.frame_table(cam).ids)}
        from walt3d_studio.store.detections import verdict_reasons

        reasons = verdict_reasons(p, [int(i) for i in dt.id])
    good, mined = 0, 0
    why: Counter = Counter()
    mined_obj = set()
    for i in range(len(dt)):
        if dt.verdict[i] != "unoccluded":
            continue
        mined += 1
        t = pos[int(dt.frame_id[i])]
        x, y, w, h = dt.box[i].astype(int)
        inside = [j for j, r in enumerate(truth[t])
                  if r["visible"][y:y + h, x:x + w].sum() > 0.3 * max(r["visible"].sum(), 1)]
        if len(inside) == 1:
            r = truth[t][inside[0]]
            ys, xs = np.nonzero(r["amodal"])
            ob = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            ix = max(0, min(x + w, ob[2]) - max(x, ob[0])) * max(0, min(y + h, ob[3]) - max(y, ob[1]))
            iou = ix / (w * h + (ob[2] - ob[0]) * (ob[3] - ob[1]) - ix)
            if r["touching"]:
                why["one object, touching another"] += 1
            elif iou < 0.5:
                why["part of one object"] += 1
            else:
                good += 1
                mined_obj.add((t, r["id"]))
        else:
            why["none" if not inside else f"{len(inside)} objects"] += 1
    isolated = {(t, r["id"]) for t, rows in enumerate(truth) for r in rows
                if not r["truncated"] and not r["occluded"] and not r["touching"]}
    touching = sum(1 for rows in truth for r in rows if r["touching"])
    # isolated object-frames whose nearest other object is at least the foreground detector's closing size away
    # (0.025 of the image height): gaps below it are joined into one blob by the detector, so those cars are a
    # merge to it however right the truth is that they do not touch (a supplementary figure: the recall above
    # stays the definition)
    from scipy.ndimage import distance_transform_edt

    gap_px = 0.025 * truth_h(truth)
    apart = set()
    for t, oid in isolated:
        r = next(r for r in truth[t] if r["id"] == oid)
        others = [o for o in truth[t] if o is not r]
        if not others:
            apart.add((t, oid))
            continue
        d = distance_transform_edt(~r["amodal"])
        if min(float(d[o["amodal"]].min()) for o in others) >= gap_px:
            apart.add((t, oid))
    missed: Counter = Counter()  # why an isolated object-frame was not mined: its detection's verdict and flags
    by_frame: dict[int, list[int]] = {}
    for i in range(len(dt)):
        by_frame.setdefault(pos[int(dt.frame_id[i])], []).append(i)
    for t, oid in isolated - mined_obj:
        r = next(r for r in truth[t] if r["id"] == oid)
        best, bi = 0, None
        for i in by_frame.get(t, []):
            x, y, w, h = dt.box[i].astype(int)
            v = r["visible"][y:y + h, x:x + w].sum()
            if v > best:
                best, bi = v, i
        if bi is None:
            missed["not detected"] += 1
        else:
            fl = [f for f in reasons.get(int(dt.id[bi]), {}).get("flags", []) if f != "occluded"]
            missed[f"{dt.verdict[bi]} {'+'.join(sorted(fl))}"] += 1
    return {"scene": name, "frames": len(frames), "detections": len(dt), "mined": mined, "good": good,
            "wrong": dict(why), "isolated": len(isolated), "isolated_mined": len(mined_obj & isolated),
            "touching_object_frames": touching, "apart": len(apart), "apart_mined": len(mined_obj & apart),
            "missed": dict(missed.most_common(8)), "mine_s": round(secs, 2)}


def truth_h(truth) -> int:
    return next(r["amodal"].shape[0] for rows in truth for r in rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames-road", type=int, default=300)
    ap.add_argument("--frames-lot", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, nargs="+", help="several scenes (one per seed), figures pooled: one seed's "
                                                         "scene is a few hundred objects, too few to judge by")
    ap.add_argument("--stride", type=int, default=2, help="lot scene: frames per walker pose; 0 = each walker keeps "
                                                           "one pose all the way (the scenes before 2026-12-02)")
    ap.add_argument("--sheet", type=Path, help="write frame strips of each scene here (PNG)")
    a = ap.parse_args()
    if a.seeds:
        return pooled(a)
    res = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, bg, frames, truth in scenes(a.frames_road, a.frames_lot, a.seed, a.stride):
            if a.sheet:
                pick = [frames[i] for i in np.linspace(10, len(frames) - 10, 4).astype(int)]
                cv2.imwrite(str(a.sheet.with_name(f"{a.sheet.stem}-{name}.png")),
                            cv2.cvtColor(np.hstack(pick), cv2.COLOR_RGB2BGR))
            res.append(run_scene(Path(tmp), name, bg, frames, truth))
    tot = Counter()
    for r in res:
        print(f"{r['scene']}: {r['frames']} frames, {r['detections']} detections, object-frames touching another "
              f"{r['touching_object_frames']}; mined {r['mined']}, right {r['good']} "
              f"(precision {r['good'] / max(r['mined'], 1):.3f}); isolated {r['isolated']}, mined "
              f"{r['isolated_mined']} (recall {r['isolated_mined'] / max(r['isolated'], 1):.3f}); wrong: {r['wrong']};"
              f" mine {r['mine_s']} s")
        print("   isolated, not mined:", r["missed"])
        print(f"   isolated and at least the detector's closing size (0.025 x height) from any other object: "
              f"{r['apart']}, mined {r['apart_mined']} (recall {r['apart_mined'] / max(r['apart'], 1):.3f})")
        for k in ("frames", "mined", "good", "isolated", "isolated_mined"):
            tot[k] += r[k]
    print(f"all: {tot['frames']} frames, mined {tot['mined']}, precision {tot['good'] / max(tot['mined'], 1):.3f}, "
          f"recall {tot['isolated_mined'] / max(tot['isolated'], 1):.3f}")


def pooled(a) -> None:
    """One line per seed and scene, then precision and recall pooled over the seeds, per scene and for both."""
    tot: Counter = Counter()
    for seed in a.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            for name, bg, frames, truth in scenes(a.frames_road, a.frames_lot, seed, a.stride):
                r = run_scene(Path(tmp), name, bg, frames, truth)
                for k in ("mined", "good", "isolated", "isolated_mined"):
                    tot[name, k] += r[k]
                    tot["all", k] += r[k]
                print(f"seed {seed} {name}: mined {r['mined']}, right {r['good']} "
                      f"(precision {r['good'] / max(r['mined'], 1):.3f}); isolated {r['isolated']}, mined "
                      f"{r['isolated_mined']} (recall {r['isolated_mined'] / max(r['isolated'], 1):.3f}); "
                      f"wrong: {r['wrong']}", flush=True)
    for name in ("road", "lot", "all"):
        print(f"{name}, seeds {' '.join(map(str, a.seeds))}: mined {tot[name, 'mined']}, precision "
              f"{tot[name, 'good'] / max(tot[name, 'mined'], 1):.3f}, recall "
              f"{tot[name, 'isolated_mined'] / max(tot[name, 'isolated'], 1):.3f}")


if __name__ == "__main__":
    main()
