"""Store access for mining: detections, tracks, verdicts, human occlusion labels (with undo/redo), crops,
classifiers and static-occluder masks. Qt-free; the review panels read through these functions.

Labels (DESIGN "The store is the single source of truth"): the `labels` table is append-only and the newest
row wins. A label is U (unoccluded), O (occluded) or X (not an object), on one detection or on a whole track;
a detection's own label beats its track's. Labelling a track also clears the labels of its detections (so
Shift+U makes the whole track U). Every edit is one transaction and returns a `LabelEdit` listing each
(target, old, new) it changed; `undo_edit` appends the old values (same `who`), `redo_edit` the new ones, so
the GUI wraps an edit in a QUndoCommand without keeping its own copy of labels.

Tracks carry cached aggregates (n_detections, n_mined, n_labelled, p_unoccluded, label) updated in the same
transaction as every change to their detections' verdicts or labels, so `track_table` reads one table.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import BadInputError

KIND = "occlusion"
LABELS = ("U", "O", "X")
LABEL_VERDICT = {"U": "unoccluded", "O": "occluded", "X": "not_object"}

# A detection's effective label, the one definition: its own newest occlusion label, else its track's label
# (`tracks.label` caches the newest track-level one). In SQL over `detections d LEFT JOIN tracks t`:
OWN_LABEL_SQL = ("(SELECT l.value FROM labels l WHERE l.kind = 'occlusion' AND l.detection_id = d.id "
                 "ORDER BY l.id DESC LIMIT 1)")
EFFECTIVE_LABEL_SQL = f"COALESCE({OWN_LABEL_SQL}, t.label)"


def effective_label(own: str | None, track_label: str | None) -> str | None:
    """The same rule in Python: a detection's own label beats its track's."""
    return own if own is not None else track_label


def effective_verdict(label: str | None, machine_verdict: str | None) -> str | None:
    """A person's label decides; else the machine's verdict (classifier, else rule)."""
    return LABEL_VERDICT[label] if label else machine_verdict


# ------------------------------------------------------------------------------------------- tables


@dataclass
class TrackTable:
    """Columns of a camera's tracks (one numpy array each), for views over 100,000s of tracks."""

    id: np.ndarray            # int64
    camera_id: np.ndarray     # int64
    source_id: np.ndarray     # int64
    category: np.ndarray      # str (object)
    length: np.ndarray        # int64: detections in the track
    n_mined: np.ndarray       # int64: detections whose effective verdict is unoccluded
    usable: np.ndarray        # bool: n_mined >= min_mined_frames
    p_unoccluded: np.ndarray  # float64: mean classifier P(unoccluded), NaN when none
    label: np.ndarray         # object: the track-level human label (U/O/X) or None
    n_labelled: np.ndarray    # int64: detections with a human label (their own or the track's)
    reviewed: np.ndarray      # bool: every detection has a human label
    first_frame_id: np.ndarray
    last_frame_id: np.ndarray
    first_time: np.ndarray    # float64 capture time of the first detection's frame

    def __len__(self) -> int:
        return len(self.id)

    @property
    def verdict(self) -> np.ndarray:
        """'usable' / 'unusable' per track."""
        return np.where(self.usable, "usable", "unusable")


@dataclass
class DetectionTable:
    id: np.ndarray
    frame_id: np.ndarray
    track_id: np.ndarray       # -1 when none
    category: np.ndarray
    score: np.ndarray
    box: np.ndarray            # (N, 4) x, y, w, h
    area: np.ndarray
    machine_verdict: np.ndarray  # object: what the rule / classifier decided
    decided_by: np.ndarray       # object: rule / classifier / human
    rule_verdict: np.ndarray
    p_unoccluded: np.ndarray     # NaN when no classifier
    label: np.ndarray            # object: effective human label (own, else track's) or None
    verdict: np.ndarray          # object: effective verdict (label > classifier > rule)
    crop_path: np.ndarray        # object: relative to the project folder, or None (a PNG or a pack span: mining.crops)
    source_index: np.ndarray     # exact decode index of the frame in its source
    capture_time: np.ndarray

    def __len__(self) -> int:
        return len(self.id)

    @property
    def mined(self) -> np.ndarray:
        return self.verdict == "unoccluded"


_DET_SELECT = """
    SELECT d.id, d.frame_id, COALESCE(d.track_id, -1), d.category, d.score, d.x, d.y, d.w, d.h,
           COALESCE(d.area, d.w * d.h), v.verdict, v.decided_by, v.rule_verdict, v.p_unoccluded,
           """ + OWN_LABEL_SQL + """,
           t.label, d.crop_path, f.source_index, f.capture_time
    FROM detections d JOIN frames f ON f.id = d.frame_id
    LEFT JOIN verdicts v ON v.detection_id = d.id LEFT JOIN tracks t ON t.id = d.track_id
"""


def _det_table(rows) -> DetectionTable:
    n = len(rows)
    col = list(zip(*rows)) if n else [()] * 19

    def arr(i, dtype):
        return np.array(col[i], dtype=dtype) if n else np.zeros(0, dtype)

    own = np.array(col[14], object) if n else np.zeros(0, object)
    trk = np.array(col[15], object) if n else np.zeros(0, object)
    label = np.array([effective_label(o, t) for o, t in zip(own, trk)], object) if n else np.zeros(0, object)
    machine = arr(10, object)
    verdict = np.array([effective_verdict(lab, m) for lab, m in zip(label, machine)], object) \
        if n else np.zeros(0, object)
    decided = np.array(["human" if lab else d for lab, d in zip(label, col[11])], object) if n else np.zeros(0, object)
    p = np.array([np.nan if v is None else v for v in col[13]], float) if n else np.zeros(0)
    box = np.array([col[5], col[6], col[7], col[8]], float).T if n else np.zeros((0, 4))
    return DetectionTable(arr(0, np.int64), arr(1, np.int64), arr(2, np.int64), arr(3, object), arr(4, float),
                          box, arr(9, float), machine, decided, arr(12, object), p, label, verdict, arr(16, object),
                          arr(17, np.int64), arr(18, float))


def detection_table(project, *, camera_id: int | None = None, track_id: int | None = None,
                    frame_id: int | None = None) -> DetectionTable:
    """Detections (in capture order) of a camera, a track or a frame, with every verdict and label."""
    where, args = [], []
    if camera_id is not None:
        where.append("f.camera_id = ?")
        args.append(camera_id)
    if track_id is not None:
        where.append("d.track_id = ?")
        args.append(track_id)
    if frame_id is not None:
        where.append("d.frame_id = ?")
        args.append(frame_id)
    q = _DET_SELECT + (" WHERE " + " AND ".join(where) if where else "") + \
        " ORDER BY f.capture_time, f.source_id, f.source_index, d.id"
    return _det_table(project.conn.execute(q, args).fetchall())


def track_table(project, camera_id: int | None = None, min_mined_frames: int = 3, *,
                track_ids=None) -> TrackTable:
    """Every track of a camera (or of all cameras), or only the tracks in `track_ids` (to refresh a few rows
    after an edit without re-reading 100,000), in id order."""
    q = ("SELECT t.id, t.camera_id, COALESCE(t.source_id, -1), t.category, t.n_detections, t.n_mined, "
         "t.p_unoccluded, t.label, t.n_labelled, COALESCE(t.first_frame_id, -1), COALESCE(t.last_frame_id, -1), "
         "f.capture_time FROM tracks t LEFT JOIN frames f ON f.id = t.first_frame_id")
    if track_ids is not None:
        ids = sorted({int(t) for t in track_ids if t is not None and int(t) >= 0})
        rows = []
        for chunk in _chunks(ids, 500):
            rows += project.conn.execute(q + f" WHERE t.id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        rows.sort()
    else:
        args = ()
        if camera_id is not None:
            q += " WHERE t.camera_id = ?"
            args = (camera_id,)
        rows = project.conn.execute(q + " ORDER BY t.id", args).fetchall()
    n = len(rows)
    col = list(zip(*rows)) if n else [()] * 12

    def arr(i, dtype, fill=None):
        if not n:
            return np.zeros(0, dtype)
        if fill is not None:
            return np.array([fill if v is None else v for v in col[i]], dtype)
        return np.array(col[i], dtype)

    length, mined, labelled = arr(4, np.int64), arr(5, np.int64), arr(8, np.int64)
    return TrackTable(arr(0, np.int64), arr(1, np.int64), arr(2, np.int64), arr(3, object), length, mined,
                      mined >= min_mined_frames, arr(6, float, np.nan), arr(7, object), labelled,
                      (labelled >= length) & (length > 0), arr(9, np.int64), arr(10, np.int64),
                      arr(11, float, np.nan))


def frame_detections(project, frame_id: int) -> list[dict]:
    """Everything an overlay needs for one frame: boxes, RLE masks, verdicts, labels, track ids."""
    t = detection_table(project, frame_id=frame_id)
    rles = dict(project.conn.execute("SELECT id, mask_rle FROM detections WHERE frame_id = ?", (frame_id,)))
    reasons = dict(project.conn.execute(
        "SELECT v.detection_id, v.reasons_json FROM verdicts v JOIN detections d ON d.id = v.detection_id "
        "WHERE d.frame_id = ?", (frame_id,)))
    out = []
    for i in range(len(t)):
        did = int(t.id[i])
        out.append({"id": did, "track_id": int(t.track_id[i]) if t.track_id[i] >= 0 else None,
                    "category": t.category[i], "score": float(t.score[i]), "box": t.box[i].tolist(),
                    "area": float(t.area[i]), "rle": json.loads(rles[did]) if rles.get(did) else None,
                    "verdict": t.verdict[i], "decided_by": t.decided_by[i], "machine_verdict": t.machine_verdict[i],
                    "rule_verdict": t.rule_verdict[i],
                    "p_unoccluded": None if np.isnan(t.p_unoccluded[i]) else float(t.p_unoccluded[i]),
                    "label": t.label[i], "reasons": json.loads(reasons[did]) if reasons.get(did) else {},
                    "crop_path": t.crop_path[i]})
    return out


def mined_objects(project, camera_id: int | None = None, usable_only: bool = True,
                  min_mined_frames: int = 3, categories=("car", "person")) -> DetectionTable:
    """The mined detections later stages use (effective verdict unoccluded), of usable tracks by default.
    Each has a crop (`crop_path`, an RGBA PNG: `mining.crops.read_png_rgba` reads it) and its frame's exact
    `source_index`; see `ensure_crops`."""
    t = detection_table(project, camera_id=camera_id)
    keep = t.mined & np.isin(t.category, list(categories))
    if usable_only:
        tracks = track_table(project, camera_id, min_mined_frames)
        keep &= np.isin(t.track_id, tracks.id[tracks.usable])
    return _subset(t, keep)


def _subset(t: DetectionTable, keep: np.ndarray) -> DetectionTable:
    return DetectionTable(**{k: v[keep] for k, v in t.__dict__.items()})


# ------------------------------------------------------------------------------------- aggregates


def refresh_tracks(conn, track_ids) -> None:
    """Recompute the cached per-track columns from detections, verdicts and labels (call inside a transaction)."""
    ids = sorted({int(t) for t in track_ids if t is not None and int(t) >= 0})
    for chunk in _chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(f"""
            SELECT d.track_id, v.verdict, v.p_unoccluded, t.label, {OWN_LABEL_SQL}
            FROM detections d JOIN tracks t ON t.id = d.track_id LEFT JOIN verdicts v ON v.detection_id = d.id
            WHERE d.track_id IN ({marks})""", chunk).fetchall()
        agg = {t: [0, 0, 0, 0.0, 0] for t in chunk}
        for tid, verdict, p, tlabel, own in rows:
            a = agg[tid]
            lab = effective_label(own, tlabel)
            a[0] += 1
            if effective_verdict(lab, verdict) == "unoccluded":
                a[1] += 1
            if lab:
                a[2] += 1
            if p is not None:
                a[3] += p
                a[4] += 1
        conn.executemany("UPDATE tracks SET n_detections = ?, n_mined = ?, n_labelled = ?, p_unoccluded = ? "
                         "WHERE id = ?", [(a[0], a[1], a[2], a[3] / a[4] if a[4] else None, t)
                                          for t, a in agg.items()])


def _chunks(seq, n):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


# ----------------------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class LabelChange:
    target: str          # "detection" or "track"
    id: int
    old: str | None
    new: str | None


@dataclass
class LabelEdit:
    """What one edit changed; pass it to `undo_edit` / `redo_edit`."""

    changes: list[LabelChange]
    who: str
    detection_ids: list[int] = field(default_factory=list)  # detections whose effective label may have changed
    track_ids: list[int] = field(default_factory=list)
    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.changes)


def _check_value(value):
    if value is not None and value not in LABELS:
        raise BadInputError(f"{value!r} is not an occlusion label.",
                            "Use U (unoccluded), O (occluded) or X (not an object).")


def own_labels(conn, det_ids) -> dict[int, str | None]:
    out = {}
    for chunk in _chunks(det_ids, 500):
        marks = ",".join("?" * len(chunk))
        for did, value in conn.execute(
                f"SELECT l.detection_id, l.value FROM labels l WHERE l.id IN (SELECT MAX(id) FROM labels "
                f"WHERE kind = 'occlusion' AND detection_id IN ({marks}) GROUP BY detection_id)", chunk):
            out[did] = value
    return out


def label_authors(project, detection_ids=None) -> dict[int, str]:
    """{detection id: who} of the newest occlusion label set on the detection itself (not via its track)."""
    q = ("SELECT detection_id, who FROM labels WHERE id IN (SELECT MAX(id) FROM labels WHERE kind = 'occlusion'"
         " AND detection_id IS NOT NULL GROUP BY detection_id)")
    cur = project.conn.execute(q)
    names = [d[0] for d in cur.description]
    out = {r["detection_id"]: r["who"] for r in (dict(zip(names, v)) for v in cur.fetchall())}
    if detection_ids is not None:
        keep = {int(i) for i in detection_ids}
        out = {k: v for k, v in out.items() if k in keep}
    return out


def frame_boxes(project, frame_id: int) -> tuple[list[int], np.ndarray]:
    """The ids and [x, y, w, h] boxes (N x 4) of one frame's detections, in id order."""
    cur = project.conn.execute("SELECT id, x, y, w, h FROM detections WHERE frame_id = ? ORDER BY id",
                               (int(frame_id),))
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, v)) for v in cur.fetchall()]
    return [r["id"] for r in rows], np.array([[r["x"], r["y"], r["w"], r["h"]] for r in rows], float).reshape(-1, 4)


def detection_columns(project, detection_ids, columns: tuple[str, ...] = ("frame_id", "category")) -> dict[int, dict]:
    """{detection id: {column: value}} for the given detections (unknown ids are left out)."""
    allowed = {"frame_id", "track_id", "category", "score", "x", "y", "w", "h", "crop_path", "detector"}
    bad = set(columns) - allowed
    if bad:
        raise ValueError(f"not a detection column: {sorted(bad)}")
    out: dict[int, dict] = {}
    for chunk in _chunks(sorted({int(i) for i in detection_ids}), 500):
        marks = ",".join("?" * len(chunk))
        cur = project.conn.execute(f"SELECT id, {', '.join(columns)} FROM detections WHERE id IN ({marks})", chunk)
        names = [d[0] for d in cur.description]
        for v in cur.fetchall():
            r = dict(zip(names, v))
            out[r.pop("id")] = r
    return out


def detections_without_crops(project, detection_ids) -> list[dict]:
    """Those of the detections that have no crop yet: id, box (x, y, w, h), camera_id, frame_id, capture_time,
    source_id, source_index (enough to decode their frames in order)."""
    out: list[dict] = []
    for chunk in _chunks(sorted({int(i) for i in detection_ids}), 500):
        marks = ",".join("?" * len(chunk))
        cur = project.conn.execute(
            f"SELECT d.id, d.x, d.y, d.w, d.h, f.camera_id, f.id AS frame_id, f.capture_time, f.source_id,"
            f" f.source_index FROM detections d JOIN frames f ON f.id = d.frame_id WHERE d.id IN ({marks})"
            f" AND (d.crop_path IS NULL OR d.crop_path = '')", chunk)
        names = [d[0] for d in cur.description]
        out += [dict(zip(names, v)) for v in cur.fetchall()]
    return out


def detections_with_rule_verdicts(project, camera_id: int) -> list[dict]:
    """Every detection of a camera with its rule verdict, in capture order: id, frame_id, x, y, w, h, category,
    score, crop_path, rule_verdict (what the occlusion classifier needs to judge them)."""
    cur = project.conn.execute(
        "SELECT d.id, d.frame_id, d.x, d.y, d.w, d.h, d.category, d.score, d.crop_path, v.rule_verdict "
        "FROM detections d JOIN frames f ON f.id = d.frame_id JOIN verdicts v ON v.detection_id = d.id "
        "WHERE f.camera_id = ? ORDER BY f.capture_time, f.source_id, f.source_index, d.id", (int(camera_id),))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, v)) for v in cur.fetchall()]


def apply_label_changes(project, changes: list[LabelChange], who: str, text: str) -> LabelEdit:
    now = time.time()
    with project.transaction() as c:
        rows = [(KIND, ch.id if ch.target == "detection" else None, ch.id if ch.target == "track" else None,
                 ch.new, who, now) for ch in changes]
        c.executemany("INSERT INTO labels (kind, detection_id, track_id, value, who, created_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)", rows)
        c.executemany("UPDATE tracks SET label = ? WHERE id = ?",
                      [(ch.new, ch.id) for ch in changes if ch.target == "track"])
        det_ids = [ch.id for ch in changes if ch.target == "detection"]
        trk = {ch.id for ch in changes if ch.target == "track"}
        for chunk in _chunks(det_ids, 500):
            marks = ",".join("?" * len(chunk))
            trk |= {r[0] for r in c.execute(f"SELECT DISTINCT track_id FROM detections WHERE id IN ({marks}) "
                                             "AND track_id IS NOT NULL", chunk)}
        refresh_tracks(c, trk)
        affected = set(det_ids)
        for chunk in _chunks(sorted({ch.id for ch in changes if ch.target == "track"}), 500):
            marks = ",".join("?" * len(chunk))
            affected |= {r[0] for r in c.execute(f"SELECT id FROM detections WHERE track_id IN ({marks})", chunk)}
    return LabelEdit(changes, who, sorted(affected), sorted(trk), text)


def label_detections(project, detection_ids, value: str | None, who: str = "user") -> LabelEdit:
    """Give detections a label (None clears it). One transaction; returns what changed (empty if nothing)."""
    _check_value(value)
    ids = sorted({int(i) for i in detection_ids})
    _check_exist(project, "detections", ids)
    own = own_labels(project.conn, ids)
    changes = [LabelChange("detection", i, own.get(i), value) for i in ids if own.get(i) != value]
    if not changes:
        return LabelEdit([], who)
    return apply_label_changes(project, changes, who, f"label {len(changes)} detection(s) {value or 'none'}")


def label_tracks(project, track_ids, value: str | None, who: str = "user") -> LabelEdit:
    """Label whole tracks: the track label is set and its detections' own labels are cleared."""
    _check_value(value)
    ids = sorted({int(i) for i in track_ids})
    _check_exist(project, "tracks", ids)
    changes = []
    for chunk in _chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        for tid, old in project.conn.execute(f"SELECT id, label FROM tracks WHERE id IN ({marks})", chunk):
            if old != value:
                changes.append(LabelChange("track", tid, old, value))
        det_ids = [r[0] for r in project.conn.execute(f"SELECT id FROM detections WHERE track_id IN ({marks})", chunk)]
        own = own_labels(project.conn, det_ids)
        changes += [LabelChange("detection", d, v, None) for d, v in sorted(own.items()) if v is not None]
    if not changes:
        return LabelEdit([], who)
    return apply_label_changes(project, changes, who, f"label {len(ids)} track(s) {value or 'none'}")


def undo_edit(project, edit: LabelEdit) -> LabelEdit:
    """Append the old values of an edit (same who); returns the inverse edit."""
    inv = [LabelChange(ch.target, ch.id, ch.new, ch.old) for ch in reversed(edit.changes)]
    return apply_label_changes(project, inv, edit.who, "undo " + edit.text)


def redo_edit(project, edit: LabelEdit) -> LabelEdit:
    return apply_label_changes(project, list(edit.changes), edit.who, edit.text)


def label_history(project, *, detection_id: int | None = None, track_id: int | None = None) -> list[dict]:
    col, val = ("detection_id", detection_id) if detection_id is not None else ("track_id", track_id)
    rows = project.conn.execute(f"SELECT id, value, who, created_at FROM labels WHERE kind = 'occlusion' "
                                f"AND {col} = ? ORDER BY id", (val,)).fetchall()
    return [{"id": r[0], "value": r[1], "who": r[2], "created_at": r[3]} for r in rows]


def _check_exist(project, table: str, ids) -> None:
    for chunk in _chunks(ids, 500):
        marks = ",".join("?" * len(chunk))
        found = {r[0] for r in project.conn.execute(f"SELECT id FROM {table} WHERE id IN ({marks})", chunk)}
        missing = [i for i in chunk if i not in found]
        if missing:
            raise BadInputError(f"No {table[:-1]} with id {missing[0]} in this project.",
                                "It may have been removed by mining again; refresh the view.")


# ------------------------------------------------------------------------------ machine verdicts


def update_machine_verdicts(project, rows) -> None:
    """rows: (detection_id, verdict, decided_by, p_unoccluded, model_version, reasons dict). One transaction."""
    rows = list(rows)
    with project.transaction() as c:
        c.executemany("UPDATE verdicts SET verdict = ?, decided_by = ?, p_unoccluded = ?, model_version = ?, "
                      "reasons_json = ? WHERE detection_id = ?",
                      [(v, by, p, mv, json.dumps(r), d) for d, v, by, p, mv, r in rows])
        trk = set()
        for chunk in _chunks([r[0] for r in rows], 500):
            marks = ",".join("?" * len(chunk))
            trk |= {r[0] for r in c.execute(f"SELECT DISTINCT track_id FROM detections WHERE id IN ({marks})", chunk)}
        refresh_tracks(c, trk)


def verdict_reasons(project, detection_ids) -> dict[int, dict]:
    out = {}
    for chunk in _chunks(sorted({int(i) for i in detection_ids}), 500):
        marks = ",".join("?" * len(chunk))
        for d, r in project.conn.execute(f"SELECT detection_id, reasons_json FROM verdicts WHERE detection_id "
                                         f"IN ({marks})", chunk):
            out[d] = json.loads(r)
    return out


def set_crop_paths(project, paths: dict[int, str]) -> None:
    with project.transaction() as c:
        c.executemany("UPDATE detections SET crop_path = ? WHERE id = ?", [(p, d) for d, p in paths.items()])


def crop_folders_in_use(project, camera_id: int) -> set[str]:
    """The folders (relative to the project) that hold a crop some detection of this camera points at."""
    rows = project.conn.execute(
        "SELECT DISTINCT d.crop_path FROM detections d JOIN frames f ON f.id = d.frame_id "
        "WHERE f.camera_id = ? AND d.crop_path IS NOT NULL AND d.crop_path != ''", (camera_id,)).fetchall()
    return {str(Path(r[0]).parent) for r in rows}


def detection_rles(project, detection_ids) -> dict[int, dict | None]:
    out = {}
    for chunk in _chunks(sorted({int(i) for i in detection_ids}), 500):
        marks = ",".join("?" * len(chunk))
        for d, r in project.conn.execute(f"SELECT id, mask_rle FROM detections WHERE id IN ({marks})", chunk):
            out[d] = json.loads(r) if r else None
    return out


# ---------------------------------------------------------------------- classifiers and occluders


def add_classifier(project, version: str, path: str, metrics: dict, settings: dict) -> None:
    """Record a trained classifier and make it the active one."""
    with project.transaction() as c:
        c.execute("UPDATE classifiers SET active = 0 WHERE kind = 'occlusion'")
        c.execute("INSERT INTO classifiers (version, kind, path, metrics_json, settings_json, active, created_at) "
                  "VALUES (?, 'occlusion', ?, ?, ?, 1, ?)", (version, path, json.dumps(metrics),
                                                              json.dumps(settings), time.time()))


def active_classifier(project) -> dict | None:
    row = project.conn.execute("SELECT version, path, metrics_json, settings_json FROM classifiers "
                               "WHERE kind = 'occlusion' AND active = 1 ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return {"version": row[0], "path": row[1], "metrics": json.loads(row[2]), "settings": json.loads(row[3])}


def set_static_occluder(project, camera_id: int, mask: np.ndarray | None, origin: str = "painted") -> None:
    """Store (or clear, with None) a camera's static-occluder mask: poles, trees, signs (non-zero = occluder)."""
    import cv2

    cam = project.camera(camera_id)
    if mask is not None:
        mask = np.asarray(mask)
        if not cam.width:  # it could not be checked, and would be used as is on frames of another size
            raise BadInputError(f"Camera {cam.name!r} has no frames yet, so an occluder mask cannot be checked "
                                "against its frame size.", "Add the camera's time-lapse first, then set the mask.")
        if mask.ndim != 2 or mask.shape[:2] != (cam.height, cam.width):
            raise BadInputError(f"The occluder mask is {mask.shape[1]}x{mask.shape[0]} but camera {cam.name!r} has "
                                f"{cam.width}x{cam.height} frames.", "Paint it on this camera's frames.")
        rel = Path("arrays") / "occluders" / f"cam{camera_id}.png"
        dest = project.root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        from ..atomic import write_bytes

        ok, buf = cv2.imencode(".png", (mask > 0).astype(np.uint8) * 255)
        if not ok:
            raise BadInputError("The occluder mask could not be encoded as PNG.", "Paint it again.")
        write_bytes(dest, buf.tobytes())
    with project.transaction() as c:
        if mask is None:
            c.execute("DELETE FROM static_occluders WHERE camera_id = ?", (camera_id,))
        else:
            c.execute("INSERT INTO static_occluders (camera_id, array_path, origin, created_at) VALUES (?, ?, ?, ?) "
                      "ON CONFLICT (camera_id) DO UPDATE SET array_path = excluded.array_path, "
                      "origin = excluded.origin, created_at = excluded.created_at",
                      (camera_id, str(rel), origin, time.time()))


def static_occluder(project, camera_id: int) -> np.ndarray | None:
    import cv2

    row = project.conn.execute("SELECT array_path FROM static_occluders WHERE camera_id = ?", (camera_id,)).fetchone()
    if row is None:
        return None
    img = cv2.imread(str(project.root / row[0]), cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise BadInputError(f"The static-occluder mask {row[0]} is missing or unreadable.",
                            "Paint it again, or clear it.")
    cam = project.camera(camera_id)
    if cam.width and img.shape[:2] != (cam.height, cam.width):
        raise BadInputError(f"The static-occluder mask {row[0]} is {img.shape[1]}x{img.shape[0]} but camera "
                            f"{cam.name!r} has {cam.width}x{cam.height} frames.",
                            "Paint it again on this camera's frames, or clear it.")
    return img > 0


def static_occluder_origin(project, camera_id: int) -> str | None:
    """'painted' / 'learned' for a camera's stored mask, None without one."""
    cur = project.conn.execute("SELECT origin FROM static_occluders WHERE camera_id = ?", (camera_id,))
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row))["origin"] if row else None
