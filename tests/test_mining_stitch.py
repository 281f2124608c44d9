"""Track stitching (issue 12): fragments of one object's path across a short gap become one track; objects that
merely start near where another ended, but against its motion or too late, stay apart. Exact truth: the records
are built from known paths."""
from __future__ import annotations

from walt3d_studio.mining.stitch import StitchSettings, stitch_tracks


def _path(key, frames, x0, vx, y=100.0, w=40.0, h=24.0, source=1):
    return [{"track": key, "n": n, "source_id": source, "box": [x0 + vx * n, y, w, h], "_time": n / 10,
             "reasons": {}} for n in frames]


def test_a_car_missed_for_a_few_frames_keeps_one_track():
    recs = (_path("s1:1", range(0, 20), 0, 4)           # car A, missed in frames 20-24 ...
            + _path("s1:7", range(25, 50), 0, 4)        # ... and found again as a new track
            + _path("s1:2", range(0, 50), 300, -3, y=30)  # another car in the other lane, throughout
            + _path("s1:9", range(26, 40), 60, 4))      # a car starting where A was 9 frames before: not A
    joined = stitch_tracks(sorted(recs, key=lambda r: r["n"]), StitchSettings())
    assert joined == [("s1:1", "s1:7")]
    a = [r for r in recs if r["box"][0] == 4 * r["n"] and r["box"][1] == 100]
    assert {r["track"] for r in a} == {"s1:1"} and len(a) == 45
    assert all(r["reasons"].get("stitched_from") == "7" for r in recs if r["n"] >= 25 and r["track"] == "s1:1")
    assert {r["track"] for r in recs if r["box"][1] == 30} == {"s1:2"}


def test_chains_join_and_limits_hold():
    recs = (_path("s1:1", range(0, 10), 0, 5) + _path("s1:2", range(13, 20), 0, 5) + _path("s1:3", range(22, 30), 0, 5)
            + _path("s1:4", range(0, 10), 0, 5, y=160) + _path("s1:5", range(25, 30), 0, 5, y=160)   # gap 15: too long
            + _path("s1:6", range(0, 10), 0, 5, y=220) + _path("s1:8", range(12, 20), 0, -5, y=220)  # turned back
            + _path("s2:1", range(12, 20), 0, 5, source=2))                                   # other source
    stitch_tracks(recs, StitchSettings())
    assert {r["track"] for r in recs if r["box"][1] == 100.0 and r["source_id"] == 1} == {"s1:1"}
    assert {r["track"] for r in recs if r["box"][1] == 160} == {"s1:4", "s1:5"}
    assert {r["track"] for r in recs if r["box"][1] == 220} == {"s1:6", "s1:8"}
    assert {r["track"] for r in recs if r["source_id"] == 2} == {"s2:1"}


def _coloured(recs, lab):
    for r in recs:
        r["colour"] = list(lab)
    return recs


def test_colour_refuses_a_different_looking_fragment_and_breaks_ties():
    # two fragments continue car A's motion equally well (one a little later); the one that looks like A wins
    def scene():
        a = _coloured(_path("s1:1", range(0, 20), 0, 4), (50, 40, 30))           # a red car
        b = _coloured(_path("s1:2", range(22, 30), 0, 4, y=100), (50, -5, -40))  # a blue car where A was heading
        c = _coloured(_path("s1:3", range(24, 40), 0, 4, y=101), (52, 38, 31))   # A again
        return a, b, c

    a, b, c = scene()
    assert stitch_tracks(a + b + c, StitchSettings()) == [("s1:1", "s1:3")]
    assert {r["track"] for r in c} == {"s1:1"} and {r["track"] for r in b} == {"s1:2"}
    # on motion alone the blue car, exactly on A's path, is taken
    a, b, c = scene()
    assert stitch_tracks(a + b + c, StitchSettings(appearance=False)) == [("s1:1", "s1:2")]
    # two look-alikes within the colour bound: the closer colour wins over the (slightly) closer motion
    a2 = _coloured(_path("s1:1", range(0, 20), 0, 4), (60, 0, 0))
    near = _coloured(_path("s1:2", range(23, 30), 0, 4, y=101), (60, 10, 0))   # motion 1 px off, colour 10 off
    same = _coloured(_path("s1:3", range(23, 30), 0, 4, y=104), (60, 1, 0))    # motion 4 px off, colour 1 off
    assert stitch_tracks(a2 + near + same, StitchSettings()) == [("s1:1", "s1:3")]


def test_fragments_without_colour_are_judged_on_motion():
    recs = _path("s1:1", range(0, 20), 0, 4) + _coloured(_path("s1:7", range(25, 50), 0, 4), (50, 60, 50))
    assert stitch_tracks(recs, StitchSettings()) == [("s1:1", "s1:7")]
