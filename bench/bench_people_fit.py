"""People fitting speed: 1,000 person detections through the built-in estimator (batched over tracks) and the
judging step, against a naive per-detection fit (pose the whole mesh by LBS at every step, project all 6,890
vertices, place by the box bottom, search the height by the box top), in the same process.

    python bench/bench_people_fit.py [--tracks 50] [--frames 20] [--baseline 100]

The baseline is timed on --baseline detections and scaled to 1,000 (it is linear in the count)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from people_synth import CAMERAS, person_track  # noqa: E402
from walt3d_studio.reconstruct import bodies  # noqa: E402
from walt3d_studio.reconstruct.body_builtin import BuiltinEstimator  # noqa: E402
from walt3d_studio.reconstruct.body_ground import box_bottom_pixels, box_edges  # noqa: E402
from walt3d_studio.reconstruct.people_fit import PeopleFitSettings, _PoseCache, body_silhouette, judge_track  # noqa


def naive_fit(cam, det, iters: int = 3) -> dict:
    """One detection on its own: a standing body facing the camera, the whole mesh posed each step."""
    shape = {"height_m": 1.7}
    G = cam.backproject_to_ground(box_bottom_pixels(det.box))[0]
    go = bodies.upright_orient(-cam.d * cam.n - G, cam.n)
    p = bodies.place_on_ground({"global_orient": go, "body_pose": bodies.walking_pose(0, 0)}, shape, G, cam.n, cam.d)
    edges = box_edges(det.box)[0]
    for _ in range(iters):  # box bottom-centre onto the detection's
        v, _ = bodies.posed_mesh(p, shape)
        px = cam.project(v)
        miss = np.array([(edges[0] + edges[2]) / 2 - (px[:, 0].min() + px[:, 0].max()) / 2, edges[3] - px[:, 1].max()])
        G = cam.backproject_to_ground(cam.project(G[None])[0] + miss)[0]
        p = bodies.place_on_ground(p, shape, G, cam.n, cam.d)
    h0, h1 = 1.6, 1.8
    def top(h):
        s = dict(shape, height_m=h)
        q = bodies.place_on_ground(p, s, G, cam.n, cam.d)
        return cam.project(bodies.posed_mesh(q, s)[0])[:, 1].min() - edges[1]
    f0, f1 = top(h0), top(h1)
    for _ in range(3):
        h0, h1, f0 = h1, h1 - f1 * (h1 - h0) / (f1 - f0), f1
        f1 = top(h1)
    return dict(p, height=h1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=50)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--baseline", type=int, default=100)
    a = ap.parse_args()
    cam = CAMERAS["street"]
    rng = np.random.default_rng(0)
    tracks = [person_track(cam, rng, n=a.frames, walking=i % 4 != 0)[0] for i in range(a.tracks)]
    n = sum(len(t) for t in tracks)
    est = BuiltinEstimator()
    est.estimate_tracks(cam, tracks[:1])  # warm caches (the posed candidate bodies)
    t0, c0 = time.perf_counter(), time.process_time()
    ests = est.estimate_tracks(cam, tracks)
    t_est, c_est = time.perf_counter() - t0, time.process_time() - c0
    settings, cache = PeopleFitSettings(), _PoseCache()
    t0, c0 = time.perf_counter(), time.process_time()
    for dets, e in zip(tracks, ests):
        judge_track(cam, dets, e, settings, cache)
    t_judge, c_judge = time.perf_counter() - t0, time.process_time() - c0
    # silhouettes (IoU against a mask) per detection, both rasterisers, on the first 100
    sample = [(d, e, i) for dets, e in zip(tracks, ests) for i, d in enumerate(dets)][:100]
    times = {}
    for how in ("exact", "parts"):
        t0 = time.perf_counter()
        for d, e, i in sample:
            v, j, faces, _ = cache.posed(e.params[i], e.shape)
            x, y, w, h = d.box
            body_silhouette(cam, v, faces, (int(x) - 10, int(y) - 10, int(w) + 20, int(h) + 20), how)
        times[how] = (time.perf_counter() - t0) / len(sample)
    flat = [d for t in tracks for d in t][:a.baseline]
    t0, c0 = time.perf_counter(), time.process_time()
    for d in flat:
        naive_fit(cam, d)
    t_naive = (time.perf_counter() - t0) / len(flat) * n
    c_naive = (time.process_time() - c0) / len(flat) * n
    print(f"{n} detections in {len(tracks)} tracks (street camera, 3 of 4 tracks walking)")
    print("wall s (CPU s of this process; on a shared machine CPU time is the steadier figure)")
    print(f"built-in estimator (batched): {t_est:.2f} ({c_est:.2f})  | judging (pose, foot residual, COCO-17): "
          f"{t_judge:.2f} ({c_judge:.2f})")
    print(f"  estimate + judge: {t_est + t_judge:.2f} ({c_est + c_judge:.2f}) for {n} (target < 2 s)")
    print(f"naive per-detection fit: {t_naive:.1f} ({c_naive:.1f}) for {n} (timed on {len(flat)})  -> ratio "
          f"{t_naive / t_est:.1f}x wall, {c_naive / c_est:.1f}x CPU")
    print(f"silhouette IoU per detection: exact {1000 * times['exact']:.1f} ms, part hulls {1000 * times['parts']:.1f} ms"
          f" -> +{times['exact'] * n:.1f} s / +{times['parts'] * n:.1f} s per {n} with masks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
