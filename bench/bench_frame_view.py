"""Benchmark: frame change to pixels on screen in the main window (decode + setImage + a forced repaint).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_frame_view.py [--frames 300] [--size 1280x720]

Builds, in a temporary folder, a folder of JPEG frames and an H.264 mp4 of the same frames (the demo
parking-lot clip resized to --size), imports both into a project, opens it in `MainWindow`, and times:

  step-cold      → one frame at a time, nothing cached or prefetched: decode + draw (the worst case of scrubbing)
  step-prefetch  → one frame every 40 ms (25 fps playback pace) with the app's prefetch: what playback costs
  jump           random positions, nothing cached (the video seeks to a keyframe and decodes forward, on the
                 window's loader thread; the time is until that frame is on screen)
  draw-only      pre-decoded frames: setImage + repaint, ours (uint8, no levels: zero-copy QImage) against the
                 baseline pyqtgraph call `setImage(img)` (auto levels: a scan and a rescale of every pixel)

"Pixels on screen" = `frame_view.viewport().repaint()` returned (a synchronous paint into the window's
backing store); with the offscreen platform that is the last step before a compositor would show it.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIP = ROOT / "resources" / "footage" / "parking-lot-cars-top-down.mp4"


def make_sources(folder: Path, n: int, size: tuple[int, int], gop: int = 0) -> tuple[Path, Path]:
    """JPEG frames with time stamps 1 s apart and an mp4 (H.264, 25 fps) of the same resized frames."""
    import av
    import cv2

    images = folder / "frames"
    images.mkdir()
    video = folder / "clip.mp4"
    out = av.open(str(video), "w")
    stream = out.add_stream("libx264", rate=25)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.options = {"crf": "20", "preset": "veryfast", **({"g": str(gop)} if gop else {})}
    i = 0
    while i < n:  # loop the clip when asked for more frames than it has
        with av.open(str(CLIP)) as src:
            for frame in src.decode(video=0):
                if i >= n:
                    break
                rgb = cv2.resize(frame.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_AREA)
                h, m, s = 8 + i // 3600, (i // 60) % 60, i % 60
                cv2.imwrite(str(images / f"cam_20240501_{h:02d}{m:02d}{s:02d}.jpg"),
                            cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
                for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                    out.mux(packet)
                i += 1
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return images, video


def stats(ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms   max {ms[-1]:6.2f} ms   (n={len(ms)})"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--jumps", type=int, default=60)
    ap.add_argument("--gop", type=int, default=0, help="keyframe interval of the mp4 (0: x264's default, 250)")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    import walt3d_studio.gui.errors as gerr
    from walt3d_studio.gui.main_window import MainWindow
    from walt3d_studio.store import Project
    from walt3d_studio.timelapse import FrameCache

    gerr.set_interactive(False)
    tmp = Path(tempfile.mkdtemp(prefix="walt3d-bench-view-"))
    t = time.perf_counter()
    images, video = make_sources(tmp, args.frames, size, args.gop)
    print(f"made {args.frames} JPEG frames and an mp4 (keyframe every {args.gop or 250} frames) at "
          f"{size[0]}x{size[1]} in {time.perf_counter() - t:.1f} s")
    with Project.create(tmp / "bench") as p:
        cam_img = p.add_camera("images", "UTC")
        p.add_source(images, cam_img)
        cam_vid = p.add_camera("video", "UTC")
        p.add_source(video, cam_vid)
    win = MainWindow(QSettings(str(tmp / "s.ini"), QSettings.IniFormat), remember_recent=False)
    win.resize(1280, 820)
    win.show()
    win.open_project(tmp / "bench.walt3d")
    vp = win.frame_view.viewport()
    for _ in range(3):
        app.processEvents()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at start; window 1280x820, view {vp.width()}x{vp.height()}")

    def show(pos: int) -> float:
        t0 = time.perf_counter()
        win.timeline.set_position(pos)  # decode (or cache hit) + setImage + status bar
        win.settle()  # a video jump decodes on the loader thread: wait until it is shown
        assert win.display.shown_pos == pos
        vp.repaint()  # synchronous paint
        return 1000 * (time.perf_counter() - t0)

    def no_prefetch():
        win.reader.prefetch = lambda positions: None
        win.reader.cache = FrameCache(0)

    results = {}
    for name, cam in (("images (JPEG)", cam_img), ("video (H.264 mp4)", cam_vid)):
        win.select_camera(cam)
        n = win.timeline.count
        # cold stepping
        no_prefetch()
        win.timeline.set_position(0)
        cold = [show(i) for i in range(1, n)]
        # playback pace with prefetch (fresh reader: the app's real cache and prefetch)
        win.select_camera(cam, force=True)
        pre = []
        for i in range(1, n):
            pre.append(show(i))
            deadline = time.perf_counter() + 0.040
            while time.perf_counter() < deadline:
                app.processEvents()
                time.sleep(0.002)
        # random jumps, cold
        win.select_camera(cam, force=True)
        no_prefetch()
        rnd = random.Random(0)
        jumps = [show(rnd.randrange(n)) for _ in range(args.jumps)]
        results[name] = (cold, pre, jumps)
        print(f"\n{name}, {n} frames")
        print(f"  step-cold      {stats(cold)}")
        print(f"  step-prefetch  {stats(pre)}")
        print(f"  jump           {stats(jumps)}")

    # draw only: ours against pyqtgraph's default setImage call
    win.select_camera(cam_img, force=True)
    frames = [win.reader.frame(i) for i in range(min(60, win.timeline.count))]
    item = win.frame_view.image_item

    def draw(kwargs) -> list[float]:
        out = []
        for f in frames:
            t0 = time.perf_counter()
            item.setImage(f, **kwargs)
            vp.repaint()
            out.append(1000 * (time.perf_counter() - t0))
        return out

    ours = draw({"autoLevels": False, "levels": None})
    base = draw({})  # pyqtgraph default: autoLevels=True
    ours2 = draw({"autoLevels": False, "levels": None})
    ours = [min(a, b) for a, b in zip(ours, ours2)]  # same frames twice: take the quieter run
    print("\ndraw only (setImage + repaint), 60 frames")
    print(f"  ours      {stats(ours)}")
    print(f"  baseline  {stats(base)}   (pyqtgraph setImage default: auto levels)")
    print(f"  ratio baseline/ours (median): {statistics.median(base) / statistics.median(ours):.1f}x")
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    win.close()
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
