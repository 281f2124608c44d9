"""Benchmark: app start to main window shown, and what start-up imports.

    .venv/bin/python bench/bench_startup.py [--runs 5]

Each run is a fresh process (`python -c` calling `walt3d_studio.gui.app.main`) with `--screenshot`, which opens
the window, loads the project, waits until the frame is on screen, grabs and saves the whole window and exits:
its wall time is an upper bound of "start to window shown" (it also pays for the grab, the PNG and the exit).
Inside the process the wall time from interpreter start to the window being shown is printed as well.
Baseline, in the same run: the smallest PySide6 program that shows a QMainWindow (the floor any Qt app pays).
Also lists the slowest imports (`python -X importtime`) and checks that torch, vtk and smplx are not loaded.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HEAVY = ("torch", "vtk", "smplx")

APP = r"""
import sys, time
t_start = time.perf_counter()
from walt3d_studio.gui import app as gui_app
from walt3d_studio.gui import main_window as mw
shown = {}
orig_show = mw.MainWindow.show
def show(self):
    orig_show(self)
    shown.setdefault("t", time.perf_counter())
mw.MainWindow.show = show
rc = gui_app.main(sys.argv[1:])
heavy = [m for m in %r if m in sys.modules]
print("SHOWN_MS", 1000 * (shown["t"] - t_start), "HEAVY", heavy)
sys.exit(rc)
""" % (HEAVY,)

BARE = r"""
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
w = QMainWindow(); w.resize(1280, 820); w.show(); app.processEvents()
"""


def run(args: list[str]) -> tuple[float, str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    dt = 1000 * (time.perf_counter() - t0)
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(args)}\n{r.stderr}")
    return dt, r.stdout


def build_demo(folder: Path) -> Path:
    from walt3d_studio.store import Project
    from walt3d_studio.timelapse import parse_user_time

    footage = ROOT / "resources" / "footage"
    with Project.create(folder / "demo") as p:
        a = p.add_camera("parking-lot", "UTC")
        p.add_source(footage / "parking-lot-person-bicycle-car.gif", a,
                     start=parse_user_time("2024-05-01T08:00:00", "UTC"))
        b = p.add_camera("top-down", "UTC")
        p.add_source(footage / "parking-lot-cars-top-down.mp4", b)
        return p.root


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="walt3d-bench-start-"))
    demo = build_demo(tmp)
    shot = str(tmp / "shot.png")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.2f} at start")
    run(["-c", APP, "--screenshot", shot])  # warm the file cache once

    cases = {
        "bare Qt window (baseline)": ["-c", BARE],
        "walt3d-studio --screenshot, no project": ["-c", APP, "--screenshot", shot],
        "walt3d-studio --screenshot, demo project (GIF, frame 20)": ["-c", APP, str(demo), "--screenshot", shot,
                                                                    "--frame", "20"],
        "walt3d-studio --screenshot, demo project (mp4 camera, frame 300)": [
            "-c", APP, str(demo), "--camera", "top-down", "--screenshot", shot, "--frame", "300"],
    }
    medians = {}
    for name, cmd in cases.items():
        walls, shown, heavy = [], [], set()
        for _ in range(args.runs):
            dt, out = run(cmd)
            walls.append(dt)
            m = re.search(r"SHOWN_MS ([\d.]+) HEAVY \[(.*)\]", out)
            if m:
                shown.append(float(m.group(1)))
                heavy |= {h.strip(" '") for h in m.group(2).split(",") if h.strip()}
        medians[name] = statistics.median(walls)
        line = f"{name:66s} process wall median {statistics.median(walls):7.0f} ms (min {min(walls):.0f})"
        if shown:
            line += f"; window shown at {statistics.median(shown):5.0f} ms after start"
            line += f"; heavy modules: {sorted(heavy) or 'none'}"
        print(line)
    base = medians["bare Qt window (baseline)"]
    ours = medians["walt3d-studio --screenshot, demo project (GIF, frame 20)"]
    print(f"ratio demo-project run / bare Qt window: {ours / base:.2f}x")

    # the slowest imports of the app's start-up modules
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, "-X", "importtime", "-c",
                        "import walt3d_studio.gui.app, walt3d_studio.gui.main_window"],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    rows = []
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", line)
        if m and "." not in m.group(3):  # each top-level package, wherever it was first imported
            rows.append((int(m.group(2)), m.group(3)))
    print("slowest packages imported at start-up (cumulative):")
    for us, name in sorted(rows, reverse=True)[:10]:
        print(f"  {us / 1000:7.1f} ms  {name}")
    loaded = sorted({h for _, n in rows for h in HEAVY if n == h})
    print(f"heavy modules imported at start-up: {loaded or 'none'}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
