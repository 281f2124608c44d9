"""A mining run's crops live in one pack file (`<run>/crops.pack`); each detection's crop_path names its span.
Re-runs remove the packs nothing points at any more; readers take packs and plain files alike."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from test_mining_scenes import Obj, make_project
from walt3d_studio.dataset.crops import read_crop
from walt3d_studio.mining.crops import crop_bytes, crop_file, encode_png_rgba, pack_span, read_png_rgba
from walt3d_studio.mining.mine import mine
from walt3d_studio.store.detections import detection_table

OBJS = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car"),
        Obj("ellipse", (40, 40, 200), (16, 36), (250, 60), (-6, 4), "person")]


def _files(root: Path) -> set[str]:
    crops = root / "arrays" / "crops"
    return {str(f.relative_to(root)) for f in crops.rglob("*") if f.is_file()} if crops.exists() else set()


def _in_use(p, cam) -> set[str]:
    return {crop_file(c) for c in detection_table(p, camera_id=cam).crop_path if c}


def test_a_rerun_removes_the_packs_nothing_points_at_and_keeps_those_still_in_use(tmp_path):
    p, cam, frames, truth = make_project(tmp_path, OBJS, 8)
    with p:
        mine(p, cam)
        first = _in_use(p, cam)
        assert len(first) == 1 and _files(p.root) == first  # one run: one pack
        t = detection_table(p, camera_id=cam)
        for c, box, area in zip(t.crop_path, t.box, t.area):  # each span is its own detection's crop
            if c:
                rgba = read_png_rgba(p.root / c)
                assert rgba.shape[:2] == (int(box[3]), int(box[2])) and (rgba[..., 3] > 0).sum() == area
        # re-mine the second half: the first run's pack still holds the first half's crops, so it stays
        times = p.frame_table(cam).times
        mine(p, cam, start=float(times[4]), replace=True)
        both = _in_use(p, cam)
        assert len(both) == 2 and first < both and _files(p.root) == both
        # re-mine everything: neither earlier pack is pointed at any more, and both go
        mine(p, cam, replace=True)
        last = _in_use(p, cam)
        assert len(last) == 1 and not last & both and _files(p.root) == last


def test_pack_spans_are_read_wherever_the_project_lives_and_a_cut_pack_says_so(tmp_path):
    rgba = np.random.default_rng(1).integers(0, 256, (9, 13, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    run = tmp_path / "a#1 project" / "arrays" / "crops" / "cam1" / "run"  # a '#' in a folder name is no span
    run.mkdir(parents=True)
    png = encode_png_rgba(rgba)
    (run / "crops.pack").write_bytes(b"x" * 7 + png)
    span = run / f"crops.pack#7+{len(png)}"
    assert pack_span(span) == (str(run / "crops.pack"), 7, len(png))
    assert np.array_equal(read_png_rgba(span), rgba)
    crop = read_crop(span, (0.0, 0.0, 13.0, 9.0))  # the keypoint dataset's reader: placed at the box
    assert crop is not None and np.array_equal(crop.image, rgba) and (crop.x0, crop.y0) == (0.0, 0.0)
    # a plain file (projects mined before packs, crops made on demand), even in a folder with a '#'
    (run / "5.png").write_bytes(png)
    assert pack_span(run / "5.png") is None and crop_bytes(run / "5.png") == png
    # a pack cut short (a copy stopped half-way): a clear error, and the dataset reader falls back to the frame
    (run / "crops.pack").write_bytes(b"x" * 7 + png[:10])
    with pytest.raises(FileNotFoundError, match="ends before the crop"):
        read_png_rgba(span)
    assert read_crop(span, (0.0, 0.0, 13.0, 9.0)) is None
