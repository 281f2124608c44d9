"""Shadow suppression in the built-in foreground detector: a synthetic scene with an object and its cast
shadow (the background darkened to 60 %, same chromaticity) attached to it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from walt3d_studio.errors import BadInputError
from walt3d_studio.mining.detection import FrameInfo
from walt3d_studio.mining.foreground import ForegroundDetector
from walt3d_studio.mining.registry import RunInfo

W, H = 640, 360


def _background() -> np.ndarray:
    """Asphalt-like texture: a warm grey with smoothed noise and a few painted lines."""
    rng = np.random.default_rng(3)
    noise = cv2.GaussianBlur(rng.normal(0, 12, (H, W)).astype(np.float32), (0, 0), 2.0)
    bg = np.array([118, 112, 104], np.float32)[None, None] + noise[..., None]
    for x in (100, 300, 500):
        bg[:, x:x + 4] = (215, 215, 205)
    return np.clip(bg, 0, 255).astype(np.uint8)


def _scene(bg: np.ndarray, shadow_factor: float = 0.6):
    """The frame, the object's mask and the shadow's mask: a red car-sized box, its shadow to its right
    and below (an L the sun would cast), and the painted line under the shadow darkened with it."""
    frame = bg.copy()
    obj = np.zeros((H, W), bool)
    obj[140:200, 250:340] = True
    shadow = np.zeros((H, W), bool)
    shadow[155:225, 270:380] = True
    shadow &= ~obj
    frame[shadow] = np.clip(np.rint(bg[shadow] * shadow_factor), 0, 255).astype(np.uint8)
    frame[obj] = (190, 40, 35)
    return frame, obj, shadow


def _detect(bg, frame, **opts):
    det = ForegroundDetector(background=bg, **opts)
    det.start(RunInfo(None, 1, W, H, None, None))
    return det.detect(frame, FrameInfo(0, 1, 1, 0, 0.0))


def _mask(d) -> np.ndarray:
    full = np.zeros((H, W), bool)
    x, y = d.mask_xy
    m = d.mask
    full[y:y + m.shape[0], x:x + m.shape[1]] = m
    return full


def _iou(a, b):
    return (a & b).sum() / max(1, (a | b).sum())


@pytest.mark.parametrize("downsample", [1, 2])
def test_cast_shadow_is_not_part_of_the_object(downsample):
    bg = _background()
    frame, obj, shadow = _scene(bg)
    dets = _detect(bg, frame, downsample=downsample)
    assert len(dets) == 1
    m = _mask(dets[0])
    assert _iou(m, obj) > 0.85
    assert (m & shadow).sum() < 0.1 * shadow.sum()


def test_shadows_keep_includes_the_shadow():
    bg = _background()
    frame, obj, shadow = _scene(bg)
    dets = _detect(bg, frame, shadows="keep")
    assert len(dets) == 1
    m = _mask(dets[0])
    assert _iou(m, obj) < 0.7  # the shadow doubles the mask: the test above can fail
    assert (m & shadow).sum() > 0.9 * shadow.sum()


def test_small_dark_grey_object_is_kept():
    """A person-sized patch of dark grey passes the pixel test like a shadow does; it stays an object."""
    bg = _background()
    frame = bg.copy()
    patch = np.zeros((H, W), bool)
    patch[60:84, 420:432] = True  # 288 px: under shadow_min_area
    frame[patch] = np.rint(bg[patch] * 0.5).astype(np.uint8)
    dets = _detect(bg, frame)
    assert len(dets) == 1 and _iou(_mask(dets[0]), patch) > 0.7


def test_unknown_shadows_option_is_a_clear_error():
    with pytest.raises(BadInputError):
        ForegroundDetector(shadows="remove")
