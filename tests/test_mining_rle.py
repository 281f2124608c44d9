"""Full-image COCO RLE straight from a detection's local mask (detection.encode_local_mask): the same string
pycocotools gives for the whole frame, for masks anywhere, clipped at any edge of the image or outside it."""
from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_util

from walt3d_studio.mining.detection import Detection, decode_rle, encode_local_mask


def full_frame(mask: np.ndarray, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """The frame the local mask stands for: `mask` at (x0, y0), what falls outside the image cut off."""
    h, w = mask.shape
    my, mx = h + 2, w + 2  # a margin around the image the mask always fits in
    big = np.zeros((height + 2 * my, width + 2 * mx), bool)
    big[y0 + my:y0 + my + h, x0 + mx:x0 + mx + w] = mask
    return big[my:my + height, mx:mx + width]


def coco(full: np.ndarray) -> str:
    return mask_util.encode(np.asfortranarray(full.astype(np.uint8)))["counts"].decode("ascii")


@pytest.mark.parametrize("seed", range(4))
def test_rle_of_a_local_mask_is_pycocotools_encode_of_the_full_frame(seed):
    rng = np.random.default_rng(seed)
    for _ in range(400):
        width, height = (int(v) for v in rng.integers(1, 30, 2))
        h, w = (int(v) for v in rng.integers(1, 25, 2))
        # anywhere from wholly left/above the image to wholly right/below it: clipped at every edge, or inside
        x0, y0 = int(rng.integers(-w - 1, width + 2)), int(rng.integers(-h - 1, height + 2))
        mask = rng.random((h, w)) < rng.choice([0.05, 0.5, 0.95, 1.0])
        full = full_frame(mask, x0, y0, width, height)
        rle = encode_local_mask(mask, x0, y0, width, height)
        assert rle == {"size": [height, width], "counts": coco(full)}
        assert np.array_equal(decode_rle(rle), full)


@pytest.mark.parametrize("x0, y0", [(0, 0), (-3, 0), (0, -3), (6, 5), (7, 0), (-2, -2), (4, 6)])
def test_rle_of_masks_at_the_image_corners_and_as_tall_as_it(x0, y0):
    """The cases where runs meet across columns: a mask reaching the first or last pixel, or a column's full
    height (a run down one column goes on at the top of the next)."""
    width, height = 10, 8
    for mask in (np.ones((8, 3), bool), np.ones((12, 12), bool), np.eye(8, 4, dtype=bool),
                 np.tri(8, 5, dtype=bool)[::-1]):
        full = full_frame(mask, x0, y0, width, height)
        assert encode_local_mask(mask, x0, y0, width, height)["counts"] == coco(full)


def test_detection_rle_matches_its_box_and_pixels():
    mask = np.zeros((40, 60), bool)
    mask[5:30, 10:50] = True
    mask[12:20, 20:30] = False
    d = Detection.from_full_mask(mask, "car")
    rle = d.rle(60, 40)
    assert np.array_equal(decode_rle(rle), mask)
    assert mask_util.toBbox({"size": rle["size"], "counts": rle["counts"].encode()}).tolist() == list(d.box)


def test_detection_area_is_counted_once_and_follows_a_new_mask(monkeypatch):
    import walt3d_studio.mining.detection as D

    calls = []
    real = np.count_nonzero
    monkeypatch.setattr(D.np, "count_nonzero", lambda a: calls.append(1) or real(a))
    d = Detection.from_full_mask(np.eye(6, dtype=bool), "car")
    assert [d.area for _ in range(5)] == [6.0] * 5 and len(calls) == 1
    d.mask = np.ones((2, 3), bool)  # a new mask is counted again
    assert d.area == 6.0 and len(calls) == 2
    assert Detection("car", 1.0, (0, 0, 4, 5)).area == 20.0  # box-only: the box's area
