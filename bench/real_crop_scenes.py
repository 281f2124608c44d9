"""Dense synthetic scenes built from REAL mined crops, with exact truth (issue 12).

Stage 1, the crop pool (`crop_pool`): each source clip is imported into a project of its own, its median
background computed, and mined with the code on PYTHONPATH. From the mined detections we keep one crop per
*long, steady* track (at least `min_mined` mined detections, no area jump over 20 % from one mined detection to
the next,
solidity >= 0.9): the crop whose area is nearest the track's 75th percentile (large enough to be scaled down
cleanly). Every kept crop is drawn in `pool-<clip>.png` so a person can check that each is one whole object
(LOOK at it: truth depends on that).

Stage 2, the scene (`build_scene`): the clip's median background, and the pool's crops pasted far to near with
`walt3d_studio.composite.paste` (the compositor's own paste step) as they move along straight paths. A crop's
scale follows the clip's perspective: image height as a linear function of the box bottom row, fitted on the
pool (h = a * bottom + b), so objects grow as they come near. Groups of 1-4 objects move together, each member
touching the one in front of it (its box starts 0-3 px inside the previous one's), so the foreground sees one
blob -- queues of cars in a lane, pairs of walkers side by side. Truth per frame: each object's amodal mask
(the scaled crop mask), its visible mask (what nearer pastes leave), truncated (amodal box within 2 px of the
border) and touching (the amodal mask dilated by 1 px meets another object's).

Everything is cached under WALT3D_BENCH_CACHE (default /tmp/walt3d-real-crops): the source projects are mined
once per code version (delete the folder to rebuild).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("WALT3D_SHARED_DATA", ROOT.parent.parent / "shared" / "data"))
if not (DATA / "footage").is_dir():
    DATA = Path("/work/shared/data")
CACHE = Path(os.environ.get("WALT3D_BENCH_CACHE", "/tmp/walt3d-real-crops"))

CLIPS = {
    "road": DATA / "footage" / "road-queues-bridge.avi",
    "lot": ROOT / "resources" / "footage" / "parking-lot-person-bicycle-car.gif",
    "topdown": ROOT / "resources" / "footage" / "parking-lot-cars-top-down.mp4",
}


@dataclass
class Crop:
    clip: str
    category: str
    rgba: np.ndarray          # (h, w, 4) uint8, alpha = mined mask
    bottom: float             # the box's bottom row in the source frame
    track: int
    detection: int


@dataclass
class Pool:
    clip: str
    background: np.ndarray                  # (H, W, 3) uint8 median background
    crops: list[Crop] = field(default_factory=list)
    scale_fit: tuple[float, float] = (0.0, 1.0)  # h_px = a * bottom + b (all crops of the pool)

    def height_at(self, bottom: float) -> float:
        a, b = self.scale_fit
        return max(4.0, a * bottom + b)


# ------------------------------------------------------------------------------------------ the pool


def clip_project(clip: str, path: Path, marker: str, then=None) -> Path:
    """The clip imported into a project at `path` with its background computed, then `then(project, camera)`;
    cached: done once, marked by the file `marker` (a half-made project is made again)."""
    from walt3d_studio.background_job import compute_backgrounds
    from walt3d_studio.store import Project

    if (path / marker).exists():
        return path
    if path.exists():
        import shutil

        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    p = Project.create(path)
    with p:
        cam = p.add_camera("cam", "UTC")
        p.add_source(CLIPS[clip], cam, start=1.7e9, fps=10.0)
        compute_backgrounds(p, cam, hours_per_window=None)
        if then is not None:
            then(p, cam)
    (path / marker).write_text("ok")
    return path


def source_project(clip: str) -> Path:
    """The clip imported, its background computed and mined (cached)."""
    from walt3d_studio.mining.mine import mine

    return clip_project(clip, CACHE / f"src-{clip}.walt3d", ".mined", then=lambda p, cam: mine(p, cam))


def crop_pool(clip: str, min_mined: int = 5, categories=("car", "person"), max_jump: float = 0.2,
              per_track: int = 1) -> Pool:
    from walt3d_studio.background import to_display
    from walt3d_studio.mining.crops import read_png_rgba
    from walt3d_studio.mining.shape import two_lobes
    from walt3d_studio.store import Project
    from walt3d_studio.store.detections import detection_table

    path = source_project(clip)
    p = Project.open(path, readonly=True)
    with p:
        cam = p.cameras()[0].id
        bg = to_display(p.load_background(cam, p.backgrounds(cam)[0]["window"]))
        t = detection_table(p, camera_id=cam)
        pool = Pool(clip, bg)
        for tid in np.unique(t.track_id[t.mined]):
            idx = np.flatnonzero((t.track_id == tid) & t.mined & np.isin(t.category, list(categories)))
            if len(idx) < min_mined:
                continue
            a = t.area[idx]
            if len(a) > 1 and np.abs(np.diff(np.log(a))).max() > max_jump:  # a merge or split on the way
                continue
            pick = [idx[np.argmin(np.abs(a - np.percentile(a, 75)))]] if per_track == 1 else idx[:per_track]
            for i in pick:
                if t.crop_path[i] is None:
                    continue
                rgba = read_png_rgba(path / t.crop_path[i])
                if two_lobes(rgba[..., 3] > 0).solidity < 0.8:
                    continue
                pool.crops.append(Crop(clip, str(t.category[i]), rgba, float(t.box[i, 1] + t.box[i, 3]),
                                       int(tid), int(t.id[i])))
    if len(pool.crops) >= 2:
        b = np.array([c.bottom for c in pool.crops])
        h = np.array([c.rgba.shape[0] for c in pool.crops], float)
        a, c0 = np.polyfit(b, h, 1)
        if a <= 0:  # no perspective to speak of (top-down): constant size
            a, c0 = 0.0, float(np.median(h))
        pool.scale_fit = (float(a), float(c0))
    return pool


def pool_sheet(pool: Pool, out: Path, cell: int = 72) -> Path:
    """Every crop of the pool on one image (over grey), its track id under it."""
    n = max(1, len(pool.crops))
    cols = 10
    rows = (n + cols - 1) // cols
    img = np.full((rows * (cell + 14), cols * cell, 3), 128, np.uint8)
    for k, c in enumerate(pool.crops):
        h, w = c.rgba.shape[:2]
        s = min(1.0, (cell - 4) / max(h, w)) if max(h, w) > cell - 4 else min(3.0, (cell - 4) / max(h, w))
        rgba = cv2.resize(c.rgba, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_NEAREST)
        y0, x0 = (k // cols) * (cell + 14), (k % cols) * cell
        a = rgba[..., 3:] > 0
        reg = img[y0:y0 + rgba.shape[0], x0:x0 + rgba.shape[1]]
        np.copyto(reg, rgba[..., :3], where=a)
        cv2.putText(img, f"{c.category[0]}{c.track}", (x0 + 2, y0 + cell + 10), cv2.FONT_HERSHEY_PLAIN, 0.8,
                    (255, 255, 0), 1)
    cv2.imwrite(str(out), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return out


# ----------------------------------------------------------------------------------------- the scene


@dataclass
class Mover:
    crop: Crop
    lane: int
    t0: int                    # first frame
    path: tuple                # (x_start, bottom_start, x_end, bottom_end) of the box's bottom-centre
    frames: int                # frames from start to end
    offset: float = 0.0        # along the path, in units of "one object length behind the group's head"
    group: int = 0
    gait: tuple = ()           # stride: the crops it cycles through (its source track's, in order) ...
    phase: int = 0             # ... starting at this one


def _gaits(crops: list[Crop]) -> dict[int, tuple]:
    """Per source track, its crops in the order they were mined, there and back (a walking cycle)."""
    by: dict[int, list[Crop]] = {}
    for c in sorted(crops, key=lambda c: c.detection):
        by.setdefault(c.track, []).append(c)
    return {k: tuple(v + v[-2:0:-1]) for k, v in by.items()}


def scaled(crop: Crop, height: float) -> tuple[np.ndarray, np.ndarray]:
    """(rgb, mask) of the crop resized to `height` pixels high (aspect kept)."""
    h, w = crop.rgba.shape[:2]
    s = height / h
    nw, nh = max(2, int(round(w * s))), max(2, int(round(height)))
    rgb = cv2.resize(crop.rgba[..., :3], (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    mask = cv2.resize(crop.rgba[..., 3], (nw, nh), interpolation=cv2.INTER_NEAREST) > 0
    return rgb, mask


def build_scene(pool: Pool, n_frames: int, seed: int = 0, *, lanes: list[tuple] | None = None,
                group_sizes=(1, 1, 2, 2, 3, 4), side_by_side: bool = False, gap_frames=(8, 30),
                speed_frames=(40, 90), stride: int = 0):
    """(frames, truth): groups of 1-4 pool crops moving down lanes (bottom-centre paths, far end first).
    In a group each object touches the previous one (queue: behind it along the lane; side_by_side: beside it).
    stride > 0: each object steps through its source track's crops (a walker's poses), one every `stride` frames,
    from a random one, instead of keeping one pose all the way (a walker's silhouette changes with each step).
    truth[t] = list of dicts (one per object present in frame t): amodal, visible (full-frame bool masks),
    box, truncated, category, object id."""
    from walt3d_studio.composite.paste import paste
    from walt3d_studio.composite.scene import SceneObject

    rng = np.random.default_rng(seed)
    H, W = pool.background.shape[:2]
    crops = [c for c in pool.crops]
    movers: list[Mover] = []
    gaits = _gaits(crops)
    gid = 0
    for lane, path in enumerate(lanes):
        t = int(rng.integers(0, gap_frames[1]))
        while t < n_frames:
            k = int(rng.choice(group_sizes))
            dur = int(rng.integers(*speed_frames))
            for m in range(k):
                mv = Mover(crops[int(rng.integers(len(crops)))], lane, t, path, dur, m, gid)
                if stride:
                    mv.gait = gaits[mv.crop.track]
                    mv.phase = int(rng.integers(len(mv.gait)))
                movers.append(mv)
            gid += 1
            t += int(rng.integers(*gap_frames)) + dur // 3 + 4 * k
    frames, truth = [], []
    for t in range(n_frames):
        objs, rows = [], []
        heads: dict[int, tuple] = {}
        heads_mask: dict[int, np.ndarray] = {}
        for oid, mv in enumerate(movers):
            u = (t - mv.t0) / mv.frames
            if u < -0.5 or u > 1.5:
                continue
            x0, b0, x1, b1 = mv.path
            crop = mv.gait[(mv.phase + (t - mv.t0) // stride) % len(mv.gait)] if mv.gait else mv.crop
            if mv.offset == 0:
                bx, bb = x0 + (x1 - x0) * u, b0 + (b1 - b0) * u
                h = pool.height_at(bb)
                rgb, mask = scaled(crop, h)
                box = [int(round(bx - mask.shape[1] / 2)), int(round(bb - mask.shape[0])), mask.shape[1],
                       mask.shape[0]]
                heads[mv.group] = box
                heads_mask[mv.group] = mask
            else:
                prev = heads.get(mv.group)
                if prev is None:
                    continue
                if side_by_side:  # beside the previous one: a little nearer, overlapping a third of its width
                    bb = prev[1] + prev[3] + 2
                    h = pool.height_at(bb)
                    rgb, mask = scaled(crop, h)
                    box = [int(round(prev[0] + 0.65 * prev[2])), bb - mask.shape[0], mask.shape[1], mask.shape[0]]
                else:  # behind it in the lane: further up the image (farther), its bottom inside the previous box,
                    # moved nearer a pixel at a time until the two masks touch: in a diagonal lane a box overlap
                    # of 3 rows alone left 2-3 px between the follower's bumper and the leader's roof corner
                    for inset in range(3, 16):
                        bb = prev[1] + inset
                        h = pool.height_at(bb)
                        rgb, mask = scaled(crop, h)
                        dx = (x1 - x0) / max(b1 - b0, 1e-9) * (bb - (prev[1] + prev[3]))
                        cx = prev[0] + prev[2] / 2 + dx
                        box = [int(round(cx - mask.shape[1] / 2)), int(round(bb - mask.shape[0])), mask.shape[1],
                               mask.shape[0]]
                        if _touch(box, mask, prev, heads_mask[mv.group]):
                            break
                heads[mv.group] = box
                heads_mask[mv.group] = mask
            if box[0] >= W or box[1] >= H or box[0] + box[2] <= 0 or box[1] + box[3] <= 0:
                continue
            rgba = np.dstack([rgb, mask.astype(np.uint8) * 255])
            objs.append(SceneObject(oid, "vehicle" if mv.crop.category == "car" else "person", tuple(box), mask,
                                    rgba, category=mv.crop.category))
        order = sorted(range(len(objs)), key=lambda i: objs[i].bottom)  # far (higher bottom row) first
        img = paste(pool.background, objs, order)
        full = []
        for o in objs:
            m = np.zeros((H, W), bool)
            x, y, w, h = o.box
            xa, ya, xb, yb = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
            m[ya:yb, xa:xb] = o.mask[ya - y:yb - y, xa - x:xb - x]
            full.append(m)
        vis = [m.copy() for m in full]
        for r, i in enumerate(order):
            for j in order[:r]:
                vis[j] &= ~full[i]
        k3 = np.ones((3, 3), np.uint8)
        grown = [cv2.dilate(m.astype(np.uint8), k3).astype(bool) for m in full]
        for i, o in enumerate(objs):
            if not full[i].any():
                continue
            ys, xs = np.nonzero(full[i])
            bx = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
            rows.append({"id": o.key, "category": o.category, "amodal": full[i], "visible": vis[i],
                         "occluded": bool(vis[i].sum() < full[i].sum()),
                         "truncated": bool(bx[0] <= 2 or bx[1] <= 2 or W - bx[2] <= 2 or H - bx[3] <= 2),
                         "touching": any(j != i and (grown[i] & full[j]).any() for j in range(len(objs))),
                         "group": movers[o.key].group,
                         "group_size": sum(1 for mv in movers if mv.group == movers[o.key].group)})
        frames.append(img)
        truth.append(rows)
    return frames, truth


def _touch(box, mask, other_box, other_mask) -> bool:
    """Whether two masks placed at their boxes [x, y, w, h] come within 1 px of each other (truth's "touching")."""
    x0, y0 = min(box[0], other_box[0]) - 1, min(box[1], other_box[1]) - 1
    x1 = max(box[0] + box[2], other_box[0] + other_box[2]) + 1
    y1 = max(box[1] + box[3], other_box[1] + other_box[3]) + 1
    a = np.zeros((y1 - y0, x1 - x0), np.uint8)
    b = np.zeros_like(a)
    a[box[1] - y0:box[1] - y0 + box[3], box[0] - x0:box[0] - x0 + box[2]] = mask
    b[other_box[1] - y0:other_box[1] - y0 + other_box[3], other_box[0] - x0:other_box[0] - x0 + other_box[2]] = other_mask
    return bool((cv2.dilate(a, np.ones((3, 3), np.uint8)) & b).any())
