"""Splits and composites round-trip through the store; splits in use cannot change; rejections are human work."""
import pytest

from walt3d_studio.errors import BadInputError
from walt3d_studio.store import Project
from walt3d_studio.store.composites import (Composite, CompositeObject, delete_composites, get_composite,
                                            is_rejected, list_composites, rejections, save_composites, set_rejected,
                                            set_splits, split_counts, splits)


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p")
    with p.transaction() as c:
        c.execute("INSERT INTO cameras (id, name, tz, width, height, created_at) VALUES (1, 'a', 'UTC', 10, 10, 0)")
        c.executemany("INSERT INTO tracks (id, camera_id, category, created_at) VALUES (?, 1, 'car', 0)",
                      [(7,), (8,)])
    yield p
    p.close()


def _obj(idx, track):
    rle = {"size": [10, 10], "counts": "0"}
    return CompositeObject(idx=idx, kind="vehicle", amodal_rle=rle, visible_rle=rle, amodal_box=[1, 2, 3, 4],
                           visible_box=[1, 2, 3, 2], occlusion=0.5, depth_rank=1 - idx, track_id=track,
                           keypoints=[1.0, 2.0, 2.0] * 12, pose={"R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]})


def test_round_trip_filters_and_delete(project):
    set_splits(project, {7: "train", 8: "train"})
    comp = Composite(1, "train", "walt3d", 3, "h08", "composites/a/walt3d/1.png", "composites/a/walt3d/1.npz",
                     objects=[_obj(0, 7), _obj(1, 8)])
    (cid,) = save_composites(project, [comp])
    got = get_composite(project, cid)
    assert got.n_objects == 2 and got.objects[1].track_id == 8 and got.objects[0].keypoints[:3] == [1.0, 2.0, 2.0]
    assert got.objects[0].pose["R"][0] == [1, 0, 0]
    assert [c.id for c in list_composites(project, split="train", method="walt3d")] == [cid]
    assert list_composites(project, split="val") == []
    assert split_counts(project)["train"] == 2
    with pytest.raises(BadInputError, match="composite"):
        set_splits(project, {7: "test"})
    assert splits(project)[7] == "train"
    assert delete_composites(project, [cid]) == ["composites/a/walt3d/1.png", "composites/a/walt3d/1.npz"]
    set_splits(project, {7: "test"})
    assert splits(project, camera_id=1) == {7: "test", 8: "train"}


def test_rejections_are_newest_wins_and_survive_deletes(project):
    (cid,) = save_composites(project, [Composite(1, "train", "walt3d", 0, "h", "x.png", objects=[_obj(0, 7)])])
    assert set_rejected(project, cid, 0, True, "ann") is False
    set_rejected(project, cid, None, True, "ann")
    assert is_rejected(project, cid, 0) and is_rejected(project, cid)
    set_rejected(project, cid, None, False, "ann")
    r = rejections(project)
    assert r == {"composites": set(), "objects": {(cid, 0)}, "tracks": {7}}
    delete_composites(project, [cid])
    assert rejections(project)["tracks"] == {7}


def test_unknown_split_or_method_refused(project):
    with pytest.raises(BadInputError):
        set_splits(project, {7: "holdout"})
    with pytest.raises(BadInputError):
        save_composites(project, [Composite(1, "train", "magic", 0, "h", "x.png")])
    assert list_composites(project) == []


def test_a_rejected_object_flags_its_tracks_fit_for_review(tmp_path):
    """Rejecting an object in the composites review flags its track's fit in the tracks table ("review: rejected
    in a composite") until a person gives the fit a verdict; undoing the rejection clears the flag."""
    from composite_project import build, mesh_fn
    from walt3d_studio.composite.make import CompositeSettings, make_composites
    from walt3d_studio.composite.splits import split_tracks
    from walt3d_studio.gui.review.tracks_model import COLUMN_KEYS, COMPOSITE_REJECTED, TracksModel
    from walt3d_studio.store.detections import track_table
    from walt3d_studio.store.fits import fit_summaries, set_fit_review

    p, _ = build(tmp_path / "f")
    split_tracks(p, "track", 0.0, 0.0, seed=0)
    make_composites(p, settings=CompositeSettings(method="walt3d", n=1, seed=1, objects_per_image=(4, 4)),
                    mesh_fn=mesh_fn)
    comp = list_composites(p, with_objects=True)[0]
    o = comp.objects[0]
    assert not any(s["composite_rejected"] for s in fit_summaries(p, 1).values())
    set_rejected(p, comp.id, o.idx, True, "me")
    s = fit_summaries(p, 1)
    assert {t for t, v in s.items() if v["composite_rejected"]} == {o.track_id}
    m = TracksModel()
    m.set_table(track_table(p, 1))
    m.set_fits(s)
    col = COLUMN_KEYS.index("fit_review")
    row = m.row_of(o.track_id)
    assert m.data(m.index(row, col)) == COMPOSITE_REJECTED
    set_fit_review(p, o.track_id, "accept", "me")   # a person looked at the fit: their verdict shows
    m.set_fits(fit_summaries(p, 1))
    assert m.data(m.index(row, col)) == "accepted"
    set_rejected(p, comp.id, o.idx, False, "me")
    assert not fit_summaries(p, 1)[o.track_id]["composite_rejected"]
    p.close()
