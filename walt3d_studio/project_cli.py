"""`walt3d runs PROJECT` (the recorded stage runs) and `walt3d orphans PROJECT ...` (human edits that lost
their detection in a re-run). Light imports only at registration."""
from __future__ import annotations

import json


def register(sub) -> None:
    s = sub.add_parser("runs", help="the recorded stage runs (newest first)")
    s.add_argument("project")
    s.add_argument("--stage", help="only this stage (mine, background, classifier-train, ...)")
    s.add_argument("--limit", type=int, default=50, help="at most this many (default 50; 0 = all)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_runs)


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    from datetime import datetime

    return datetime.fromtimestamp(t).isoformat(sep=" ", timespec="seconds")


def cmd_runs(args) -> int:
    from .store import Project
    from .store.runs import list_runs

    with Project.open(args.project, readonly=True) as p:
        rows = list_runs(p, stage=args.stage, limit=args.limit or None)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return 0
    if not rows:
        print("No runs recorded yet.")
        return 0
    for r in rows:
        dur = f"{r.duration_s:.1f} s" if r.duration_s is not None else "-"
        shard = ", ".join(f"{k}={v}" for k, v in r.shard.items() if v is not None) or "whole project"
        counts = ", ".join(f"{k} {v}" for k, v in r.counts.items())
        print(f"#{r.id:<4} {r.stage:<18} {r.status:<11} {_when(r.started_at)}  {dur:>9}  [{shard}]  {r.who}")
        if counts:
            print(f"      {counts}")
        if r.message and r.status != "done":
            print(f"      {r.message.splitlines()[0][:200]}")
    return 0
