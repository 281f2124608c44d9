"""Static occluders learned from long-lived foreground (DESIGN "Occlusion rule"), the `walt3d occluders`
commands, and mining afterwards judging a detection behind a learned occluder occluded."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from test_mining_scenes import Obj, coco_results, make_project, write_json
from walt3d_studio.cli import main
from walt3d_studio.errors import BadInputError
from walt3d_studio.mining.mine import MineSettings, mine
from walt3d_studio.mining.static_occluders import learn_report, learn_static_occluders
from walt3d_studio.store import Project
from walt3d_studio.store.detections import (detection_table, set_static_occluder, static_occluder,
                                            verdict_reasons)

N = 12  # frames one second apart
PARKED = Obj("rect", (40, 200, 40), (60, 40), (150, 120), (0, 0), "car")
MOVING = Obj("rect", (230, 40, 40), (40, 26), (10, 30), (20, 0), "car")


@pytest.fixture
def mined(tmp_path):
    objs = [PARKED, MOVING]
    p, cam, frames, truth = make_project(tmp_path, objs, N)
    write_json(tmp_path / "dets.json", coco_results(truth, 320, 240, objs))
    mine(p, cam, MineSettings(detector="import", import_path=str(tmp_path / "dets.json"), crops=False))
    yield p, cam, truth
    p.close()


def test_stationary_long_lived_object_is_learned_and_moving_one_is_not(mined):
    p, cam, truth = mined
    rep = learn_report(p, cam, min_seconds=5)
    parked = truth[0][0]["amodal"]
    assert rep.mask.shape == (240, 320)
    assert rep.mask[parked].all() and len(rep.tracks) == 1
    # slightly dilated: the outline is in, pixels farther away are not
    ys, xs = np.nonzero(parked)
    assert rep.mask[ys.min() - 2, xs.min() + 5] and not rep.mask[ys.min() - 6, xs.min() + 5]
    for t in range(N):
        assert not (rep.mask & truth[t][1]["amodal"]).any()  # the moving car's pixels are never in it
    # too short-lived for a longer minimum: nothing is learned
    assert not learn_static_occluders(p, cam, min_seconds=60).any()
    # a moving object is not learned however long it lives
    assert not learn_static_occluders(p, cam, min_seconds=5, max_motion_px=1)[30:56].any()


def test_mining_after_learning_marks_a_detection_behind_it_occluded(mined, tmp_path):
    p, cam, truth = mined
    mask = learn_static_occluders(p, cam, min_seconds=5)
    set_static_occluder(p, cam, mask, origin="learned")
    assert p.conn.execute("SELECT origin FROM static_occluders WHERE camera_id = ?", (cam,)).fetchone()[0] \
        == "learned"
    # mine again with detections of a person walking across the parked car's place (the car itself not
    # detected this time, so only the static mask can make it occluded) and one far from it
    walker = Obj("ellipse", (40, 40, 220), (16, 40), (170, 100), (0, 0), "person")
    loner = Obj("ellipse", (40, 40, 220), (16, 40), (30, 150), (0, 0), "person")
    from test_mining_scenes import render

    _, _, t2 = render([walker, loner], N)
    write_json(tmp_path / "people.json", coco_results(t2, 320, 240, [walker, loner], key="amodal"))
    mine(p, cam, MineSettings(detector="import", import_path=str(tmp_path / "people.json"), crops=False),
         replace=True)
    dt = detection_table(p, camera_id=cam)
    reasons = verdict_reasons(p, dt.id)
    behind = dt.box[:, 0] > 100
    assert behind.sum() == N and (~behind).sum() == N
    for i in np.flatnonzero(behind):
        r = reasons[int(dt.id[i])]
        assert dt.rule_verdict[i] == "occluded" and "occluded" in r["flags"]
        assert r["static_overlap"] > 0.05 and not r["occluded_by"]
    for i in np.flatnonzero(~behind):
        assert dt.rule_verdict[i] != "occluded" and reasons[int(dt.id[i])]["static_overlap"] == 0


def test_the_object_a_mask_was_learned_from_is_not_hidden_by_it(mined, tmp_path):
    p, cam, truth = mined
    set_static_occluder(p, cam, learn_static_occluders(p, cam, min_seconds=5), origin="learned")
    mine(p, cam, MineSettings(detector="import", import_path=str(tmp_path / "dets.json"), crops=False),
         replace=True)
    dt = detection_table(p, camera_id=cam)
    reasons = verdict_reasons(p, dt.id)
    parked = dt.box[:, 1] > 80  # the parked car sits lower in the image than the moving one
    assert parked.sum() == N
    for i in np.flatnonzero(parked):
        r = reasons[int(dt.id[i])]
        assert r["static_overlap"] > 0.8 and "occluded" not in r["flags"]


def test_no_detections_is_a_clear_error(tmp_path):
    p, cam, _, _ = make_project(tmp_path, [PARKED], 3)
    with p, pytest.raises(BadInputError, match="no detections"):
        learn_static_occluders(p, cam)


def test_occluders_commands(mined, tmp_path, capsys):
    p, cam, truth = mined
    root = p.root
    p.close()
    assert main(["--quiet", "occluders", "learn", str(root), "--min-seconds", "5"]) == 0
    assert "1 stationary tracks" in capsys.readouterr().out
    with Project.open(root) as q:
        assert static_occluder(q, cam)[truth[0][0]["amodal"]].all()
    # a painted PNG (colour, any channel non-zero)
    painted = np.zeros((240, 320, 3), np.uint8)
    painted[:, 100:104] = (255, 0, 255)
    cv2.imwrite(str(tmp_path / "pole.png"), painted)
    assert main(["--quiet", "occluders", "set", str(root), "--mask", str(tmp_path / "pole.png")]) == 0
    with Project.open(root) as q:
        m = static_occluder(q, cam)
        assert m[:, 100:104].all() and m.sum() == 240 * 4
    # wrong size: refused, says what to do, nothing changed
    cv2.imwrite(str(tmp_path / "small.png"), painted[:100, :100])
    capsys.readouterr()
    assert main(["--quiet", "occluders", "set", str(root), "--mask", str(tmp_path / "small.png")]) == 2
    err = capsys.readouterr().err
    assert "100x100" in err and "320x240" in err and "Traceback" not in err
    assert main(["--quiet", "occluders", "set", str(root), "--clear"]) == 0
    with Project.open(root) as q:
        assert static_occluder(q, cam) is None


def test_same_place_in_many_frames_counts_without_a_track(mined):
    """A parked car the tracker split up (here: its detections left without a track) is still found."""
    p, cam, truth = mined
    dt = detection_table(p, camera_id=cam)
    parked = dt.box[:, 1] > 100
    with p.transaction() as c:
        c.executemany("UPDATE detections SET track_id = NULL WHERE id = ?", [(int(i),) for i in dt.id[parked]])
    rep = learn_report(p, cam, min_seconds=5)
    assert rep.tracks == [] and rep.places == 1
    assert rep.mask[truth[0][0]["amodal"]].all()
    for t in range(N):
        assert not (rep.mask & truth[t][1]["amodal"]).any()
    # seen in too few frames: not long-lived
    assert not learn_static_occluders(p, cam, min_seconds=5, min_fraction=1.1).any()


def test_learn_mask_out_writes_the_mask_and_stores_nothing(mined, tmp_path, capsys):
    """What the app runs in a child process: the learned mask comes back as a PNG for review, the store unchanged."""
    p, cam, truth = mined
    root = p.root
    p.close()
    out = tmp_path / "review" / "mask.png"
    assert main(["--quiet", "occluders", "learn", str(root), "--min-seconds", "5", "--mask-out", str(out)]) == 0
    assert "not stored" in capsys.readouterr().out
    mask = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE) > 0
    assert mask[truth[0][0]["amodal"]].all() and not mask.all()
    assert [f.name for f in out.parent.iterdir()] == ["mask.png"]  # no temporary left beside it
    with Project.open(root) as q:
        assert static_occluder(q, cam) is None
