"""Benchmark: WALT2D's maps as pasted (`render.pasted_maps`, each object's own surface where it is on top) against
the earlier 3D-scene z-buffer of all meshes (`render.render_maps`), in the same process, on the same composites
of the compositor's exact-truth test project (320x180, boxes and cylinders, N objects a composite).

    PYTHONPATH=.:tests .venv/bin/python bench/bench_walt2d_maps.py [--images 40] [--objects 8]
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--objects", type=int, default=8)
    a = ap.parse_args()
    from composite_project import build, mesh_fn
    from walt3d_studio.composite.make import CompositeSettings, load_pools
    from walt3d_studio.composite.order import paste_order
    from walt3d_studio.composite.paste import label_map
    from walt3d_studio.composite.render import RenderContext, pasted_maps, render_maps
    from walt3d_studio.composite.sampling import Pool, sample_walt2d
    from walt3d_studio.composite.splits import split_tracks

    p, _ = build(Path(tempfile.mkdtemp()) / "b", n_tracks=24)
    split_tracks(p, "track", 0.0, 0.0, seed=0)
    s = CompositeSettings(method="walt2d")
    ctx = RenderContext(p.calibration(1))
    pools = load_pools(p, 1, s, mesh_fn, ctx)
    pool = Pool(next(iter(pools.values())), ctx)
    scenes = []
    for k in range(a.images):
        rng = np.random.default_rng([0, k])
        members = sample_walt2d(pool, rng, min(a.objects, len(pool.objs)))
        objs = [pool.objs[i] for i in members]
        order = paste_order("walt2d", objs, rng, ctx, lambda i, j: pool.nearer(members[i], members[j]))
        scenes.append((objs, order, label_map(ctx.size, objs, order)))
    t0 = time.perf_counter()
    for objs, order, label in scenes:
        pasted_maps(ctx, objs, order, label)
    ours = (time.perf_counter() - t0) / len(scenes)
    t0 = time.perf_counter()
    for objs, order, label in scenes:
        render_maps(ctx, [objs[i].mesh for i in order if objs[i].mesh is not None])
    base = (time.perf_counter() - t0) / len(scenes)
    print(f"{platform.processor() or platform.machine()}, {a.images} composites of {a.objects} objects, 320x180")
    print(f"pasted_maps (ours, as pasted)     {1000 * ours:7.2f} ms / composite")
    print(f"render_maps (3D-scene z-buffer)   {1000 * base:7.2f} ms / composite")
    print(f"ratio baseline / ours             {base / ours:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
