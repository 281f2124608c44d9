"""Benchmark: frame step in the app while a mining child process runs (target: median < 30 ms), against idle.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_frame_step_under_job.py [--frames 150] [--mine-frames 3000]

Builds, in a temporary folder, a project with two cameras: "view", a folder of 1280x720 JPEG frames (the demo
parking-lot clip resized, as bench_frame_view.py), and "mine", an H.264 video of the same clip at 640x360
looped to --mine-frames frames, with its median background. In `MainWindow` it times a frame step on "view"
(change position -> frame decoded and drawn -> synchronous repaint), two ways:

  step-cold      one frame at a time, nothing cached or prefetched (the worst case of stepping)
  step-paced     the app's own cache and prefetch, one step every 40 ms (holding the arrow key)

first with nothing running (the baseline), then while Mining > Mine detections runs on camera "mine" as a
child process (`walt3d --progress jsonl mine --shard-out`, up to 4 detection threads, on the same machine).
It checks that the child was mining for the whole measurement, then cancels it, and prints the ratio
under-job / idle of the medians.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
CLIP = ROOT / "resources" / "footage" / "parking-lot-cars-top-down.mp4"


def make_mining_video(path: Path, n: int, size=(640, 360)) -> Path:
    import av
    import cv2

    out = av.open(str(path), "w")
    stream = out.add_stream("libx264", rate=25)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.options = {"crf": "23", "preset": "ultrafast"}
    i = 0
    while i < n:
        with av.open(str(CLIP)) as src:
            for frame in src.decode(video=0):
                if i >= n:
                    break
                rgb = cv2.resize(frame.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_AREA)
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    out.mux(packet)
                i += 1
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return path


def stats(ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms   max {ms[-1]:6.2f} ms   (n={len(ms)})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=150, help="frames of the stepped camera (1280x720 JPEG)")
    ap.add_argument("--mine-frames", type=int, default=3000, help="frames the mining child works through")
    args = ap.parse_args()

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from bench_frame_view import make_sources

    app = QApplication([])
    import walt3d_studio.gui.errors as gerr
    from walt3d_studio.background_job import compute_backgrounds
    from walt3d_studio.gui.main_window import MainWindow
    from walt3d_studio.mining.mine import MineSettings
    from walt3d_studio.store import Project
    from walt3d_studio.timelapse import FrameCache

    gerr.set_interactive(False)
    tmp = Path(tempfile.mkdtemp(prefix="walt3d-bench-job-"))
    t = time.perf_counter()
    images, _ = make_sources(tmp, args.frames, (1280, 720))
    video = make_mining_video(tmp / "mine.mp4", args.mine_frames)
    with Project.create(tmp / "bench") as p:
        cam_view = p.add_camera("view", "UTC")
        p.add_source(images, cam_view)
        cam_mine = p.add_camera("mine", "UTC")
        p.add_source(video, cam_mine)
        compute_backgrounds(p, cam_mine, hours_per_window=None)
    print(f"built the project in {time.perf_counter() - t:.1f} s")

    win = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.IniFormat), remember_recent=False)
    win.resize(1280, 820)
    win.show()
    win.open_project(tmp / "bench.walt3d")
    win.select_camera(cam_view)
    vp = win.frame_view.viewport()
    for _ in range(3):
        app.processEvents()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at start; view {vp.width()}x{vp.height()}")

    def show(pos: int) -> float:
        t0 = time.perf_counter()
        win.timeline.set_position(pos)
        win.settle()
        assert win.display.shown_pos == pos
        vp.repaint()
        return 1000 * (time.perf_counter() - t0)

    def pump(seconds: float) -> None:  # the event loop runs between steps, as in the app (the job's progress)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.002)

    def measure() -> tuple[list[float], list[float]]:
        n = win.timeline.count
        win.select_camera(cam_view, force=True)
        win.reader.prefetch = lambda positions: None
        win.reader.cache = FrameCache(0)
        win.timeline.set_position(0)
        cold = []
        for i in range(1, n):
            cold.append(show(i))
            pump(0.01)
        win.select_camera(cam_view, force=True)  # a fresh reader: the app's cache and prefetch
        paced = []
        for i in range(1, n):
            paced.append(show(i))
            pump(0.040)
        return cold, paced

    idle = measure()
    job = win.review.mining._mine_in_child(win.project, cam_mine, MineSettings(), replace=False)
    while job.done == 0 and job.active:
        pump(0.05)
    start_done = job.done
    busy = measure()
    still = job.state == "running"
    print(f"mining child pid {job.pid}: frames {start_done} -> {job.done} of {job.total} during the measurement, "
          f"{'still running' if still else 'ENDED EARLY: ' + job.state} at its end; load average "
          f"{os.getloadavg()[0]:.2f}")
    job.cancel()
    while job.active:
        pump(0.05)

    print(f"\nframe step on 'view' (1280x720 JPEG, {win.timeline.count} frames)")
    for name, a, b in (("step-cold", idle[0], busy[0]), ("step-paced", idle[1], busy[1])):
        print(f"  {name:<11} idle       {stats(a)}")
        print(f"  {name:<11} under job  {stats(b)}")
        print(f"  {name:<11} ratio under-job/idle (median): {statistics.median(b) / statistics.median(a):.2f}x"
              f"   target < 30 ms: {'met' if statistics.median(b) < 30 else 'MISSED'}")
    win.close()
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if still else 1


if __name__ == "__main__":
    sys.exit(main())
