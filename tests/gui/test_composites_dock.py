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


def test_generate_from_the_dock(window, tmp_path, qtbot):
    from composite_project import build, mesh_fn
    from walt3d_studio.composite.splits import split_tracks

    p, _ = build(tmp_path / "g")
    split_tracks(p, "track", 0.25, 0.25, seed=0)
    give_frames(p, tmp_path / "frames")
    root = p.root
    p.close()
    assert window.open_project(root)
    dock = show_composites(window)
    assert dock.model.all == []
    job = dock.generate("walt3d", 3, 5, mesh_fn=mesh_fn)
    assert wait_job(qtbot, job, timeout=120000)[0] == "finished"
    assert len(dock.model.all) == 3 and {c.seed for c in dock.model.all} == {5}
    assert dock.view.rgb is not None and dock.thumbs.count() == 3
