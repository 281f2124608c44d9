"""Synthetic "cars" for the keypoint tests: a convex body with 12 keypoints drawn as distinct colour blobs on a
random textured background. Other keypoint test files import `synthetic_car` / `synthetic_samples` from here."""
from __future__ import annotations

import colorsys

import cv2
import numpy as np

# 12 keypoints of a three-quarter view inside a unit box (CarFusion order).
TEMPLATE = np.array([
    [0.18, 0.86], [0.45, 0.80], [0.70, 0.92], [0.88, 0.82],   # wheels RF, LF, RB, LB
    [0.05, 0.60], [0.30, 0.55], [0.80, 0.62], [0.97, 0.55],   # lights RF, LF, RB(tail), LB(tail)
    [0.25, 0.18], [0.42, 0.12], [0.72, 0.20], [0.86, 0.14],   # roof corners RF, LF, RB, LB
])
COLOURS = [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / 12, 1.0, 1.0)) for i in range(12)]
# One colour per left/right pair: which point of a pair is the car's right is then only told by geometry
# (the near side is the right side when the front is on the image's left), as on a real car.
PAIR_COLOURS = [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / 6, 1.0, 1.0)) for i in range(6) for _ in (0, 1)]
FLIP = [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10]


def synthetic_car(rng: np.random.Generator, size: int = 144, mirror_cars: bool = False):
    """(RGB image, box [x, y, w, h], keypoints (12, 3) with v = 2) for one synthetic car.

    With `mirror_cars`, pairs share a colour and half the cars face the other way (a mirrored car, labels
    swapped by the flip pairs), so a model can only be right if flip augmentation swaps labels correctly."""
    img = rng.integers(60, 140, (size, size, 1), dtype=np.uint8).repeat(3, axis=2)
    img = cv2.GaussianBlur(img, (0, 0), 2.0)
    for _ in range(4):  # grey clutter rectangles
        x0, y0 = rng.integers(0, size, 2)
        g = int(rng.integers(40, 200))
        cv2.rectangle(img, (int(x0), int(y0)), (int(x0 + rng.integers(10, 50)), int(y0 + rng.integers(10, 50))),
                      (g, g, g), -1)
    bw, bh = rng.uniform(0.55, 0.75) * size, rng.uniform(0.4, 0.6) * size
    x, y = rng.uniform(0.05 * size, size - bw - 0.05 * size), rng.uniform(0.05 * size, size - bh - 0.05 * size)
    pts = TEMPLATE + rng.uniform(-0.04, 0.04, TEMPLATE.shape)
    colours = PAIR_COLOURS if mirror_cars else COLOURS
    if mirror_cars and rng.random() < 0.5:
        pts = pts[FLIP] * [-1, 1] + [1, 0]
    pts = pts * [bw, bh] + [x, y]
    hull = cv2.convexHull(pts.astype(np.float32)).astype(np.int32)
    body = tuple(int(c) for c in rng.integers(70, 160, 3))
    cv2.fillConvexPoly(img, hull, body)
    for p, c in zip(pts, colours):
        cv2.circle(img, (int(round(p[0])), int(round(p[1]))), 3, c, -1, lineType=cv2.LINE_AA)
    x0, y0 = pts.min(0) - 2
    x1, y1 = pts.max(0) + 2
    kp = np.concatenate([pts, np.full((12, 1), 2.0)], axis=1)
    return img, (float(x0), float(y0), float(x1 - x0), float(y1 - y0)), kp


def synthetic_samples(n: int, seed: int = 0, size: int = 144, mirror_cars: bool = False):
    from walt3d_studio.keypoints.data import Sample
    from walt3d_studio.keypoints.schema import joint_layout

    layout = joint_layout("vehicle12")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img, box, kp = synthetic_car(rng, size, mirror_cars)
        out.append(Sample(img, box, layout.pack("vehicle12", kp), "vehicle12", f"synth:{i}", f"synth:{i}"))
    return out


def test_synthetic_car_draws_blobs_at_keypoints():
    img, box, kp = synthetic_car(np.random.default_rng(1))
    for (x, y, _), c in zip(kp, COLOURS):
        assert tuple(int(v) for v in img[int(round(y)), int(round(x))]) == c
    x, y, w, h = box
    assert np.all(kp[:, 0] >= x) and np.all(kp[:, 0] <= x + w) and np.all(kp[:, 1] >= y) and np.all(kp[:, 1] <= y + h)


# -- a small project with synthetic cars -------------------------------------------------------------

T0 = 1_700_000_000.0  # capture time of frame 0 (UTC seconds); frames are 1 s apart


def make_project(tmp_path, n_frames: int, size=(256, 192), seed: int = 0):
    """A project with one camera whose frames (PNG files, 1 s apart from T0) are blank grey; returns
    (project, camera id, frame ids in capture order, frames folder)."""
    from PIL import Image

    from walt3d_studio.store import Project

    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n_frames):
        img = rng.integers(90, 110, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(img).save(folder / f"f{i:03d}.png")
    p = Project.create(tmp_path / "proj")
    cam = p.add_camera("cam1", "UTC")
    p.add_source(folder, cam, start=T0, fps=1.0)
    ids = [int(i) for i in p.frame_table(cam).ids]
    return p, cam, ids, folder


def add_track(p, cam: int, category: str = "car") -> int:
    with p.transaction() as c:
        return c.execute("INSERT INTO tracks (camera_id, category, created_at) VALUES (?, ?, 0)",
                         (cam, category)).lastrowid


def add_detection(p, frame_id: int, box, *, category: str = "car", score: float = 0.95, track_id=None,
                  verdict: str | None = "unoccluded", crop_path: str | None = None) -> int:
    x, y, w, h = box
    with p.transaction() as c:
        det = c.execute("INSERT INTO detections (frame_id, track_id, detector, category, score, x, y, w, h, area,"
                        " crop_path, created_at) VALUES (?, ?, 'test', ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                        (frame_id, track_id, category, score, x, y, w, h, w * h, crop_path)).lastrowid
        if verdict is not None:
            c.execute("INSERT INTO verdicts (detection_id, verdict, decided_by) VALUES (?, ?, 'rule')", (det, verdict))
    return det


def synthetic_scene(tmp_path, n: int, seed: int = 0, crops: bool = True, mirror_cars: bool = False):
    """A project with n frames, each holding one synthetic car (its own track, mined). Frames are written to
    disk with the car pasted in; crops (RGBA PNG with their placement) too when `crops`.
    Returns (project, camera id, detection ids, true keypoints per detection in frame coordinates)."""
    from PIL import Image

    from walt3d_studio.keypoints.data import write_crop

    rng = np.random.default_rng(seed)
    p, cam, frame_ids, folder = make_project(tmp_path, n, seed=seed)
    dets, truth = [], {}
    for i, fid in enumerate(frame_ids):
        img, box, kp = synthetic_car(rng, 144, mirror_cars)
        ox, oy = int(rng.integers(0, 256 - 144)), int(rng.integers(0, 192 - 144))
        frame = np.asarray(Image.open(folder / f"f{i:03d}.png")).copy()
        frame[oy:oy + 144, ox:ox + 144] = img
        Image.fromarray(frame).save(folder / f"f{i:03d}.png")
        box = (box[0] + ox, box[1] + oy, box[2], box[3])
        kp = kp.copy()
        kp[:, 0] += ox
        kp[:, 1] += oy
        rel = None
        if crops:
            rel = f"crops/det_f{fid}.png"
            rgba = np.concatenate([img, np.full((144, 144, 1), 255, np.uint8)], axis=2)
            write_crop(p.root / rel, rgba, ox, oy)
        det = add_detection(p, fid, box, track_id=add_track(p, cam), crop_path=rel)
        dets.append(det)
        truth[det] = np.round(kp, 3)
    return p, cam, dets, truth
