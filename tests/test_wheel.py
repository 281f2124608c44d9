"""The wheel works installed normally (not editable): resources are package data, the CLI and the app run from a
folder outside the checkout. The fresh venv borrows this environment's third-party packages (no download) but
not its editable install of walt3d_studio, so only the wheel's own files can be imported."""
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO),
                    "-w", str(wheels)], check=True, cwd=tmp_path)
    (wheel,) = wheels.glob("walt3d_studio-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # a path listed in a .pth is added without running the .pth files inside it: no editable checkout leaks in
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    py = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(site), str(wheel)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"QT_QPA_PLATFORM": "offscreen"}
    where = subprocess.run([py, "-c", "import walt3d_studio, sys; print(walt3d_studio.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, check=True).stdout
    assert str(site) in where and str(REPO) not in where
    version = subprocess.run([py, "-m", "walt3d_studio", "--version"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, check=True).stdout
    assert version.startswith("walt3d ")
    subprocess.run([py, "-m", "walt3d_studio", "--quiet", "demo", "--project-only", str(tmp_path / "out")],
                   cwd=tmp_path, env=env, check=True, capture_output=True)
    shot = tmp_path / "shot.png"
    subprocess.run([py, "-m", "walt3d_studio.gui.app", "--screenshot", str(shot),
                    str(tmp_path / "out" / "demo.walt3d")], cwd=tmp_path, env=env, check=True, capture_output=True)
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[0] > 300 and img.std() > 10   # a window with the frame in it, not a blank
