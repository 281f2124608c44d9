"""The Composites review dock: exact pixels of each layer, browsing keys, filters, hover facts, undoable
rejections that the export honours, the WALT2D twin's impossible pair, the histogram, the export job."""
import numpy as np
import pytest

from export_scene import give_frames, make_project
from walt3d_studio.gui.composites import layers as L
from walt3d_studio.gui.composites import show_composites
from walt3d_studio.store.composites import rejections

from .gui_helpers import wait_job

pytestmark = pytest.mark.slow  # a main window per test (about 4 s each)


@pytest.fixture
def project_root(tmp_path):
    p = make_project(tmp_path / "c.walt3d", n_per_split=2, twins=True, look="painted")
    give_frames(p, tmp_path / "frames")
    root = p.root
    p.close()
    return root


@pytest.fixture
def dock(window, project_root, qtbot):
    assert window.open_project(project_root)
    window.resize(1280, 1000)
    d = show_composites(window)
    qtbot.waitExposed(d)
    d.set_layer("boxes", False)
    d.set_layer("keypoints", False)
    d.set_layer("amodal", False)
    return d


def _px(dock, x, y, view=None):
    """The colour drawn for image pixel (x, y) (centre of its zoomed cell)."""
    v = view or dock.view
    s = v.scale
    return v.rgb[int((y + 0.5) * s), int((x + 0.5) * s)]


def test_visible_layer_pixels_and_toggle(dock):
    comp = dock.model.current
    img = dock.model.image(comp)
    assert comp.method == "walt3d" and comp.split == "train" and dock.view.scale > 1
    car_px, person_px, ground = (12, 20), (35, 20), (2, 2)
    want = lambda p, c: np.round(img[p[1], p[0]] * 0.55 + L.colour(c) * 0.45).astype(int)  # noqa: E731
    assert np.abs(_px(dock, *car_px).astype(int) - want(car_px, 0)).max() <= 1
    assert np.abs(_px(dock, *person_px).astype(int) - want(person_px, 1)).max() <= 1
    assert (_px(dock, *ground) == img[2, 2]).all()
    dock.set_layer("visible", False)
    assert (_px(dock, *car_px) == img[20, 12]).all() and not dock.layer_boxes["visible"].isChecked()


@pytest.mark.parametrize("layer", ["depth", "normals", "instances", "amodal", "boxes", "keypoints"])
def test_each_layer_draws_where_it_should(dock, layer):
    dock.set_layer("visible", False)
    img = dock.model.image(dock.model.current)
    before = dock.view.rgb.copy()
    dock.set_layer(layer, True)
    after = dock.view.rgb
    s = dock.view.scale
    changed = (before != after).any(axis=2)
    if layer == "depth":  # the person (8 m) is drawn nearer (brighter in inverse depth) than the car (12 m)
        assert changed.mean() > 0.9
        assert not np.array_equal(_px(dock, 35, 20), _px(dock, 12, 20))
    elif layer == "normals":  # every normal is (0, -1, 0): one colour everywhere below the sky rows
        want = np.round(img[30, 2] * 0.3 + np.array([127, 0, 127]) * 0.7)
        assert np.abs(_px(dock, 2, 30).astype(int) - want).max() <= 1
    elif layer == "instances":
        want = np.round(img[20, 12] * 0.3 + L.colour(0) * 0.7)
        assert np.abs(_px(dock, 12, 20).astype(int) - want).max() <= 1
        assert (_px(dock, 2, 30) == img[30, 2]).all()  # background untouched
    elif layer == "amodal":  # the car's outline runs on its top edge, also behind the person
        assert (after[14 * s, 33 * s] == L.colour(0)).all()
        assert not changed[20 * s, 20 * s]
    elif layer == "boxes":
        assert (after[34 * s - 1, 35 * s] == L.colour(0)).all()          # amodal box, bottom edge
        assert (after[34 * s - 1, 20 * s] == (255, 255, 255)).all()      # visible box, bottom edge
    else:  # a visible car keypoint (filled) at (10, 20)
        assert (after[int(20.5 * s), int(10.5 * s)] == L.colour(0)).all()


def test_keys_filters_and_hover(dock, qtbot):
    from PySide6.QtCore import Qt

    dock.view.setFocus()
    first = dock.model.current.id
    qtbot.keyClick(dock.view, Qt.Key_Right)
    assert dock.model.index == 1 and dock.model.current.id != first
    qtbot.keyClick(dock.view, Qt.Key_Left)
    assert dock.model.current.id == first
    dock.f_split.setCurrentIndex(dock.f_split.findData("val"))
    assert {c.split for c in dock.model.shown} == {"val"} and len(dock.model.shown) == 2
    assert dock.thumbs.count() == 2
    dock.f_bucket.setCurrentIndex(dock.f_bucket.findData(4))  # 80-100 %: none
    assert dock.model.shown == [] and "no composites match" in dock.view_title.text()
    dock.f_bucket.setCurrentIndex(0)
    dock._on_hover(35, 20)
    assert "person" in dock.info.text() and "track 21" in dock.info.text() and dock.hover_idx == 1
    dock._on_hover(12, 20)
    assert "car" in dock.info.text() and "occlusion 31%" in dock.info.text()


def test_reject_object_and_composite_undo_and_export(dock, window, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    comp = dock.model.current
    dock.view.setFocus()
    dock._on_hover(35, 20)  # the person
    qtbot.keyClick(dock.view, Qt.Key_R)
    assert rejections(window.project)["objects"] == {(comp.id, 1)}
    assert rejections(window.project)["tracks"] == {11}
    dock.set_layer("visible", False)
    s = dock.view.scale
    assert (dock.view.rgb[6 * s, 33 * s] == L.REJECTED).all()  # the rejected person outlined red
    qtbot.keyClick(dock.view, Qt.Key_R, Qt.ShiftModifier)
    assert comp.id in rejections(window.project)["composites"]
    assert "REJECTED" in dock.view_title.text()
    dock.f_rejected.setChecked(True)
    assert [c.id for c in dock.model.shown] == [comp.id]
    assert dock.model.histogram()["train"].sum() == 2  # the other train composite's two objects
    window.undo()
    assert rejections(window.project)["composites"] == set()
    job = window.composites and __import__("walt3d_studio.gui.composites.export_action",
                                            fromlist=["export"]).export(window, tmp_path / "ds", blur="none")
    assert wait_job(qtbot, job)[0] == "finished"
    import json

    train = json.loads((tmp_path / "ds" / "annotations" / "train.json").read_text())
    assert len(train["images"]) == 2 and len(train["annotations"]) == 3  # the rejected person left out
    window.undo()
    assert rejections(window.project)["objects"] == set()


def test_walt2d_twin_outlines_the_impossible_pair(dock):
    twin = dock.model.twin(dock.model.current)
    assert twin is not None and twin.method == "walt2d" and twin.seed == dock.model.current.seed
    assert L.impossible_pairs(twin.objects) == {(0, 1)}
    assert L.impossible_pairs(dock.model.current.objects) == set()
    rgb, s = dock.twin_view.rgb, dock.twin_view.scale
    assert (rgb[14 * s, 20 * s] == L.IMPOSSIBLE).all()     # the car's top edge
    assert "WALT2D" in dock.twin_title.text()


def test_histogram_counts_per_split(dock):
    hist = dock.hist_counts
    assert {k: v.tolist() for k, v in hist.items()} == {s: [2, 2, 0, 0, 0] for s in ("train", "val", "test")}


def test_screenshot_panel_composites(project_root, tmp_path):
    import subprocess
    import sys

    import cv2

    from .gui_helpers import REPO

    shot = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, "-m", "walt3d_studio.gui.app", str(project_root), "--screenshot", str(shot),
                        "--panel", "composites", "--size", "1280x1000"], cwd=REPO, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    img = cv2.imread(str(shot))[..., ::-1]
    assert img.shape[:2] == (1000, 1280)
    magenta = (img == L.IMPOSSIBLE).all(axis=2)
    assert magenta.sum() > 500 and np.nonzero(magenta)[0].min() > 400  # the twin's outline, in the lower dock


def _composite_rows(root):
    import sqlite3

    with sqlite3.connect(root / "project.sqlite") as c:
        return c.execute("SELECT * FROM composites ORDER BY id").fetchall()


def test_generate_from_the_dock_is_a_child_job(window, tmp_path, qtbot, dialogs):
    """Generate (the dock's button) runs `walt3d composite` in a child process: labelling stays enabled,
    a second run is refused while it runs, Cancel stores nothing and leaves no picture; a finished run shows its
    composites in the dock."""
    import os
    import signal

    from composite_project import build
    from walt3d_studio.composite.splits import split_tracks

    p, _ = build(tmp_path / "g", fits=False)  # WALT2D pastes mined crops: no 3D meshes needed in the child
    split_tracks(p, "track", 0.25, 0.25, seed=0)
    give_frames(p, tmp_path / "frames")
    root = p.root
    p.close()
    assert window.open_project(root)
    dock = show_composites(window)
    assert dock.model.all == []
    dock.g_method.setCurrentIndex(dock.g_method.findData("walt2d"))
    dock.g_n.setValue(3)
    dock.g_seed.setValue(5)

    # cancelled: nothing stored, no picture left, the button back on
    dock.g_button.click()
    job = dock.running_job()
    assert job is not None and job in window.process_jobs.jobs and job.args[0] == "composite"
    assert not dock.g_button.isEnabled() and window.can_write()  # labelling goes on meanwhile
    qtbot.waitUntil(lambda: job.pid is not None, timeout=10000)
    os.killpg(job.pid, signal.SIGSTOP)
    assert dock.generate() is None and "running already" in dialogs[-1][0]
    window.jobs_panel.tree.setCurrentItem(window.jobs_panel._items[id(job)])
    window.jobs_panel.cancel_button.click()
    os.killpg(job.pid, signal.SIGCONT)
    assert wait_job(qtbot, job, timeout=60000)[0] == "cancelled"
    assert _composite_rows(root) == [] and dock.model.all == [] and dock.g_button.isEnabled()
    assert not (root / "composites").exists() or not [f for f in (root / "composites").rglob("*") if f.is_file()]

    # finished: the dock shows the three composites of seed 5
    dock.g_button.click()
    job = dock.running_job()
    how, r = wait_job(qtbot, job, timeout=120000)
    assert how == "finished", r
    assert r["composites"] == 3 and r["method"] == "walt2d"
    assert len(dock.model.all) == 3 and {c.seed for c in dock.model.all} == {5}
    assert len(_composite_rows(root)) == 3
    assert dock.view.rgb is not None and dock.thumbs.count() == 3
    assert "Made 3 walt2d composites" in window.statusBar().currentMessage()


@pytest.fixture
def real(window, tmp_path, qtbot):
    """The dock on the real compositor's output (exact-truth project: calibrated camera, fitted boxes), both
    methods of the same seed."""
    from composite_project import build, mesh_fn
    from walt3d_studio.composite.make import CompositeSettings, make_composites
    from walt3d_studio.composite.splits import split_tracks

    p, _ = build(tmp_path / "r")
    split_tracks(p, "track", 0.0, 0.0, seed=0)
    for m in ("walt3d", "walt2d"):
        make_composites(p, settings=CompositeSettings(method=m, n=2, seed=3, objects_per_image=(4, 6)),
                        mesh_fn=mesh_fn)
    give_frames(p, tmp_path / "rframes")
    root = p.root
    p.close()
    assert window.open_project(root)
    window.resize(1280, 1000)
    d = show_composites(window)
    qtbot.waitExposed(d)
    for name in L.LAYERS:
        d.set_layer(name, False)
    return d


def test_wireframes_layer_draws_each_fit_through_the_camera(real):
    """Each pasted vehicle's 3D box, rebuilt from its stored pose and shape and projected by the camera: its
    ground corners' pixels turn the wire colour, in WALT3D's view and its WALT2D twin's; off again, they don't."""
    from walt3d_studio.reconstruct.vehicle_shape import mesh_for_alpha

    comp = real.model.current
    cam = real.window.project.calibration(comp.camera_id)
    plain = real.view.rgb.copy()
    real.set_layer("wireframes", True)
    assert real.layer_boxes["wireframes"].isChecked()
    s, rgb = real.view.scale, real.view.rgb
    v, _ = mesh_for_alpha([])
    lo, hi = v.min(0), v.max(0)
    hits = 0
    cars = [o for o in comp.objects if o.kind == "vehicle"]
    people = len(comp.objects) - len(cars)
    assert cars and people  # the synthetic people are cylinders without SMPL parameters: nothing to draw
    for o in cars:
        assert o.pose["shape_class"] == "car"
        R, t = np.asarray(o.pose["R"]), np.asarray(o.pose["t"])
        for cx, cy in ((hi[0], lo[1]), (lo[0], hi[1])):
            px = cam.project((np.array([cx, cy, lo[2]]) @ R.T + t)[None])[0]
            x, y = np.round((px + 0.5) * s - 0.5).astype(int)
            if 0 <= y < rgb.shape[0] and 0 <= x < rgb.shape[1]:
                assert (rgb[y, x] == L.WIRE).all()
                assert not (plain[y, x] == L.WIRE).all()
                hits += 1
    assert hits >= 2 * len(cars) - 1
    twin = real.twin_view.rgb
    assert (twin == L.WIRE).all(axis=2).sum() > 200          # the twin's fits drawn too
    assert real.wire_note == f"{people} of {len(comp.objects)} objects have no 3D fit to draw"
    assert real.wire_note in real.info.text()
    real.set_layer("wireframes", False)
    assert np.array_equal(real.view.rgb, plain)


def test_wireframes_say_why_nothing_is_drawn(dock):
    """The test scene's camera has no calibration: the layer draws nothing and the info line says why."""
    before = dock.view.rgb.copy()
    dock.set_layer("wireframes", True)
    assert np.array_equal(dock.view.rgb, before)
    assert "no calibration" in dock.info.text()


def test_walt2d_twin_shows_its_own_arrays(real):
    """The WALT2D twin has maps too: its depth layer changes its picture, and its instance layer colours exactly
    its visible masks."""
    twin = real.model.twin(real.model.current)
    assert twin is not None and twin.arrays_path
    plain = real.twin_view.rgb.copy()
    real.set_layer("instances", True)
    s = real.twin_view.scale
    inst = real.model.arrays(twin)["instance"]
    for o in twin.objects:
        vis = L.decode(o.visible_rle)
        assert np.array_equal(inst == o.idx + 1, vis)
        ys, xs = np.nonzero(vis)
        if len(ys):
            y, x = ys[len(ys) // 2], xs[len(xs) // 2]
            assert not np.array_equal(real.twin_view.rgb[y * s + s // 2, x * s + s // 2],
                                      plain[y * s + s // 2, x * s + s // 2])
    real.set_layer("instances", False)
    real.set_layer("depth", True)
    assert (real.twin_view.rgb != plain).any(axis=2).mean() > 0.5


def test_histogram_per_class_against_the_compositors_target(real):
    h_all = {k: v.copy() for k, v in real.hist_counts.items()}
    real.h_class.setCurrentIndex(real.h_class.findData("person"))
    h_person = real.hist_counts
    real.h_class.setCurrentIndex(real.h_class.findData("vehicle"))
    h_vehicle = real.hist_counts
    for split in h_all:
        assert (h_person[split] + h_vehicle[split] == h_all[split]).all()
    assert sum(int(v.sum()) for v in h_person.values()) > 0 and sum(int(v.sum()) for v in h_vehicle.values()) > 0
    target, source = real.model.target()
    assert source == "the compositor's target" and np.allclose(target, 0.2)
    total = sum(int(v.sum()) for v in h_vehicle.values())
    assert set(split for split, v in h_vehicle.items() if v.sum()) == {"train"}  # no val/test tracks here
    assert np.allclose(real.hist_target, 0.2 * total)  # expected count per bucket of the one split


def test_export_dialog_runs_the_export_then_validates_it(dock, window, qtbot, tmp_path, monkeypatch):
    """File > Export dataset…: the dialog's options reach the job (KINS names, no blur, both methods), the
    dataset appears, and the validation job that follows finds it valid."""
    import json

    from walt3d_studio.gui.composites import export_action as ea

    def fill(dlg):
        dlg.path.setText(str(tmp_path / "ds"))
        dlg.fmt.setCurrentIndex(dlg.fmt.findData("kins"))
        for cb in dlg.blur.values():
            cb.setChecked(False)
        dlg.methods["walt2d"].setChecked(True)
        assert dlg.problem() is None
        return ea.QDialog.Accepted

    monkeypatch.setattr(ea.ExportDialog, "exec", fill)
    job = dock.export_button.click() or window.process_jobs.running()[-1]
    assert "--format kins" in " ".join(job.args) and "--blur none" in " ".join(job.args)
    assert wait_job(qtbot, job, timeout=60000)[0] == "finished"
    val = window.last_validation
    assert wait_job(qtbot, val, timeout=60000)[0] == "finished"
    assert window.statusBar().currentMessage().endswith(": valid")
    train = json.loads((tmp_path / "ds" / "annotations" / "train.json").read_text())
    assert "a_segm" in train["annotations"][0] and len(train["images"]) == 4  # 2 WALT3D + 2 WALT2D


def test_export_dialog_refuses_without_folder_or_method(window, dialogs):
    from walt3d_studio.gui.composites.export_action import ExportDialog

    dlg = ExportDialog(window)
    assert dlg.problem() == "Choose a folder to export to."
    dlg.path.setText("/tmp/x")
    dlg.methods["walt3d"].setChecked(False)
    assert "at least one" in dlg.problem()
    dlg.accept()
    assert dlg.result() != ExportDialog.DialogCode.Accepted and "at least one" in dlg.why.text()


def test_cancelling_the_export_in_the_app_leaves_nothing(window, tmp_path, qtbot):
    from walt3d_studio.gui.composites.export_action import export

    p = make_project(tmp_path / "big.walt3d", n_per_split=150)
    give_frames(p, tmp_path / "frames")
    root = p.root
    p.close()
    assert window.open_project(root)
    out = tmp_path / "ds"
    job = export(window, out, validate=False)
    cancelled = []
    job.progress.connect(lambda *a: cancelled or (cancelled.append(1), job.cancel()))
    assert wait_job(qtbot, job, timeout=60000)[0] == "cancelled"
    assert cancelled and not out.exists()
    assert [q.name for q in tmp_path.iterdir() if q.name.startswith(".ds")] == []   # no temporary folder either


def test_rejecting_an_object_flags_its_track_in_the_tracks_table(real, window):
    from walt3d_studio.gui.review.tracks_model import COLUMN_KEYS, COMPOSITE_REJECTED

    comp = real.model.current
    o = next(o for o in comp.objects if o.kind == "vehicle")
    real.reject_object(o.idx)
    window.review.fits.reload()  # the camera shown may be another; reload reads this camera's fits
    m = window.review.panel.model
    row = m.row_of(o.track_id)
    assert row is not None and m.data(m.index(row, COLUMN_KEYS.index("fit_review"))) == COMPOSITE_REJECTED
    window.undo()
    assert m.data(m.index(row, COLUMN_KEYS.index("fit_review"))) != COMPOSITE_REJECTED
