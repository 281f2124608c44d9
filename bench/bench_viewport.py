"""3D viewport speed (issue 16): a frame change with 50 fitted vehicles (actor transforms only, ours) against
rebuilding every mesh's polydata per frame (baseline), and orbit frames per second at 1280x720 offscreen.

    VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow .venv/bin/python bench/bench_viewport.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkOSOpenGLRenderWindow")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from walt3d_studio.camera import Camera  # noqa: E402
from walt3d_studio.gui.viewport.scene import FitScene, _polydata  # noqa: E402
from walt3d_studio.reconstruct.vehicle_shape import mesh_for_alpha  # noqa: E402
from walt3d_studio.store.fits import DetectionFit, TrackFit  # noqa: E402

N, FRAMES = 50, 20


def main() -> None:
    cam = Camera.looking_at_ground((1280, 720), focal_px=1000.0, pitch_deg=30.0, height_m=8.0)
    Rwc, twc = cam.world_to_cam()
    rng = np.random.default_rng(0)
    fits, frame_of = [], {}
    for k in range(N):
        dets = []
        x0, y0, yaw = rng.uniform(-15, 15), rng.uniform(10, 40), rng.uniform(-np.pi, np.pi)
        for f in range(FRAMES):
            c, s = np.cos(yaw), np.sin(yaw)
            Rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
            det = 1000 * k + f
            dets.append(DetectionFit(det, Rwc @ Rz, Rwc @ np.array([x0 + 0.3 * f * c, y0 + 0.3 * f * s, 0]) + twc))
            frame_of[det] = f
        fits.append(TrackFit(k, "vehicle", "bench", shape={"alpha": list(rng.normal(0, 0.5, 3))},
                             quality={"iou": 0.8}, detections=dets))
    scene = FitScene((1280, 720))
    scene.load(cam, fits, frame_of)
    scene.set_frame(0)
    scene.render((1280, 720))
    t = []
    for f in range(1, FRAMES):
        t0 = time.perf_counter()
        scene.set_frame(f)
        t.append(time.perf_counter() - t0)
    ours = float(np.median(t))
    # baseline: a new polydata (mesh in world coordinates) per object per frame
    meshes = {tf.track_id: mesh_for_alpha(np.asarray(tf.shape["alpha"])) for tf in fits}
    b = []
    for f in range(FRAMES):
        t0 = time.perf_counter()
        for tf in fits:
            df = tf.detections[f]
            v, fc = meshes[tf.track_id]
            _polydata(v @ (scene.R_cw @ df.R).T + scene.R_cw @ df.t + scene.t_cw, faces=fc)
        b.append(time.perf_counter() - t0)
    base = float(np.median(b))
    print(f"frame change, {N} vehicles: ours {ours * 1e3:.2f} ms, rebuild-meshes baseline {base * 1e3:.2f} ms, "
          f"ratio {base / ours:.1f}x")
    r = []
    for _ in range(30):
        t0 = time.perf_counter()
        scene.orbit(3.0, 0.0)
        scene.window.Render()
        r.append(time.perf_counter() - t0)
    print(f"orbit at 1280x720 offscreen (OSMesa, CPU), {N} vehicles: {1 / np.median(r):.1f} frames/s "
          f"(render only); with the image read back: ", end="")
    r = []
    for _ in range(10):
        t0 = time.perf_counter()
        scene.orbit(3.0, 0.0)
        scene.render((1280, 720))
        r.append(time.perf_counter() - t0)
    print(f"{1 / np.median(r):.1f} frames/s")


if __name__ == "__main__":
    main()
