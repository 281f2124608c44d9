"""3D fitting launched from the app (issues 14/15, "In the app: fit as a job (its own process)"):
Reconstruct > Fit vehicles / Fit people in 3D run `walt3d fit ... --progress jsonl` as child processes listed in
the Jobs panel; while one runs its camera is locked; when it ends the tracks table gains the fit values, the
overlay draws them and the keypoint editor offers the fit's keypoints as proposals; Cancel from the Jobs panel
leaves the store exactly as before (fits, poses, proposals, a person's verdicts); no calibration is refused
with how to calibrate.

The project is the mined demo GIF (a car, a pedestrian, a cyclist), made once per module."""
from __future__ import annotations

import shutil

import pytest

from walt3d_studio.store import Project

from .gui_helpers import wait_job
from .test_review_workflow import _build

pytestmark = pytest.mark.slow  # mines the demo clip once and starts child processes (seconds each)

FIT_TABLES = ("track_fits", "fits")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("fitjobs") / "demo")


@pytest.fixture
def demo(template, tmp_path):
    dst = tmp_path / "demo.walt3d"
    shutil.copytree(template, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


def _open(make_window, root):
    w = make_window()
    rc = w.review
    assert w.open_project(root)
    w.settle()
    return w, rc


def _cell(model, track_id, key):
    from walt3d_studio.gui.review.tracks_model import COLUMN_KEYS

    return model.data(model.index(model.row_of(track_id), COLUMN_KEYS.index(key)))


def _track_of(project, category):
    return int(project.conn.execute("SELECT id FROM tracks WHERE category = ? ORDER BY n_mined DESC",
                                    (category,)).fetchone()[0])


def _snapshot(project):
    """Everything a fit job writes: the fit tables, the fit keypoint proposals, the fit verdicts."""
    out = {t: project.conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in FIT_TABLES}
    out["keypoints"] = project.conn.execute("SELECT * FROM keypoints ORDER BY id").fetchall()
    out["labels"] = project.conn.execute("SELECT * FROM labels ORDER BY id").fetchall()
    return out


def _copy_track(project, track_id: int, n: int) -> None:
    """`n` more tracks with the detections (masks, verdicts) of `track_id`: a camera that takes a while to fit."""
    c = project.conn
    tcols = [r[1] for r in c.execute("PRAGMA table_info(tracks)") if r[1] != "id"]
    dcols = [r[1] for r in c.execute("PRAGMA table_info(detections)") if r[1] not in ("id", "track_id")]
    vcols = [r[1] for r in c.execute("PRAGMA table_info(verdicts)") if r[1] != "detection_id"]
    dets = [r[0] for r in c.execute("SELECT id FROM detections WHERE track_id = ? ORDER BY id", (track_id,))]
    with project.transaction() as c:
        for _ in range(n):
            t = c.execute(f"INSERT INTO tracks ({', '.join(tcols)}) SELECT {', '.join(tcols)} FROM tracks "
                          "WHERE id = ?", (track_id,)).lastrowid
            for d in dets:
                nd = c.execute(f"INSERT INTO detections (track_id, {', '.join(dcols)}) SELECT ?, "
                               f"{', '.join(dcols)} FROM detections WHERE id = ?", (t, d)).lastrowid
                c.execute(f"INSERT INTO verdicts (detection_id, {', '.join(vcols)}) SELECT ?, {', '.join(vcols)} "
                          "FROM verdicts WHERE detection_id = ?", (nd, d))


def test_fit_vehicles_and_people_from_the_app_fill_the_table(qtbot, make_window, demo, dialogs):
    from walt3d_studio.store.keypoints import proposal_keypoints

    w, rc = _open(make_window, demo)
    p, m = w.project, rc.panel.model
    car, person = _track_of(p, "car"), _track_of(p, "person")
    assert _cell(m, car, "fit_method") == "" and not rc.fits.summaries
    assert rc.fit_jobs.act_vehicles.isEnabled() and rc.fit_jobs.act_people.isEnabled()

    rc.fit_jobs.act_vehicles.trigger()  # Reconstruct > Fit vehicles in 3D
    job = rc.fit_jobs.running("vehicles", w.camera_id)[0]
    assert job.args[:2] == ["fit", "vehicles"] and "--camera" in job.args
    # listed in the Jobs panel; while it runs the camera it writes is locked (labels, verdicts, another fit)
    panel = w.jobs_panel
    assert panel.selected_job() is job and panel.tree.topLevelItem(0).text(0).startswith("Fitting vehicles in 3D")
    assert w.lock_reason(w.camera_id) and "Fitting vehicles" in w.lock_reason(w.camera_id)
    assert not rc.fit_jobs.act_people.isEnabled() and not rc.label_actions["U"].isEnabled()
    assert not rc.fits.act_accept.isEnabled()

    how, _ = wait_job(qtbot, job, timeout=60000)
    assert how == "finished", job.log_text()
    assert job.total >= 1 and job.done == job.total  # it reported progress as JSON lines
    assert job.result["tracks"] >= 1 and job.result["by_method"]
    # the table gained the car's fit without reopening anything; the camera is free again
    assert w.lock_reason(w.camera_id) is None and rc.fit_jobs.act_people.isEnabled()
    assert _cell(m, car, "fit_method") == "silhouette"
    assert float(_cell(m, car, "fit_iou")) > 0.3
    assert _cell(m, car, "fit_review") in ("ok", "needs review")
    assert _cell(m, person, "fit_method") == ""

    # the button under the table starts the people fit
    button = next(b for b in rc.panel.fit_buttons if b.defaultAction() is rc.fit_jobs.act_people)
    assert button.isVisible() and button.isEnabled()
    button.click()
    job2 = rc.fit_jobs.running("people", w.camera_id)[0]
    how, _ = wait_job(qtbot, job2, timeout=60000)
    assert how == "finished", job2.log_text()
    assert _cell(m, person, "fit_method") == "builtin" and _cell(m, car, "fit_method") == "silhouette"
    assert job2.result["estimator"] == "builtin" and job2.result["tracks"] >= 1
    # the review panel says what the selected track's fit is and why it needs review
    rc.select_track(person, jump=True)
    w.settle()
    text = rc.panel.selection_label.text()
    assert "3D fit (person): builtin" in text and "height" in text and "IoU" in text
    assert _cell(m, person, "fit_review") in ("ok", "needs review")

    # the overlay draws the car's fit on its frames, and the keypoint editor offers the fit's keypoints
    from walt3d_studio.store.detections import detection_table

    dets = detection_table(p, track_id=car)
    mid = int(dets.id[len(dets) // 2])
    rc.select_track(car, jump=False)
    rc.go_to(rc.position_of(int(dets.frame_id[len(dets) // 2])))
    w.settle()
    assert any(it["track_id"] == car and len(it["lines"]) for it in rc.fits.item.items)
    assert "3D fit (vehicle): silhouette, IoU" in rc.panel.selection_label.text()
    prop = proposal_keypoints(p, mid, schema="vehicle12")
    assert prop is not None and prop.origin == "fit"
    editor = w.keypoint_editor.editor
    editor.set_project(p)
    editor.open_detection(mid)
    human, shown = editor.keypoints()
    assert human is None and shown is not None and (shown == prop.points).all()
    assert editor.accept_proposal()  # Enter: the fit's points become the person's
    from walt3d_studio.store.keypoints import human_keypoints

    assert (human_keypoints(p, mid, schema="vehicle12").points == prop.points).all()

    # with a person's keypoints on one frame, fit that track again, alone
    before = p.conn.execute("SELECT id FROM track_fits WHERE track_id = ?", (car,)).fetchone()[0]
    rc.select_track(person, jump=False)  # not a vehicle: refused with a hint, no job
    assert rc.panel.selected_track_ids() in ([], [person])
    assert rc.fit_jobs.fit_selected_vehicles() is None
    rc.select_track(car, jump=False)
    job3 = rc.fit_jobs.fit_selected_vehicles()
    assert job3.args[-2:] == ["--tracks", str(car)] and f"track {car}" in job3.title
    assert wait_job(qtbot, job3, timeout=60000)[0] == "finished", job3.log_text()
    assert job3.result["tracks"] == 1
    after = p.conn.execute("SELECT id FROM track_fits WHERE track_id = ?", (car,)).fetchone()[0]
    assert after != before and _cell(m, car, "fit_method") == "keypoints"  # the person's keypoints drove it
    assert _cell(m, person, "fit_method") == "builtin"  # the other fits stay
    assert not any("failed" in t.lower() for t, _ in dialogs)


def test_cancel_from_the_jobs_panel_leaves_the_store_as_before(qtbot, make_window, demo, dialogs):
    from walt3d_studio.reconstruct.vehicle_fit import fit_vehicles
    from walt3d_studio.store.fits import set_fit_review

    with Project.open(demo) as p:  # fitted once, a person accepted the car's fit; then many more cars
        car = _track_of(p, "car")
        fit_vehicles(p, 1)
        set_fit_review(p, car, "accept", "tester")
        _copy_track(p, car, 40)
        before = _snapshot(p)
    w, rc = _open(make_window, demo)
    m = rc.panel.model
    assert _cell(m, car, "fit_review") == "accepted"
    job = rc.fit_jobs.fit("vehicles")
    qtbot.waitUntil(lambda: job.done >= 1, timeout=60000)  # fitting, in a process of its own
    assert job.state == "running" and job.total == 41
    w.jobs_panel.tree.setCurrentItem(w.jobs_panel.tree.topLevelItem(0))
    assert w.jobs_panel.selected_job() is job and w.jobs_panel.cancel_button.isEnabled()
    w.jobs_panel.cancel_button.click()
    how, _ = wait_job(qtbot, job, timeout=30000)
    assert how == "cancelled" and "nothing was stored" in job.message
    assert _snapshot(w.project) == before  # not one fit, pose, proposal or verdict changed
    status = w.project.conn.execute("SELECT status FROM runs WHERE stage = 'fit-vehicles' ORDER BY id DESC"
                                    ).fetchone()[0]
    assert status == "cancelled"  # the run is recorded as cancelled
    copies = [int(t) for t in m.table.id if int(t) > car]
    assert len(copies) == 40 and all(_cell(m, t, "fit_method") == "" for t in copies)
    assert _cell(m, car, "fit_review") == "accepted"
    assert w.lock_reason(w.camera_id) is None and rc.fit_jobs.act_vehicles.isEnabled()
    assert not dialogs  # a cancel is not an error


def test_no_calibration_is_refused_with_how_to_calibrate(qtbot, make_window, demo, dialogs):
    with Project.open(demo) as p:
        p.set_calibration(1, None)
        before = _snapshot(p)
    w, rc = _open(make_window, demo)
    job = rc.fit_jobs.fit("people")
    how, err = wait_job(qtbot, job)
    assert how == "failed" and "no calibration" in err.message and "calibrate" in err.hint.lower()
    assert any("no calibration" in text for text, _ in dialogs)  # shown to the person
    assert w.jobs_panel.tree.topLevelItem(0).text(1)  # listed in the Jobs panel
    assert _snapshot(w.project) == before


def test_fit_actions_follow_read_only_and_locks(qtbot, make_window, demo, dialogs):
    w = make_window()
    rc = w.review
    assert w.open_project(demo, readonly=True)
    w.settle()
    assert not rc.fit_jobs.act_vehicles.isEnabled() and not rc.fit_jobs.act_people.isEnabled()
    assert rc.fit_jobs.fit("vehicles") is None  # refused with the reason
    assert any("read-only" in text for text, _ in dialogs)


def test_people_estimator_and_a_users_smpl_model_from_the_app(qtbot, make_window, demo, dialogs, tmp_path,
                                                              monkeypatch):
    """Reconstruct > People estimator lists every estimator (unavailable ones with why); Body model… converts the
    person's SMPL pickle in a child process only once they trust it; the next people fit records that model; a
    bad file is refused with a clear message and changes nothing."""
    import sys
    from pathlib import Path

    from PySide6.QtWidgets import QFileDialog

    import walt3d_studio.gui.review.fit_jobs as fj
    from walt3d_studio.store.body_models import body_model

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from smpl_synth import synthetic_smpl, write_pickle

    w, rc = _open(make_window, demo)
    fits = rc.fit_jobs
    fits._fill_estimators()
    names = {a.text(): a for a in fits.est_menu.actions()}
    assert names["builtin"].isChecked() and names["builtin"].isEnabled()
    hmr = next(a for t, a in names.items() if t.startswith("hmr2"))
    assert not hmr.isEnabled() and "unavailable: package missing" in hmr.text()

    model = tmp_path / "SMPL_SYNTH.pkl"
    write_pickle(model, synthetic_smpl())
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(model), "")))
    asked = []
    monkeypatch.setattr(fj, "ask_trust", lambda win, name: asked.append(name) or False)
    assert fits.act_body_model.isEnabled()
    assert fits.ask_body_model() is None and asked == ["SMPL_SYNTH.pkl"]  # not trusted: nothing read
    assert body_model(w.project) is None

    monkeypatch.setattr(fj, "ask_trust", lambda win, name: True)
    job = fits.ask_body_model()
    assert job.args[-1] == "--trust" and job.camera_id is None
    how, _ = wait_job(qtbot, job, timeout=120000)
    assert how == "finished", job.log_text()
    info = body_model(w.project)
    assert info["file"] == "SMPL_SYNTH.pkl" and (demo / info["npz"]).is_file()
    fits._show_body_model()
    assert "SMPL SMPL_SYNTH.pkl" in fits.act_body_info.text() and fits.act_proxy.isVisible()

    job = fits.fit("people")
    assert not fits.act_body_model.isEnabled()  # not while a people fit reads the model
    how, _ = wait_job(qtbot, job, timeout=120000)
    assert how == "finished", job.log_text()
    assert job.result["body_model"].startswith("smpl:SMPL_SYNTH.pkl:")

    bad = tmp_path / "broken.pkl"
    bad.write_bytes(b"\x80\x04not a model at all")
    job = fits.set_body_model(bad, trust=True)
    how, err = wait_job(qtbot, job, timeout=120000)
    assert how == "failed" and "broken.pkl" in err.message
    assert body_model(w.project)["file"] == "SMPL_SYNTH.pkl"  # unchanged
    assert any("broken.pkl" in text for text, _ in dialogs)

    job = fits.set_body_model(None)  # back to the proxy
    assert not fits.act_people.isEnabled() and fits.fit("people") is None  # not while the model changes
    assert wait_job(qtbot, job, timeout=60000)[0] == "finished"
    assert body_model(w.project) is None
