"""Store side of sharded stage runs (`walt3d run STAGE PROJECT ...`, scaleout.py): a merge writes one stage's results
and its `runs` row in the same transaction, and the runs row carries the key of the sharded run it merged, so a merge
that already happened is seen (and skipped) atomically: nothing is merged twice, even after a crash between the data
and the bookkeeping.
"""
from __future__ import annotations

import json
import os
import socket
import time

from .runs import _jsonable, who_am_i


def merged_keys(project, key: str) -> set[str]:
    """The `part`s of sharded run `key` already merged (e.g. {"camera 1", "all"})."""
    out = set()
    for (shard_json,) in project.conn.execute(
            "SELECT shard_json FROM runs WHERE status = 'done' AND shard_json LIKE ?", (f'%"{key}"%',)):
        shard = json.loads(shard_json or "{}")
        if shard.get("sharded") == key:
            out.add(str(shard.get("part")))
    return out


def _insert_run(c, stage: str, settings, shard: dict, counts: dict, message: str | None, started_at: float) -> int:
    from .. import __version__

    now = time.time()
    return c.execute(
        "INSERT INTO runs (stage, settings_json, version, shard_json, counts_json, status, message, who, pid, host,"
        " started_at, finished_at, duration_s) VALUES (?, ?, ?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?)",
        (stage, json.dumps(_jsonable(settings), default=str), __version__, json.dumps(shard, default=str),
         json.dumps(counts, default=str), message, who_am_i(), os.getpid(), socket.gethostname(), started_at, now,
         now - started_at)).lastrowid


def merge_track_fits(project, stage: str, settings, shard: dict, fits, proposals, counts: dict,
                     started_at: float) -> int:
    """One camera's fits from its shards, their keypoint proposals and the run row, in one transaction (the same rows
    `save_track_fits` writes in an unsharded run). Returns the run id."""
    from .fits import _check, _insert_fit_keypoints, _insert_track_fits

    for f in fits:
        _check(f)
    with project.transaction() as c:
        run_id = _insert_run(c, stage, settings, shard, counts, None, started_at)
        now = time.time()
        _insert_track_fits(c, fits, run_id, now)
        if proposals:
            _insert_fit_keypoints(c, proposals, now)
    return run_id


def next_composite_id(project) -> int:
    """The id the next inserted composite gets (ids are INTEGER PRIMARY KEY: max + 1)."""
    return int(project.conn.execute("SELECT COALESCE(MAX(id), 0) FROM composites").fetchone()[0]) + 1


def merge_composites(project, stage: str, settings, shard: dict, composites, first_id: int, counts: dict,
                     started_at: float) -> int:
    """Composites from shards (files already in place under their final ids) and the run row, in one transaction.
    The composites take the ids first_id, first_id + 1, ... in order; if another writer took one meanwhile the
    insert fails and nothing is stored. Returns the run id."""
    from .composites import _check, _insert_composite

    for comp in composites:
        _check(comp)
    with project.transaction() as c:
        if next_composite_id(project) != first_id:
            raise RuntimeError("another writer added composites during the merge; run the merge again")
        run_id = _insert_run(c, stage, settings, shard, counts, None, started_at)
        now = time.time()
        for i, comp in enumerate(composites):
            comp.run_id, comp.created_at, comp.id = run_id, now, first_id + i
            _insert_composite(c, comp)
    return run_id


def record_merged_run(project, stage: str, settings, shard: dict, counts: dict, started_at: float) -> int:
    """The run row of a merge whose writes are idempotent upserts (backgrounds): recorded once they are all in."""
    with project.transaction() as c:
        return _insert_run(c, stage, settings, shard, counts, None, started_at)
