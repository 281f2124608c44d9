"""`walt3d run fit-vehicles|fit-people|composite`: track shards and composite-index shards, run in this process, in
local worker processes or on Ray, merge into exactly what the unsharded stage stores (rows and files); a worker
killed midway is retried and running the same shards again merges nothing."""
import hashlib
import shutil
from pathlib import Path

import pytest

from people_project import build as build_people
from people_synth import CAMERAS as PEOPLE_CAMERAS
from vehicle_project import build as build_vehicles
from vehicle_project import tracks_for
from walt3d_studio.cli import main
from walt3d_studio.errors import CalibrationError
from walt3d_studio.reconstruct import vehicle_synth
from walt3d_studio.scaleout import plan_composite_shards, run_stage
from walt3d_studio.store import Project


def _fits(root: Path) -> tuple:
    """Every row a fit run writes, ids included, without times and run ids."""
    with Project.open(root, readonly=True) as p:
        q = p.conn.execute
        return (q("SELECT id, track_id, kind, method, version, settings_json, shape_json, quality_json, status,"
                  " reason FROM track_fits ORDER BY id").fetchall(),
                q("SELECT * FROM fits ORDER BY id").fetchall(),
                q("SELECT id, detection_id, schema, points_json, origin, who, model_version FROM keypoints"
                  " ORDER BY id").fetchall(),
                q("SELECT stage, settings_json, counts_json, status FROM runs WHERE stage LIKE 'fit-%'"
                  " ORDER BY id").fetchall())


def _copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def test_vehicle_track_shards_store_what_the_unsharded_fit_stores(tmp_path):
    from walt3d_studio.reconstruct.vehicle_fit import fit_vehicles

    cam = vehicle_synth.test_cameras()["high_near"]
    p = build_vehicles(tmp_path, cam, tracks_for(cam, 5, n=4, n_frames=6, noise_px=1.0, with_masks=True))
    base = p.root
    p.close()
    single, sharded = _copy(base, tmp_path / "single"), _copy(base, tmp_path / "sharded")
    with Project.open(single) as q:
        fit_vehicles(q)
    r = run_stage(sharded, "fit-vehicles", shards=3, shards_dir=tmp_path / "s")
    assert r["shards"] == 3 and r["merged"] == 1 and r["tracks"] == 4
    assert sorted(d.name for d in (tmp_path / "s").iterdir() if d.is_dir()) == ["cam1-tr000", "cam1-tr001",
                                                                                "cam1-tr002"]
    assert _fits(sharded) == _fits(single) and len(_fits(single)[0]) == 4
    # the same shards again: the run table knows this camera was merged from them, nothing is written twice
    again = run_stage(sharded, "fit-vehicles", shards=3, shards_dir=tmp_path / "s")
    assert again["merged"] == 0 and _fits(sharded) == _fits(single)


def test_people_track_shards_store_what_the_unsharded_fit_stores(tmp_path):
    from walt3d_studio.reconstruct.people_fit import PeopleFitSettings, fit_people

    cam = PEOPLE_CAMERAS["street"]
    p, _ = build_people(tmp_path, cam, [{"walking": True, "height": 1.75}, {"walking": False, "height": 1.3},
                                        {"walking": True, "height": 1.6}], n=5)
    base = p.root
    p.close()
    single, sharded = _copy(base, tmp_path / "single"), _copy(base, tmp_path / "sharded")
    s = PeopleFitSettings(silhouette="parts")
    with Project.open(single) as q:
        fit_people(q, settings=s)
    r = run_stage(sharded, "fit-people", settings=s, shards=2, shards_dir=tmp_path / "s")
    assert r["shards"] == 2 and r["tracks"] == 3
    assert _fits(sharded) == _fits(single) and len(_fits(single)[1]) == 15


def test_fit_shards_refuse_an_uncalibrated_camera_before_any_work(tmp_path):
    cam = vehicle_synth.test_cameras()["high_near"]
    p = build_vehicles(tmp_path, cam, tracks_for(cam, 1, n=1, n_frames=5), calibrate=False)
    p.close()
    with pytest.raises(CalibrationError, match="no calibration"):
        run_stage(p.root, "fit-vehicles", shards=2, shards_dir=tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_composite_index_shards_cover_each_camera_in_order():
    shards = plan_composite_shards([3, 5], n=7, shards=3)
    assert [(s.camera_id, s.first, s.stop) for s in shards] == [(3, 0, 3), (3, 3, 5), (3, 5, 7),
                                                                (5, 0, 3), (5, 3, 5), (5, 5, 7)]
    assert [s.name for s in plan_composite_shards([1], n=2, shards=5)] == ["cam1-c000", "cam1-c001"]


# ---- compositing on the demo project (real fits and meshes) --------------------------------------------------

@pytest.fixture(scope="module")
def fitted_demo(tmp_path_factory):
    from walt3d_studio.composite.splits import split_tracks
    from walt3d_studio.demo import run_demo
    from walt3d_studio.reconstruct.people_fit import fit_people
    from walt3d_studio.reconstruct.vehicle_fit import fit_vehicles

    root, _ = run_demo(tmp_path_factory.mktemp("demo"))
    with Project.open(root) as p:
        fit_vehicles(p)
        fit_people(p)
        split_tracks(p, by="track", val=0.2, test=0.2, seed=0)
    return root


def _composites(root: Path) -> tuple:
    """Rows (ids and paths included, without times and run ids) and every file's bytes."""
    with Project.open(root, readonly=True) as p:
        q = p.conn.execute
        rows = (q("SELECT id, camera_id, split, method, seed, window_key, image_path, arrays_path, n_objects"
                  " FROM composites ORDER BY id").fetchall(),
                q("SELECT * FROM composite_objects ORDER BY composite_id, idx").fetchall(),
                q("SELECT stage, settings_json, counts_json, status FROM runs WHERE stage LIKE 'composite-%'"
                  " ORDER BY id").fetchall())
    files = {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
             for f in sorted((root / "composites").rglob("*")) if f.is_file()}
    return rows, files


@pytest.mark.slow
def test_composite_shards_make_the_unsharded_composites_byte_for_byte(fitted_demo, tmp_path):
    from walt3d_studio.composite.make import CompositeSettings, make_composites

    s = lambda: CompositeSettings(method="walt3d", n=4, seed=3, include_unreviewed=True)  # noqa: E731
    single, sharded = _copy(fitted_demo, tmp_path / "single"), _copy(fitted_demo, tmp_path / "sharded")
    with Project.open(single) as p:
        make_composites(p, settings=s())
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "cam2-c001.kill-once").write_text("")  # this shard's first worker dies (os._exit): it is retried
    r = run_stage(sharded, "composite", settings=s(), shards=3, workers=2, shards_dir=folder)
    assert r["backend"] == "processes" and r["shards"] == 6 and r["composites"] == 8
    assert not (folder / "cam2-c001.kill-once").exists()
    (rows, files), (rows1, files1) = _composites(sharded), _composites(single)
    assert rows[0] and rows[1] and len(files) == 16          # 8 images and 8 arrays files
    assert rows == rows1 and files == files1
    again = run_stage(sharded, "composite", settings=s(), shards=3, shards_dir=folder)
    assert again["merged"] == 0 and _composites(sharded) == (rows, files)


@pytest.mark.slow
def test_ray_composite_shards_equal_the_unsharded_run(fitted_demo, tmp_path, capsys):
    pytest.importorskip("ray")
    from walt3d_studio.composite.make import CompositeSettings, make_composites

    single, sharded = _copy(fitted_demo, tmp_path / "single"), _copy(fitted_demo, tmp_path / "ray")
    with Project.open(single) as p:
        make_composites(p, settings=CompositeSettings(method="walt2d", n=4, seed=1, include_unreviewed=True))
    assert main(["--quiet", "run", "composite", str(sharded), "--ray", "--workers", "2", "--shards", "2", "--n", "4",
                 "--method", "walt2d", "--seed", "1", "--include-unreviewed"]) == 0
    assert "4 shard(s) run on ray" in capsys.readouterr().out
    assert _composites(sharded) == _composites(single)


def test_a_cancel_on_local_processes_stops_the_workers_and_merges_nothing(tmp_path):
    from walt3d_studio.errors import Cancelled
    from walt3d_studio.jobs import JobContext

    cam = vehicle_synth.test_cameras()["high_near"]
    p = build_vehicles(tmp_path, cam, tracks_for(cam, 6, n=3, n_frames=5, with_masks=True))
    p.close()
    seen = []

    def on_progress(done, total, message):
        seen.append(message)
        if message.startswith("shard "):   # the first shard is back: the user presses Cancel
            ctx.cancel()

    ctx = JobContext(on_progress)
    with pytest.raises(Cancelled):
        run_stage(p.root, "fit-vehicles", shards=3, workers=2, shards_dir=tmp_path / "s", ctx=ctx)
    assert any(m.startswith("shard ") for m in seen) and not any(m == "merged" for m in seen)
    with Project.open(p.root, readonly=True) as q:
        assert q.conn.execute("SELECT COUNT(*) FROM track_fits").fetchone()[0] == 0


def test_background_window_shards_store_the_unsharded_medians(tmp_path):
    import numpy as np

    from conftest import GIF
    from walt3d_studio.background_job import compute_backgrounds
    from walt3d_studio.timelapse import parse_user_time

    base = tmp_path / "base.walt3d"
    with Project.create(base) as p:
        for name, start in (("east", "2024-05-01T08:59:58"), ("west", "2024-05-02T09:00:00")):
            p.add_source(GIF, p.add_camera(name, "UTC"), start=parse_user_time(start, "UTC"))
    single, sharded = _copy(base, tmp_path / "single.walt3d"), _copy(base, tmp_path / "sharded.walt3d")
    with Project.open(single) as p:
        for cam in p.cameras():
            compute_backgrounds(p, cam.id, hours_per_window=1)
    r = run_stage(sharded, "background", workers=2, shards_dir=tmp_path / "s")

    def state(root):
        with Project.open(root, readonly=True) as p:
            rows = p.conn.execute("SELECT camera_id, window_key, n_frames, first_time, last_time, array_path,"
                                  " settings_json FROM backgrounds ORDER BY camera_id, window_key").fetchall()
            return rows, [p.load_background(c, k) for c, k, *_ in rows]

    (rows, arrays), (rows1, arrays1) = state(sharded), state(single)
    # the east camera's clip starts 2 s before 09:00, so it has two hour windows: 3 shards in all
    assert r["shards"] == 3 and r["windows"] == 3 and rows == rows1 and len(rows) == 3
    assert all(np.array_equal(a, b) for a, b in zip(arrays, arrays1))
    assert run_stage(sharded, "background", shards_dir=tmp_path / "s")["merged"] == 0


def test_compositing_without_splits_is_refused_before_any_shard(tmp_path):
    from walt3d_studio.errors import BadInputError

    cam = vehicle_synth.test_cameras()["high_near"]
    p = build_vehicles(tmp_path, cam, tracks_for(cam, 1, n=1, n_frames=5))
    p.close()
    with pytest.raises(BadInputError, match="no train/val/test split"):
        run_stage(p.root, "composite", shards=2, workers=2, shards_dir=tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_a_shard_folder_is_not_reused_for_another_plan(tmp_path):
    from walt3d_studio.errors import BadInputError

    cam = vehicle_synth.test_cameras()["high_near"]
    p = build_vehicles(tmp_path, cam, tracks_for(cam, 2, n=2, n_frames=5, with_masks=True))
    p.close()
    run_stage(p.root, "fit-vehicles", shards=1, shards_dir=tmp_path / "s")
    with pytest.raises(BadInputError, match="another run's shards"):
        run_stage(p.root, "fit-vehicles", shards=2, shards_dir=tmp_path / "s")
