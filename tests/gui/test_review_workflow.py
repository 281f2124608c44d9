"""The occlusion review on the mined demo clip (41 frames, 480x270: a car, a pedestrian, a cyclist, three
tracks): pick a track, label with U / O / X and Shift, undo/redo back to the frame of the edit, reopen and find
every label, Space to the next unreviewed, click an object, overlay colours at known pixels, and the Mining
menu's jobs (mine, train, export, import)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from walt3d_studio.store.detections import detection_table, frame_detections, track_table

from .gui_helpers import GIF, REPO, wait_job

CALIBRATION = REPO / "resources" / "demo" / "parking-lot-person-bicycle-car.camera.json"


def _build(root, mined: bool = True):
    from walt3d_studio.background_job import compute_backgrounds
    from walt3d_studio.camera import Camera
    from walt3d_studio.mining.mine import mine
    from walt3d_studio.store import Project

    with Project.create(root) as p:
        cam = p.add_camera("parking-lot", "UTC")
        p.add_source(GIF, cam)
        compute_backgrounds(p, cam, hours_per_window=None)
        p.set_calibration(cam, Camera.load(CALIBRATION))
        if mined:
            mine(p, cam)
        return p.root


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return _build(tmp_path_factory.mktemp("review") / "demo")


@pytest.fixture
def demo(template, tmp_path):
    """A fresh copy of the mined demo project for each test (labels written by one test stay there)."""
    dst = tmp_path / "demo.walt3d"
    shutil.copytree(template, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst


@pytest.fixture
def review(make_window, demo):
    from walt3d_studio.gui.review import install_review

    w = make_window()
    rc = install_review(w)  # installed before a project opens, as MainWindow does
    assert w.open_project(demo)
    w.settle()
    return w, rc


def key(qtbot, widget, k, mod=Qt.NoModifier):
    """A key to a widget of the active window (shortcuts only reach the active window); waits for the frame."""
    window = widget.window()
    if QApplication.activeWindow() is not window:
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    qtbot.keyClick(widget, k, mod)
    window.settle()


def positions(window, frame_ids):
    ids = list(window.reader.table.ids)
    return [ids.index(int(f)) for f in frame_ids]


def own_label(p, det_id):
    t = detection_table(p, frame_id=int(p.conn.execute("SELECT frame_id FROM detections WHERE id = ?",
                                                       (det_id,)).fetchone()[0]))
    return t.label[list(t.id).index(det_id)]


def click_row(qtbot, view, row):
    rect = view.visualRect(view.model().index(row, 0))
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=rect.center())


# ------------------------------------------------------------------------------------------- selection


def test_selecting_a_track_jumps_to_its_first_frame_and_shows_its_crops(qtbot, review):
    w, rc = review
    p = w.project
    assert "&Mining" in [a.text() for a in w.menuBar().actions()]
    model = rc.panel.model
    assert model.rowCount() == 3 and sorted(model.visible_track_ids()) == [1, 2, 3]
    car = int(track_table(p, w.camera_id).id[track_table(p, w.camera_id).category == "car"][0])
    dets = detection_table(p, track_id=car)
    w.timeline.set_position(25)
    w.settle()
    click_row(qtbot, rc.panel.view, model.row_of(car))
    w.settle()
    first = positions(w, dets.frame_id[:1])[0]
    assert w.timeline.position == first
    assert rc.track_id == car and rc.detection_id == int(dets.id[0])
    # the filmstrip holds the track's crops (the mined detections), lazily loaded from the project folder
    crops = [c for c in dets.crop_path if c]
    fm = rc.panel.filmstrip_model
    assert len(crops) > 10 and [it["crop_path"] for it in fm.items] == crops
    pm = fm.data(fm.index(0), Qt.DecorationRole)
    assert not pm.isNull() and pm.width() == 72
    # a crop in the filmstrip goes to its frame; the track stays selected
    i = 5
    rc.panel.filmstrip.setCurrentIndex(fm.index(i))
    w.settle()
    assert w.timeline.position == positions(w, [fm.items[i]["frame_id"]])[0]
    assert rc.detection_id == fm.items[i]["id"] and rc.track_id == car
    # scrubbing keeps the track: the selected detection follows it
    key(qtbot, w, Qt.Key_Right)
    d = [x for x in frame_detections(p, int(w.reader.table.ids[w.timeline.position])) if x["track_id"] == car]
    assert rc.detection_id == d[0]["id"]


def test_clicking_a_detection_in_the_frame_selects_it_and_its_track(qtbot, review):
    w, rc = review
    w.timeline.set_position(10)
    w.settle()
    dets = rc.frame_dets
    small = min(dets, key=lambda d: d["area"])  # the smallest object: a hit test by mask, not by box
    from walt3d_studio.gui.review.overlays import decode_mask

    m = decode_mask(small["rle"])
    ys, xs = np.nonzero(m)
    k = np.argmin((xs - xs.mean()) ** 2 + (ys - ys.mean()) ** 2)
    pos = w.frame_view.widget_pos_of_pixel(float(xs[k]), float(ys[k]))
    qtbot.mouseClick(w.frame_view.viewport(), Qt.LeftButton, pos=pos)
    assert rc.detection_id == small["id"] and rc.track_id == small["track_id"]
    row = rc.panel.view.selectionModel().currentIndex().row()
    assert rc.panel.model.track_at(row) == small["track_id"]
    assert w.timeline.position == 10  # the object is here: no jump
    # a click on empty ground clears the selection
    qtbot.mouseClick(w.frame_view.viewport(), Qt.LeftButton, pos=w.frame_view.widget_pos_of_pixel(5.0, 260.0))
    assert rc.detection_id is None and rc.track_id is None


# -------------------------------------------------------------------------------------------- labels


def test_label_keys_undo_redo_and_reopen(qtbot, review, make_window, demo):
    w, rc = review
    p = w.project
    tracks = track_table(p, w.camera_id)
    car = int(tracks.id[tracks.category == "car"][0])
    person = int(tracks.id[tracks.category == "person"][0])
    car_dets = detection_table(p, track_id=car)
    car_pos = positions(w, car_dets.frame_id)

    rc.select_track(car)
    w.settle()
    key(qtbot, w, Qt.Key_U)  # the car's detection in its first frame
    assert own_label(p, int(car_dets.id[0])) == "U"
    key(qtbot, w, Qt.Key_Right)
    key(qtbot, w, Qt.Key_O)
    assert own_label(p, int(car_dets.id[1])) == "O"
    w.timeline.set_position(car_pos[7])
    w.settle()
    key(qtbot, w, Qt.Key_X)
    assert own_label(p, int(car_dets.id[7])) == "X"
    # the panel and the overlay read the store: counts and the solid outline of a human label
    i = rc.panel.model.table_index(car)
    assert rc.panel.model.table.n_labelled[i] == 3
    assert "3 of 97 labelled" in rc.panel.progress_label.text()
    mine = [it for it in rc.overlay.boxes.items if it["selected"]][0]
    assert mine["solid"] and mine["colour"] == (150, 150, 150)

    rc.select_track(person)
    w.settle()
    w.timeline.set_position(12)
    w.settle()
    edit_pos = w.timeline.position
    key(qtbot, w, Qt.Key_U, Qt.ShiftModifier)  # the whole person track
    assert track_table(p, w.camera_id).label[track_table(p, w.camera_id).id == person][0] == "U"
    assert set(detection_table(p, track_id=person).label) == {"U"}
    assert rc.panel.model.data(rc.panel.model.index(rc.panel.model.row_of(person), 6)) == "U"
    assert rc.undo_stack.count() == 4

    # undo goes back to the frame of each edit, the store follows
    w.timeline.set_position(33)
    w.settle()
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    assert w.timeline.position == edit_pos and rc.track_id == person
    assert set(detection_table(p, track_id=person).label) == {None}
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    assert w.timeline.position == car_pos[7] and rc.track_id == car
    assert own_label(p, int(car_dets.id[7])) is None
    assert own_label(p, int(car_dets.id[1])) == "O"
    w.timeline.set_position(40)
    w.settle()
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)  # redo the X
    assert w.timeline.position == car_pos[7]
    assert own_label(p, int(car_dets.id[7])) == "X"
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)  # redo the track label
    assert w.timeline.position == edit_pos
    assert set(detection_table(p, track_id=person).label) == {"U"}
    assert rc.undo_stack.undoText().startswith("Track")  # "Track 1 unoccluded", shown in Edit > Undo

    # every edit was its own transaction: a new window on the reopened project finds all of them
    w.close()
    from walt3d_studio.gui.review import install_review

    w2 = make_window()
    rc2 = install_review(w2)
    assert w2.open_project(demo)
    w2.settle()
    p2 = w2.project
    assert [own_label(p2, int(car_dets.id[k])) for k in (0, 1, 7)] == ["U", "O", "X"]
    assert set(detection_table(p2, track_id=person).label) == {"U"}
    m2 = rc2.panel.model
    assert m2.data(m2.index(m2.row_of(person), 6)) == "U"
    assert m2.data(m2.index(m2.row_of(car), 7)) == f"3/{len(car_dets)}"
    assert rc2.undo_stack.count() == 0  # a fresh session: the history is in the store, not the undo stack


def test_label_keys_need_a_selection_and_are_off_while_a_job_runs(qtbot, review):
    import threading

    w, rc = review
    key(qtbot, w, Qt.Key_U)  # nothing selected: a status message, no write
    assert "No object selected" in w.statusBar().currentMessage()
    assert w.project.conn.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 0
    gate = threading.Event()
    job = w.jobs.start(lambda ctx: gate.wait(10), "Waiting")
    assert not rc.label_actions["U"].isEnabled() and rc.act_next.isEnabled()  # Space only moves
    assert not rc.act_mine.isEnabled()
    gate.set()
    wait_job(qtbot, job)
    assert rc.label_actions["U"].isEnabled() and rc.act_mine.isEnabled()


def test_space_goes_to_the_next_unreviewed(qtbot, review):
    w, rc = review
    p = w.project
    order = [int(t) for t in rc.panel.model.visible_track_ids()]  # by track id
    first = detection_table(p, track_id=order[0])
    key(qtbot, w, Qt.Key_Space)
    assert rc.track_id == order[0] and rc.detection_id == int(first.id[0])
    assert w.timeline.position == positions(w, first.frame_id[:1])[0]
    key(qtbot, w, Qt.Key_U)
    key(qtbot, w, Qt.Key_Space)
    assert rc.detection_id == int(first.id[1])
    key(qtbot, w, Qt.Key_U, Qt.ShiftModifier)  # the whole track: Space moves on to the next track
    rc.panel.view.setFocus()  # Space (and U / O / X) are the review's even with the table focused
    key(qtbot, w, Qt.Key_Space)
    second = detection_table(p, track_id=order[1])
    assert rc.track_id == order[1] and rc.detection_id == int(second.id[0])
    key(qtbot, w, Qt.Key_O)  # the table has focus: the key labels, it does not search the table
    assert own_label(p, int(second.id[0])) == "O"
    # typing in the id filter types there; Return gives the keys back to the review
    rc.panel.id_filter.setFocus()
    key(qtbot, rc.panel.id_filter, Qt.Key_U)
    assert rc.panel.id_filter.text() == "u" and rc.undo_stack.count() == 3
    qtbot.keyClick(rc.panel.id_filter, Qt.Key_Return)
    assert rc.panel.view.hasFocus()
    rc.panel.id_filter.clear()
    # filters: Space only visits what the table shows
    rc.panel.reviewed_filter.setCurrentIndex(rc.panel.reviewed_filter.findData(False))
    assert order[0] not in rc.panel.model.visible_track_ids()


def test_most_uncertain_first_orders_tracks_and_space(qtbot, review):
    from walt3d_studio.store.detections import update_machine_verdicts

    w, rc = review
    p = w.project
    t = track_table(p, w.camera_id)
    # classifier scores: track means 0.9, ~0.6, 0.2 -> most uncertain first: the ~0.6 one, then 0.2, then 0.9
    means = dict(zip(t.id.tolist(), (0.9, 0.6, 0.2)))
    rows = []
    for tid, mean in means.items():
        d = detection_table(p, track_id=tid)
        ps = np.full(len(d), mean)
        if tid == t.id[1]:
            ps[4] = 0.5  # its most uncertain detection
        rows += [(int(i), "unoccluded", "classifier", float(q), "test", {}) for i, q in zip(d.id, ps)]
    update_machine_verdicts(p, rows)
    rc.reload()
    rc.act_uncertain.trigger()
    assert rc.panel.uncertain_box.isChecked()
    assert list(rc.panel.model.visible_track_ids()) == [int(t.id[1]), int(t.id[2]), int(t.id[0])]
    key(qtbot, w, Qt.Key_Space)
    d1 = detection_table(p, track_id=int(t.id[1]))
    assert rc.track_id == int(t.id[1]) and rc.detection_id == int(d1.id[4])
    # a header click leaves that order
    rc.panel.view.horizontalHeader().setSortIndicator(0, Qt.DescendingOrder)
    assert not rc.act_uncertain.isChecked()
    assert list(rc.panel.model.visible_track_ids()) == sorted(t.id.tolist(), reverse=True)


def _reference_agreement(p, cam):
    d = detection_table(p, camera_id=cam)
    lab = np.array([x is not None for x in d.label])
    is_u = np.array([x == "U" for x in d.label[lab]])
    rule_u = np.array([x == "unoccluded" for x in d.rule_verdict[lab]])
    pp = d.p_unoccluded[lab]
    has = ~np.isnan(pp)
    return int(lab.sum()), int(has.sum()), int(np.sum((pp[has] >= 0.5) == is_u[has])), int(np.sum(rule_u == is_u))


def test_progress_counts_and_agreement_with_the_labels(qtbot, review):
    from walt3d_studio.store.detections import update_machine_verdicts

    w, rc = review
    p, cam = w.project, w.camera_id
    t = track_table(p, cam)
    car = int(t.id[t.category == "car"][0])
    other = int(t.id[t.id != car][0])  # a second track (its class does not matter here)
    dets = detection_table(p, track_id=car)
    for k, v in ((0, "U"), (3, "O"), (5, "U"), (9, "X")):  # through the keys
        w.timeline.set_position(positions(w, dets.frame_id[k:k + 1])[0])
        rc.select_track(car, jump=False)
        key(qtbot, w, getattr(Qt, f"Key_{v}"))
    rc.select_track(other)
    key(qtbot, w, Qt.Key_O, Qt.ShiftModifier)
    a = rc.agreement.total()
    n, _, _, rule = _reference_agreement(p, cam)
    assert (a.labelled, a.rule_right) == (n, rule) and n == 4 + int(t.length[t.id == other][0])
    assert f"Rule agrees with {rule / n:.0%} of your {n} labels" in rc.panel.accuracy_label.text()
    assert "1 reviewed, 2 unreviewed" in rc.panel.progress_label.text()
    # a classifier's scores (as `apply_classifier` stores them): agreement on the labels so far
    d = detection_table(p, camera_id=cam)
    update_machine_verdicts(p, [(int(i), "occluded", "classifier", float(q), "t", {})
                                for i, q in zip(d.id, np.linspace(0.05, 0.95, len(d)))])
    rc.reload()
    a = rc.agreement.total()
    ref = _reference_agreement(p, cam)
    assert (a.labelled, a.with_p, a.classifier_right, a.rule_right) == ref
    assert f"Classifier agrees with {ref[2] / ref[1]:.0%} of {ref[1]} labels" in rc.panel.accuracy_label.text()
    # an undo updates the counts from the store
    key(qtbot, w, Qt.Key_Z, Qt.ControlModifier)
    assert rc.agreement.total().labelled == 4 and "0 reviewed" in rc.panel.progress_label.text()


# -------------------------------------------------------------------------------------------- overlays


def _grab_pixel(view, x, y):
    img = view.grab().toImage()
    pt = view.widget_pos_of_pixel(float(x), float(y))
    c = img.pixelColor(pt)
    return np.array([c.red(), c.green(), c.blue()], float)


def test_mask_drawn_in_its_verdict_colour(qtbot, review):
    from scipy.ndimage import distance_transform_edt

    from walt3d_studio.gui.review.overlays import decode_mask
    from walt3d_studio.gui.review.style import MASK_ALPHA, VERDICT_COLOURS

    w, rc = review
    p = w.project
    w.set_overlays_visible(False)  # horizon and ground grid off: only the frame and the review's drawing
    rc.act_trails.setChecked(False)
    dt = detection_table(p, camera_id=w.camera_id)
    big = [i for i in range(len(dt)) if dt.verdict[i] == "unoccluded" and dt.area[i] > 3000]
    i = big[len(big) // 2]
    w.timeline.set_position(positions(w, [dt.frame_id[i]])[0])
    w.settle()
    m = decode_mask(next(d for d in rc.frame_dets if d["id"] == int(dt.id[i]))["rle"])
    dist = distance_transform_edt(m)
    y, x = np.unravel_index(np.argmax(dist), m.shape)  # deep inside the mask, far from its box's outline
    frame = w.frame_view.image[y, x].astype(float)
    a = MASK_ALPHA / 255.0

    def expected(verdict):
        return frame * (1 - a) + np.array(VERDICT_COLOURS[verdict], float) * a

    got = _grab_pixel(w.frame_view, x, y)
    assert np.abs(got - expected("unoccluded")).max() <= 6, (got, expected("unoccluded"))
    assert np.abs(expected("unoccluded") - frame).max() > 30  # a blend that can be told from the frame
    # a label re-colours it: O makes it orange
    rc.select_detection(int(dt.id[i]))
    key(qtbot, w, Qt.Key_O)
    got = _grab_pixel(w.frame_view, x, y)
    assert np.abs(got - expected("occluded")).max() <= 6, (got, expected("occluded"))
    # masks toggle off: the frame's own pixel
    rc.act_masks.setChecked(False)
    got = _grab_pixel(w.frame_view, x, y)
    assert np.abs(got - frame).max() <= 6
    # the box outline: solid for the human label, in the verdict's colour
    rc.act_masks.setChecked(True)
    sel = [it for it in rc.overlay.boxes.items if it["selected"]][0]
    assert sel["solid"] and sel["colour"] == VERDICT_COLOURS["occluded"]


# ------------------------------------------------------------------------------------------ mining menu


def test_mining_menu_mines_exports_and_imports(qtbot, make_window, tmp_path, dialogs):
    from walt3d_studio.gui.review import install_review
    from walt3d_studio.store.detections import label_tracks

    root = _build(tmp_path / "fresh", mined=False)
    w = make_window()
    rc = install_review(w)
    assert w.open_project(root)
    w.settle()
    assert rc.panel.model.rowCount() == 0 and "Mine detections" in rc.panel.progress_label.text()
    assert not rc.label_actions["U"].isEnabled()
    how, report = wait_job(qtbot, rc.mining.mine_detections())
    assert how == "finished", report
    assert rc.panel.model.rowCount() == 3 and rc.label_actions["U"].isEnabled()
    assert "Mined" in w.statusBar().currentMessage()
    # mining again without replace is refused with a message, nothing lost
    how, err = wait_job(qtbot, rc.mining.mine_detections(replace=False))
    assert how == "failed" and dialogs and rc.panel.model.rowCount() == 3

    t = track_table(w.project, w.camera_id)
    label_tracks(w.project, [int(i) for i in t.id], "O")  # as if labelled elsewhere; the export reads the store
    rc.reload()

    out = tmp_path / "labels.json"
    how, n = wait_job(qtbot, rc.mining.export_labels(out))
    assert how == "finished" and n == int(t.length.sum()) and out.exists()

    # import into a fresh copy: one undoable edit
    other = _build(tmp_path / "other", mined=True)
    assert w.open_project(other)
    assert w.project.root == other
    w.settle()
    how, result = wait_job(qtbot, rc.mining.import_labels(out))
    assert how == "finished", result
    t2 = track_table(w.project, w.camera_id)
    assert int(t2.n_labelled.sum()) == int(t2.length.sum())
    assert rc.undo_stack.count() == 1
    w.undo()
    assert int(track_table(w.project, w.camera_id).n_labelled.sum()) == 0
    w.redo()
    assert int(track_table(w.project, w.camera_id).n_labelled.sum()) == int(t2.length.sum())


@pytest.mark.slow
def test_mining_menu_trains_the_classifier_and_shows_its_accuracy(qtbot, review, dialogs):
    from walt3d_studio.store.detections import label_tracks

    w, rc = review
    # training needs labels: the job fails with the store's message, shown in a dialog
    how, err = wait_job(qtbot, rc.mining.train_classifier(), timeout=120000)
    assert how == "failed" and "No detection has a human occlusion label" in dialogs[-1][0], dialogs
    # labels of two classes (written as the keys would), then train: held-out accuracy is shown
    t = track_table(w.project, w.camera_id)
    car = int(t.id[t.category == "car"][0])
    label_tracks(w.project, [car], "U")
    label_tracks(w.project, [int(i) for i in t.id if i != car], "O")
    rc.reload()
    how, rep = wait_job(qtbot, rc.mining.train_classifier(epochs=2), timeout=120000)
    assert how == "finished", rep
    assert f"held-out accuracy {rep.val_accuracy:.1%}" in rc.panel.accuracy_label.text()
    assert "Classifier agrees with" in rc.panel.accuracy_label.text()
    assert not np.isnan(track_table(w.project, w.camera_id).p_unoccluded).any()
    assert rep.summary() in w.statusBar().currentMessage()
