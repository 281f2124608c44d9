"""The pipeline's frame-local work (detection, per-frame rule facts, RLE) runs on the thread pool ahead of the
tracker, and crops are cut and written there: the records and crops must be exactly those of the same frames
done one at a time on the main thread."""
from __future__ import annotations

import dataclasses

import numpy as np

from test_mining_scenes import Obj, render
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
    assert pool == one
    crops = sorted(p.name for p in (tmp_path / "one").glob("*.png"))
    assert crops and crops == sorted(p.name for p in (tmp_path / "pool").glob("*.png"))
    assert all((tmp_path / "one" / c).read_bytes() == (tmp_path / "pool" / c).read_bytes() for c in crops)
    # every mined record's crop is there, and each RLE is its own box's mask
    assert {r["crop"].split("/")[-1] for r in one if r["crop"]} == set(crops)
    for r in one:
        m = decode_rle(r["rle"])
        ys, xs = np.nonzero(m)
        assert [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1] == r["box"]


def test_crops_are_written_plainly_and_synced_once_when_the_run_ends(tmp_path, monkeypatch):
    """Two fsyncs a crop cost more than mining a small object: crops go into the run's own folder unsynced, and
    the whole folder is made durable once, after the last crop and before the records are handed back."""
    import os

    import walt3d_studio.atomic as atomic

    synced = []
    monkeypatch.setattr(atomic, "_fsync_file", lambda p: synced.append(("file", p)))
    monkeypatch.setattr(atomic, "_fsync_dir", lambda p: synced.append(("dir", p)))
    monkeypatch.setattr(os, "sync", lambda: synced.append(("sync", sorted(p.name for p in crops.glob("*.png")))))
    crops = tmp_path / "crops"
    bg, frames, _ = render([Obj("rect", (220, 40, 40), (40, 24), (10, 150), (6, -1), "car")], 12)
    recs = _mine(frames, bg, 2, crops)
    written = sorted(r["crop"].split("/")[-1] for r in recs if r["crop"])
    assert written and synced == [("sync", written)]  # one sync, with every crop already on the page cache
    # without os.sync (Windows): every crop file and the folder fsynced
    monkeypatch.delattr(os, "sync")
    synced.clear()
    recs = _mine(frames, bg, 2, tmp_path / "again")
    files = sorted(p.name for kind, p in synced if kind == "file")
    assert files == sorted(r["crop"].split("/")[-1] for r in recs if r["crop"])
    assert ("dir", tmp_path / "again") in synced
