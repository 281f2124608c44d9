"""Keypoints in the project store: human labels, model proposals, the labelling queue. Qt-free.

Rows of the `keypoints` table are append-only. For one detection and schema the newest `human` row wins
(by row id); a human row whose `points_json` is the JSON text `null` means "no human keypoints" (it is
what undoing the first edit writes). Without a human row, the newest `model` row is the proposal.
Points are COCO triplets in full-frame pixel coordinates (pixel centres at integers), rounded to 1/1000 px;
absent points (v = 0) are stored as 0, 0, 0.

Undo: `set_human_keypoints` returns the value it replaced, so an undo command is
``prev = set_human_keypoints(p, det, new)`` on redo and ``set_human_keypoints(p, det, prev)`` on undo.
Every call is one transaction.
"""
from __future__ import annotations

import getpass
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ..errors import BadInputError

ORIGINS = ("human", "model", "fit")
CLEARED = "null"  # points_json of a human row that removes the human keypoints
DECIMALS = 3


@dataclass(frozen=True)
class KeypointRow:
    id: int
    detection_id: int
    schema: str
    points: np.ndarray  # (K, 3) float64: x, y, v
    confidences: np.ndarray | None  # (K,) for model rows
    origin: str
    who: str | None
    model_version: str | None
    created_at: float


@dataclass(frozen=True)
class Detection:
    id: int
    frame_id: int
    camera_id: int
    track_id: int | None
    category: str
    score: float
    box: tuple[float, float, float, float]  # x, y, w, h (the amodal box for mined objects)
    crop_path: str | None
    capture_time: float
    mask_rle: str | None


@dataclass(frozen=True)
class QueueCounts:
    done: int
    to_go: int
    orphaned: int = 0  # open orphaned keypoint sets (of this schema and camera): listed apart, never in to_go

    @property
    def total(self) -> int:
        return self.done + self.to_go


def default_who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "unknown"


def project_schema_dir(project):
    """Schemas other than the built-ins that this project's keypoints use are kept here, by name."""
    return project.root / "keypoints" / "schemas"


def resolve_schema(schema, project=None):
    """A schema by name (built-in or kept in the project) or by file; a schema file given by path is copied
    into the project (when it is not a built-in) so its name resolves there later."""
    from ..keypoint_schema import builtin_schemas, load_schema, save_schema

    search = (project_schema_dir(project),) if project is not None else ()
    sch = load_schema(schema, search=search)
    if project is not None and sch.name not in builtin_schemas() \
            and not (project_schema_dir(project) / f"{sch.name}.json").is_file() and not project.readonly:
        save_schema(sch, project_schema_dir(project))
    return sch


def _encode_points(arr: np.ndarray) -> str:
    """COCO triplets as JSON, rounded to 1/1000 px; an absent point (v = 0) is stored as 0, 0, 0."""
    arr = np.round(np.asarray(arr, dtype=np.float64), DECIMALS)
    arr[arr[:, 2] == 0, :2] = 0.0
    out = []
    for x, y, v in arr:
        out += [float(x) + 0.0, float(y) + 0.0, int(v)]
    return json.dumps(out)


def _row(r) -> KeypointRow | None:
    rid, det, schema, pts, conf, origin, who, mv, created = r
    data = json.loads(pts)
    if data is None:
        return None
    points = np.asarray(data, dtype=np.float64).reshape(-1, 3)
    confidences = np.asarray(json.loads(conf), dtype=np.float64) if conf else None
    return KeypointRow(rid, det, schema, points, confidences, origin, who, mv, created)


_COLS = "id, detection_id, schema, points_json, confidences_json, origin, who, model_version, created_at"


# -- detections ------------------------------------------------------------------------------------

def detection(project, detection_id: int) -> Detection:
    r = project.conn.execute(
        "SELECT d.id, d.frame_id, f.camera_id, d.track_id, d.category, d.score, d.x, d.y, d.w, d.h, d.crop_path,"
        " f.capture_time, d.mask_rle FROM detections d JOIN frames f ON f.id = d.frame_id WHERE d.id = ?",
        (int(detection_id),)).fetchone()
    if r is None:
        raise BadInputError(f"No detection {detection_id} in {project.name}.", "It may have been re-mined; reload.")
    return _detection(r)


def _detection(r) -> Detection:
    return Detection(r[0], r[1], r[2], r[3], r[4], r[5], (r[6], r[7], r[8], r[9]), r[10], r[11], r[12])


def detections(project, ids: Iterable[int]) -> list[Detection]:
    """Several detections, in the order given."""
    ids = [int(i) for i in ids]
    found: dict[int, Detection] = {}
    for k in range(0, len(ids), 500):
        chunk = ids[k:k + 500]
        q = ("SELECT d.id, d.frame_id, f.camera_id, d.track_id, d.category, d.score, d.x, d.y, d.w, d.h,"
             " d.crop_path, f.capture_time, d.mask_rle FROM detections d JOIN frames f ON f.id = d.frame_id"
             f" WHERE d.id IN ({','.join('?' * len(chunk))})")
        for r in project.conn.execute(q, chunk):
            found[r[0]] = _detection(r)
    missing = [i for i in ids if i not in found]
    if missing:
        raise BadInputError(f"No detection {missing[0]} in {project.name}.", "It may have been re-mined; reload.")
    return [found[i] for i in ids]


# -- human labels ----------------------------------------------------------------------------------

def human_keypoints(project, detection_id: int, schema=None) -> KeypointRow | None:
    """The newest human keypoints of a detection (None when there are none or they were cleared)."""
    return _newest(project, detection_id, "human", schema)


def model_keypoints(project, detection_id: int, schema=None, model_version: str | None = None) -> KeypointRow | None:
    return _newest(project, detection_id, "model", schema, model_version)


def proposal_keypoints(project, detection_id: int, schema=None) -> KeypointRow | None:
    """The proposal shown until a person accepts it: the newest of the keypoint model's row (origin 'model') and
    the 3D fit's projected model points (origin 'fit', `walt3d fit vehicles|people`)."""
    rows = [r for r in (_newest(project, detection_id, o, schema) for o in ("model", "fit")) if r is not None]
    return max(rows, key=lambda r: r.id) if rows else None


def get_keypoints(project, detection_id: int, schema=None, origins: tuple[str, ...] = ("human", "model")
                  ) -> KeypointRow | None:
    """What the editor and later stages should use: human keypoints first, else the model's proposal."""
    for origin in origins:
        row = _newest(project, detection_id, origin, schema)
        if row is not None:
            return row
    return None


def keypoint_history(project, detection_id: int) -> list[KeypointRow | None]:
    """Every row of a detection, oldest first (None for a row that cleared the human keypoints)."""
    rows = project.conn.execute(f"SELECT {_COLS} FROM keypoints WHERE detection_id = ? ORDER BY id",
                                (int(detection_id),)).fetchall()
    return [_row(r) for r in rows]


def _newest(project, detection_id, origin, schema=None, model_version=None) -> KeypointRow | None:
    q = f"SELECT {_COLS} FROM keypoints WHERE detection_id = ? AND origin = ?"
    args: list = [int(detection_id), origin]
    if schema is not None:
        q += " AND schema = ?"
        args.append(resolve_schema(schema, project).name)
    if model_version is not None:
        q += " AND model_version = ?"
        args.append(model_version)
    r = project.conn.execute(q + " ORDER BY id DESC LIMIT 1", args).fetchone()
    return _row(r) if r else None


def set_human_keypoints(project, detection_id: int, points, *, schema=None, who: str | None = None
                        ) -> np.ndarray | None:
    """Store a person's keypoints for a detection (None clears them). Returns the human points it replaced
    (None when there were none), for undo. One transaction; nothing is overwritten.

    `schema` defaults to the schema of the detection's earlier human keypoints, else the built-in schema
    whose class covers the detection's category."""
    from ..keypoint_schema import schema_for_category

    det = detection(project, detection_id)
    if schema is None:
        prev = human_keypoints(project, detection_id)
        schema = prev.schema if prev is not None else schema_for_category(det.category)
        if schema is None:
            raise BadInputError(f"No keypoint schema covers category {det.category!r}.",
                                "Pass the schema explicitly (e.g. vehicle12 or a schema file).")
    sch = resolve_schema(schema, project)
    text = CLEARED if points is None else _encode_points(sch.check_points(points))
    with project.transaction() as c:
        before = c.execute(f"SELECT {_COLS} FROM keypoints WHERE detection_id = ? AND origin = 'human'"
                           " AND schema = ? ORDER BY id DESC LIMIT 1", (det.id, sch.name)).fetchone()
        previous = _row(before) if before else None
        c.execute("INSERT INTO keypoints (detection_id, schema, points_json, confidences_json, origin, who,"
                  " model_version, created_at) VALUES (?, ?, ?, NULL, 'human', ?, NULL, ?)",
                  (det.id, sch.name, text, who or default_who(), time.time()))
    return None if previous is None else previous.points


def clear_human_keypoints(project, detection_id: int, *, schema=None, who: str | None = None) -> np.ndarray | None:
    """Remove a detection's human keypoints (by appending a clearing row); returns what was there, for undo."""
    return set_human_keypoints(project, detection_id, None, schema=schema, who=who)


def import_human_keypoints(project, items: Iterable[tuple[int, str, np.ndarray]], *, who: str | None = None) -> int:
    """Set human keypoints of many detections [(detection_id, schema, points), ...] in one transaction
    (a dataset import: one undo step for the whole file is the caller's business)."""
    now, who = time.time(), who or default_who()
    rows = [(int(d), resolve_schema(s, project).name, _encode_points(resolve_schema(s, project).check_points(p)), who, now)
            for d, s, p in items]
    try:
        with project.transaction() as c:
            c.executemany("INSERT INTO keypoints (detection_id, schema, points_json, confidences_json, origin, who,"
                          " model_version, created_at) VALUES (?, ?, ?, NULL, 'human', ?, NULL, ?)", rows)
    except sqlite3.IntegrityError as e:
        raise BadInputError(f"Cannot store keypoints: {e}.", "A detection may have been removed; re-run.")
    return len(rows)


def add_model_keypoints(project, items: Iterable[tuple[int, np.ndarray, np.ndarray]], *, schema,
                        model_version: str, who: str | None = None) -> int:
    """Store model predictions [(detection_id, points (K, 3), confidences (K,)), ...] in one transaction."""
    sch = resolve_schema(schema, project)
    now = time.time()
    rows = []
    for det_id, pts, conf in items:
        conf = np.asarray(conf, dtype=np.float64).reshape(-1)
        if conf.shape != (len(sch),):
            raise ValueError(f"{len(sch)} confidences expected for {sch.name}, got {conf.shape}")
        rows.append((int(det_id), sch.name, _encode_points(sch.check_points(pts)),
                     json.dumps([round(float(c), 4) for c in conf]), "model", who, model_version, now))
    try:
        with project.transaction() as c:
            c.executemany("INSERT INTO keypoints (detection_id, schema, points_json, confidences_json, origin, who,"
                          " model_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    except sqlite3.IntegrityError as e:
        raise BadInputError(f"Cannot store predictions: {e}.", "A detection may have been removed; re-run.")
    return len(rows)


# -- selections ------------------------------------------------------------------------------------

# The effective occlusion verdict, as store/detections.py defines it: the detection's own newest human label,
# else its track's, else the machine's verdict. Labels are U / O / X (unoccluded / occluded / not an object).
_LABEL = ("COALESCE((SELECT l.value FROM labels l WHERE l.kind = 'occlusion' AND l.detection_id = d.id"
          " ORDER BY l.id DESC LIMIT 1),"
          " (SELECT l.value FROM labels l WHERE l.kind = 'occlusion' AND l.detection_id IS NULL"
          " AND l.track_id = d.track_id ORDER BY l.id DESC LIMIT 1))")
_EFFECTIVE_VERDICT = (f"COALESCE(CASE {_LABEL} WHEN 'U' THEN 'unoccluded' WHEN 'O' THEN 'occluded'"
                      f" WHEN 'X' THEN 'not_object' ELSE {_LABEL} END,"
                      " (SELECT v.verdict FROM verdicts v WHERE v.detection_id = d.id))")
# The newest human row per detection for one schema (points 'null' = cleared).
_HUMAN = ("(SELECT k.points_json FROM keypoints k WHERE k.detection_id = d.id AND k.origin = 'human'"
          " AND k.schema = ? ORDER BY k.id DESC LIMIT 1)")


def _where(sch, camera_id, time_range, min_size, mined_only=True, usable_only=False,
           min_mined_frames=3) -> tuple[str, list]:
    cats = sorted({sch.category, *sch.detection_categories})
    where = [f"d.category IN ({','.join('?' * len(cats))})"]
    args: list = list(cats)
    if mined_only:
        where.append(f"{_EFFECTIVE_VERDICT} = 'unoccluded'")
    if camera_id is not None:
        where.append("f.camera_id = ?")
        args.append(int(camera_id))
    if time_range is not None:
        t0, t1 = time_range
        if t0 is not None:
            where.append("f.capture_time >= ?")
            args.append(float(t0))
        if t1 is not None:
            where.append("f.capture_time < ?")
            args.append(float(t1))
    if min_size:
        where.append("MAX(d.w, d.h) >= ?")
        args.append(float(min_size))
    if usable_only:  # tracks with enough mined detections for the later stages (DESIGN: min_mined_frames)
        where.append("d.track_id IN (SELECT t.id FROM tracks t WHERE t.n_mined >= ?)")
        args.append(int(min_mined_frames))
    return " AND ".join(where), args


def mined_detection_ids(project, *, schema="vehicle12", camera_id: int | None = None,
                        time_range: tuple[float | None, float | None] | None = None, min_size: float = 0.0,
                        labelled: bool | None = None, mined_only: bool = True, usable_only: bool = False,
                        min_mined_frames: int = 3) -> list[int]:
    """Mined (unoccluded) detections of the schema's class in capture order.

    `labelled`: True only those with human keypoints, False only those without, None both.
    The effective occlusion verdict is a person's label on the detection, else on its track, else the
    machine's verdict (DESIGN, occlusion rule precedence)."""
    sch = resolve_schema(schema, project)
    where, args = _where(sch, camera_id, time_range, min_size, mined_only, usable_only, min_mined_frames)
    q = f"SELECT d.id FROM detections d JOIN frames f ON f.id = d.frame_id WHERE {where}"
    if labelled is not None:
        q += f" AND COALESCE({_HUMAN}, 'null') {'!=' if labelled else '='} 'null'"
        args.append(sch.name)
    q += " ORDER BY f.capture_time, d.id"
    return [r[0] for r in project.conn.execute(q, args)]


def labelling_queue(project, *, schema="vehicle12", camera_id=None, time_range=None, min_size: float = 0.0,
                    usable_only: bool = False, min_mined_frames: int = 3) -> list[int]:
    """Mined detections still without human keypoints, in capture order."""
    return mined_detection_ids(project, schema=schema, camera_id=camera_id, time_range=time_range,
                               min_size=min_size, labelled=False, usable_only=usable_only,
                               min_mined_frames=min_mined_frames)


def next_to_label(project, *, schema="vehicle12", camera_id: int | None = None,
                  time_range: tuple[float | None, float | None] | None = None, min_size: float = 0.0,
                  after: int | None = None, wrap: bool = True, usable_only: bool = False,
                  min_mined_frames: int = 3, skip_orphaned: bool = True) -> int | None:
    """The next mined detection without human keypoints (capture order), after detection `after` if given
    (wrapping around to the start unless `wrap` is False). None when the queue is empty.

    `min_size`: max(w, h) of the box in pixels at least this; `time_range`: capture times [t0, t1);
    `usable_only`: only tracks with at least `min_mined_frames` mined detections; `skip_orphaned`: leave out
    the detections an open orphaned keypoint set lies on (`orphans.orphan_claimed_detections`: a person's
    keypoints wait to be re-attached there; they are listed apart, never offered as fresh work)."""
    sch = resolve_schema(schema, project)
    where, args = _where(sch, camera_id, time_range, min_size, True, usable_only, min_mined_frames)
    where, args = _skip_orphaned(project, sch, camera_id, where, args, skip_orphaned)
    base = (f"SELECT d.id FROM detections d JOIN frames f ON f.id = d.frame_id WHERE {where}"
            f" AND COALESCE({_HUMAN}, 'null') = 'null'")
    args = args + [sch.name]
    if after is not None:
        ref = project.conn.execute("SELECT f.capture_time FROM detections d JOIN frames f ON f.id = d.frame_id"
                                   " WHERE d.id = ?", (int(after),)).fetchone()
        if ref is not None:
            r = project.conn.execute(base + " AND (f.capture_time, d.id) > (?, ?) ORDER BY f.capture_time, d.id"
                                     " LIMIT 1", args + [ref[0], int(after)]).fetchone()
            if r is not None or not wrap:
                return r[0] if r else None
            r = project.conn.execute(base + " AND d.id != ? ORDER BY f.capture_time, d.id LIMIT 1",
                                     args + [int(after)]).fetchone()
            return r[0] if r else None
    r = project.conn.execute(base + " ORDER BY f.capture_time, d.id LIMIT 1", args).fetchone()
    return r[0] if r else None


def queue_counts(project, *, schema="vehicle12", camera_id: int | None = None,
                 time_range: tuple[float | None, float | None] | None = None, min_size: float = 0.0,
                 usable_only: bool = False, min_mined_frames: int = 3, skip_orphaned: bool = True) -> QueueCounts:
    """How many mined detections (under the same filters as the queue) have human keypoints, how many not, and
    how many orphaned keypoint sets wait apart (the detections they lie on are not counted as to go)."""
    from .orphans import keypoint_orphans

    sch = resolve_schema(schema, project)
    where, args = _where(sch, camera_id, time_range, min_size, True, usable_only, min_mined_frames)
    where, args = _skip_orphaned(project, sch, camera_id, where, args, skip_orphaned)
    r = project.conn.execute(
        f"SELECT COALESCE(SUM(h != 'null'), 0), COALESCE(SUM(h = 'null'), 0) FROM (SELECT COALESCE({_HUMAN}, 'null')"
        f" AS h FROM detections d JOIN frames f ON f.id = d.frame_id WHERE {where})", [sch.name] + args).fetchone()
    return QueueCounts(int(r[0]), int(r[1]), len(keypoint_orphans(project, sch.name, camera_id)))


def _skip_orphaned(project, sch, camera_id, where: str, args: list, skip: bool) -> tuple[str, list]:
    if not skip:
        return where, args
    from .orphans import orphan_claimed_detections

    claimed = sorted(orphan_claimed_detections(project, sch.name, camera_id))
    if not claimed:
        return where, args
    return where + f" AND d.id NOT IN ({','.join('?' * len(claimed))})", args + claimed


def human_labelled(project, *, schema="vehicle12", camera_id: int | None = None) -> list[KeypointRow]:
    """The current human keypoints of every detection that has them (mined or not), in detection order."""
    sch = resolve_schema(schema, project)
    q = (f"SELECT {', '.join('k.' + c.strip() for c in _COLS.split(','))} FROM keypoints k"
         " JOIN detections d ON d.id = k.detection_id JOIN frames f ON f.id = d.frame_id"
         " WHERE k.id IN (SELECT MAX(id) FROM keypoints WHERE origin = 'human' AND schema = ? GROUP BY detection_id)")
    args: list = [sch.name]
    if camera_id is not None:
        q += " AND f.camera_id = ?"
        args.append(int(camera_id))
    rows = [_row(r) for r in project.conn.execute(q + " ORDER BY k.detection_id", args)]
    return [r for r in rows if r is not None]


def model_versions(project, detection_ids: Iterable[int] | None = None) -> dict[int, set[str]]:
    """detection id -> model versions that already proposed keypoints for it."""
    out: dict[int, set[str]] = {}
    for det, mv in project.conn.execute("SELECT detection_id, model_version FROM keypoints WHERE origin = 'model'"):
        out.setdefault(det, set()).add(mv)
    if detection_ids is not None:
        keep = set(int(i) for i in detection_ids)
        out = {k: v for k, v in out.items() if k in keep}
    return out


def next_in_track(project, detection_id: int) -> int | None:
    """The detection of the same track in the next frame (by capture time, then frame id), or None."""
    d = detection(project, detection_id)
    if d.track_id is None:
        return None
    r = project.conn.execute(
        "SELECT d.id FROM detections d JOIN frames f ON f.id = d.frame_id WHERE d.track_id = ? AND"
        " (f.capture_time > ? OR (f.capture_time = ? AND d.frame_id > ?)) ORDER BY f.capture_time, d.frame_id"
        " LIMIT 1", (d.track_id, d.capture_time, d.capture_time, d.frame_id)).fetchone()
    return int(r[0]) if r else None
