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


def _union(a, b):
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def _overtaking(n=60):
    """Car A (x = 10 + 6t) overtakes car B (x = 150 + 2t) in one lane; touching boxes come out as one blob.
    Returns per frame the detections and, per detection, the true objects in it."""
    frames, truth = [], []
    for t in range(n):
        a, b = (10 + 6 * t, 50, 40, 20), (150 + 2 * t, 52, 40, 20)
        if a[0] + a[2] >= b[0] and b[0] + b[2] >= a[0]:  # touching or overlapping: one blob
            frames.append([_union(a, b)])
            truth.append([("A", "B")])
        else:
            frames.append([a, b])
            truth.append([("A",), ("B",)])
    return frames, truth


def test_merge_keeps_identities_and_names_the_tracks():
    frames, truth = _overtaking()
    tr = SortTracker()
    first, merged_frames, events = {}, [], []
    for t, (boxes, objs) in enumerate(zip(frames, truth)):
        ids = tr.update(np.array(boxes, float)).tolist()
        events += [(t, k) for k, _ in tr.events]
        for k, (i, o) in enumerate(zip(ids, objs)):
            if len(o) == 1:
                first.setdefault(o[0], i)
                assert i == first[o[0]], f"frame {t}: {o[0]} changed id"  # same id before and after the merge
            else:
                merged_frames.append(t)
                assert sorted(tr.merged[k]) == sorted([first["A"], first["B"]])
    true_merged = [t for t, o in enumerate(truth) if len(o[0]) == 2]
    assert merged_frames == true_merged and len(true_merged) > 10
    assert (true_merged[0], "merge") in events and (true_merged[-1] + 1, "unmerge") in events


def test_split_of_one_blob_is_an_event():
    # two cars enter as one blob (never seen apart), then part: the frame of the split is reported
    frames = []
    for t in range(20):
        a, b = (10 + 5 * t, 50, 40, 20), (50 + 5 * t + max(0, t - 7) * 3, 50, 40, 20)
        frames.append([_union(a, b)] if t < 8 else [a, b])
    tr = SortTracker()
    events = []
    for t, boxes in enumerate(frames):
        ids = tr.update(np.array(boxes, float))
        events += [(t, k, v) for k, v in tr.events]
    splits = [e for e in events if e[1] == "split"]
    assert len(splits) == 1 and splits[0][0] == 8
