"""Shards as Ray tasks: the result equals the single-process run, a killed worker is retried and nothing is
merged twice, and tracks cut by a time-shard boundary are stitched back."""
import shutil
from pathlib import Path

import pytest

from walt3d_studio.mining.mine import mine
from walt3d_studio.scaleout import plan_shards, run_stage
from walt3d_studio.store import Project

from conftest import GIF


def _two_camera_project(root: Path) -> Path:
    from walt3d_studio.background_job import compute_backgrounds
    from walt3d_studio.timelapse import parse_user_time

    with Project.create(root) as p:
        for name, start in (("east", "2024-05-01T08:00:00"), ("west", "2024-05-02T09:00:00")):
            cam = p.add_camera(name, "UTC")
            p.add_source(GIF, cam, start=parse_user_time(start, "UTC"))
            compute_backgrounds(p, cam, hours_per_window=1)
    return root


def _mined(root: Path) -> list[tuple]:
    """Everything mining decided, per camera and frame, without database ids or crop file names."""
    with Project.open(root, readonly=True) as p:
        rows = p.conn.execute(
            "SELECT c.name, f.source_index, d.category, round(d.x, 3), round(d.y, 3), round(d.w, 3), round(d.h, 3),"
            " d.mask_rle, v.verdict, (SELECT COUNT(*) FROM detections d2 WHERE d2.track_id = d.track_id)"
            " FROM detections d JOIN frames f ON f.id = d.frame_id JOIN cameras c ON c.id = f.camera_id"
            " LEFT JOIN verdicts v ON v.detection_id = d.id ORDER BY c.name, f.source_index, d.x, d.y").fetchall()
        tracks = p.conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]
    return rows, tracks


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return _two_camera_project(tmp_path_factory.mktemp("scale") / "base.walt3d")


def _copy(base: Path, tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(base, dest)
    return dest


def _single(base, tmp_path):
    single = _copy(base, tmp_path, "single.walt3d")
    with Project.open(single) as p:
        for cam in p.cameras():
            mine(p, cam.id)
    return single


@pytest.mark.slow
def test_ray_run_equals_single_process_and_survives_a_killed_worker(base, tmp_path):
    pytest.importorskip("ray")
    single = _single(base, tmp_path)
    sharded = _copy(base, tmp_path, "ray.walt3d")
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "cam1-t000.kill-once").write_text("")   # the first attempt of this shard's worker dies (os._exit)
    r = run_stage(sharded, "mine", use_ray=True, workers=2, shards_dir=folder)
    assert r["shards"] == 2 and r["merged"] == 2
    assert not (folder / "cam1-t000.kill-once").exists()       # it did die once, and was retried
    assert _mined(sharded) == _mined(single)
    again = run_stage(sharded, "mine", shards_dir=folder)      # the same shards again: nothing merged twice
    assert again["merged"] == 0 and _mined(sharded) == _mined(single)


def test_time_shards_are_stitched_into_the_single_run_tracks(base, tmp_path):
    single = _single(base, tmp_path)
    sharded = _copy(base, tmp_path, "time.walt3d")
    with Project.open(sharded, readonly=True) as p:
        shards = plan_shards(p, [p.camera("east").id], time_shards=2)
    assert [s.index for s in shards] == [0, 1] and shards[0].end == shards[1].start and shards[1].end is None
    r = run_stage(sharded, "mine", cameras=["east"], time_shards=2, shards_dir=tmp_path / "s")
    assert r["stitched"] >= 1
    (rows_single, _), (rows_sharded, n_tracks) = _mined(single), _mined(sharded)
    east = lambda rows: [row for row in rows if row[0] == "east"]
    with Project.open(single, readonly=True) as p:
        east_tracks = p.conn.execute("SELECT COUNT(*) FROM tracks t JOIN cameras c ON c.id = t.camera_id"
                                     " WHERE c.name = 'east'").fetchone()[0]
    assert n_tracks == east_tracks                              # as many tracks as one unsharded run
    assert [r[:7] for r in east(rows_sharded)] == [r[:7] for r in east(rows_single)]
