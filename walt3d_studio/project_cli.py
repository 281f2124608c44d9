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

    s = sub.add_parser("orphans", help="human edits a re-run found no match for: list, re-attach or discard")
    s.add_argument("project")
    s.add_argument("--camera")
    s.add_argument("--all", action="store_true", help="also the ones already re-attached or discarded")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--attach", nargs=2, type=int, metavar=("ORPHAN", "DETECTION"),
                   help="give an orphaned edit to a detection (a track label goes to the detection's track)")
    g.add_argument("--discard", type=int, metavar="ORPHAN", help="drop an orphaned edit (kept in the record)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_orphans)


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


def cmd_orphans(args) -> int:
    from .store import Project
    from .store.orphans import discard_orphan, list_orphans, reattach_orphan

    writing = bool(args.attach or args.discard)
    with Project.open(args.project, readonly=not writing) as p:
        if args.attach:
            a = reattach_orphan(p, args.attach[0], args.attach[1])
            print(f"Re-attached orphaned edit {a.orphan_id} to {a.target} {a.target_id}.")
            return 0
        if args.discard:
            discard_orphan(p, args.discard)
            print(f"Discarded orphaned edit {args.discard}.")
            return 0
        cam = p.camera(args.camera).id if args.camera else None
        rows = list_orphans(p, cam, include_resolved=args.all)
        names = {c.id: c.name for c in p.cameras()}
    if args.json:
        print(json.dumps([o.__dict__ for o in rows], indent=2))
        return 0
    if not rows:
        print("No orphaned edits.")
        return 0
    for o in rows:
        box = "[" + ", ".join(f"{v:g}" for v in o.box) + "]" if o.box else ""
        state = f"  ({o.resolved})" if o.resolved else ""
        print(f"#{o.id:<5} {o.describe()}, camera {names.get(o.camera_id, o.camera_id)}, frame {o.frame_id} "
              f"{box} by {o.payload.get('who', '?')}{state}")
    print(f"{len(rows)} orphaned edit(s). Re-attach one with --attach ORPHAN DETECTION, or --discard ORPHAN.")
    return 0
