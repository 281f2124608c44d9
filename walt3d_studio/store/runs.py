"""Recorded runs: every stage run (background, mine, classifier, keypoints, fit, composite, export, ...) is a
row of the `runs` table with its settings, shard, counts, time, status and who ran it.

The protocol is two calls around the work:

    run = start_run(project, "mine", settings, {"camera": cam, "start": t0, "end": t1})
    ...                                   # the work
    finish_run(project, run, counts={"detections": n}, status="done", message="...")

or the context manager `recorded_run`, which records 'failed' / 'cancelled' with the error's message when the
work raises. Each call is its own short transaction, so call them outside other transactions. A run that is
left 'running' by a process that died (kill -9, power loss) is marked 'interrupted' the next time the project
is opened for writing on the same host (`mark_interrupted`, called by `Project.open`).

On a read-only project (a `--shard-out` worker) nothing is recorded: `start_run` returns None and
`finish_run(None, ...)` does nothing; the merge that imports the shard records the run instead.
"""
from __future__ import annotations

import dataclasses
import getpass
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import Cancelled

STATUSES = ("running", "done", "failed", "cancelled", "interrupted")


@dataclass
class RunRow:
    id: int
    stage: str
    settings: dict
    version: str
    shard: dict
    counts: dict
    status: str
    message: str | None
    who: str
    pid: int | None
    host: str | None
    started_at: float
    finished_at: float | None
    duration_s: float | None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class Recording:
    """What `recorded_run` yields: fill `counts` (and `message`) during the work; they are stored at the end."""

    id: int | None
    counts: dict = field(default_factory=dict)
    message: str | None = None


def _jsonable(obj) -> dict:
    if obj is None:
        return {}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        to_dict = getattr(obj, "to_dict", None)
        return to_dict() if callable(to_dict) else dataclasses.asdict(obj)
    return dict(obj)


def who_am_i() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def start_run(project, stage: str, settings=None, shard: dict | None = None, *, who: str | None = None) -> int | None:
    """Record the start of a stage run; returns its id (None on a read-only project).

    `settings`: a settings dataclass (its `to_dict()` if it has one) or a dict; `shard`: {"camera": id,
    "start": t0, "end": t1} for one camera and time range, {} (or None) for the whole project.
    """
    from .. import __version__

    if project.readonly:
        return None
    with project.transaction() as c:
        return c.execute(
            "INSERT INTO runs (stage, settings_json, version, shard_json, status, who, pid, host, started_at)"
            " VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            (stage, json.dumps(_jsonable(settings), default=str), __version__,
             json.dumps(_jsonable(shard), default=str), who or who_am_i(), os.getpid(), socket.gethostname(),
             time.time())).lastrowid


def finish_run(project, run_id: int | None, counts: dict | None = None, status: str = "done",
               message: str | None = None) -> None:
    """Record the end of a run: its counts (e.g. {"detections": 812, "tracks": 40}), status and message."""
    if run_id is None or project.readonly:
        return
    if status not in STATUSES or status == "running":
        raise ValueError(f"finish_run: status must be one of done/failed/cancelled/interrupted, not {status!r}")
    now = time.time()
    with project.transaction() as c:
        c.execute("UPDATE runs SET status = ?, counts_json = ?, message = ?, finished_at = ?,"
                  " duration_s = ? - started_at WHERE id = ?",
                  (status, json.dumps(counts or {}, default=str), message, now, now, run_id))


@contextmanager
def recorded_run(project, stage: str, settings=None, shard: dict | None = None):
    """`with recorded_run(p, "background", s, {"camera": 1}) as rec: ...; rec.counts["windows"] = 3`.
    Success records 'done'; Cancelled records 'cancelled'; any other exception 'failed' with its message."""
    rec = Recording(start_run(project, stage, settings, shard))
    try:
        yield rec
    except BaseException as e:
        status = "cancelled" if isinstance(e, (Cancelled, KeyboardInterrupt)) else "failed"
        try:
            finish_run(project, rec.id, rec.counts, status, (str(e) or type(e).__name__)[:1000])
        except Exception:  # never hide the work's own error behind a bookkeeping one
            pass
        raise
    finish_run(project, rec.id, rec.counts, "done", rec.message)


def list_runs(project, stage: str | None = None, status: str | None = None, limit: int | None = None, *,
              run_id: int | None = None) -> list[RunRow]:
    """Runs, newest first."""
    where, args = [], []
    if run_id is not None:
        where.append("id = ?")
        args.append(int(run_id))
    if stage:
        where.append("stage = ?")
        args.append(stage)
    if status:
        where.append("status = ?")
        args.append(status)
    q = ("SELECT id, stage, settings_json, version, shard_json, counts_json, status, message, who, pid, host,"
         " started_at, finished_at, duration_s FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
         + " ORDER BY id DESC" + (" LIMIT ?" if limit else ""))
    if limit:
        args.append(int(limit))
    cur = project.conn.execute(q, args)
    names = [d[0] for d in cur.description]
    out = []
    for values in cur.fetchall():
        r = dict(zip(names, values))
        counts = json.loads(r["counts_json"] or "{}")
        if not isinstance(counts, dict):  # a bare number from an older writer
            counts = {"total": counts}
        out.append(RunRow(r["id"], r["stage"], json.loads(r["settings_json"] or "{}"), r["version"],
                          json.loads(r["shard_json"] or "{}"), counts, r["status"], r["message"],
                          r["who"], r["pid"], r["host"], r["started_at"], r["finished_at"], r["duration_s"]))
    return out


def get_run(project, run_id: int) -> RunRow | None:
    rows = list_runs(project, run_id=run_id)
    return rows[0] if rows else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OSError:
        return False
    return True


def mark_interrupted(conn) -> int:
    """Runs left 'running' by a process of this host that is gone become 'interrupted'. Returns how many.

    Takes the raw connection (called while opening, before the Project object exists). Runs of other hosts
    are left alone: we cannot tell whether they still run.
    """
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone() is None:
        return 0  # a schema without runs (only in tests of old migrations)
    host = socket.gethostname()
    rows = conn.execute("SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", (host,)).fetchall()
    dead = [rid for rid, pid in rows if pid is None or (pid != os.getpid() and not _pid_alive(int(pid)))]
    if dead:
        now = time.time()
        with conn:
            conn.executemany("UPDATE runs SET status = 'interrupted', finished_at = ?, duration_s = ? - started_at,"
                             " message = COALESCE(message, 'the process running it ended without finishing it')"
                             " WHERE id = ?", [(now, now, rid) for rid in dead])
    return len(dead)


def runs_summary(project) -> dict:
    """Counts of runs by stage and status, and the newest run of each stage (for `walt3d info --json`)."""
    out: dict = {}
    for stage, status, n in project.conn.execute("SELECT stage, status, COUNT(*) FROM runs GROUP BY stage, status"):
        out.setdefault(stage, {"counts": {}, "last": None})["counts"][status] = n
    for stage in out:
        last = list_runs(project, stage=stage, limit=1)[0]
        out[stage]["last"] = {"id": last.id, "status": last.status, "started_at": last.started_at,
                              "duration_s": last.duration_s, "counts": last.counts, "message": last.message}
    return out
