"""Store access for the datasets a project has exported (its run is recorded through store/runs.py).

All SQL of the exporter lives here: what it reads about runs, frames and sources for the dataset card, and the
`datasets` row it writes once the dataset folder is in place.
"""
from __future__ import annotations

import json
import time


def _rows(conn, sql: str, args=()) -> list[dict]:
    cur = conn.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def record_dataset(project, path: str, fmt: str, settings: dict, counts: dict, checksum: str,
                   run_id: int | None = None) -> int:
    with project.transaction() as c:
        return c.execute("INSERT INTO datasets (run_id, path, format, settings_json, counts_json, checksum,"
                         " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (run_id, str(path), fmt, json.dumps(settings), json.dumps(counts), checksum,
                          time.time())).lastrowid


def list_datasets(project) -> list[dict]:
    out = _rows(project.conn, "SELECT * FROM datasets ORDER BY id")
    for r in out:
        r["settings"] = json.loads(r.pop("settings_json") or "{}")
        r["counts"] = json.loads(r.pop("counts_json") or "{}")
    return out


def runs_by_id(project, run_ids) -> list[dict]:
    """The runs rows (stage, settings, version, status, times) for the given ids, by id."""
    ids = sorted({int(r) for r in run_ids if r is not None})
    if not ids:
        return []
    rows = _rows(project.conn, f"SELECT id, stage, settings_json, version, status, started_at, finished_at FROM runs"
                               f" WHERE id IN ({','.join('?' * len(ids))}) ORDER BY id", ids)
    for r in rows:
        r["settings"] = json.loads(r.pop("settings_json") or "{}")
    return rows


def frame_times(project, frame_ids) -> dict[int, float]:
    """{frame_id: capture_time} for the source frames the dataset's objects came from."""
    ids = sorted({int(f) for f in frame_ids if f is not None})
    out: dict[int, float] = {}
    for i in range(0, len(ids), 900):  # SQLite's variable limit
        part = ids[i:i + 900]
        for fid, t in project.conn.execute(f"SELECT id, capture_time FROM frames WHERE id IN "
                                           f"({','.join('?' * len(part))})", part):
            out[int(fid)] = float(t)
    return out


def detection_frames(project, detection_ids) -> dict[int, int]:
    """{detection_id: frame_id}, for objects whose pose does not name its source frame."""
    ids = sorted({int(d) for d in detection_ids if d is not None})
    out: dict[int, int] = {}
    for i in range(0, len(ids), 900):
        part = ids[i:i + 900]
        for did, fid in project.conn.execute(f"SELECT id, frame_id FROM detections WHERE id IN "
                                             f"({','.join('?' * len(part))})", part):
            out[int(did)] = int(fid)
    return out


def camera_rows(project) -> list[dict]:
    return _rows(project.conn, "SELECT id, name, tz, width, height FROM cameras ORDER BY id")


def source_rows(project) -> list[dict]:
    return _rows(project.conn, "SELECT id, camera_id, kind, path, n_frames FROM sources ORDER BY id")
