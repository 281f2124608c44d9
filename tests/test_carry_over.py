"""Human work survives a re-run: labels, keypoints, fit reviews and composite rejections carry over to the
matching new detections or are kept as orphans (listed, re-attachable, discardable, undoable); never lost."""
from __future__ import annotations

import json

import numpy as np
import pytest

from test_mining_scenes import Obj, coco_results, make_project, write_json
from walt3d_studio.cli import main
from walt3d_studio.errors import BadInputError
from walt3d_studio.mining.mine import MineSettings, mine
from walt3d_studio.store import keypoints as ks
from walt3d_studio.store.carry_over import at_stake, box_iou, class_group, match_detections
from walt3d_studio.store.detections import detection_table, label_detections, label_tracks, track_table
from walt3d_studio.store.fits import fit_review, set_fit_review
from walt3d_studio.store.orphans import (count_orphans, discard_orphan, list_orphans, reattach_orphan,
                                         redo_orphan_action, undo_orphan_action)

OBJS = [Obj("rect", (220, 40, 40), (40, 26), (20, 150), (12, -3), "car"),
        Obj("ellipse", (40, 40, 200), (16, 36), (250, 60), (-6, 4), "person")]


def _pts(seed):
    rng = np.random.default_rng(seed)
    p = np.zeros((12, 3))
    p[:, :2] = np.round(rng.uniform(20, 200, (12, 2)), 3)
    p[:, 2] = 2
    return p


def _imported(p, cam, tmp_path, truth, objs_idx=(0, 1), name="r.json"):
    res = [r for r in coco_results(truth, 320, 240, OBJS) if r["object"] in objs_idx]
    return MineSettings(detector="import", import_path=str(write_json(tmp_path / name, res)))


@pytest.fixture
def labelled(tmp_path):
    """Mined by importing exact masks; then a person's work on it: every kind of human row."""
    p, cam, frames, truth = make_project(tmp_path, OBJS, 6)
    mine(p, cam, _imported(p, cam, tmp_path, truth))
    dt = detection_table(p, camera_id=cam)
    car = dt.category == "car"
    car_track = int(dt.track_id[car][0])
    person_dets = [int(i) for i in dt.id[~car][:2]]
    kp_dets = [int(i) for i in dt.id[car][2:4]]
    label_tracks(p, [car_track], "U", who="ann")
    label_detections(p, person_dets, "O", who="ann")
    for k, d in enumerate(kp_dets):
        ks.set_human_keypoints(p, d, _pts(k), who="ann")
    set_fit_review(p, car_track, "accept", who="ann")
    reject = int(dt.id[car][5])
    with p.transaction() as c:  # a composite rejection names the detection it came from
        c.execute("INSERT INTO labels (kind, detection_id, value, who, created_at) VALUES "
                  "('composite_reject', ?, 'reject', 'ann', 0)", (reject,))
    old = {int(i): (int(f), str(c), b.tolist()) for i, f, c, b in zip(dt.id, dt.frame_id, dt.category, dt.box)}
    n_human = p.conn.execute("SELECT COUNT(*) FROM labels WHERE value IS NOT NULL").fetchone()[0] + \
        p.conn.execute("SELECT COUNT(*) FROM keypoints WHERE origin = 'human'").fetchone()[0]
    edits = {"n_human": n_human, "track": car_track, "person": person_dets, "keypoints": kp_dets, "reject": reject, "old": old}
    yield p, cam, truth, edits
    p.close()


def test_refusal_counts_what_a_rerun_touches(labelled, tmp_path):
    p, cam, truth, _ = labelled
    s = at_stake(p.conn, [int(i) for i in p.frame_table(cam).ids])
    assert (s.detections, s.tracks, s.labels, s.human_keypoints, s.other_labels, s.track_labels) == (12, 2, 2, 2, 1, 2)
    with pytest.raises(BadInputError) as e:
        mine(p, cam, MineSettings())
    assert "12 detections in 2 tracks, with 2 occlusion label(s), 2 human keypoint set(s), 2 track label(s)" \
        in e.value.message
    assert "carried over" in e.value.hint and "orphans" in e.value.hint and "--dry-run" in e.value.hint


def test_rerun_with_another_detector_carries_or_orphans_every_edit(labelled):
    p, cam, truth, ed = labelled
    # the foreground detector calls the person a car too: the person's labels cannot carry (class group)
    rep = mine(p, cam, MineSettings(detector_options={"threshold": 40}), replace=True)
    assert rep.carry["carried"] == {"labels": 0, "human_keypoints": 2, "other_labels": 1, "track_labels": 2}
    assert rep.carry["orphaned"] == {"labels": 2, "human_keypoints": 0, "other_labels": 0, "track_labels": 0}
    assert "human edits carried over: 5, kept as orphans: 2" in rep.summary()
    dt = detection_table(p, camera_id=cam)
    assert not set(ed["old"]) & {int(i) for i in dt.id}  # every old detection is gone
    at = {(int(f), tuple(np.round(b))): int(i) for i, f, b in zip(dt.id, dt.frame_id, dt.box)}

    def new_id(old_id):  # the new detection of the same frame over the same object
        f, _, box = ed["old"][old_id]
        ids = [i for (ff, b), i in at.items() if ff == f and box_iou([box], [list(b)])[0, 0] > 0.7]
        assert len(ids) == 1
        return ids[0]

    # carried: the track label (U on every detection of the new car track), the fit review, keypoints, rejection
    new_track = int(dt.track_id[dt.id == new_id(ed["keypoints"][0])][0])
    tt = track_table(p, cam)
    assert tt.label[tt.id == new_track][0] == "U" and fit_review(p, new_track) == "accept"
    assert set(dt.label[dt.track_id == new_track]) == {"U"} and set(dt.verdict[dt.track_id == new_track]) == {"unoccluded"}
    for k, d in enumerate(ed["keypoints"]):
        row = ks.human_keypoints(p, new_id(d))
        np.testing.assert_allclose(row.points, _pts(k)) and row.who == "ann"
    assert p.conn.execute("SELECT value FROM labels WHERE kind = 'composite_reject' AND detection_id = ?",
                          (new_id(ed["reject"]),)).fetchone() == ("reject",)
    # orphaned: the person's two O labels, with their old frame and box
    orphans = list_orphans(p, cam)
    assert sorted((o.kind, o.value, o.detection_id) for o in orphans) == [("occlusion", "O", d) for d in ed["person"]]
    for o in orphans:
        f, cat, box = ed["old"][o.detection_id]
        assert (o.frame_id, o.category, o.box, o.payload["who"]) == (f, "person", box, "ann")
    assert count_orphans(p, cam) == {"occlusion": 2}
    # nothing human was lost: every edit is either on a new detection or an open orphan
    n_human = p.conn.execute("SELECT COUNT(*) FROM labels WHERE value IS NOT NULL").fetchone()[0] + \
        p.conn.execute("SELECT COUNT(*) FROM keypoints WHERE origin = 'human'").fetchone()[0]
    assert n_human + len(orphans) == ed["n_human"] == 7  # track U, review, 2 keypoints, rejection, 2 person O


def test_orphans_reattach_discard_undo_redo(labelled, tmp_path, capsys):
    p, cam, truth, ed = labelled
    mine(p, cam, MineSettings(detector_options={"threshold": 40}), replace=True)
    a, b = list_orphans(p, cam)
    dt = detection_table(p, camera_id=cam)
    with pytest.raises(BadInputError, match="belonged to a person"):
        reattach_orphan(p, a.id, int(dt.id[0]))
    # mine again with the exact masks: people are back; the orphans stay open until a person decides
    rep = mine(p, cam, _imported(p, cam, tmp_path, truth, name="again.json"), replace=True)
    assert rep.carry["orphaned"]["labels"] == 0 and len(list_orphans(p, cam)) == 2
    dt = detection_table(p, camera_id=cam)
    person = [int(i) for i, f, c in zip(dt.id, dt.frame_id, dt.category) if c == "person" and f == a.frame_id][0]
    act = reattach_orphan(p, a.id, person)
    assert detection_table(p, camera_id=cam).label[detection_table(p, camera_id=cam).id == person][0] == "O"
    assert [o.id for o in list_orphans(p, cam)] == [b.id]
    undo_orphan_action(p, act)
    assert detection_table(p, camera_id=cam).label[detection_table(p, camera_id=cam).id == person][0] is None
    assert len(list_orphans(p, cam)) == 2
    redo_orphan_action(p, act)
    assert detection_table(p, camera_id=cam).label[detection_table(p, camera_id=cam).id == person][0] == "O"
    d = discard_orphan(p, b.id)
    assert list_orphans(p, cam) == [] and len(list_orphans(p, cam, include_resolved=True)) == 2
    undo_orphan_action(p, d)
    assert [o.id for o in list_orphans(p, cam)] == [b.id]
    with pytest.raises(BadInputError, match="already"):
        reattach_orphan(p, a.id, person)


def test_keypoints_orphan_reattach_and_cli(labelled, tmp_path, capsys):
    p, cam, truth, ed = labelled
    root = p.root
    # re-mine with the person only: the car's keypoints, track labels and rejection have nowhere to go
    rep = mine(p, cam, _imported(p, cam, tmp_path, truth, objs_idx=(1,), name="person.json"), replace=True)
    assert rep.carry["orphaned"] == {"labels": 0, "human_keypoints": 2, "other_labels": 1, "track_labels": 2}
    assert rep.carry["carried"]["labels"] == 2
    kp = list_orphans(p, cam, kind="keypoints")
    assert len(kp) == 2 and {o.detection_id for o in kp} == set(ed["keypoints"])
    np.testing.assert_allclose(np.asarray(kp[0].payload["points"]).reshape(-1, 3),
                               _pts(ed["keypoints"].index(kp[0].detection_id)))
    mine(p, cam, _imported(p, cam, tmp_path, truth, name="all.json"), replace=True)
    dt = detection_table(p, camera_id=cam)
    car = [int(i) for i, f, c in zip(dt.id, dt.frame_id, dt.category) if c == "car" and f == kp[0].frame_id][0]
    act = reattach_orphan(p, kp[0].id, car)
    assert ks.human_keypoints(p, car) is not None
    undo_orphan_action(p, act)
    assert ks.human_keypoints(p, car) is None
    p.close()
    assert main(["orphans", str(root)]) == 0
    out = capsys.readouterr().out
    assert "keypoints (vehicle12) on car detection" in out and "fit_review accept on car track" in out
    assert main(["info", str(root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    c = info["cameras"][0]
    assert c["orphans"] == 5 and info["orphans"]["keypoints"] == 2
    assert {k: c[k] for k in ("frames", "detections", "tracks", "mined", "labels", "human_keypoints", "fits",
                              "composites")} == {"frames": 6, "detections": 12, "tracks": 2, "mined": 10,
                                                 "labels": 2, "human_keypoints": 0, "fits": 0, "composites": 0}
    assert c["usable_tracks"] == 2 and info["runs"]["mine"]["counts"] == {"done": 3}


def test_matching_is_one_to_one_best_first_within_class_groups():
    old = [{"id": 1, "frame_id": 1, "category": "car", "box": [0, 0, 10, 10], "rle": None},
           {"id": 2, "frame_id": 1, "category": "car", "box": [1, 0, 10, 10], "rle": None},
           {"id": 3, "frame_id": 1, "category": "person", "box": [50, 50, 5, 10], "rle": None},
           {"id": 4, "frame_id": 2, "category": "car", "box": [0, 0, 10, 10], "rle": None}]
    new = [{"id": 10, "frame_id": 1, "category": "truck", "box": [1, 0, 10, 10], "rle": None},
           {"id": 11, "frame_id": 1, "category": "car", "box": [0, 0, 10, 10], "rle": None},
           {"id": 12, "frame_id": 1, "category": "car", "box": [50, 50, 5, 10], "rle": None},
           {"id": 13, "frame_id": 2, "category": "car", "box": [3, 3, 10, 10], "rle": None}]  # IoU 0.32 < 0.7
    assert match_detections(old, new) == {1: 11, 2: 10}
    assert class_group("truck") == class_group("car") == "vehicle" and class_group("Person") == "person"


def test_dry_run_says_exactly_what_replace_would_do(labelled, capsys):
    p, cam, truth, ed = labelled
    root = p.root
    p.close()
    assert main(["--quiet", "mine", str(root), "--dry-run", "--option", "threshold=40"]) == 0
    out = capsys.readouterr().out
    assert "Dry run (nothing stored): 6 frames would get 12 detections, replacing 12 with 2 occlusion label(s)" in out
    assert ("carried over: 2 human keypoints, 1 other labels, 2 track labels; kept as orphans: 2 labels" in out)
    with __import__("walt3d_studio.store", fromlist=["Project"]).Project.open(root) as p:
        assert sorted(ed["old"]) == [int(i) for i in detection_table(p, camera_id=cam).id]  # nothing changed
        assert list_orphans(p) == []
        rep = mine(p, cam, MineSettings(detector_options={"threshold": 40}), replace=True)
    assert rep.carry == {"carried": {"labels": 0, "human_keypoints": 2, "other_labels": 1, "track_labels": 2},
                         "orphaned": {"labels": 2, "human_keypoints": 0, "other_labels": 0, "track_labels": 0}}


def test_every_composite_rejection_of_a_track_survives(labelled, tmp_path):
    from walt3d_studio.store.composites import is_rejected

    p, cam, truth, ed = labelled
    with p.transaction() as c:  # what store.composites.set_rejected writes: track-level, naming composite and object
        for comp, idx in ((7, 0), (8, 2)):
            c.execute("INSERT INTO labels (kind, track_id, value, who, created_at, composite_id, object_index) "
                      "VALUES ('composite_reject', ?, 'reject', 'ann', 0, ?, ?)", (ed["track"], comp, idx))
    # the car goes (person-only re-run): both rejections are kept as orphans, each with its composite
    rep = mine(p, cam, _imported(p, cam, tmp_path, truth, objs_idx=(1,), name="person.json"), replace=True)
    assert rep.carry["orphaned"]["track_labels"] == 4  # U, fit review, two rejections
    rej = [o for o in list_orphans(p, cam, kind="composite_reject") if o.level == "track"]
    assert sorted((o.payload["composite_id"], o.payload["object_index"]) for o in rej) == [(7, 0), (8, 2)]
    assert not is_rejected(p, 7, 0)
    mine(p, cam, _imported(p, cam, tmp_path, truth, name="all.json"), replace=True)
    dt = detection_table(p, camera_id=cam)
    car = int(dt.id[dt.category == "car"][0])
    act = reattach_orphan(p, rej[0].id, car)
    assert act.target == "track" and is_rejected(p, 7, 0) and not is_rejected(p, 8, 2)
    undo_orphan_action(p, act)
    assert not is_rejected(p, 7, 0)


def test_a_partial_rerun_keeps_the_whole_track_labelled(labelled):
    """Re-mining half the frames: the old track keeps its U on the frames left alone, and the new track over
    the re-mined frames gets the same U (a person labelled the whole car)."""
    p, cam, truth, ed = labelled
    times = p.frame_table(cam).times
    rep = mine(p, cam, MineSettings(detector_options={"threshold": 40}), start=float(times[3]), replace=True)
    assert rep.frames == 3 and rep.carry["orphaned"]["track_labels"] == 0
    dt = detection_table(p, camera_id=cam)
    cars = (dt.box[:, 2] > 30)  # the car is the wide one (the foreground detector calls both 'car')
    assert set(dt.label[cars]) == {"U"}
    assert len(set(dt.track_id[cars])) == 2  # the old track (frames 0-2) and the new one (frames 3-5)
