"""Helpers shared by the GUI tests (fixtures are in conftest.py)."""
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
FOOTAGE = REPO / "resources" / "footage"
GIF = FOOTAGE / "parking-lot-person-bicycle-car.gif"
MP4 = FOOTAGE / "parking-lot-cars-top-down.mp4"


def wait_job(qtbot, job, timeout=30000):
    """Wait for a job to end; return ('finished'|'failed'|'cancelled', value)."""
    out = {}
    job.finished.connect(lambda v: out.setdefault("r", ("finished", v)))
    job.failed.connect(lambda e: out.setdefault("r", ("failed", e)))
    job.cancelled.connect(lambda: out.setdefault("r", ("cancelled", None)))
    with qtbot.waitSignal(job.ended, timeout=timeout):
        pass
    return out["r"]


def decode_all(path):
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def write_frames(folder, n=5, size=(64, 48), stamp="20240501_0800"):
    """PNG frames 1 s apart: red channel = 40*i, a white square at x 10..19, y 10..19, blue gradient in x."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    w, h = size
    frames = []
    for i in range(n):
        img = np.zeros((h, w, 3), np.uint8)
        img[..., 0] = 40 * i
        img[..., 2] = (np.arange(w) * 255 // max(w - 1, 1)).astype(np.uint8)[None, :]
        img[10:20, 10:20] = 255
        cv2.imwrite(str(folder / f"cam_{stamp}{i:02d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        frames.append(img)
    return frames


def press(qtbot, window, key):
    """A key on the window, then wait until the frame it leads to is on screen (video jumps load async)."""
    from PySide6.QtWidgets import QApplication

    if QApplication.activeWindow() is not window:  # shortcuts go to the active window
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    qtbot.keyClick(window, key)
    window.settle()
