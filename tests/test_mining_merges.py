"""Mining truth in dense scenes: merged blobs, splits and one class per track (exact truth, synthetic)."""
from __future__ import annotations

import numpy as np
import pytest

from test_mining_scenes import Obj, make_project
from walt3d_studio.mining.mine import mine, vote_track_classes
from walt3d_studio.store.detections import detection_table, track_table, verdict_reasons


def _objects_in(box, truth_t):
    x, y, w, h = (int(v) for v in box)
    full = np.zeros(truth_t[0]["amodal"].shape, bool)
    full[y:y + h, x:x + w] = True
    return [i for i, r in enumerate(truth_t) if r["present"] and (r["visible"] & full).sum() > 0.3 * r["visible"].sum()]


@pytest.mark.slow
def test_overtaking_car_merges_and_both_tracks_continue(tmp_path):
    # A (fast) overtakes B (slow) in one lane: while their masks touch the foreground sees one blob.
    # C drives alone in another lane and must still be mined.
    objs = [Obj("rect", (220, 40, 40), (50, 30), (10, 100), (8, 0), "car"),
            Obj("rect", (40, 40, 200), (50, 30), (110, 104), (2, 0), "car"),
            Obj("rect", (40, 200, 40), (50, 30), (10, 30), (5, 0), "car")]
    n = 36
    p, cam, frames, truth = make_project(tmp_path, objs, n)
    with p:
        mine(p, cam)
        dt = detection_table(p, camera_id=cam)
        reasons = verdict_reasons(p, dt.id)
        table = p.frame_table(cam)
        pos = {int(f): i for i, f in enumerate(table.ids)}
        track_of = {0: set(), 1: set(), 2: set()}
        n_merged = 0
        for i in range(len(dt)):
            t = pos[int(dt.frame_id[i])]
            inside = _objects_in(dt.box[i], truth[t])
            r = reasons[int(dt.id[i])]
            if len(inside) >= 2:  # truly two objects in one blob: occluded, merged, named, never mined
                n_merged += 1
                assert dt.verdict[i] == "occluded" and "merged" in r["flags"], (t, r)
                assert r["merge"].startswith("merged with tracks ") and len(r["merged_with"]) == 2
                assert r["merged_with"][0] != r["merged_with"][1]
            else:
                track_of[inside[0]].add(int(dt.track_id[i]))
            if dt.verdict[i] == "unoccluded":
                assert len(inside) == 1  # precision: every mined detection is exactly one object
        assert n_merged >= 5
        # identities kept through the merge: each car is one track, before and after
        assert all(len(s) == 1 for s in track_of.values()), track_of
        ids = {next(iter(s)) for s in track_of.values()}
        merged_with = {tuple(sorted(reasons[int(d)]["merged_with"])) for d in dt.id
                       if "merged_with" in reasons[int(d)]}
        assert merged_with == {tuple(sorted([next(iter(track_of[0])), next(iter(track_of[1]))]))}
        # the frames right before and after the merge are suspect for both cars, not mined
        merged_t = sorted({pos[int(dt.frame_id[i])] for i in range(len(dt))
                           if "merged" in reasons[int(dt.id[i])]["flags"]})
        for i in range(len(dt)):
            t = pos[int(dt.frame_id[i])]
            if int(dt.track_id[i]) in (track_of[0] | track_of[1]) and t in (merged_t[0] - 1, merged_t[-1] + 1):
                assert dt.verdict[i] != "unoccluded" and "suspect" in reasons[int(dt.id[i])]["flags"]
        # the lone car is mined in (almost) every frame
        lone = [i for i in range(len(dt)) if int(dt.track_id[i]) in track_of[2]]
        assert sum(dt.verdict[i] == "unoccluded" for i in lone) >= n - 3
        assert len(ids) == 3 and len(track_table(p, cam)) == 3


def test_class_vote_makes_every_detection_carry_its_tracks_class():
    def rec(track, cat, area=100.0, box=(0, 0, 20, 10), flags=(), size=None):
        return {"track": track, "category": cat, "area": area, "box": list(box), "reasons": {"flags": list(flags)},
                "size": size}

    recs = [rec("s1:1", c) for c in ("person", "other", "person", "other", "person")]
    # a tie between person and car: without a calibration the boxes' median aspect decides (upright: person) ...
    recs += [rec("s1:2", c, a, box) for c, a, box in (("person", 300.0, (0, 0, 10, 30)), ("car", 900.0, (0, 0, 14, 32)),
                                                      ("other", 50.0, (0, 0, 12, 10)))]
    recs += [rec("s1:2", "other", 5000.0, flags=["merged"])]
    # ... a car that is "other" while far and small for most of its track is still a car ("other" abstains) ...
    recs += [rec("s1:3", c) for c in ["other"] * 7 + ["car"] * 3]
    # ... but a blob that is a car in 1 frame of 10 stays "other"
    recs += [rec("s1:4", c) for c in ["other"] * 9 + ["car"]]
    # ... with a calibration the median metric area decides a tie: 0.7 m^2 is one person, whatever the boxes say
    recs += [rec("s1:5", c, box=(0, 0, 30, 10), size={"area_m2": a}) for c, a in (("car", 2.1), ("person", 0.6),
                                                                              ("person", 0.7), ("car", 0.8))]
    # ... and a track with merged blobs only still gets one class
    recs += [rec("s1:6", c, flags=["merged"]) for c in ("car", "other", "car")]
    tied = vote_track_classes(recs)
    assert [r["category"] for r in recs[:5]] == ["person"] * 5
    assert recs[1]["reasons"]["detector_class"] == "other" and "detector_class" not in recs[0]["reasons"]
    assert [r["category"] for r in recs[5:9]] == ["person"] * 4  # the merged blob does not vote but is relabelled
    assert recs[5]["reasons"]["class_vote"].startswith("tie car 1 / person 1: person by shape")
    assert {r["category"] for r in recs if r["track"] == "s1:3"} == {"car"}
    assert {r["category"] for r in recs if r["track"] == "s1:4"} == {"other"}
    t5 = [r for r in recs if r["track"] == "s1:5"]
    assert {r["category"] for r in t5} == {"person"} and "by size" in t5[0]["reasons"]["class_vote"]
    assert {r["category"] for r in recs if r["track"] == "s1:6"} == {"car"}
    assert tied == {"s1:2": ["car", "person"], "s1:5": ["car", "person"]}


def test_a_tie_is_decided_again_by_the_learned_size_prior():
    from walt3d_studio.mining.mine import break_ties_by_learned_prior
    from walt3d_studio.mining.size_prior import LearnedPrior

    # learned on this camera: one person is 0.2 * row + 10 px tall (30 px at row 100), one car half that
    line = {m: (0.2, 10.0, 1.6) for m in ("height", "width", "size")}
    prior = LearnedPrior({"person": line, "car": {m: (0.1, 5.0, 1.6) for m in line}}, {"person": 6, "car": 12})

    def rec(track, cat, box, size=None):
        return {"track": track, "category": cat, "area": box[2] * box[3] * 0.7, "box": list(box),
                "reasons": {"flags": []}, "size": size}

    # boxes wider than tall (aspect 0.93: "car" by shape), but as tall as one person at their row, twice a car
    recs = [rec("s1:1", c, (50, 72, 30, 28)) for c in ("car", "person", "car", "person")]
    recs += [rec("s1:2", c, (50, 72, 30, 28), {"area_m2": 3.0}) for c in ("car", "person")]  # metric: left alone
    tied = vote_track_classes(recs)
    assert {r["category"] for r in recs[:4]} == {"car"} and set(tied) == {"s1:1", "s1:2"}
    break_ties_by_learned_prior(recs, tied, prior)
    assert {r["category"] for r in recs[:4]} == {"person"}
    assert recs[0]["reasons"]["class_vote"] == "tie car / person: person by the learned size prior"
    assert {r["category"] for r in recs[4:]} == {"car"}


def _canvas():
    import cv2

    return cv2, np.zeros((120, 200), np.uint8)


def test_two_lobes_flags_touching_objects_not_single_ones():
    from walt3d_studio.mining.shape import two_lobes

    cv2, m = _canvas()
    cv2.ellipse(m, (60, 60), (40, 25), 0, 0, 360, 1, -1)
    cv2.ellipse(m, (135, 66), (36, 24), 0, 0, 360, 1, -1)  # two cars touching end to end: a waist
    lob = two_lobes(m.astype(bool))
    assert lob.two_lobes and lob.solidity < 0.95 and min(lob.shares) > 0.3
    cv2, m = _canvas()
    cv2.rectangle(m, (40, 30), (150, 80), 1, -1)  # one car
    assert not two_lobes(m.astype(bool)).two_lobes
    cv2, m = _canvas()
    cv2.ellipse(m, (100, 60), (60, 30), 15, 0, 360, 1, -1)
    assert not two_lobes(m.astype(bool)).two_lobes
    # a walker mid-stride: head, torso, two legs apart (one deep defect between the legs, arms out)
    cv2, m = _canvas()
    cv2.circle(m, (100, 12), 8, 1, -1)
    cv2.rectangle(m, (88, 20), (112, 65), 1, -1)
    cv2.line(m, (92, 64), (75, 115), 1, 9)
    cv2.line(m, (108, 64), (125, 115), 1, 9)
    cv2.line(m, (88, 24), (72, 60), 1, 6)
    cv2.line(m, (112, 24), (128, 60), 1, 6)
    lob = two_lobes(m.astype(bool))
    assert lob.solidity < 0.85 and not lob.two_lobes


def test_two_lobes_in_the_rule_gives_occluded_with_the_reason():
    from walt3d_studio.mining.detection import Detection
    from walt3d_studio.mining.occlusion import RuleSettings, frame_facts, rule_verdict

    cv2, m = _canvas()
    cv2.ellipse(m, (60, 60), (40, 25), 0, 0, 360, 1, -1)
    cv2.ellipse(m, (135, 66), (36, 24), 0, 0, 360, 1, -1)
    d = Detection.from_full_mask(m.astype(bool), "car")
    f = frame_facts([d], 200, 120, RuleSettings())[0]
    v, why = rule_verdict(f, 1.0, RuleSettings())
    assert v == "occluded" and "two_lobes" in why["flags"]
    assert why["shape"] == f"two lobes (solidity {why['solidity']:.2f})"
    v, why = rule_verdict(frame_facts([d], 200, 120, RuleSettings(lobes=False))[0], 1.0, RuleSettings())
    assert v == "unoccluded"


def test_size_prior_marks_blobs_too_big_for_one_object():
    from walt3d_studio.mining.size_prior import SizePrior, apply_size_prior

    def rec(cat, w, h, verdict="unoccluded"):
        return {"category": cat, "size": {"width_m": w, "height_m": h, "area_m2": 1.0}, "reasons": {"flags": []},
                "rule_verdict": verdict, "verdict": verdict, "decided_by": "rule", "crop": None}

    recs = [rec("person", 0.66, 1.75),   # one walker
            rec("person", 1.45, 1.70),   # a cyclist side-on (one object: "person" holds cyclists)
            rec("person", 2.10, 1.70),   # two cyclists, or three walkers, side by side
            rec("person", 0.60, 3.10),   # one behind the other: head of the far one above the near one
            rec("car", 4.6, 1.5),        # one car side-on
            rec("car", 9.4, 1.5),        # two nose to tail
            rec("other", 12.0, 3.0),     # no prior for "other"
            {"category": "car", "size": {"area_frac": 0.01, "aspect": 1.0}, "reasons": {"flags": []},
             "rule_verdict": "unoccluded", "verdict": "unoccluded", "decided_by": "rule", "crop": None}]
    assert apply_size_prior(recs, SizePrior()) == 3
    assert [r["verdict"] for r in recs] == ["unoccluded", "unoccluded", "occluded", "occluded", "unoccluded",
                                            "occluded", "unoccluded", "unoccluded"]
    assert recs[2]["reasons"]["size_prior"] == "too wide for one person: 2.10 m > 1.90 m"
    assert recs[3]["reasons"]["size_prior"].startswith("too tall for one person")
    assert "too_large" in recs[5]["reasons"]["flags"] and "too_large" not in recs[1]["reasons"]["flags"]
