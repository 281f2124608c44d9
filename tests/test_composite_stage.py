"""The compositing stage over a project with exact 3D truth: splits, sampling, WALT3D vs WALT2D, the stored
pseudo-groundtruth, reproducibility and cancel."""
import numpy as np
import pytest

from walt3d_studio.cli import main
from walt3d_studio.composite.make import CompositeSettings, make_composites
from walt3d_studio.composite.render import RenderContext
from walt3d_studio.composite.sampling import Pool, SampleSettings, intersecting_pairs, sample_walt3d
from walt3d_studio.composite.splits import check_splits, split_tracks
from walt3d_studio.composite import synthetic
from walt3d_studio.errors import BadInputError, Cancelled
from walt3d_studio.jobs import JobContext
from walt3d_studio.mining.detection import decode_rle
from walt3d_studio.store.composites import list_composites, set_splits, splits

from composite_project import build, camera, mesh_fn

@pytest.fixture
def proj(tmp_path):
    p, truth = build(tmp_path / "p")
    yield p, truth
    p.close()


def _files(p):
    return sorted((p.root / "composites").rglob("*.*")) if (p.root / "composites").exists() else []


def test_splits_keep_tracks_and_frames_apart(proj):
    p, truth = proj
    out = split_tracks(p, "track", 0.2, 0.2, seed=3)
    sp = splits(p)
    assert set(sp) == set(truth) and sum(out["counts"].values()) == len(truth)
    assert out["counts"]["test"] >= 1 and out["counts"]["val"] >= 1 and out["counts"]["train"] >= 1
    assert sp[1] == sp[2]                     # they share a source frame, so they stay together
    assert check_splits(p) == []
    assert split_tracks(p, "track", 0.2, 0.2, seed=3)["counts"] == out["counts"]  # deterministic
    assert split_tracks(p, "day", 0.2, 0.2, seed=3)["counts"]["train"] == len(truth)  # one day: one group
    assert p.info()["cameras"][0]["splits"]["train"] == len(truth)
    with pytest.raises(BadInputError):
        split_tracks(p, "week", 0.1, 0.1)


def test_each_split_gets_its_share_of_the_fitted_tracks(tmp_path):
    """Composites draw only on fitted tracks. Half the usable tracks have no fit (small "other" blobs, failed
    fits): whatever the seed, test and val each get fitted tracks, in their share (the demo's test split once
    drew its two unfitted tracks and had no composites at all, so evaluation had no test set)."""
    p, truth = build(tmp_path / "s", n_tracks=12, shared_frame=False)
    try:
        with p.transaction() as c:
            c.execute("DELETE FROM fits WHERE track_fit_id IN (SELECT id FROM track_fits WHERE track_id > 6)")
            c.execute("DELETE FROM track_fits WHERE track_id > 6")
        for seed in range(10):
            out = split_tracks(p, "track", 0.2, 0.2, seed=seed)
            sp = splits(p)
            for name in ("test", "val", "train"):
                fitted = [t for t in truth if sp[t] == name and t <= 6]
                assert fitted, (seed, name, sp)
                assert len(fitted) <= 4 if name != "train" else len(fitted) >= 2
            assert sum(out["counts"].values()) == len(truth)
    finally:
        p.close()


def test_day_splits_keep_whole_days_and_checker_finds_mixed_frames(tmp_path):
    from walt3d_studio.composite.splits import assign

    p, truth = build(tmp_path / "d", n_tracks=12, days=4)
    try:
        out = split_tracks(p, "day", 0.25, 0.25, seed=5)
        sp = splits(p)
        day_of = {t: (t % 4) for t in truth}
        day_of[2] = day_of[1]          # track 2 was seen in track 1's frame, so it goes with track 1's day
        for t in truth:
            for u in truth:
                if day_of[t] == day_of[u]:
                    assert sp[t] == sp[u]
        assert out["groups"] == 4 and check_splits(p) == []
        set_splits(p, {1: "train", 2: "test"})   # by hand, into two splits: their shared frame is now mixed
        assert any("frame" in m for m in check_splits(p))
    finally:
        p.close()
    got = assign({"a": 0, "b": 0, "c": 0, "d": 0}, {"a": 5, "b": 5, "c": 5, "d": 5}, 0.25, 0.25, 1)
    assert sorted(got.values()) == ["test", "train", "train", "val"]


def test_walt3d_composites_store_exact_truth(proj):
    p, truth = proj
    split_tracks(p, "track", 0.0, 0.0, seed=0)
    s = CompositeSettings(method="walt3d", n=6, seed=1, objects_per_image=(3, 6), per_track=1)
    out = make_composites(p, settings=s, mesh_fn=mesh_fn)
    assert out["composites"] == 6 and out["impossible"]["intersecting"] == 0 and out["impossible"]["misordered"] == 0
    assert out["impossible"]["pairs"] > 0
    comps = list_composites(p, with_objects=True)
    cam = camera()
    ctx = RenderContext(cam)
    sp = splits(p)
    det_xy = {d: xy for t in truth.values() for d, _, xy in t}
    for comp in comps:
        assert comp.split == "train" and all(sp[o.track_id] == comp.split for o in comp.objects)
        assert len({o.track_id for o in comp.objects}) == comp.n_objects
        assert (p.root / comp.image_path).is_file()
        with np.load(p.root / comp.arrays_path) as z:
            depth, normal, inst = z["depth"], z["normal"], z["instance"]
        assert depth.dtype == np.float32 and normal.dtype == np.float16 and inst.dtype == np.uint16
        g = ctx.ground_depth
        ground = (inst == 0) & np.isfinite(g)
        np.testing.assert_allclose(depth[ground], g[ground], rtol=0.01)     # the analytic plane where no object
        assert np.isnan(depth[(inst == 0) & np.isnan(g)]).all()              # NaN above the horizon
        assert (depth[inst > 0] < g[inst > 0]).mean() > 0.99                # objects stand in front of the ground
        occ_seen = []
        for o in comp.objects:
            vis, amodal = decode_rle(o.visible_rle), decode_rle(o.amodal_rle)
            assert np.array_equal(vis, inst == o.idx + 1)
            assert not (vis & ~amodal).any()
            assert abs(o.occlusion - (1 - vis.sum() / amodal.sum())) < 1e-9
            occ_seen.append(o.occlusion)
            assert o.pose["source_frame_id"] and o.kind in ("vehicle", "person")
            assert ("R" in o.pose and "shape_coeffs" in o.pose) if o.kind == "vehicle" else "betas" in o.pose
        # the stored footprints never intersect
        from shapely.geometry import Point

        pts = [Point(det_xy[o.detection_id]) for o in comp.objects]
        for i in range(len(pts)):
            for j in range(i + 1, len(pts)):
                assert pts[i].distance(pts[j]) > 0.5
    assert any(o.occlusion > 0 for c in comps for o in c.objects)


@pytest.mark.slow
def test_walt2d_is_measured_impossible_and_walt3d_is_not(proj):
    p, _ = proj
    split_tracks(p, "track", 0.0, 0.0, seed=0)
    rates = {}
    for m in ("walt3d", "walt2d", "walt2d-bottom"):
        out = make_composites(p, settings=CompositeSettings(method=m, n=5, seed=2), mesh_fn=mesh_fn)
        rates[m] = out["impossible"]
    assert rates["walt3d"]["pair_rate"] == 0.0
    assert rates["walt2d"]["pair_rate"] > 0 and rates["walt2d"]["intersecting"] > 0
    assert rates["walt2d-bottom"]["intersecting"] > 0
    assert all(c.arrays_path for c in list_composites(p, method="walt2d"))   # the exporter wants maps for all


@pytest.mark.slow
def test_same_seed_gives_byte_identical_files(proj):
    p, _ = proj
    split_tracks(p, "track", 0.0, 0.0, seed=0)
    s = CompositeSettings(method="walt3d", n=3, seed=7, objects_per_image=(3, 5), feather_px=1.0, gain=True)
    make_composites(p, settings=s, mesh_fn=mesh_fn)
    first = [f.read_bytes() for f in _files(p)]
    make_composites(p, settings=s, mesh_fn=mesh_fn, clear=True)
    second = [f.read_bytes() for f in _files(p)]
    assert len(first) == 6 and first == second
    s.seed = 8
    make_composites(p, settings=s, mesh_fn=mesh_fn, clear=True)
    assert [f.read_bytes() for f in _files(p)] != first


def test_cancel_leaves_nothing(proj):
    p, _ = proj
    split_tracks(p, "track", 0.0, 0.0, seed=0)
    seen = []

    def progress(done, total, msg):
        seen.append(done)
        if done == 3:
            ctx.cancel()

    ctx = JobContext(progress)
    with pytest.raises(Cancelled):
        make_composites(p, settings=CompositeSettings(n=6, seed=0), mesh_fn=mesh_fn, ctx=ctx)
    assert seen[-1] == 3 and _files(p) == [] and list_composites(p) == []
    row = p.conn.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert row[0] == "cancelled"


def test_splits_in_use_cannot_change_and_compositing_needs_splits(proj):
    p, _ = proj
    with pytest.raises(BadInputError, match="split"):
        make_composites(p, settings=CompositeSettings(n=1), mesh_fn=mesh_fn)
    split_tracks(p, "track", 0.0, 0.0, seed=0)
    make_composites(p, settings=CompositeSettings(n=2, seed=0), mesh_fn=mesh_fn)
    used = list_composites(p, with_objects=True)[0].objects[0].track_id
    with pytest.raises(BadInputError, match="composite"):
        set_splits(p, {used: "test"})


def test_sampler_steers_occlusion_and_never_intersects():
    cam = synthetic.make_camera((320, 180), focal=250.0, pitch_deg=15.0, height_m=6.0)
    ctx = RenderContext(cam)
    rng = np.random.default_rng(0)
    objs = synthetic.scene(cam, synthetic.random_specs(rng, 40, cam, min_gap=-10.0, spread=(9, 26)), ctx)
    pool = Pool(objs, ctx)
    from walt3d_studio.composite.order import walt3d_order
    from walt3d_studio.composite.paste import label_map
    from walt3d_studio.composite.visibility import pseudo_gt

    means = {}
    for name, target in (("light", (1, 0, 0, 0, 0)), ("heavy", (0, 0, 0, 0, 1))):
        running = np.zeros(5)
        occ = []
        for k in range(8):
            members = sample_walt3d(pool, np.random.default_rng(k), SampleSettings((5, 8), 0.2, target), running)
            sub = [objs[i] for i in members]
            assert intersecting_pairs(sub) == 0
            assert all(sub[i].footprint.distance(sub[j].footprint) >= 0.2
                       for i in range(len(sub)) for j in range(i + 1, len(sub)))
            order, _ = walt3d_order(sub, ctx)
            for t in pseudo_gt(sub, order, label_map(cam.image_size, sub, order)):
                occ.append(t.occlusion)
                running[min(4, int(t.occlusion / 0.2))] += 1
        means[name] = float(np.mean(occ))
    assert means["heavy"] > 2 * means["light"] and means["heavy"] > means["light"] + 0.05, means


def test_cli_splits_composite_and_info(proj, capsys, monkeypatch):
    p, _ = proj
    root = str(p.root)
    p.close()
    import walt3d_studio.composite.make as make

    monkeypatch.setattr(make, "load_pools", _with_mesh_fn(make.load_pools))
    assert main(["splits", root, "--by", "track", "--val", "0.2", "--test", "0.2", "--seed", "1"]) == 0
    assert "usable tracks" in capsys.readouterr().out
    assert main(["--quiet", "composite", root, "--method", "walt3d", "--n", "2", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "Made 2 walt3d composites" in out and ("physically impossible: 0 of" in out or "interacting" not in out)
    assert main(["info", root]) == 0
    assert "splits (tracks)" in capsys.readouterr().out
    assert main(["--quiet", "composite", root, "--method", "walt3d", "--n", "0", "--clear"]) == 0


def _with_mesh_fn(f):
    def wrapped(project, camera_id, s, mesh_fn_=None, *a, **k):
        return f(project, camera_id, s, mesh_fn, *a, **k)
    return wrapped


def test_walt2d_maps_describe_the_picture_as_pasted(proj):
    """WALT2D's depth / normal / instance maps: at every pixel the surface of the object pasted on top there (its
    own mesh's depth where the mesh covers, else a billboard at its ground-contact depth), the ground elsewhere;
    the instance map is exactly the visible masks. Where the paste order contradicts 3D, the depth map shows a
    farther surface over a nearer one."""
    from walt3d_studio.composite.render import Mesh, rasterize
    from walt3d_studio.store.fits import track_fits

    p, _ = proj
    split_tracks(p, "track", 0.0, 0.0, seed=0)
    make_composites(p, settings=CompositeSettings(method="walt2d", n=3, seed=2, objects_per_image=(8, 8)),
                    mesh_fn=mesh_fn)
    cam = p.calibration(1)
    ctx = RenderContext(cam)
    fits = {df.detection_id: (tf, df) for tf in track_fits(p, 1, with_detections=True) for df in tf.detections}
    contradicted = 0
    for c in list_composites(p, method="walt2d", with_objects=True):
        with np.load(p.root / c.arrays_path) as z:
            depth, normal, inst = z["depth"], z["normal"].astype(np.float32), z["instance"]
        seen_any = np.zeros(depth.shape, bool)
        for o in c.objects:
            vis = decode_rle(o.visible_rle).astype(bool)
            assert np.array_equal(inst == o.idx + 1, vis)
            seen_any |= vis
            if not vis.any():  # wholly covered by later pastes
                continue
            own = rasterize(ctx, [Mesh.outward(*mesh_fn(*fits[o.detection_id]))], ground=False)
            on_mesh = vis & ~np.isnan(own.depth)
            assert on_mesh.any()
            np.testing.assert_allclose(depth[on_mesh], own.depth[on_mesh], rtol=1e-5)
            off_mesh = vis & np.isnan(own.depth)   # mask pixels the mesh misses: the billboard facing the camera
            assert np.isfinite(depth[off_mesh]).all()
            assert np.allclose(normal[off_mesh], (0, 0, -1), atol=1e-3)
            # under this object's visible pixels, another object's mesh nearer in 3D: the order contradicts depth
            for b in c.objects:
                if b.idx != o.idx:
                    other = rasterize(ctx, [Mesh.outward(*mesh_fn(*fits[b.detection_id]))], ground=False).depth
                    contradicted += int(np.count_nonzero(on_mesh & (other < own.depth - 0.05)))
        np.testing.assert_allclose(depth[~seen_any], ctx.ground_depth[~seen_any], rtol=1e-6)  # ground elsewhere
    assert contradicted > 0  # WALT2D's impossibility is visible in its depth map
