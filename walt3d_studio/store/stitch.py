"""Stitching tracks across a time-shard boundary: a track cut by the boundary continues as the next shard's track.

Shards of one camera are mined independently, so an object present at the boundary ends one track in shard k and
starts another in shard k+1. At merge, each track ending in the last frames before the boundary is matched
one-to-one (Hungarian, scipy) with a track starting in the first frames after it, by box IoU of the last and the
first detection, same category ("other" goes with any: the class vote calls a short fragment "other" when the
detector could not tell); matched pairs become one track (the earlier id survives). When the two fragments' classes
differ, `vote` (the mining stage's class vote, on records) decides the joined track's class again over all its
detections, so a sharded run gives the classes one run would.
"""
from __future__ import annotations

import json

import numpy as np

MIN_IOU = 0.3
NEAR_FRAMES = 3     # a track may skip a frame or two at the edge (the tracker's gap tolerance)


def _iou(a, b) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _edge_tracks(conn, camera_id: int, times: list[float], last: bool) -> dict[int, tuple]:
    """Tracks whose last (or first) detection lies at one of `times`: {track: (category, box)}."""
    if not times:
        return {}
    agg = "MAX" if last else "MIN"
    marks = ",".join("?" * len(times))
    rows = conn.execute(
        f"SELECT t.id, t.category, d.x, d.y, d.w, d.h FROM tracks t"
        f" JOIN detections d ON d.track_id = t.id JOIN frames f ON f.id = d.frame_id"
        f" WHERE t.camera_id = ? AND f.capture_time IN ({marks}) AND f.capture_time ="
        f"  (SELECT {agg}(f2.capture_time) FROM detections d2 JOIN frames f2 ON f2.id = d2.frame_id"
        f"   WHERE d2.track_id = t.id)", [camera_id, *times]).fetchall()
    return {r[0]: (r[1], (r[2], r[3], r[4], r[5])) for r in rows}


def stitch_at(project, camera_id: int, boundary: float, vote=None) -> int:
    """Join tracks across the boundary between the frames captured before `boundary` and those at or after it.
    `vote(records)`: sets each record's "category" to its track's class (records: track, category, area, reasons).
    Returns how many pairs were joined (one transaction)."""
    from scipy.optimize import linear_sum_assignment

    from .detections import refresh_tracks

    conn = project.conn
    before = [r[0] for r in conn.execute("SELECT capture_time FROM frames WHERE camera_id = ? AND capture_time < ?"
                                         " ORDER BY capture_time DESC LIMIT ?", (camera_id, boundary, NEAR_FRAMES))]
    after = [r[0] for r in conn.execute("SELECT capture_time FROM frames WHERE camera_id = ? AND capture_time >= ?"
                                        " ORDER BY capture_time LIMIT ?", (camera_id, boundary, NEAR_FRAMES))]
    ending, starting = _edge_tracks(conn, camera_id, before, True), _edge_tracks(conn, camera_id, after, False)
    if not ending or not starting:
        return 0
    a_ids, b_ids = list(ending), list(starting)
    cost = np.ones((len(a_ids), len(b_ids)))
    for i, a in enumerate(a_ids):
        for j, b in enumerate(b_ids):
            if ending[a][0] == starting[b][0] or "other" in (ending[a][0], starting[b][0]):
                cost[i, j] = 1.0 - _iou(ending[a][1], starting[b][1])
    rows, cols = linear_sum_assignment(cost)
    pairs = [(a_ids[i], b_ids[j]) for i, j in zip(rows, cols) if cost[i, j] <= 1.0 - MIN_IOU]
    if not pairs:
        return 0
    with project.transaction() as c:
        for keep, drop in pairs:
            c.execute("UPDATE detections SET track_id = ? WHERE track_id = ?", (keep, drop))
            last = c.execute("SELECT last_frame_id FROM tracks WHERE id = ?", (drop,)).fetchone()[0]
            c.execute("UPDATE tracks SET last_frame_id = ? WHERE id = ?", (last, keep))
            c.execute("DELETE FROM tracks WHERE id = ?", (drop,))
            if vote is not None and ending[keep][0] != starting[drop][0]:
                _revote(c, keep, vote)
        refresh_tracks(c, [k for k, _ in pairs])
    return len(pairs)


def _revote(c, track_id: int, vote) -> None:
    """The joined track's class decided again over all its detections (from each one's own detector class)."""
    rows = c.execute("SELECT d.id, d.category, d.area, v.reasons_json FROM detections d"
                     " LEFT JOIN verdicts v ON v.detection_id = d.id WHERE d.track_id = ?", (track_id,)).fetchall()
    recs = []
    for did, cat, area, rj in rows:
        reasons = json.loads(rj) if rj else {}
        own = reasons.pop("detector_class", cat)
        recs.append({"id": did, "track": track_id, "category": own, "area": area or 0.0, "reasons": reasons,
                     "size": None})
    vote(recs)
    c.executemany("UPDATE detections SET category = ? WHERE id = ?", [(r["category"], r["id"]) for r in recs])
    c.executemany("UPDATE verdicts SET reasons_json = ? WHERE detection_id = ?",
                  [(json.dumps(r["reasons"]), r["id"]) for r in recs])
    cls = recs[0]["category"] if recs else "other"
    c.execute("UPDATE tracks SET category = ? WHERE id = ?", (cls, track_id))
