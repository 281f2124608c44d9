"""Benchmark: one composite at 1280x720 with 12 objects (walt3d_studio.composite) against a naive full-frame
boolean-mask paste, in the same process, on the same sampled sets of a synthetic scene.

    .venv/bin/python bench/bench_composite.py [--images 40] [--objects 12]

  masks   paste order (cached pair relations) + label-map paste + amodal/visible RLE masks, boxes, occlusion,
          keypoint visibility (what `compose` does without the 3D maps)
          baseline: every object as a full-frame bool mask; paste with image[mask] = colour; visible_i =
          full_i & ~(union of nearer masks); boxes with np.nonzero; pycocotools encode of full-frame masks;
          keypoints looked up in the nearer union
  maps    depth (metres), normals and instance ids from the meshes and the ground plane, over the masks path
          baseline: each mesh rasterised alone over the full frame, then np.fmin / np.where across them

Meshes: vehicles as boxes subdivided to ~768 faces, people as capsules of ~1,900 faces (the sizes of the shape
model's car and a decimated body); orders of magnitude match the real fitted meshes.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from walt3d_studio.composite import synthetic  # noqa: E402
from walt3d_studio.composite.order import walt3d_order  # noqa: E402
from walt3d_studio.composite.paste import label_map, paste  # noqa: E402
from walt3d_studio.composite.render import Mesh, RenderContext, rasterize, render_maps  # noqa: E402
from walt3d_studio.composite.sampling import Pool  # noqa: E402
from walt3d_studio.composite.visibility import instance_map, pseudo_gt  # noqa: E402


def dense(camera, objs):
    """Replace the synthetic meshes with denser ones of the same shape and pose."""
    import trimesh

    for o in objs:
        v = o.mesh.vertices
        if o.kind == "vehicle":
            m = trimesh.Trimesh(v, o.mesh.faces, process=False)
            for _ in range(3):
                m = m.subdivide()
            o.mesh = Mesh.outward(m.vertices, m.faces)
        else:
            c = v.mean(0)
            h = np.ptp(v @ camera.n)
            cap = trimesh.creation.capsule(height=h - 0.5, radius=0.25, count=[32, 32])
            up = -camera.n  # camera frame: z of the capsule -> up
            z = np.array([0, 0, 1.0])
            ax = np.cross(z, -up)
            R = trimesh.transformations.rotation_matrix(np.arccos(np.clip(z @ -up, -1, 1)), ax)[:3, :3] \
                if np.linalg.norm(ax) > 1e-9 else np.eye(3)
            o.mesh = Mesh.outward(cap.vertices @ R.T + c, cap.faces)
    return objs


def ours_masks(objs, pool, members, bg):
    sub = [objs[i] for i in members]
    order, _ = walt3d_order(sub, relation=lambda a, b: pool.nearer(members[a], members[b]))
    lab = label_map((bg.shape[1], bg.shape[0]), sub, order)
    img = paste(bg, sub, order)
    return img, pseudo_gt(sub, order, lab), lab, sub, order


def naive_masks(objs, members, order_idx, bg):
    from pycocotools import mask as mu

    H, W = bg.shape[:2]
    sub = [objs[i] for i in members]
    full = []
    for o in sub:
        m = np.zeros((H, W), bool)
        x, y, w, h = o.box
        m[y:y + h, x:x + w] = o.mask
        full.append(m)
    img = bg.copy()
    for i in order_idx:
        img[full[i]] = sub[i].rgba[..., :3][sub[i].mask][0]
    out = []
    for p, i in enumerate(order_idx):
        nearer = np.zeros((H, W), bool)
        for j in order_idx[p + 1:]:
            nearer |= full[j]
        vis = full[i] & ~nearer
        ys, xs = np.nonzero(vis)
        box = [xs.min(), ys.min(), np.ptp(xs) + 1, np.ptp(ys) + 1] if len(xs) else [0, 0, 0, 0]
        ya, xa = np.nonzero(full[i])
        abox = [xa.min(), ya.min(), np.ptp(xa) + 1, np.ptp(ya) + 1]
        rle_a = mu.encode(np.asfortranarray(full[i].astype(np.uint8)))
        rle_v = mu.encode(np.asfortranarray(vis.astype(np.uint8)))
        kp = sub[i].keypoints.copy()
        xi, yi = np.rint(kp[:, 0]).astype(int), np.rint(kp[:, 1]).astype(int)
        ok = (xi >= 0) & (yi >= 0) & (xi < W) & (yi < H)
        hid = np.zeros(len(kp), bool)
        hid[ok] = nearer[yi[ok], xi[ok]]
        kp[hid & (kp[:, 2] == 2), 2] = 1
        out.append((rle_a, rle_v, abox, box, 1 - vis.sum() / full[i].sum(), kp))
    return img, out


def naive_maps(ctx, meshes):
    W, H = ctx.size
    depth = ctx.ground_depth.copy()
    normal = ctx.ground_normal.astype(np.float32).copy()
    inst = np.zeros((H, W), np.uint16)
    for k, m in enumerate(meshes):
        r = rasterize(ctx, [m], ground=False)
        nearer = np.isfinite(r.depth) & ~(r.depth >= depth)
        depth = np.where(nearer, r.depth, depth)
        normal[nearer] = r.normal[nearer]
        inst[nearer] = k + 1
    return depth, normal.astype(np.float16), inst


CPU = {}


def rate(fn, sets):
    """Composites per second of wall time; the same per second of this process's CPU time goes in CPU (on a
    shared, loaded machine the wall figure mostly measures the wait for a core)."""
    t, c = time.perf_counter(), time.process_time()
    for s in sets:
        fn(s)
    CPU[fn] = len(sets) / (time.process_time() - c)
    return len(sets) / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--objects", type=int, default=12)
    a = ap.parse_args()
    cam = synthetic.make_camera((1280, 720), focal=1000.0, pitch_deg=15.0, height_m=6.0)
    ctx = RenderContext(cam)
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    objs = dense(cam, synthetic.scene(cam, synthetic.random_specs(rng, 60, cam, min_gap=0.3, spread=(8, 30)), ctx))
    pool = Pool(objs, ctx)
    bg = np.full((720, 1280, 3), 120, np.uint8)
    sets = [list(rng.choice(len(objs), size=a.objects, replace=False)) for _ in range(a.images)]
    for s in sets:  # warm the pool's pair caches once, as a pool serving many composites has them
        for i in s:
            objs[i].depth_map(ctx)
        walt3d_order([objs[i] for i in s], relation=lambda x, y, s=s: pool.nearer(s[x], s[y]))
    prep = time.perf_counter() - t
    faces = [len(o.mesh.faces) for o in objs]
    print(f"machine: {platform.machine()}, {platform.processor() or '?'}; scene: 60 objects, faces "
          f"{min(faces)}-{max(faces)}; pool prep (meshes, per-object depth, pair caches) {prep:.2f} s")

    orders = {}

    def ours(s):
        img, gt, lab, sub, order = ours_masks(objs, pool, s, bg)
        orders[tuple(s)] = order

    def naive(s):
        naive_masks(objs, s, orders[tuple(s)], bg)

    r_ours = rate(ours, sets)
    r_naive = rate(naive, sets)
    # check both agree on the visible masks of one set
    s = sets[0]
    img, gt, lab, sub, order = ours_masks(objs, pool, s, bg)
    _, nv = naive_masks(objs, s, order, bg)
    from pycocotools import mask as mu

    from walt3d_studio.mining.detection import decode_rle
    same = all(np.array_equal(decode_rle(t.visible_rle), mu.decode(n[1]).astype(bool)) for t, n in zip(gt, nv))
    print(f"masks+boxes+keypoints: ours {r_ours:.1f}/s, naive full-frame {r_naive:.1f}/s, "
          f"ratio {r_ours / r_naive:.2f}x; visible masks identical: {same}")
    print(f"  per CPU second: ours {CPU[ours]:.1f}/s, naive {CPU[naive]:.1f}/s")

    def ours_all(s):
        img, gt, lab, sub, order = ours_masks(objs, pool, s, bg)
        render_maps(ctx, [sub[i].mesh for i in order])
        instance_map(lab)

    def naive_all(s):
        sub = [objs[i] for i in s]
        naive_masks(objs, s, orders[tuple(s)], bg)
        naive_maps(ctx, [o.mesh for o in sub])

    few = sets[: max(5, a.images // 4)]
    r2 = rate(ours_all, few)
    r2n = rate(naive_all, few)
    print(f"+ depth, normals, instances: ours {r2:.1f}/s, naive {r2n:.1f}/s, ratio {r2 / r2n:.2f}x")
    print(f"  per CPU second: ours {CPU[ours_all]:.1f}/s, naive {CPU[naive_all]:.1f}/s")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
