"""Mining's faster forms (issue 12's dense-scene speed) give exactly what the plain forms gave: the fragment join
and the part candidates tested for all pairs at once against the pair-by-pair loops they replaced, the crop cut
in two calls against the general cut, and a crop written by `cv2.imwrite` byte for byte as `imencode` wrote it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from walt3d_studio.mining.crops import encode_png_rgba, read_png_rgba, write_png_rgba
from walt3d_studio.mining.detection import Detection, rgba_crop
from walt3d_studio.mining.foreground import ForegroundDetector
from walt3d_studio.mining.parts import PartSettings, candidates
from walt3d_studio.mining.registry import RunInfo


def _attach_pair_by_pair(det: ForegroundDetector, comps: dict) -> dict:
    """The fragment join as it was written before (one pair at a time)."""
    groups = {k: [k] for k in comps}
    if len(comps) < 2:
        return groups
    g = det._close.shape[0]
    min_side = det.min_side_px / det.s
    bigs = sorted((k for k in comps if comps[k][4] >= det.min_px), key=lambda k: -comps[k][4])
    for k in sorted(comps, key=lambda k: comps[k][4]):
        x0, y0, x1, y1, a = comps[k]
        if min(x1 - x0, y1 - y0) < min_side:
            continue
        small = a < 3 * det.min_px
        for big in bigs:
            if big == k or big not in groups:
                continue
            bx0, by0, bx1, by1, ba = comps[big]
            if ba <= a:
                break
            gap = max(bx0 - x1, x0 - bx1, by0 - y1, y0 - by1, 0)
            inside = (max(0, min(x1, bx1) - max(x0, bx0)) * max(0, min(y1, by1) - max(y0, by0))
                      / float((x1 - x0) * (y1 - y0)))
            f = a / ba
            if (f <= det.fragment_frac and gap <= g) or (f <= 2 * det.fragment_frac and inside >= 0.8) \
                    or (small and f <= 0.35 and gap <= 2 * g):
                groups[big] += groups.pop(k)
                break
    return groups


def test_fragment_join_for_all_pairs_at_once_is_the_pair_by_pair_join():
    det = ForegroundDetector(background=np.zeros((240, 320, 3), np.uint8))
    det.start(RunInfo(None, 1, 320, 240, None, None))
    rng = np.random.default_rng(0)
    joined = 0
    for trial in range(300):
        comps = {}
        for k in range(1, int(rng.integers(1, 25))):
            # big objects, small pieces near or inside them, slivers, equal areas (ties keep label order)
            w, h = (int(v) for v in rng.integers(1, 40, 2)) if k % 3 else (int(v) for v in rng.integers(1, 6, 2))
            x, y = int(rng.integers(0, 100)), int(rng.integers(0, 80))
            a = int(rng.integers(4, w * h + 5)) if trial % 3 else (8, 12, 300, 600)[k % 4]
            comps[k] = [x, y, x + w, y + h, a]
        want = _attach_pair_by_pair(det, comps)
        got = det._attach_fragments(comps)
        assert got == want and list(got) == list(want)
        joined += sum(len(m) > 1 for m in got.values())
    assert joined > 50  # the random scenes do join pieces


def _candidates_pair_by_pair(dets, st, size=None):
    """The part candidates as they were written before (one pair at a time)."""
    def edges(box):
        if size is None:
            return set()
        x, y, w, h = box
        return {e for e, gap in (("left", x), ("top", y), ("right", size[0] - x - w), ("bottom", size[1] - y - h))
                if gap <= 2}

    out = []
    for i, s in enumerate(dets):
        if s.mask is None:
            continue
        sx, sy, sw, sh = s.box
        cut = edges(s.box)
        for j, big in enumerate(dets):
            if j == i or big.mask is None or not cut <= edges(big.box):
                continue
            bx, by, bw, bh = big.box
            if s.area > st.max_area * big.area or sh > st.max_height * bh:
                continue
            if not cut & {"left", "right"} and (sw < st.min_width * bw or sw / bw < st.min_flatness * sh / bh
                                                 or sw < st.min_aspect * sh):
                continue
            if min(sx + sw, bx + bw) - max(sx, bx) < st.min_x_overlap * sw:
                continue
            gap = by - (sy + sh)
            if gap > st.max_gap * bh or sy + sh / 2 >= by + bh / 2:
                continue
            out.append((i, j, float(gap)))
    return out


@pytest.mark.parametrize("size", [None, (160, 120)])
def test_part_candidates_for_all_pairs_at_once_are_the_pair_by_pair_ones(size):
    rng = np.random.default_rng(1)
    st = PartSettings()
    found = 0
    for _ in range(200):
        dets = []
        for _ in range(int(rng.integers(0, 12))):
            if rng.random() < 0.5:  # a body, and often a flat piece over it (a roof)
                w, h = int(rng.integers(10, 60)), int(rng.integers(8, 40))
                x, y = int(rng.integers(-5, 150)), int(rng.integers(-5, 110))
                m = rng.random((h, w)) < 0.9
                m[0, 0] = m[-1, -1] = True
                dets.append(Detection("car", 1.0, (float(x), float(y), float(w), float(h)), m, (x, y)))
                if rng.random() < 0.7:
                    pw, ph = int(w * rng.uniform(0.5, 1.0)), max(1, int(h * rng.uniform(0.1, 0.4)))
                    px, py = x + int(rng.integers(0, w - pw + 1)), y - ph - int(rng.integers(0, 8))
                    dets.append(Detection("other", 1.0, (float(px), float(py), float(pw), float(ph)),
                                          np.ones((ph, pw), bool), (px, py)))
            else:  # a box-only detection (never a piece nor a host)
                dets.append(Detection("car", 1.0, tuple(float(v) for v in rng.integers(0, 100, 4) + 1)))
        want = _candidates_pair_by_pair(dets, st, size)
        assert candidates(dets, st, size) == want
        found += len(want)
    assert found > 20


def test_crop_of_a_box_inside_the_frame_is_the_general_cut():
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    mask = rng.random((12, 20)) < 0.6
    for x, y in ((10, 10), (0, 0), (60, 48), (-3, 5), (70, 50)):  # inside, at the corners, over the borders
        d = Detection("car", 1.0, (float(x), float(y), 20.0, 12.0), mask, (x, y))
        want = np.zeros((12, 20, 4), np.uint8)
        fx0, fy0, fx1, fy1 = max(0, x), max(0, y), min(80, x + 20), min(60, y + 12)
        want[fy0 - y:fy1 - y, fx0 - x:fx1 - x, :3] = frame[fy0:fy1, fx0:fx1]
        want[fy0 - y:fy1 - y, fx0 - x:fx1 - x, 3] = mask[fy0 - y:fy1 - y, fx0 - x:fx1 - x] * 255
        got = rgba_crop(frame, d)
        assert got.dtype == np.uint8 and np.array_equal(got, want), (x, y)
    box_only = rgba_crop(frame, Detection("car", 1.0, (5.0, 6.0, 10.0, 4.0)))
    assert (box_only[..., 3] == 255).all() and np.array_equal(box_only[..., :3], frame[6:10, 5:15])


def test_a_crop_is_the_png_of_imencode_with_rows_filtered_up(tmp_path):
    rgba = np.random.default_rng(3).integers(0, 256, (17, 23, 4), dtype=np.uint8)
    ok, want = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA),
                            [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_UP])
    assert encode_png_rgba(rgba) == want.tobytes()
    write_png_rgba(tmp_path / "sub" / "b.png", rgba)  # atomic, and makes its folder
    assert (tmp_path / "sub" / "b.png").read_bytes() == want.tobytes()
    assert np.array_equal(read_png_rgba(tmp_path / "sub" / "b.png"), rgba)
