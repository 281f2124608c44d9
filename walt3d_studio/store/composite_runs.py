"""Recording compositor runs in the `runs` table: the platform's store/runs.py when it is there, else this small
stand-in with the same shape (start 'running', finish 'done' / 'cancelled' / 'failed' with counts)."""
from __future__ import annotations

import getpass
import json
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import Cancelled


@dataclass
class _Recording:
    id: int | None
    counts: dict = field(default_factory=dict)
    message: str | None = None


def _start(project, stage: str, settings: dict, shard: dict) -> int | None:
    from .. import __version__

    if getattr(project, "readonly", False):
        return None
    try:
        who = f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:
        who = "unknown"
    with project.transaction() as c:
        return c.execute(
            "INSERT INTO runs (stage, settings_json, version, shard_json, status, who, pid, host, started_at)"
            " VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            (stage, json.dumps(settings, default=str), __version__, json.dumps(shard, default=str), who, os.getpid(),
             socket.gethostname(), time.time())).lastrowid


def _finish(project, run_id, counts, status, message=None) -> None:
    if run_id is None:
        return
    now = time.time()
    with project.transaction() as c:
        c.execute("UPDATE runs SET status = ?, counts_json = ?, message = ?, finished_at = ?, duration_s = ? - started_at"
                  " WHERE id = ?", (status, json.dumps(counts, default=str), message, now, now, run_id))


@contextmanager
def recorded(project, stage: str, settings: dict, shard: dict | None = None):
    """`with recorded(p, "composite", settings, {"camera": 1}) as rec: ...; rec.counts[...] = n`."""
    try:
        from .runs import recorded_run  # the platform's, once merged
    except ImportError:
        recorded_run = None
    if recorded_run is not None:
        with recorded_run(project, stage, settings, shard or {}) as rec:
            yield rec
        return
    rec = _Recording(_start(project, stage, settings, shard or {}))
    try:
        yield rec
    except BaseException as e:
        status = "cancelled" if isinstance(e, (Cancelled, KeyboardInterrupt)) else "failed"
        try:
            _finish(project, rec.id, rec.counts, status, (str(e) or type(e).__name__)[:1000])
        except Exception:
            pass
        raise
    _finish(project, rec.id, rec.counts, "done", rec.message)
