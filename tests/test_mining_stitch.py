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
