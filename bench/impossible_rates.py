"""How often each compositing method makes a physically impossible image, on synthetic scenes with exact 3D.

    .venv/bin/python bench/impossible_rates.py [--images 50] [--seed 0]

A pool like a real camera's mined objects: 30 "tracks" (vehicles as boxes, people as cylinders) at random places
in front of the camera, each seen at 3 positions a little apart, so objects from different times stand in the same
spot. Each method draws composites from this pool exactly as `walt3d composite` does (`make.compose`); a pair is
impossible when its footprints intersect or when its masks overlap and the paste order contradicts 3D depth.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from walt3d_studio.composite import synthetic  # noqa: E402
from walt3d_studio.composite.impossible import Impossible  # noqa: E402
from walt3d_studio.composite.make import CompositeSettings, compose  # noqa: E402
from walt3d_studio.composite.render import RenderContext  # noqa: E402
from walt3d_studio.composite.sampling import Pool  # noqa: E402


def pool(seed: int, size=(640, 360)):
    cam = synthetic.make_camera(size, focal=500.0, pitch_deg=15.0, height_m=6.0)
    ctx = RenderContext(cam)
    rng = np.random.default_rng(seed)
    specs = []
    for t, sp in enumerate(synthetic.random_specs(rng, 30, cam, min_gap=-10.0, spread=(8, 30))):
        for k in range(3):
            specs.append(dict(sp, xy=(sp["xy"][0] + 0.4 * k, sp["xy"][1] + 0.2 * k), track=t + 1))
    objs = synthetic.scene(cam, specs, ctx)
    for o, sp in zip(objs, specs):
        o.track_id = sp["track"]
    return cam, ctx, objs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    cam, ctx, objs = pool(a.seed)
    bg = np.full((cam.image_size[1], cam.image_size[0], 3), 120, np.uint8)
    print("| method | objects / image | interacting pairs | footprints intersect | order contradicts 3D "
          "| impossible pairs | images with one or more |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    runs = [("walt3d", None), ("walt2d", None), ("walt2d-bottom", None), ("walt2d", (8, 8)),
            ("walt2d-bottom", (8, 8))]
    for method, per in runs:
        p = Pool(objs, ctx)
        s = CompositeSettings(method=method, objects_per_image=per)
        total, running, n_obj = Impossible(), np.zeros(5), 0
        for k in range(a.images):
            made = compose(method, p, bg, np.random.default_rng([a.seed, k]), s, running, ctx, with_arrays=False)
            total.add(made.impossible)
            n_obj += len(made.objs)
        print(f"| {method} | {n_obj / a.images:.1f} | {total.pairs} | {total.intersecting} | {total.misordered} "
              f"| {100 * total.pair_rate:.1f} % | {100 * total.image_rate:.0f} % |")


if __name__ == "__main__":
    main()
