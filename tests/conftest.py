import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# torch (and triton, which torchvision's ops pull in) is loaded before any test loads VTK's native libraries: in a
# fresh-clone CI run, importing torchvision.ops after the 3D viewport tests had loaded VTK segfaulted in triton.
try:
    import torch  # noqa: F401
    import torchvision.ops  # noqa: F401
except ImportError:
    pass

REPO = Path(__file__).resolve().parent.parent
FOOTAGE = REPO / "resources" / "footage"
GIF = FOOTAGE / "parking-lot-person-bicycle-car.gif"
MP4 = FOOTAGE / "parking-lot-cars-top-down.mp4"


@pytest.fixture
def image_folder(tmp_path):
    """Six 64x48 PNG frames named with timestamps one minute apart, each with a known colour."""
    import cv2

    folder = tmp_path / "day1"
    folder.mkdir()
    for i in range(6):
        img = np.zeros((48, 64, 3), np.uint8)
        img[..., 0] = 40 * i  # red channel encodes the index (RGB)
        img[10:20, 10 + i:20 + i] = (255, 255, 255)
        cv2.imwrite(str(folder / f"cam_20240501_0800{i:02d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return folder


def decode_all(path):
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
