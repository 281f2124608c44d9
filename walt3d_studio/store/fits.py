"""Store access for 3D fits (vehicles and people): one fit per track and kind, with a pose per detection.

A fit is machine output: a new run replaces the track's previous fit of that kind in one transaction. A
person's verdict on a fit (accept / reject) is a human label (`labels.kind = 'fit_review'` on the track,
append-only, newest wins), so it survives re-fits and is never cascaded away (DESIGN: human work).
Poses follow DESIGN's contracts: X_cam = R X_obj + t (metres, camera frame); people also carry SMPL-layout
parameters (`global_orient`, `body_pose`, `betas`, `transl`) and which body model made them.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from .. import __version__
from ..errors import BadInputError

STATUSES = ("ok", "needs_review", "failed", "skipped")
REVIEW_KIND = "fit_review"
REVIEWS = ("accept", "reject")


@dataclass
class DetectionFit:
    detection_id: int
    R: np.ndarray | None = None        # 3x3 R_obj_to_cam
    t: np.ndarray | None = None        # (3,) t_obj_to_cam, metres
    params: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    status: str = "ok"
    reason: str | None = None


@dataclass
class TrackFit:
    track_id: int
    kind: str                           # vehicle / person
    method: str
    status: str = "ok"
    shape: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    reason: str | None = None
    detections: list[DetectionFit] = field(default_factory=list)
    version: str = __version__
    run_id: int | None = None
    id: int | None = None
    created_at: float | None = None


def _check(fit: TrackFit) -> None:
    if fit.kind not in ("vehicle", "person"):
        raise BadInputError(f"Unknown fit kind {fit.kind!r}.", "Use 'vehicle' or 'person'.")
    for s in [fit.status] + [d.status for d in fit.detections]:
        if s not in STATUSES:
            raise BadInputError(f"Unknown fit status {s!r}.", f"Use one of {', '.join(STATUSES)}.")


def _matrix_json(a) -> str | None:
    return None if a is None else json.dumps(np.asarray(a, dtype=float).tolist())


def save_track_fits(project, fits: list[TrackFit], run_id: int | None = None, proposals=None) -> int:
    """Store fits in one transaction, replacing each track's previous fit of the same kind. Returns the count.

    `proposals` [(detection_id, schema name, points (K, 3), model_version)] are keypoints the fit proposes
    (origin 'fit'), written in the same transaction; earlier 'fit' rows of those detections are replaced."""
    for f in fits:
        _check(f)
    now = time.time()
    with project.transaction() as c:
        _insert_track_fits(c, fits, run_id, now)
        if proposals:
            _insert_fit_keypoints(c, proposals, now)
    return len(fits)


def _insert_track_fits(c, fits: list[TrackFit], run_id: int | None, now: float) -> None:
    for f in fits:
        c.execute("DELETE FROM track_fits WHERE track_id = ? AND kind = ?", (f.track_id, f.kind))
        f.id = c.execute(
            "INSERT INTO track_fits (track_id, run_id, kind, method, version, settings_json, shape_json,"
            " quality_json, status, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f.track_id, run_id if run_id is not None else f.run_id, f.kind, f.method, f.version,
             json.dumps(f.settings), json.dumps(f.shape), json.dumps(f.quality), f.status, f.reason,
             now)).lastrowid
        c.executemany(
            "INSERT INTO fits (track_fit_id, detection_id, R_obj_to_cam_json, t_obj_to_cam_json, params_json,"
            " quality_json, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(f.id, d.detection_id, _matrix_json(d.R), _matrix_json(d.t), json.dumps(d.params),
              json.dumps(d.quality), d.status, d.reason) for d in f.detections])


def _insert_fit_keypoints(c, proposals, now: float) -> None:
    from .keypoints import _encode_points

    rows = [(int(det_id), schema, _encode_points(np.asarray(pts, dtype=float)), model_version, now)
            for det_id, schema, pts, model_version in proposals]
    c.executemany("DELETE FROM keypoints WHERE detection_id = ? AND schema = ? AND origin = 'fit'",
                  [(r[0], r[1]) for r in rows])
    c.executemany("INSERT INTO keypoints (detection_id, schema, points_json, confidences_json, origin, who,"
                  " model_version, created_at) VALUES (?, ?, ?, NULL, 'fit', 'fit', ?, ?)", rows)


def _track_fit(row) -> TrackFit:
    return TrackFit(track_id=row["track_id"], kind=row["kind"], method=row["method"], status=row["status"],
                    shape=json.loads(row["shape_json"]), quality=json.loads(row["quality_json"]),
                    settings=json.loads(row["settings_json"]), reason=row["reason"], version=row["version"],
                    run_id=row["run_id"], id=row["id"], created_at=row["created_at"])


def _detection_fit(row) -> DetectionFit:
    R = row["R_obj_to_cam_json"]
    t = row["t_obj_to_cam_json"]
    return DetectionFit(detection_id=row["detection_id"], R=None if R is None else np.array(json.loads(R)),
                        t=None if t is None else np.array(json.loads(t)), params=json.loads(row["params_json"]),
                        quality=json.loads(row["quality_json"]), status=row["status"], reason=row["reason"])


def _rows(project, sql: str, args=()):
    cur = project.conn.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def track_fits(project, camera_id: int | None = None, kind: str | None = None,
               track_ids: list[int] | None = None, with_detections: bool = False) -> list[TrackFit]:
    """Fits of a camera (or all), optionally of one kind or some tracks, ordered by track id."""
    where, args = [], []
    if camera_id is not None:
        where.append("t.camera_id = ?")
        args.append(camera_id)
    if kind is not None:
        where.append("tf.kind = ?")
        args.append(kind)
    if track_ids is not None:
        where.append(f"tf.track_id IN ({','.join('?' * len(track_ids))})")
        args.extend(int(i) for i in track_ids)
    sql = ("SELECT tf.* FROM track_fits tf JOIN tracks t ON t.id = tf.track_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY tf.track_id, tf.kind")
    out = [_track_fit(r) for r in _rows(project, sql, args)]
    if with_detections and out:
        by_id = {f.id: f for f in out}
        ids = list(by_id)
        for r in _rows(project, "SELECT f.* FROM fits f JOIN detections d ON d.id = f.detection_id"
                                f" JOIN frames fr ON fr.id = d.frame_id WHERE f.track_fit_id IN ({','.join('?' * len(ids))})"
                                " ORDER BY fr.capture_time, f.detection_id", ids):
            by_id[r["track_fit_id"]].detections.append(_detection_fit(r))
    return out


def fits_for_frame(project, frame_id: int) -> list[tuple[TrackFit, DetectionFit]]:
    """Every fitted object in one frame: (its track's fit, its pose in this frame)."""
    rows = _rows(project,
                 "SELECT tf.*, f.detection_id, f.R_obj_to_cam_json, f.t_obj_to_cam_json, f.params_json,"
                 " f.quality_json AS det_quality_json, f.status AS det_status, f.reason AS det_reason"
                 " FROM fits f JOIN track_fits tf ON tf.id = f.track_fit_id"
                 " JOIN detections d ON d.id = f.detection_id WHERE d.frame_id = ? ORDER BY d.id", (frame_id,))
    out = []
    for r in rows:
        det = dict(r, quality_json=r["det_quality_json"], status=r["det_status"], reason=r["det_reason"])
        out.append((_track_fit(r), _detection_fit(det)))
    return out


def fit_counts(project, camera_id: int) -> dict:
    """{kind: {status: n_tracks}} for a camera's fits."""
    out: dict = {}
    for r in _rows(project, "SELECT tf.kind, tf.status, COUNT(*) AS n FROM track_fits tf JOIN tracks t"
                            " ON t.id = tf.track_id WHERE t.camera_id = ? GROUP BY tf.kind, tf.status", (camera_id,)):
        out.setdefault(r["kind"], {})[r["status"]] = r["n"]
    return out


def fit_review(project, track_id: int) -> str | None:
    """A person's verdict on a track's fit: 'accept', 'reject' or None (not reviewed)."""
    row = project.conn.execute("SELECT value FROM labels WHERE kind = ? AND track_id = ? AND detection_id IS NULL"
                               " ORDER BY id DESC LIMIT 1", (REVIEW_KIND, track_id)).fetchone()
    return row[0] if row else None


def set_fit_review(project, track_id: int, value: str | None, who: str) -> str | None:
    """Record a person's verdict (None clears it); returns the previous one, for undo."""
    if value is not None and value not in REVIEWS:
        raise BadInputError(f"Unknown fit review {value!r}.", "Use 'accept' or 'reject'.")
    old = fit_review(project, track_id)
    with project.transaction() as c:
        c.execute("INSERT INTO labels (kind, track_id, value, who, created_at) VALUES (?, ?, ?, ?, ?)",
                  (REVIEW_KIND, track_id, value, who, time.time()))
    return old


def fit_reviews(project, track_ids) -> dict[int, str | None]:
    """{track_id: newest verdict} for the tracks that have one (the tracks table reads them in bulk)."""
    ids = sorted({int(t) for t in track_ids})
    out: dict[int, str | None] = {}
    for k in range(0, len(ids), 500):
        chunk = ids[k:k + 500]
        for tid, value in project.conn.execute(
                f"SELECT track_id, value FROM labels WHERE id IN (SELECT MAX(id) FROM labels WHERE kind = ?"
                f" AND detection_id IS NULL AND track_id IN ({','.join('?' * len(chunk))}) GROUP BY track_id)",
                [REVIEW_KIND, *chunk]):
            out[int(tid)] = value
    return out


def fit_summaries(project, camera_id: int | None = None, track_ids=None) -> dict[int, dict]:
    """Per fitted track (one camera, or some tracks): {kind, method, status, reproj_px, iou, review} (the
    columns the app's tracks table shows), and its `reason` (why skipped / needs review), `composite_rejected`
    (an object of the track was rejected in the composites review) and, for people, `height_m` / `height_flag`.
    With a vehicle and a person fit on one track, the vehicle's wins."""
    out: dict[int, dict] = {}
    for f in track_fits(project, camera_id=camera_id, track_ids=None if track_ids is None else list(track_ids)):
        if f.track_id in out and out[f.track_id]["kind"] == "vehicle":
            continue
        q = f.quality
        px = q.get("reproj_px", q.get("reprojection_px"))
        iou = q.get("iou", q.get("silhouette_iou"))
        out[f.track_id] = {"kind": f.kind, "method": f.method, "status": f.status,
                           "reproj_px": float("nan") if px is None else float(px),
                           "iou": float("nan") if iou is None else float(iou), "review": None,
                           "reason": f.reason, "height_m": q.get("height_m"), "height_flag": q.get("height_flag")}
    for tid, value in fit_reviews(project, list(out)).items():
        out[tid]["review"] = value
    from .composites import rejections

    flagged = rejections(project)["tracks"]  # an object of the track was rejected in a composite: review its fit
    for tid, v in out.items():
        v["composite_rejected"] = tid in flagged
    return out
