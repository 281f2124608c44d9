"""`walt3d fit people`: bodies stored per track with quality, COCO-17 proposals, runs; refusals."""
import json

import numpy as np
import pytest

from people_project import build
from people_synth import CAMERAS
from walt3d_studio.cli import main
from walt3d_studio.errors import CalibrationError
from walt3d_studio.reconstruct import bodies
from walt3d_studio.reconstruct.people_fit import PeopleFitSettings, fit_people
from walt3d_studio.store.fits import track_fits
from walt3d_studio.store.keypoints import get_keypoints


@pytest.mark.slow
def test_fit_people_stores_bodies_quality_and_keypoints(tmp_path):
    cam = CAMERAS["street"]
    p, tracks = build(tmp_path, cam, [{"walking": True, "height": 1.75}, {"walking": False, "height": 1.25}],
                      n=10)
    try:
        summary = fit_people(p, settings=PeopleFitSettings(silhouette="parts"))
        assert summary["tracks"] == 2 and summary["detections"] == 20 and "person track" in summary.summary()
        fits = track_fits(p, kind="person", with_detections=True)
        assert [f.track_id for f in fits] == [1, 2]
        walker, child = fits
        assert walker.method == "builtin" and walker.shape["body_model"] == "proxy"
        assert walker.shape["height_m"] == pytest.approx(1.75, rel=0.03)
        assert walker.status == "ok" and walker.quality["silhouette_iou"] > 0.6
        # the child is flagged for review, never rejected: every detection still has its body
        assert child.status == "needs_review" and "child" in child.reason and child.quality["height_flag"] == "child?"
        assert all(d.status != "failed" for d in child.detections)
        truth = tracks[0][1]
        for d, foot, tp in zip(walker.detections, truth["feet"], truth["params"]):
            # R is the root orientation as a matrix, t the SMPL transl; the body stands where the truth does
            assert np.allclose(d.R, bodies.rodrigues(np.asarray(d.params["global_orient"])))
            assert np.allclose(d.t, d.params["transl"])
            g = bodies.ground_point(bodies.posed_joints(d.params, walker.shape)[None], cam.n, cam.d)[0]
            assert np.linalg.norm(g - foot) < 0.015 * np.linalg.norm(foot)
            assert d.quality["foot_residual_m"] < 0.3
        # COCO-17 proposals from the posed body, near the true body's keypoints in the picture
        row = get_keypoints(p, 1003, schema="person17", origins=("fit",))
        assert row.origin == "fit" and row.points.shape == (17, 3) and (row.points[:, 2] == 2).all()
        true_kp = cam.project(bodies.coco17_keypoints(truth["params"][3], truth["shape"]))
        box_h = tracks[0][0][3].box[3]
        assert np.median(np.linalg.norm(row.points[:, :2] - true_kp, axis=1)) < 0.08 * box_h
        run = p.conn.execute("SELECT stage, status, counts_json FROM runs").fetchone()
        assert run[0] == "fit-people" and run[1] == "done"
        assert json.loads(run[2]) == {"ok": 1, "needs_review": 1}
        # a re-fit replaces fits and proposals
        fit_people(p, settings=PeopleFitSettings(silhouette="parts"))
        assert p.conn.execute("SELECT COUNT(*) FROM keypoints WHERE origin = 'fit' AND detection_id = 1003"
                              ).fetchone()[0] == 1
        assert p.conn.execute("SELECT COUNT(*) FROM track_fits").fetchone()[0] == 2
    finally:
        p.close()


@pytest.mark.slow
def test_exact_silhouette_quality(tmp_path):
    cam = CAMERAS["street"]
    p, _ = build(tmp_path, cam, [{"walking": True, "height": 1.7}], n=4)
    try:
        fit_people(p)  # the exact rasteriser (silhouette.py)
        f = track_fits(p, kind="person", with_detections=True)[0]
        assert all(d.quality["silhouette_iou"] > 0.6 for d in f.detections)
    finally:
        p.close()


def test_no_calibration_says_how_to_calibrate(tmp_path):
    cam = CAMERAS["street"]
    p, _ = build(tmp_path, cam, [{"walking": True}], n=3, calibrate=False)
    try:
        with pytest.raises(CalibrationError) as e:
            fit_people(p)
        assert "no calibration" in e.value.message and "walt3d calibrate" in e.value.hint
        assert p.conn.execute("SELECT COUNT(*) FROM track_fits").fetchone()[0] == 0
    finally:
        p.close()


@pytest.mark.slow
def test_cli_fit_people_and_bodies(tmp_path, capsys):
    cam = CAMERAS["street"]
    p, _ = build(tmp_path, cam, [{"walking": True}], n=5)
    p.close()
    root = str(tmp_path / "p")
    assert main(["fit", "people", root, "--quiet", "--fast-silhouette"]) == 0
    assert "Fitted 1 person track(s) (5 detections) with the builtin estimator" in capsys.readouterr().out
    assert main(["bodies", "estimators"]) == 0
    out = capsys.readouterr().out
    assert "builtin    available" in out and "hmr2       unavailable: package missing" in out
    assert main(["bodies", "show", root]) == 0
    assert capsys.readouterr().out.startswith("proxy")
    # a bad model file: a clear message, exit 2, nothing stored
    bad = tmp_path / "model.pkl"
    bad.write_bytes(b"not a pickle at all")
    assert main(["bodies", "set-model", root, "--smpl", str(bad), "--trust"]) == 2
    assert "not an SMPL model file" in capsys.readouterr().err
    assert main(["bodies", "show", root]) == 0 and capsys.readouterr().out.startswith("proxy")
    assert not list((tmp_path / "p" / "bodies").glob("*.npz")) if (tmp_path / "p" / "bodies").exists() else True
    # without --trust a pickle is not read at all
    assert main(["bodies", "set-model", root, "--smpl", str(bad)]) == 2
    assert "--trust" in capsys.readouterr().err


@pytest.mark.slow
def test_fit_with_a_users_smpl_model(tmp_path, capsys):
    from smpl_synth import synthetic_smpl, write_pickle

    cam = CAMERAS["street"]
    p, tracks = build(tmp_path, cam, [{"walking": True, "height": 1.72}], n=8)
    p.close()
    root = str(tmp_path / "p")
    model = tmp_path / "SMPL_SYNTH.pkl"
    write_pickle(model, synthetic_smpl())
    assert main(["bodies", "set-model", root, "--smpl", str(model), "--trust"]) == 0
    assert "SMPL_SYNTH.pkl" in capsys.readouterr().out
    assert main(["fit", "people", root, "--quiet", "--fast-silhouette", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["body_model"].startswith("smpl:SMPL_SYNTH.pkl:") and out["tracks"] == 1
    from walt3d_studio.store import Project

    with Project.open(root, readonly=True) as q:
        f = track_fits(q, kind="person", with_detections=True)[0]
        assert f.shape["body_model"] == out["body_model"]
        bodies._model_dirs.clear()  # a renderer without the project finds the model through the fit's shape
        v, faces = bodies.posed_mesh(f.detections[0].params, f.shape)  # smplx poses it from the project's npz
        assert v.shape == (6890, 3) and (v @ cam.n + cam.d).min() == pytest.approx(0, abs=0.02)
        assert f.shape["height_m"] == pytest.approx(1.72, rel=0.04)
        foot = tracks[0][1]["feet"][0]
        g = bodies.ground_point(bodies.posed_joints(f.detections[0].params, f.shape)[None], cam.n, cam.d)[0]
        assert np.linalg.norm(g - foot) < 0.03 * np.linalg.norm(foot)


def test_fit_people_jsonl_progress_and_result(tmp_path, capfd):
    """`walt3d --progress jsonl fit people`: progress lines, then the summary in the result line (the app's fit
    job reads it)."""
    cam = CAMERAS["street"]
    p, _ = build(tmp_path, cam, [{"walking": True}], n=4)
    p.close()
    assert main(["--progress", "jsonl", "fit", "people", str(tmp_path / "p"), "--fast-silhouette"]) == 0
    lines = [json.loads(x) for x in capfd.readouterr().out.splitlines() if x.strip()]
    assert any("done" in x and x["total"] == 1 for x in lines[:-1])
    res = lines[-1]["result"]
    assert res["rc"] == 0 and res["tracks"] == 1 and res["detections"] == 4 and res["estimator"] == "builtin"
    assert res["body_model"] == "proxy" and res["runs"] and "Fitted 1 person track(s)" in res["output"]


def test_a_cancel_after_the_fits_are_stored_does_not_claim_nothing_was_stored(tmp_path):
    """The stage's last report comes after its one transaction: a cancel arriving then changes nothing."""
    from walt3d_studio.jobs import JobContext

    cam = CAMERAS["street"]
    p, _ = build(tmp_path, cam, [{"walking": True}], n=4)
    try:
        seen = []

        def on_progress(done, total, message):
            seen.append(message)
            if message.startswith("judging"):
                ctx.cancel()  # asked during the work: it stops before storing
        ctx = JobContext(on_progress)
        from walt3d_studio.errors import Cancelled

        with pytest.raises(Cancelled):
            fit_people(p, ctx=ctx, settings=PeopleFitSettings(silhouette="parts"))
        assert track_fits(p) == []

        def late(done, total, message):
            if message == "done":
                ctx2.cancel()  # asked once everything is stored: the run completes
        ctx2 = JobContext(late)
        summary = fit_people(p, ctx=ctx2, settings=PeopleFitSettings(silhouette="parts"))
        assert summary["tracks"] == 1 and len(track_fits(p)) == 1
    finally:
        p.close()
