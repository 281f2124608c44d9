"""PCK@alpha on hand-made cases, with the expected values worked out by hand in the comments."""
import math

import numpy as np

from walt3d_studio.keypoints.metrics import pck

NAN = float("nan")
# Instance A: box 100 x 50 -> threshold 0.1 * 100 = 10 px.  Instance B: box 40 x 80 -> 0.1 * 80 = 8 px.
GT = np.array([
    [[10, 10, 2], [50, 20, 1], [0, 0, 0]],      # A: visible, occluded, absent
    [[20, 20, 2], [30, 30, 2], [40, 40, 1]],    # B: visible, visible, occluded
], dtype=float)
BOXES = np.array([[0, 0, 100, 50], [10, 10, 40, 80]], dtype=float)
PRED = np.array([
    [[16, 18], [50, 31], [999, 999]],   # A0: 6-8-10 -> exactly 10 px, correct; A1: 11 px, wrong; A2 ignored
    [[20, 27.9], [NAN, NAN], [45, 45]],  # B0: 7.9 px, correct; B1: missing, wrong; B2: 7.07 px, correct
])


def test_pck_by_hand():
    r = pck(PRED, GT, BOXES, alpha=0.1)
    assert (r.n_all, r.n_visible, r.n_occluded) == (5, 3, 2)
    assert r.all == 3 / 5            # A0, B0, B2 of A0 A1 B0 B1 B2
    assert r.visible == 2 / 3        # A0, B0 of A0 B0 B1
    assert r.occluded == 1 / 2       # B2 of A1 B2
    assert r.per_keypoint == (1.0, 0.0, 1.0)


def test_pck_larger_alpha():
    r = pck(PRED, GT, BOXES, alpha=0.2)  # thresholds 20 and 16 px: A1 (11 px) becomes correct, B1 stays missing
    assert r.all == 4 / 5 and r.visible == 2 / 3 and r.occluded == 2 / 2


def test_pck_uses_the_longer_box_side():
    gt = np.array([[[0, 0, 2]]], float)
    assert pck(np.array([[[0, 9]]]), gt, [[0, 0, 10, 90]]).all == 1.0   # 0.1 * 90 = 9
    assert pck(np.array([[[0, 9.01]]]), gt, [[0, 0, 90, 10]]).all == 0.0


def test_pck_empty_kinds_are_nan():
    gt = np.array([[[1, 1, 2], [0, 0, 0]]], float)
    r = pck(np.array([[[1, 1], [5, 5]]]), gt, [[0, 0, 10, 10]])
    assert r.all == 1.0 and r.visible == 1.0 and math.isnan(r.occluded) and r.n_occluded == 0
    assert math.isnan(r.per_keypoint[1])
    assert "occluded   n/a" in r.summary()
