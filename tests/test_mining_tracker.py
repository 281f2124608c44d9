"""SORT-style tracking: constant-velocity Kalman + Hungarian on IoU, with a centre-distance second pass."""
from __future__ import annotations

import numpy as np

from walt3d_studio.mining.tracker import SortTracker, TrackerSettings


def run(tracker, frames):
    return [tracker.update(np.array(f, float).reshape(-1, 4)).tolist() for f in frames]


def test_two_objects_keep_their_ids():
    frames = [[(10 + 5 * t, 20, 30, 20), (200 - 4 * t, 100, 20, 40)] for t in range(20)]
    ids = run(SortTracker(), frames)
    assert all(i == ids[0] for i in ids) and ids[0][0] != ids[0][1]


def test_crossing_objects_keep_their_ids():
    # same size, opposite directions, passing with partial overlap: the motion model tells them apart
    frames = [[(10 + 8 * t, 50, 30, 30), (250 - 8 * t, 62, 30, 30)] for t in range(30)]
    ids = run(SortTracker(), frames)
    assert all(i == ids[0] for i in ids)


def test_fast_small_object_joins_by_centre_distance():
    frames = [[(10 + 12 * t, 50, 10, 20)] for t in range(8)]  # moves more than its width: IoU 0
    assert len({i[0] for i in run(SortTracker(), frames)}) == 1
    plain = SortTracker(TrackerSettings(max_center_dist=0))
    assert len({i[0] for i in run(plain, frames)}) > 1


def test_missed_frames_up_to_max_age():
    obj = lambda t: [(10 + 3 * t, 50, 30, 30)]  # noqa: E731
    frames = [obj(0), obj(1), obj(2), [], [], obj(5), obj(6)]
    ids = [i for i in run(SortTracker(TrackerSettings(max_age=2)), frames) if i]
    assert len({i[0] for i in ids}) == 1
    frames = [obj(0), obj(1), obj(2), [], [], [], obj(6)]
    ids = [i for i in run(SortTracker(TrackerSettings(max_age=2)), frames) if i]
    assert len({i[0] for i in ids}) == 2


def test_reset_starts_new_tracks():
    t = SortTracker()
    a = t.update(np.array([[10, 10, 20, 20]], float))
    t.reset()
    b = t.update(np.array([[10, 10, 20, 20]], float))
    assert a[0] != b[0]
