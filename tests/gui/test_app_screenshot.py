"""`walt3d-studio --screenshot`: loads a project, shows a frame, saves the whole window, exits 0."""
import subprocess
import sys

import numpy as np
import pytest

from .gui_helpers import GIF, REPO


@pytest.fixture
def gif_project(tmp_path):
    from walt3d_studio.background_job import compute_backgrounds
    from walt3d_studio.camera import Camera
    from walt3d_studio.store import Project
    from walt3d_studio.timelapse import parse_user_time

    with Project.create(tmp_path / "demo") as p:
        cam = p.add_camera("parking-lot", "UTC")
        p.add_source(GIF, cam, start=parse_user_time("2024-05-01T08:00:00", "UTC"))
        p.set_calibration(cam, Camera.looking_at_ground((480, 270), 420.0, 12.0, 6.0))
        compute_backgrounds(p, cam, hours_per_window=1)
        return p.root


def _qimage_to_array(img):
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format_RGB888)
    w, h = img.width(), img.height()
    return np.frombuffer(img.constBits(), np.uint8).reshape(h, img.bytesPerLine())[:, :3 * w].reshape(h, w, 3)


def test_screenshot_in_process(qtbot, gif_project, tmp_path, monkeypatch):
    import walt3d_studio.gui.errors as gerr
    from PySide6.QtGui import QImage
    from walt3d_studio.gui.app import main

    monkeypatch.setattr(gerr, "_interactive", True)  # main() turns dialogs off; restore after
    out = tmp_path / "shot.png"
    assert main([str(gif_project), "--screenshot", str(out), "--frame", "7"]) == 0
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1280, 820)
    arr = _qimage_to_array(img)
    assert arr.std() > 20  # a frame, menus and status bar: not a blank window


def test_screenshot_subprocess_and_no_heavy_imports(gif_project, tmp_path):
    out = tmp_path / "bg.png"
    code = ("import sys; from walt3d_studio.gui.app import main; rc = main(sys.argv[1:]); "
            "heavy = [m for m in ('torch', 'vtk', 'smplx') if m in sys.modules]; "
            "print('HEAVY', heavy); sys.exit(rc)")
    r = subprocess.run([sys.executable, "-c", code, str(gif_project), "--screenshot", str(out), "--background"],
                       capture_output=True, text=True, timeout=60, cwd=REPO,
                       env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr
    assert "HEAVY []" in r.stdout
    assert out.stat().st_size > 10000


def test_screenshot_bad_project_exits_nonzero(tmp_path, capfd):
    r = subprocess.run([sys.executable, "-m", "walt3d_studio.gui.app", str(tmp_path / "missing"),
                        "--screenshot", str(tmp_path / "x.png")], capture_output=True, text=True, timeout=60,
                       env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 2
    assert "not a WALT3D Studio project" in r.stderr
    assert not (tmp_path / "x.png").exists()
