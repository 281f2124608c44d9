"""Figure for docs/compositing.md (not a benchmark): edge feathering and lighting gain, before and after.

    .venv/bin/python bench/figure_feather_gain.py PROJECT [--out docs/screenshots/composite-feather-gain.png]

Takes the project's first camera's mined objects (any split), darkens the background by 30 % (an object mined in
the morning pasted onto an evening window), and pastes the same objects in the same order three ways: hard edges
and no gain; 1.5 px feather; feather and gain. Crops around the largest object, enlarged 3x. Also prints the gain
each object gets on the undarkened background (how much the demo clips' lighting drifts on its own).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from walt3d_studio.background import to_display  # noqa: E402
from walt3d_studio.composite.make import CompositeSettings, load_pools  # noqa: E402
from walt3d_studio.composite.order import bottom_order  # noqa: E402
from walt3d_studio.composite.paste import object_gain, paste  # noqa: E402
from walt3d_studio.store import Project  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("project")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots" / "composite-feather-gain.png"))
    a = ap.parse_args()
    with Project.open(a.project, readonly=True) as p:
        cam = p.cameras()[0]
        pools = load_pools(p, cam.id, CompositeSettings(method="walt2d"), mesh_fn=lambda *x: None)
        window = sorted(pools)[0][0]
        bg = to_display(p.load_background(cam.id, window))
    objs = [o for k in sorted(pools) if k[0] == window for o in pools[k]]
    rng = np.random.default_rng(0)
    objs = [objs[i] for i in rng.choice(len(objs), size=min(6, len(objs)), replace=False)]
    gains = [object_gain(o, bg) for o in objs]
    print("gain on the true background, per object (R, G, B):", [np.round(g, 3).tolist() for g in gains])
    order = bottom_order(objs)
    dark = (bg.astype(np.float32) * 0.7).astype(np.uint8)
    views = [("hard edges, no gain", paste(dark, objs, order)),
             ("feather 1.5 px", paste(dark, objs, order, feather=1.5)),
             ("feather + gain", paste(dark, objs, order, feather=1.5, gain=True))]
    big = max(objs, key=lambda o: o.area)
    x, y, w, h = big.box
    m = 12
    H, W = bg.shape[:2]
    x0, y0, x1, y1 = max(0, x - m), max(0, y - m), min(W, x + w + m), min(H, y + h + m)
    tiles = []
    for name, img in views:
        crop = cv2.resize(img[y0:y1, x0:x1], None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
        crop = np.ascontiguousarray(crop)
        cv2.putText(crop, name, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
        tiles.append(crop)
        tiles.append(np.full((crop.shape[0], 4, 3), 255, np.uint8))
    fig = np.hstack(tiles[:-1])
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(a.out, cv2.cvtColor(fig, cv2.COLOR_RGB2BGR))
    print("wrote", a.out)


if __name__ == "__main__":
    main()
