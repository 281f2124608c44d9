"""The one-folder desktop app built by packaging/build.sh starts and screenshots the demo project, headless."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_pyinstaller_app_folder_takes_a_screenshot(tmp_path):
    pytest.importorskip("PyInstaller")
    env = dict(os.environ, DIST=str(tmp_path / "dist"), WORK=str(tmp_path / "work"), PYTHON=sys.executable,
               QT_QPA_PLATFORM="offscreen")
    subprocess.run(["bash", str(REPO / "packaging" / "build.sh")], check=True, env=env, capture_output=True)
    app = tmp_path / "dist" / "walt3d-studio" / "walt3d-studio"
    run = lambda *a: subprocess.run([str(app), *a], cwd=tmp_path, env=env, capture_output=True, text=True)
    r = run("cli", "--quiet", "demo", "--project-only", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    shot = tmp_path / "shot.png"
    r = run("--screenshot", str(shot), str(tmp_path / "out" / "demo.walt3d"))
    assert r.returncode == 0, r.stderr
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[0] > 300 and img.std() > 10
