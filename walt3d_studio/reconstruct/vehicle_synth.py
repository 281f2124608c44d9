"""Synthetic vehicle tracks with exact truth, for tests and benchmarks: a shape drawn from the model, a smooth
drive on the ground plane, keypoints projected through the camera (visibility from the mesh), masks
rasterised from the mesh. Seeded: the same seed gives the same tracks."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..camera import Camera
from .silhouette import silhouette_mask, visible_points
from .vehicle_pose import Observations, pose_to_cam
from .vehicle_shape import keypoints_from_dims, load_shape_model, mesh_for_alpha, mesh_from_keypoints, read_vehicle_rows


@dataclass
class SynthTrack:
    alpha: np.ndarray
    xy: np.ndarray       # (F, 2) truth
    yaw: np.ndarray      # (F,) truth
    obs: Observations    # noisy, partly missing
    visible: np.ndarray  # (F, 12) bool: not hidden by the vehicle itself
    distance: np.ndarray  # (F,) metres from the camera centre to the vehicle's origin


def test_cameras() -> dict[str, Camera]:
    """High/low, near/far views (plus one with barrel distortion), and the demo's two calibrations."""
    from ..resources import resource

    cams = {
        "high_near": Camera.looking_at_ground((1280, 720), 1000, 35, 8.0),
        "high_far": Camera.looking_at_ground((1920, 1080), 2000, 15, 12.0),
        "low_near": Camera.looking_at_ground((1280, 720), 900, 8, 2.5),
        "low_far_distorted": Camera.looking_at_ground((1280, 720), 1500, 6, 4.0,
                                                      dist=np.array([-0.15, 0.02, 0, 0, 0])),
    }
    for name in ("parking-lot-person-bicycle-car", "parking-lot-cars-top-down"):
        try:
            cams["demo_" + name.split("-")[-1]] = Camera.load(resource("demo", name + ".camera.json"))
        except Exception:  # a checkout without the demo resources still has the four above
            pass
    return cams


def _ground_in_view(camera: Camera, rng, margin=0.15, max_dist=80.0):
    """A random world xy on the ground whose pixel lies inside the image (away from its borders)."""
    w, h = camera.image_size
    for _ in range(200):
        px = np.array([[rng.uniform(margin, 1 - margin) * w, rng.uniform(0.35, 1 - margin) * h]])
        g = camera.pixels_to_ground_world(px)[0]
        if np.isfinite(g).all() and 4.0 < np.hypot(*g) < max_dist:
            return g
    raise ValueError("the camera sees no ground")


def make_track(camera: Camera, rng, n_frames=30, dt=0.2, noise_px=0.0, missing=0.0, kind="car",
               speed=None, stationary=False, with_masks=False, max_tries=50, real_vehicles=False):
    """One synthetic track fully inside the image. Returns (SynthTrack, masks or None).

    real_vehicles: the vehicle is one of the CSV's real vehicles (its own keypoints and mesh, which the PCA
    model reproduces only to its 95 %), instead of a shape drawn from the model."""
    model = load_shape_model(kind)
    rows = [r for r in read_vehicle_rows() if r.kind == kind] if real_vehicles else None
    for attempt in range(max_tries):
        if rows:
            kp = keypoints_from_dims(rows[rng.integers(len(rows))].dims)
            alpha = np.einsum("kc,pkc->p", kp - model.mean, model.components)
        else:
            alpha = rng.normal(size=model.n_components) * model.stddev * 0.7
            kp = model.keypoints(alpha)
        start = _ground_in_view(camera, rng)
        yaw0 = rng.uniform(-math.pi, math.pi)
        v = 0.0 if stationary else (speed if speed is not None else rng.uniform(0.5, 3.0))
        v *= 0.85 ** attempt  # small views (the top-down demo) only fit slow drives
        omega = rng.uniform(-0.15, 0.15) if v > 0 else 0.0
        t = np.arange(n_frames) * dt
        yaw = yaw0 + omega * t
        if v > 0:
            step = v * dt
            dx, dy = step * np.cos(yaw), step * np.sin(yaw)
            xy = start + np.c_[np.r_[0, np.cumsum(dx[:-1])], np.r_[0, np.cumsum(dy[:-1])]]
            xy -= xy[n_frames // 2] - start  # the sampled point is the middle of the drive
        else:
            xy = np.repeat(start[None], n_frames, axis=0)
        pts = np.zeros((n_frames, 12, 2))
        vis = np.zeros((n_frames, 12), bool)
        dist = np.zeros(n_frames)
        verts, faces = mesh_from_keypoints(kp) if rows else mesh_for_alpha(alpha, kind)
        ok = True
        for f in range(n_frames):
            R, tt = pose_to_cam(camera, xy[f], yaw[f])
            Xc = kp @ R.T + tt
            if (Xc[:, 2] < 1.0).any():
                ok = False
                break
            pts[f] = camera.project(Xc)
            box_ok = camera.project(verts @ R.T + tt)
            w, h = camera.image_size
            if not (np.isfinite(box_ok).all() and (box_ok >= 2).all() and (box_ok[:, 0] < w - 3).all()
                    and (box_ok[:, 1] < h - 3).all()):
                ok = False
                break
            vis[f] = visible_points(verts @ R.T + tt, faces, Xc)
            dist[f] = float(np.linalg.norm(tt))
        if not ok:
            continue
        weights = np.ones((n_frames, 12))
        if missing > 0:
            weights[rng.random((n_frames, 12)) < missing] = 0.0
        noisy = pts + rng.normal(scale=noise_px, size=pts.shape) if noise_px > 0 else pts.copy()
        masks = None
        if with_masks:
            masks = []
            for f in range(n_frames):
                R, tt = pose_to_cam(camera, xy[f], yaw[f])
                masks.append(silhouette_mask(camera, verts @ R.T + tt, faces))
        return SynthTrack(alpha, xy, wrap_yaw(yaw), Observations(t, noisy, weights), vis, dist), masks
    raise ValueError("could not place a track inside the image; use a smaller speed or fewer frames")


def wrap_yaw(a):
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def errors(track: SynthTrack, xy, yaw) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: heading error (degrees, flips count in full) and ground position error / distance."""
    dyaw = np.degrees(np.abs(wrap_yaw(np.asarray(yaw) - track.yaw)))
    dpos = np.linalg.norm(np.asarray(xy) - track.xy, axis=1) / track.distance
    return dyaw, dpos
