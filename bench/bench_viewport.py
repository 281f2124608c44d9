"""3D viewport speed (issue 16), offscreen VTK, 50 fitted vehicles at 1280x720:

- frame change: ours moves each vehicle's actor by a transform; baseline rebuilds every mesh's polydata per frame;
- orbit, render + image read back (what the dock shows per drag step): ours (no MSAA, opaque grid, one merged actor
  for the frame's meshes while the view moves, GetPixelData read-back) against the viewport as it was before
  (4x MSAA, translucent grid, one actor per mesh, vtkWindowToImageFilter read-back), in the same process;
  "to pixmap" adds the QImage/QPixmap the dock makes;
- through the camera with lens distortion: the render, the per-object pass, the warp and the edges/IoU labels;
- the dock opened to its first frame, in a fresh process (VTK imported then), on a project with fits.

    VTK_DEFAULT_OPENGL_WINDOW=vtkOSOpenGLRenderWindow QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_viewport.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkOSOpenGLRenderWindow")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from walt3d_studio.camera import Camera  # noqa: E402
from walt3d_studio.gui.viewport.scene import FitScene, _polydata  # noqa: E402
from walt3d_studio.reconstruct.vehicle_shape import mesh_for_alpha  # noqa: E402
from walt3d_studio.store.fits import DetectionFit, TrackFit  # noqa: E402

N, FRAMES = 50, 20


def street(dist=None):
    cam = Camera.looking_at_ground((1280, 720), focal_px=1000.0, pitch_deg=30.0, height_m=8.0, dist=dist)
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
    return cam, fits, frame_of


def legacy(scene: FitScene) -> None:
    """The viewport's settings before this change: 4x MSAA, a translucent grid, no merging while moving."""
    scene.window.SetMultiSamples(4)
    scene.static[0].GetProperty().SetOpacity(0.6)
    scene._merge = lambda: None


def legacy_read(scene: FitScene) -> np.ndarray:
    import vtk
    from vtkmodules.util.numpy_support import vtk_to_numpy

    f = vtk.vtkWindowToImageFilter()
    f.SetInput(scene.window)
    f.ReadFrontBufferOff()
    f.Update()
    out = f.GetOutput()
    w, h, _ = out.GetDimensions()
    return np.ascontiguousarray(vtk_to_numpy(out.GetPointData().GetScalars()).reshape(h, w, -1)[::-1, :, :3])


def orbit_fps(scene: FitScene, read, n=20, pixmap=False) -> float:
    from PySide6.QtGui import QImage, QPixmap

    scene.set_frame(0)
    t = []
    for _ in range(n + 2):
        t0 = time.perf_counter()
        scene.orbit(3.0, 0.0)
        rgb = read()
        if pixmap:
            h, w = rgb.shape[:2]
            QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy())
        t.append(time.perf_counter() - t0)
    return 1 / float(np.median(t[2:]))


def _scaled_up(rgb):
    from PySide6.QtCore import QSize, Qt
    from PySide6.QtGui import QImage, QPixmap

    h, w = rgb.shape[:2]
    return QPixmap.fromImage(QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()).scaled(
        QSize(2 * w, 2 * h), Qt.KeepAspectRatio, Qt.FastTransformation)


OPEN = r"""
import sys, time, tempfile
if sys.argv[2] == "no-torch":  # what the dock costs without the torch preload (scene.py's segfault guard)
    sys.modules["torchvision"] = None
from pathlib import Path
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
from walt3d_studio.gui.main_window import MainWindow
import walt3d_studio.gui.errors as gerr
gerr.set_interactive(False)
tmp = Path(tempfile.mkdtemp())
w = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.IniFormat), remember_recent=False)
w.resize(1400, 800); w.show()
assert w.open_project(Path(sys.argv[1]))
w.settle()
assert "vtk" not in sys.modules
t0 = time.perf_counter()
w.viewport.show()
while getattr(w.viewport, "last_image", None) is None:
    app.processEvents()
print("OPEN_MS", 1000 * (time.perf_counter() - t0), w.viewport.n_fits)
"""


def dock_open(runs=3) -> tuple[list[float], list[float]]:
    sys.path.insert(0, str(ROOT / "tests"))
    from gui.test_fit_review import body_params, vehicle_pose  # noqa: F401
    from gui.test_review_workflow import _build

    from walt3d_studio.store import Project
    from walt3d_studio.store.detections import detection_table
    from walt3d_studio.store.fits import save_track_fits

    root = _build(Path(tempfile.mkdtemp()) / "demo")
    with Project.open(root) as p:
        cam = p.calibration(1)
        dt = detection_table(p, camera_id=1)
        fits = {}
        for i in range(len(dt)):
            if dt.category[i] != "car" or dt.track_id[i] is None:
                continue
            x, y, w, h = dt.box[i]
            R, t = vehicle_pose(cam, (x + w / 2, y + h - 1))
            tf = fits.setdefault(int(dt.track_id[i]), TrackFit(int(dt.track_id[i]), "vehicle", "bench",
                                                                shape={"alpha": [0.0]}))
            tf.detections.append(DetectionFit(int(dt.id[i]), R, t))
        save_track_fits(p, list(fits.values()))
    out = {"torch": [], "no-torch": []}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(runs):
        for mode in out:
            r = subprocess.run([sys.executable, "-c", OPEN, str(root), mode], capture_output=True, text=True,
                               env=env, timeout=300)
            line = next(x for x in r.stdout.splitlines() if x.startswith("OPEN_MS"))
            out[mode].append(float(line.split()[1]))
            nfits = int(line.split()[2])
    print(f"  ({nfits} fitted track(s) on the mined demo clip)")
    return out["torch"], out["no-torch"]


def main() -> None:
    from PySide6.QtWidgets import QApplication

    if "--open-only" in sys.argv:
        ms, bare = dock_open()
        print(f"dock opened to its first frame: median {np.median(ms):.0f} ms ({', '.join(f'{m:.0f}' for m in ms)});"
              f" without the torch preload: median {np.median(bare):.0f} ms ({', '.join(f'{m:.0f}' for m in bare)})")
        return
    app = QApplication.instance() or QApplication([])  # noqa: F841
    cam, fits, frame_of = street()
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
    t = []
    for f in range(1, FRAMES):
        t0 = time.perf_counter()
        scene.set_frame(f)
        scene.render((1280, 720))
        t.append(time.perf_counter() - t0)
    print(f"frame change + render + read back, {N} vehicles at 1280x720: {np.median(t) * 1e3:.1f} ms")

    ours = orbit_fps(scene, lambda: scene.render((1280, 720)))
    ours_px = orbit_fps(scene, lambda: scene.render((1280, 720)), pixmap=True)
    old = FitScene((1280, 720))
    old.load(cam, fits, frame_of)
    legacy(old)

    def old_read():
        old.window.Render()
        return legacy_read(old)
    base = orbit_fps(old, old_read, n=8)
    print(f"orbit at 1280x720 (render + read back), {N} vehicles: ours {ours:.1f} frames/s "
          f"({ours_px:.1f} with QImage/QPixmap), before {base:.1f} frames/s, ratio {ours / base:.1f}x")
    moving = orbit_fps(scene, lambda: _scaled_up(scene.render((640, 360))), pixmap=False)
    scene.render((1280, 720))
    print(f"orbit in a 1280x720 view as the dock draws it while the view moves (rendered at 640x360, scaled up to "
          f"1280x720 on a QPixmap): {moving:.1f} frames/s, ratio {moving / base:.1f}x vs before")

    dcam, dfits, dframe_of = street(dist=[-0.25, 0.08, 0.001, -0.001, 0.0])
    cs = FitScene((1280, 720))
    cs.load(dcam, dfits, dframe_of)
    cs.set_frame(0)
    t0 = time.perf_counter()
    cs.camera_view(np.full((720, 1280, 3), 90, np.uint8))
    warp = time.perf_counter() - t0
    t = []
    for f in range(1, 8):
        t0 = time.perf_counter()
        cs.set_frame(f)
        cs.render()
        t.append(time.perf_counter() - t0)
    print(f"through the camera with distortion, {N} vehicles, 1280x720: {np.median(t) * 1e3:.0f} ms a frame "
          f"(render at 2x + per-object pass + warp + edges); the warp maps once per camera: {warp * 1e3:.0f} ms")

    ms, bare = dock_open()
    print(f"dock opened to its first frame (fresh process, VTK imported then): median {np.median(ms):.0f} ms "
          f"({', '.join(f'{m:.0f}' for m in ms)}); without the torch preload: median {np.median(bare):.0f} ms "
          f"({', '.join(f'{m:.0f}' for m in bare)})")


if __name__ == "__main__":
    main()
