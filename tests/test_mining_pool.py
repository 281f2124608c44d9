"""The pipeline's frame-local work (detection, per-frame rule facts, RLE) runs on the thread pool ahead of the
tracker, and crops are cut and encoded there: the records and crops must be exactly those of the same frames
done one at a time on the main thread."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from test_mining_scenes import Obj, render
from walt3d_studio.mining.crops import read_png_rgba
from walt3d_studio.mining.detection import FrameInfo, decode_rle
from walt3d_studio.mining.foreground import ForegroundDetector
from walt3d_studio.mining.mine import MineSettings, run_pipeline
from walt3d_studio.mining.registry import RunInfo


def _mine(frames, bg, workers, crop_dir):
    H, W = frames[0].shape[:2]
    det = ForegroundDetector(background=bg.astype(np.float32))
    det.start(RunInfo(None, 1, W, H, None, None))
    infos = [FrameInfo(i, i + 1, 1, i, 1000.0 + i / 10) for i in range(len(frames))]
    s = dataclasses.replace(MineSettings(), workers=workers)
    return run_pipeline(zip(infos, frames), det, W, H, s, crop_dir=crop_dir, total=len(frames))


def test_pool_and_one_thread_give_the_same_records_and_crops(tmp_path):
    objs = [Obj("rect", (220, 40, 40), (40, 24), (10, 150), (6, -1), "car"),
            Obj("ellipse", (40, 200, 60), (14, 30), (250, 60), (-4, 2), "person"),
            Obj("rect", (30, 30, 200), (36, 22), (140, 40), (3, 3), "car"),       # meets the ellipse's path
            Obj("rect", (200, 200, 40), (30, 20), (300, 180), (-5, 0), "car")]    # comes in at the edge
    bg, frames, _ = render(objs, 24)
    one = _mine(frames, bg, 1, tmp_path / "one")
    pool = _mine(frames, bg, 3, tmp_path / "pool")
    assert len(one) > 40 and sum(r["verdict"] == "unoccluded" for r in one) > 10
    assert pool == one  # the crops' spans too: appended in frame order either way
    pack = (tmp_path / "one" / "crops.pack").read_bytes()
    assert pack and pack == (tmp_path / "pool" / "crops.pack").read_bytes()
    # every mined record's crop is its own span of the pack: its box's pixels, with its mask as alpha
    for r in one:
        if r["verdict"] == "unoccluded":
            x, y, w, h = (int(v) for v in r["box"])
            rgba = read_png_rgba(tmp_path / "one" / Path(r["crop"]).name)
            assert np.array_equal(rgba[..., 3] > 0, decode_rle(r["rle"])[y:y + h, x:x + w])
        else:
            assert r["crop"] is None
    for r in one:
        m = decode_rle(r["rle"])
        ys, xs = np.nonzero(m)
        assert [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1] == r["box"]


def test_crops_go_into_one_pack_made_durable_once_when_the_run_ends(tmp_path, monkeypatch):
    """A file a crop tied the mining rate to the filesystem's cost of making files (~20 us to ~1 ms each): a
    run's crops are appended to one pack in its own folder, unsynced, and the pack is made durable by one fsync
    after the last crop, before the records are handed back (no os.sync of the whole machine)."""
    import os

    crops = tmp_path / "crops"
    fsynced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsynced.append(os.fstat(fd)), real_fsync(fd))[1])
    monkeypatch.setattr(os, "sync", lambda: pytest.fail("a run's crops need no os.sync"))
    bg, frames, _ = render([Obj("rect", (220, 40, 40), (40, 24), (10, 150), (6, -1), "car")], 12)
    recs = _mine(frames, bg, 2, crops)
    assert [f.name for f in crops.iterdir()] == ["crops.pack"]
    pack = (crops / "crops.pack").stat()
    files = [st for st in fsynced if st.st_ino == pack.st_ino]
    assert len(files) == 1 and files[0].st_size == pack.st_size  # once, with every crop in it
    spans = sorted(r["crop"] for r in recs if r["crop"])
    assert len(spans) > 5 and all(s.startswith("crops/crops.pack#") for s in spans)
    ends = sorted((int(s.split("#")[1].split("+")[0]), int(s.split("+")[1])) for s in spans)
    assert ends[0][0] == 0 and all(a + n <= b for (a, n), (b, _) in zip(ends, ends[1:]))  # no span overlaps
