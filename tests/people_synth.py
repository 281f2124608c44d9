"""Synthetic people with exact truth: the proxy body posed (walking or standing) at known ground positions and
headings, seen through known cameras; boxes are the pixels whose centres the projected body covers."""
import numpy as np

from walt3d_studio.camera import Camera
from walt3d_studio.reconstruct import bodies
from walt3d_studio.reconstruct.body_estimators import PersonDetection

CAMERAS = {
    "street": Camera.looking_at_ground((640, 480), 600, 20, 4.0),
    "high": Camera.looking_at_ground((1280, 720), 1000, 35, 8.0, roll_deg=3),
    "low-wide": Camera.looking_at_ground((480, 270), 300, 12, 3.0, dist=[-0.05, 0.01, 0, 0, 0]),
}


def person_track(camera, rng, n=15, fps=10.0, walking=True, distance=None, height=None):
    """A person's frames: (detections, truth dict with per-frame foot points, height, heading)."""
    height = float(height if height is not None else rng.uniform(1.55, 1.9))
    shape = {"betas": [0.0] * 10, "body_model": "proxy", "height_m": height}
    Rw, tw = camera.cam_to_world()
    # start somewhere on the ground in front of the camera, within the picture
    w, h = camera.image_size
    for _ in range(200):
        px = np.array([[rng.uniform(0.25, 0.75) * w, rng.uniform(0.6, 0.9) * h]])
        start = camera.backproject_to_ground(px)[0]
        if distance is None or abs(np.linalg.norm(start) - distance) < 0.3 * distance:
            break
    yaw = rng.uniform(0, 2 * np.pi)
    up = camera.n
    Rwc, _ = camera.world_to_cam()
    direction = Rwc @ np.array([np.cos(yaw), np.sin(yaw), 0.0])  # a ground direction in the camera frame
    speed = 1.3 if walking else 0.0
    phase0, cadence = rng.uniform(0, 2 * np.pi), 2 * np.pi * 0.9
    dets, feet, params = [], [], []
    for i in range(n):
        t = i / fps
        foot = start + direction * speed * t
        pose = bodies.walking_pose(phase0 + cadence * t, 0.35 if walking else 0.0)
        p = {"global_orient": bodies.upright_orient(direction, up), "body_pose": pose}
        p = bodies.place_on_ground(p, shape, foot, camera.n, camera.d)
        v, _ = bodies.posed_mesh(p, shape)
        px = camera.project(v)
        x0, y0 = np.ceil(px.min(0)).astype(int)
        x1, y1 = np.floor(px.max(0)).astype(int)
        dets.append(PersonDetection(detection_id=i + 1, time=1000.0 + t,
                                    box=np.array([x0, y0, x1 - x0 + 1, y1 - y0 + 1], float)))
        feet.append(foot)
        params.append(p)
    return dets, {"feet": np.array(feet), "height": height, "heading": direction, "shape": shape,
                  "params": params}


def render_masks(camera, dets, truth_params, shape):
    """Full-image masks of the true bodies (silhouette.py), and boxes from the masks (DESIGN's box rule)."""
    from walt3d_studio.reconstruct.silhouette import silhouette_mask

    masks = []
    for d, p in zip(dets, truth_params):
        v, f = bodies.posed_mesh(p, shape)
        m = silhouette_mask(camera, v, f)
        ys, xs = np.nonzero(m)
        d.box = np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], float)
        masks.append(m)
    return masks
