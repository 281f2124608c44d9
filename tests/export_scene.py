"""Synthetic composites with exact truth, written through the store API the compositor uses.

Each composite is a noise image (so any blur shows) with a far vehicle rectangle partly hidden by a nearer
person rectangle; masks, occlusion, keypoint visibility and the depth/normal/instance arrays follow exactly.
Tracks: per split its own vehicle and person tracks and its own source frames, so splits never share them.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from walt3d_studio.store import Project
from walt3d_studio.store.composites import Composite, CompositeObject, save_composites, set_splits

W, H = 64, 48
SPLITS = ("train", "val", "test")


def rle(m):
    r = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    r["counts"] = r["counts"].decode()
    return r


def box(m):
    ys, xs = np.nonzero(m)
    return [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]


def rect(x0, y0, x1, y1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def scene(shift: int):
    """(objects as dicts, far first) for one composite; `shift` moves the person right by that many px."""
    car = rect(8, 14, 40, 34)
    person = rect(30 + shift, 6, 40 + shift, 44)
    car_vis = car & ~person
    car_kp = []
    for i in range(12):
        x, y = 10 + 2.5 * i, 20 + (i % 3) * 4
        v = 1 if person[int(y), int(x)] else 2
        car_kp += [x, y, v]
    car_kp[4 * 3:8 * 3] = [12, 28, 2, 24, 28, 2, 12, 26, 2, 24, 26, 2]  # lamps: front pair, rear pair
    person_kp = []
    for i in range(17):
        person_kp += [34 + shift + (i % 3), 8 + 2 * i, 2]
    objs = [dict(kind="vehicle", amodal=car, visible=car_vis, kp=car_kp, depth=12.0, rank=1,
                 pose={"R": np.eye(3).tolist(), "t": [0.0, 1.5, 12.0], "shape_coeffs": [0.1, -0.2],
                       "fit_quality": {"reprojection_px": 1.5}, "category": "car"}),
            dict(kind="person", amodal=person, visible=person, kp=person_kp, depth=8.0, rank=0,
                 pose={"global_orient": [0.0, 0.0, 0.0], "body_pose": [0.0] * 69, "betas": [0.0] * 10,
                       "transl": [0.5, 0.6, 8.0], "body_model": "proxy", "fit_quality": {"silhouette_iou": 0.8},
                       "category": "person"})]
    return objs


def make_project(root: Path, n_per_split: int = 2, arrays: bool = True, size=None, twins: bool = False,
                 look: str = "noise") -> Project:
    """A project with one camera and `n_per_split` composites per split (tracks assigned to splits first).
    With `twins`, each also gets a WALT2D composite of the same seed that pastes the car (farther in 3D) over
    the person: the impossible pair the review dock outlines."""
    size = size or (W, H)
    p = Project.create(root)
    with p.transaction() as c:
        c.execute("INSERT INTO cameras (id, name, tz, width, height, created_at) VALUES (1, 'cam1', 'UTC', ?, ?, 0)",
                  size)
        c.execute("INSERT INTO sources (id, camera_id, kind, path, time_origin, n_frames, added_at)"
                  " VALUES (1, 1, 'images', '/nowhere/day1', 'filename', 100, 0)")
        for s, split in enumerate(SPLITS):
            for k in range(2):
                c.execute("INSERT INTO tracks (id, camera_id, category, created_at) VALUES (?, 1, ?, 0)",
                          (10 * (s + 1) + k, ("car", "person")[k]))
            for f in range(n_per_split * 2):
                c.execute("INSERT INTO frames (id, camera_id, source_id, source_index, capture_time)"
                          " VALUES (?, 1, 1, ?, ?)", (100000 * (s + 1) + f, 100000 * (s + 1) + f,
                                                       1.7e9 + 3600 * s + 60 * f))
    set_splits(p, {10 * (s + 1) + k: split for s, split in enumerate(SPLITS) for k in range(2)})
    rng = np.random.default_rng(0)
    comps = []
    n = 0
    for s, split in enumerate(SPLITS):
        for j in range(n_per_split):
            n += 1
            objs = scene(shift=j % 5)
            img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8) if look == "noise" else painted(objs, rng)
            rel = f"composites/cam1/walt3d/{n}.png"
            (p.root / rel).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p.root / rel), img[..., ::-1])
            arel = None
            if arrays:
                depth = np.full((H, W), 20.0, np.float32)
                depth[:4] = np.nan
                inst = np.zeros((H, W), np.uint16)
                for idx, o in enumerate(objs):
                    depth[o["visible"]] = o["depth"]
                    inst[o["visible"]] = idx + 1
                normal = np.zeros((H, W, 3), np.float16)
                normal[..., 1] = -1
                arel = f"composites/cam1/walt3d/{n}.npz"
                np.savez(p.root / arel, depth=depth, normal=normal, instance=inst)
            cobjs = []
            for idx, o in enumerate(objs):
                a, v = int(o["amodal"].sum()), int(o["visible"].sum())
                pose = dict(o["pose"], source_frame_id=100000 * (s + 1) + 2 * j + idx)
                cobjs.append(CompositeObject(idx=idx, kind=o["kind"], amodal_rle=rle(o["amodal"]),
                                             visible_rle=rle(o["visible"]), amodal_box=box(o["amodal"]),
                                             visible_box=box(o["visible"]), occlusion=1 - v / a,
                                             depth_rank=o["rank"], track_id=10 * (s + 1) + idx,
                                             keypoints=o["kp"], pose=pose))
            comps.append(Composite(1, split, "walt3d", 7 + j, "h08", rel, arel, objects=cobjs))
            if twins:
                comps.append(_walt2d_twin(p, comps[-1], img, objs, n))
    save_composites(p, comps)
    return p


def painted(objs, rng):
    """A picture a person can read (for screenshots): a ground gradient, a grey car, a red-coated person."""
    ys = np.linspace(90, 150, H)[:, None, None]
    img = np.broadcast_to(ys, (H, W, 3)).astype(np.float32) * np.array([0.9, 0.95, 1.0])
    img += rng.normal(0, 3, img.shape)
    for o, col in zip(objs, ((170, 175, 185), (190, 60, 50))):
        img[o["visible"]] = col
    car = objs[0]["visible"].copy()
    car[:20] = False
    img[car & (np.arange(W)[None, :] % 7 < 1)] = (90, 95, 105)
    return np.clip(img, 0, 255).astype(np.uint8)


def _walt2d_twin(p, comp, img, objs, n):
    """The same objects pasted in 2D order: the car last (on top), although it is farther than the person."""
    car, person = objs
    img = img.copy()
    img[car["amodal"]] = (170, 175, 185)
    person_vis = person["amodal"] & ~car["amodal"]
    rel = f"composites/cam1/walt2d/{n}.png"
    (p.root / rel).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(p.root / rel), img[..., ::-1])
    arel = None
    if comp.arrays_path:  # the maps of the picture as pasted: the car (12 m) drawn over the nearer person (8 m)
        depth = np.full((H, W), 20.0, np.float32)
        depth[:4] = np.nan
        depth[person_vis], depth[car["amodal"]] = person["depth"], car["depth"]
        inst = np.zeros((H, W), np.uint16)
        inst[person_vis], inst[car["amodal"]] = 1, 2
        normal = np.zeros((H, W, 3), np.float16)
        normal[..., 1] = -1
        arel = f"composites/cam1/walt2d/{n}.npz"
        np.savez(p.root / arel, depth=depth, normal=normal, instance=inst)
    src = {o.kind: o for o in comp.objects}
    objects = []
    for idx, (o, amodal, visible, rank) in enumerate(((src["person"], person["amodal"], person_vis, 1),
                                                      (src["vehicle"], car["amodal"], car["amodal"], 0))):
        objects.append(CompositeObject(idx=idx, kind=o.kind, amodal_rle=rle(amodal), visible_rle=rle(visible),
                                       amodal_box=box(amodal), visible_box=box(visible),
                                       occlusion=1 - visible.sum() / amodal.sum(), depth_rank=rank,
                                       track_id=o.track_id, keypoints=_hide(o.keypoints, visible), pose=o.pose))
    return Composite(1, comp.split, "walt2d", comp.seed, comp.window_key, rel, arel, objects=objects)


def _hide(kp, visible):
    """DESIGN's rule: a v = 2 keypoint off the object's visible pixels becomes 1."""
    kp = list(kp)
    for i in range(0, len(kp), 3):
        if kp[i + 2] == 2 and not visible[int(kp[i + 1]), int(kp[i])]:
            kp[i + 2] = 1
    return kp


def give_frames(p: Project, folder: Path) -> None:
    """Write a small PNG for every source frame (so the app's frame view can show them)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = p.conn.execute("SELECT id FROM frames ORDER BY id").fetchall()
    w, h = p.conn.execute("SELECT width, height FROM cameras ORDER BY id LIMIT 1").fetchone()
    img = np.full((h or H, w or W, 3), 120, np.uint8)
    for (fid,) in rows:
        cv2.imwrite(str(folder / f"f{fid}.png"), img)
    with p.transaction() as c:
        c.execute("UPDATE sources SET path = ?", (str(folder),))
        c.executemany("UPDATE frames SET file_name = ? WHERE id = ?", [(f"f{fid}.png", fid) for (fid,) in rows])
