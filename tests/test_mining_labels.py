"""Human occlusion labels: per detection and per track, one transaction each, undo/redo through the store,
persisted; the track table the review panel reads; export/import as a COCO dataset."""
from __future__ import annotations

import json

import numpy as np
import pytest

from test_mining_scenes import Obj, make_project
from walt3d_studio.errors import BadInputError
from walt3d_studio.mining.labels_dataset import export_labels, import_labels
from walt3d_studio.mining.mine import mine
from walt3d_studio.store import Project
from walt3d_studio.store.detections import (detection_table, label_detections, label_history, label_tracks,
                                            redo_edit, track_table, undo_edit)

OBJS = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car"),
        Obj("ellipse", (40, 40, 200), (16, 36), (250, 60), (-6, 4), "person"),
        Obj("rect", (240, 240, 60), (30, 30), (150, 20), (0, 6), "other")]


@pytest.fixture
def mined(tmp_path):
    p, cam, frames, truth = make_project(tmp_path, OBJS, 6)
    mine(p, cam)
    yield p, cam
    p.close()


def _labels(p, cam):
    t = detection_table(p, camera_id=cam)
    return dict(zip(t.id.tolist(), t.label.tolist()))


def test_detection_labels_undo_redo(mined):
    p, cam = mined
    tracks = track_table(p, cam)
    assert len(tracks) == 3 and np.all(tracks.n_mined == 6) and not tracks.reviewed.any()
    car = int(tracks.id[tracks.category == "car"][0])
    dets = detection_table(p, track_id=car)
    d0, d1 = int(dets.id[0]), int(dets.id[1])

    e1 = label_detections(p, [d0], "O", who="alice")
    assert e1.changes[0].old is None and e1.changes[0].new == "O" and e1.detection_ids == [d0]
    assert e1.track_ids == [car]
    t = detection_table(p, track_id=car)
    assert t.label[0] == "O" and t.verdict[0] == "occluded" and t.decided_by[0] == "human"
    assert t.machine_verdict[0] == "unoccluded"  # the rule's verdict is kept beside it
    assert track_table(p, cam).n_mined[track_table(p, cam).id == car][0] == 5

    e2 = label_detections(p, [d0, d1], "X", who="alice")
    assert [(c.id, c.old, c.new) for c in e2.changes] == [(d0, "O", "X"), (d1, None, "X")]
    assert not label_detections(p, [d0], "X", who="alice")  # no change, no edit

    undo_edit(p, e2)
    assert _labels(p, cam)[d0] == "O" and _labels(p, cam)[d1] is None
    undo_edit(p, e1)
    assert _labels(p, cam)[d0] is None
    assert track_table(p, cam).n_mined[track_table(p, cam).id == car][0] == 6
    redo_edit(p, e1)
    redo_edit(p, e2)
    assert _labels(p, cam)[d0] == "X" and _labels(p, cam)[d1] == "X"
    # append-only: every edit, undo and redo is a row, all by the same person
    hist = label_history(p, detection_id=d0)
    assert [h["value"] for h in hist] == ["O", "X", "O", None, "O", "X"]
    assert {h["who"] for h in hist} == {"alice"}


def test_track_labels_override_and_undo_restores_detection_labels(mined):
    p, cam = mined
    tracks = track_table(p, cam)
    car = int(tracks.id[tracks.category == "car"][0])
    dets = detection_table(p, track_id=car)
    d0 = int(dets.id[0])
    label_detections(p, [d0], "O", who="bob")
    e = label_tracks(p, [car], "X", who="bob")  # Shift+X: the whole track
    assert {(c.target, c.id, c.old, c.new) for c in e.changes} == {("track", car, None, "X"),
                                                                  ("detection", d0, "O", None)}
    assert set(e.detection_ids) == set(int(i) for i in dets.id)
    t = detection_table(p, track_id=car)
    assert set(t.label) == {"X"} and set(t.verdict) == {"not_object"}
    row = track_table(p, cam)
    k = row.id == car
    assert row.label[k][0] == "X" and row.reviewed[k][0] and row.n_mined[k][0] == 0 and not row.usable[k][0]
    label_detections(p, [d0], "U", who="bob")  # a detection's own label beats its track's
    assert detection_table(p, track_id=car).label[0] == "U"
    undo_edit(p, label_tracks(p, [car], "U", who="bob"))
    t = detection_table(p, track_id=car)
    assert t.label[0] == "U" and set(t.label[1:]) == {"X"}
    undo_edit(p, e)  # back to before the first track label (with d0's own label as it was then)
    t = detection_table(p, track_id=car)
    assert t.label[0] in ("O", "U") and set(t.label[1:]) == {None}


def test_labels_survive_reopening(tmp_path):
    p, cam, frames, truth = make_project(tmp_path, OBJS, 4)
    with p:
        mine(p, cam)
        tracks = track_table(p, cam)
        person = int(tracks.id[1])
        label_tracks(p, [person], "U", who="carol")
        d = int(detection_table(p, camera_id=cam).id[0])
        label_detections(p, [d], "O", who="carol")
        root = p.root
    with Project.open(root, readonly=True) as q:
        tracks = track_table(q, cam)
        assert tracks.label[tracks.id == person][0] == "U"
        assert detection_table(q, camera_id=cam).label[0] == "O"
        assert tracks.reviewed[tracks.id == person][0]


def test_bad_label_edits(mined):
    p, cam = mined
    with pytest.raises(BadInputError, match="not an occlusion label"):
        label_detections(p, [1], "maybe")
    with pytest.raises(BadInputError, match="No detection with id 999"):
        label_detections(p, [999], "U")
    with pytest.raises(BadInputError, match="No track with id 999"):
        label_tracks(p, [999], "U")


def test_track_table_columns(mined):
    p, cam = mined
    t = track_table(p, cam)
    assert t.id.dtype == np.int64 and t.length.dtype == np.int64 and t.usable.dtype == bool
    assert set(t.verdict) == {"usable"} and np.all(np.isnan(t.p_unoccluded))
    assert list(t.label) == [None, None, None] and np.all(np.isfinite(t.first_time))
    assert len(track_table(p, cam + 100)) == 0


def test_export_and_import_labels(tmp_path):
    from pycocotools.coco import COCO

    a, cam, _, _ = make_project(tmp_path / "a", OBJS, 5)
    b, cam_b, _, _ = make_project(tmp_path / "b", OBJS, 5)  # the same footage mined in another project
    with a, b:
        mine(a, cam)
        mine(b, cam_b)
        tracks = track_table(a, cam)
        label_tracks(a, tracks.id[:1], "U", who="dan")
        other = detection_table(a, track_id=int(tracks.id[2]))
        label_detections(a, other.id[:2], "O", who="dan")
        out = tmp_path / "labels.json"
        assert export_labels(a, out) == 7
        coco = COCO(str(out))  # loads as plain COCO
        assert len(coco.getImgIds()) == 7
        doc = json.loads(out.read_text())
        for im in doc["images"]:
            assert (tmp_path / im["file_name"]).exists()
        assert sorted(a["occlusion_label"] for a in doc["annotations"]) == ["O", "O"] + ["U"] * 5
        edit, matched, unmatched = import_labels(b, out, who="import")
        assert matched == 7 and unmatched == 0 and len(edit.changes) == 7
        lab_b = detection_table(b, camera_id=cam_b)
        assert sorted(x for x in lab_b.label if x) == ["O", "O"] + ["U"] * 5
        undo_edit(b, edit)  # an import is one undoable edit
        assert not any(detection_table(b, camera_id=cam_b).label)
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"images": [], "annotations": [{"id": 1, "image_id": 5}]}))
        with pytest.raises(BadInputError, match="lacks the walt3d fields"):
            import_labels(b, bad)
