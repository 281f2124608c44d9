"""Keypoints in the project store: set / undo / redo / reopen, the labelling queue and its counts."""
import numpy as np
import pytest

from test_keypoints_synth import T0, add_detection, add_track, make_project
from walt3d_studio.errors import BadInputError
from walt3d_studio.store import Project
from walt3d_studio.store.detections import label_detections, label_tracks, refresh_tracks, undo_edit
from walt3d_studio.store import keypoints as ks


def _pts(seed, v=2):
    rng = np.random.default_rng(seed)
    p = np.zeros((12, 3))
    p[:, :2] = rng.uniform(0, 100, (12, 2))
    p[:, 2] = v
    return p


@pytest.fixture
def scene(tmp_path):
    p, cam, frames, _ = make_project(tmp_path, 4)
    yield p, cam, frames
    p.close()


def test_set_undo_redo_reopen(tmp_path):
    p, cam, frames, _ = make_project(tmp_path, 2)
    det = add_detection(p, frames[0], (10, 10, 80, 40))
    a, b = _pts(1), _pts(2)
    a[3] = [0, 0, 0]
    b[5, 2] = 1
    assert ks.get_keypoints(p, det) is None
    assert ks.set_human_keypoints(p, det, a, who="ann") is None   # first edit: nothing before
    prev_b = ks.set_human_keypoints(p, det, b, who="ann")          # second edit returns a
    np.testing.assert_allclose(prev_b, np.round(a, 3))
    # undo the second edit, then the first (back to "no human keypoints"), then redo both
    assert np.array_equal(ks.set_human_keypoints(p, det, prev_b), np.round(b, 3))
    np.testing.assert_allclose(ks.get_keypoints(p, det).points, np.round(a, 3))
    assert np.array_equal(ks.set_human_keypoints(p, det, None), np.round(a, 3))
    assert ks.get_keypoints(p, det) is None and ks.human_keypoints(p, det) is None
    assert ks.set_human_keypoints(p, det, a) is None
    ks.set_human_keypoints(p, det, b)
    hist = ks.keypoint_history(p, det)
    assert len(hist) == 6 and hist[3] is None and all(r.origin == "human" for r in hist if r is not None)
    p.close()
    with Project.open(tmp_path / "proj", readonly=True) as q:
        row = ks.get_keypoints(q, det)
        assert row.origin == "human" and row.who and row.schema == "vehicle12"
        np.testing.assert_allclose(row.points, np.round(b, 3))
        assert row.points[5, 2] == 1


def test_human_wins_over_model_and_rows_are_appended(scene):
    p, cam, frames = scene
    det = add_detection(p, frames[1], (10, 10, 80, 40))
    ks.add_model_keypoints(p, [(det, _pts(3), np.linspace(0, 1, 12))], schema="vehicle12", model_version="m1")
    row = ks.get_keypoints(p, det)
    assert row.origin == "model" and row.model_version == "m1" and row.confidences.shape == (12,)
    ks.set_human_keypoints(p, det, _pts(4))
    assert ks.get_keypoints(p, det).origin == "human"
    assert ks.get_keypoints(p, det, origins=("model",)).model_version == "m1"
    ks.clear_human_keypoints(p, det)
    assert ks.get_keypoints(p, det).origin == "model"   # cleared human labels fall back to the proposal
    assert p.conn.execute("SELECT COUNT(*) FROM keypoints WHERE detection_id = ?", (det,)).fetchone()[0] == 3


def test_bad_edits_are_refused_and_leave_no_row(scene):
    p, cam, frames = scene
    det = add_detection(p, frames[0], (10, 10, 80, 40))
    bad = _pts(1)
    bad[0, 2] = 5
    with pytest.raises(BadInputError, match="visibility"):
        ks.set_human_keypoints(p, det, bad)
    with pytest.raises(BadInputError, match="Expected 12 keypoints"):
        ks.set_human_keypoints(p, det, np.zeros((17, 3)))
    with pytest.raises(BadInputError, match="No detection 999"):
        ks.set_human_keypoints(p, 999, _pts(1))
    tl = add_detection(p, frames[0], (0, 0, 5, 5), category="traffic light")
    with pytest.raises(BadInputError, match="No keypoint schema covers"):
        ks.set_human_keypoints(p, tl, _pts(1))
    assert p.conn.execute("SELECT COUNT(*) FROM keypoints").fetchone()[0] == 0
    person = add_detection(p, frames[0], (0, 0, 20, 60), category="person")
    ks.set_human_keypoints(p, person, np.zeros((17, 3)))   # schema chosen from the category
    assert ks.human_keypoints(p, person).schema == "person17"


def test_queue_order_filters_and_counts(scene):
    p, cam, frames = scene
    # capture order is by frame time, then detection id; insert out of order on purpose
    d3 = add_detection(p, frames[3], (10, 10, 100, 50))
    d0 = add_detection(p, frames[0], (10, 10, 100, 50))
    d1a = add_detection(p, frames[1], (10, 10, 20, 10))          # small: max side 20
    d1b = add_detection(p, frames[1], (50, 10, 100, 60))
    add_detection(p, frames[2], (10, 10, 100, 50), verdict="occluded")   # not mined
    add_detection(p, frames[2], (10, 10, 100, 50), verdict=None)         # no verdict yet
    add_detection(p, frames[2], (10, 10, 30, 90), category="person")     # another class
    d2 = add_detection(p, frames[2], (10, 10, 100, 50), score=0.5, verdict="occluded")
    label_detections(p, [d2], "U")   # a person overrides the machine: d2 is unoccluded after all
    assert ks.labelling_queue(p) == [d0, d1a, d1b, d2, d3]
    assert ks.queue_counts(p) == ks.QueueCounts(0, 5)
    assert ks.next_to_label(p) == d0
    assert ks.next_to_label(p, min_size=50) == d0 and ks.labelling_queue(p, min_size=50) == [d0, d1b, d2, d3]
    assert ks.next_to_label(p, time_range=(T0 + 1, T0 + 3)) == d1a
    assert ks.labelling_queue(p, time_range=(T0 + 1, T0 + 3)) == [d1a, d1b, d2]
    assert ks.next_to_label(p, camera_id=cam + 1) is None
    assert ks.next_to_label(p, after=d1b) == d2
    assert ks.next_to_label(p, after=d3) == d0 and ks.next_to_label(p, after=d3, wrap=False) is None
    ks.set_human_keypoints(p, d0, _pts(0))
    ks.set_human_keypoints(p, d2, _pts(2))
    assert ks.next_to_label(p) == d1a and ks.next_to_label(p, after=d1b) == d3
    assert ks.queue_counts(p) == ks.QueueCounts(2, 3)
    assert ks.queue_counts(p, min_size=50) == ks.QueueCounts(2, 2)
    assert ks.queue_counts(p, time_range=(T0 + 1, None)) == ks.QueueCounts(1, 3)
    assert ks.queue_counts(p, schema="person17") == ks.QueueCounts(0, 1)
    assert ks.next_to_label(p, schema="person17") not in (None, d0, d1a, d1b, d2, d3)
    ks.clear_human_keypoints(p, d0)
    assert ks.next_to_label(p) == d0 and ks.queue_counts(p) == ks.QueueCounts(1, 4)
    assert ks.mined_detection_ids(p, labelled=True) == [d2]


def test_occlusion_labels_of_tracks_and_detections(scene):
    """Mined = the effective verdict of store/detections.py: own label, else the track's, else the machine's."""
    p, cam, frames = scene
    tr = add_track(p, cam)
    a = add_detection(p, frames[0], (0, 0, 50, 50), track_id=tr, verdict="occluded")
    b = add_detection(p, frames[1], (0, 0, 50, 50), track_id=tr, verdict="unoccluded")
    c = add_detection(p, frames[2], (0, 0, 50, 50), track_id=tr, verdict="unoccluded")
    assert ks.labelling_queue(p) == [b, c]
    label_tracks(p, [tr], "O")                 # the whole track is occluded
    assert ks.labelling_queue(p) == []
    edit = label_detections(p, [a], "U")
    assert ks.labelling_queue(p) == [a]
    undo_edit(p, edit)                         # back to the track's label
    assert ks.labelling_queue(p) == []
    label_tracks(p, [tr], None)                # cleared: the machine decides again
    label_detections(p, [c], "X")              # not a car
    assert ks.labelling_queue(p) == [b]
    # only tracks with enough mined detections (DESIGN min_mined_frames)
    with p.transaction() as conn:
        refresh_tracks(conn, [tr])
    assert ks.labelling_queue(p, usable_only=True) == []
    assert ks.labelling_queue(p, usable_only=True, min_mined_frames=1) == [b]
    assert ks.queue_counts(p, usable_only=True, min_mined_frames=1) == ks.QueueCounts(0, 1)


def test_proposal_is_the_newest_of_the_model_and_the_3d_fit(scene):
    """The keypoint editor's proposal: a 3D fit's projected points (origin 'fit') as well as the keypoint model's,
    whichever came last; a person's keypoints still win over both."""
    from walt3d_studio.store.fits import save_track_fits

    p, cam, frames = scene
    det = add_detection(p, frames[2], (10, 10, 80, 40))
    assert ks.proposal_keypoints(p, det) is None
    save_track_fits(p, [], proposals=[(det, "vehicle12", _pts(5), "fit:silhouette")])
    row = ks.proposal_keypoints(p, det, schema="vehicle12")
    assert row.origin == "fit" and np.allclose(row.points, np.round(_pts(5), 3))
    ks.add_model_keypoints(p, [(det, _pts(6), np.ones(12))], schema="vehicle12", model_version="m2")
    assert ks.proposal_keypoints(p, det).origin == "model"
    save_track_fits(p, [], proposals=[(det, "vehicle12", _pts(7), "fit:keypoints+track")])  # a re-fit
    assert ks.proposal_keypoints(p, det).model_version == "fit:keypoints+track"
    ks.set_human_keypoints(p, det, _pts(8))
    assert ks.get_keypoints(p, det).origin == "human"
