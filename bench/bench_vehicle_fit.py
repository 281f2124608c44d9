"""Vehicle fitting speed: a 30-frame track fit against per-frame EPnP on the same frames, and the time for
1,000 tracks (it should grow linearly). Synthetic tracks from the shape model (2 px noise, 30 % missing).

    python bench/bench_vehicle_fit.py [--tracks 20] [--scale 100 300 1000]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

from walt3d_studio.reconstruct import vehicle_pose as vp  # noqa: E402
from walt3d_studio.reconstruct import vehicle_synth as syn  # noqa: E402


# CPU time of this process (single-threaded: OMP_NUM_THREADS=1), not wall time: on a shared, overloaded
# machine the wall clock mostly measures the other processes.
clock = time.process_time


def timed(fn, items):
    t0 = clock()
    out = [fn(x) for x in items]
    return (clock() - t0) / len(items) * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracks", type=int, default=20)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--scale", type=int, nargs="*", default=[100, 300, 1000])
    args = ap.parse_args()
    cam = syn.test_cameras()["high_near"]
    rng = np.random.default_rng(0)
    tracks = [syn.make_track(cam, rng, n_frames=args.frames, noise_px=2.0, missing=0.3)[0] for _ in range(args.tracks)]
    obs = [t.obs for t in tracks]
    vp.fit_track(cam, obs[0])  # warm caches (shape model, OpenCV)

    rows = []
    for name, fn in [
        ("track fit (ours: LM on normal equations)", lambda o: vp.fit_track(cam, o)),
        ("track fit (scipy least_squares, trf)", lambda o: vp.fit_track(cam, o, solver="scipy")),
        ("per-frame EPnP only", lambda o: vp.per_frame_baseline(cam, o, refine=False)),
        ("per-frame EPnP + LM refine", lambda o: vp.per_frame_baseline(cam, o)),
    ]:
        ms, out = timed(fn, obs)
        if isinstance(out[0], tuple):
            errs = [syn.errors(t, *o) for t, o in zip(tracks, out)]
        else:
            errs = [syn.errors(t, o.xy, o.yaw) for t, o in zip(tracks, out)]
        h = np.concatenate([e[0] for e in errs])
        p = np.concatenate([e[1] for e in errs])
        rows.append((name, ms, np.nanmedian(h), np.nanpercentile(h, 90), 100 * np.nanmedian(p)))
    print("CPU time of one process on one core (time.process_time)")
    print(f"{args.tracks} tracks x {args.frames} frames, camera high_near, 2 px noise, 30 % keypoints missing")
    print(f"{'method':44s} {'ms/track':>9s} {'heading med':>12s} {'p90':>6s} {'pos med %':>10s}")
    for name, ms, hm, h90, pm in rows:
        print(f"{name:44s} {ms:9.1f} {hm:11.2f}° {h90:5.2f}° {pm:10.2f}")
    base = rows[3][1]
    print(f"ratio track fit / per-frame EPnP+LM: {rows[0][1] / base:.2f}; track fit / EPnP only: "
          f"{rows[0][1] / rows[2][1]:.2f}; ours / scipy: {rows[0][1] / rows[1][1]:.2f}")

    for n in args.scale:
        items = [obs[i % len(obs)] for i in range(n)]
        t0 = clock()
        for o in items:
            vp.fit_track(cam, o)
        dt = clock() - t0
        print(f"{n:5d} tracks: {dt:7.2f} s, {1000 * dt / n:6.1f} ms per track")


if __name__ == "__main__":
    main()
