"""The `walt3d` command: the same pipeline as the app, headless. The project folder comes first."""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from . import __version__, progress
from .errors import Cancelled, Walt3DError


def progress_bar(desc: str, quiet: bool = False, unit: str = "frame"):
    """The JobContext for a long step: a tqdm bar on stderr, or JSON lines with `--progress jsonl`."""
    return progress.progress_context(desc, quiet, unit)


def _camera_id(project, name: str | None) -> int:
    return project.camera(name).id if name else project.default_camera().id


def cmd_init(args) -> int:
    from .store import Project

    with Project.create(args.project) as p:
        if args.camera:
            p.add_camera(args.camera, args.tz)
        print(f"Created {p.root}")
    return 0


def cmd_add_source(args) -> int:
    from .store import Project
    from .timelapse import parse_user_time

    with Project.open(args.project) as p:
        cams = p.cameras()
        if args.camera:
            cam_id = next((c.id for c in cams if c.name == args.camera), None)
        else:  # the first camera, made on the first import
            cam_id = cams[0].id if cams else None
        # a camera this command makes is written with its first source: a failed or killed import leaves none
        new = p.check_new_camera(args.camera or "cam1", args.tz) if cam_id is None else None
        for path in args.paths:
            tz = p.camera(cam_id).tz if cam_id is not None else new[1]
            start = parse_user_time(args.start, tz) if args.start else None
            with progress_bar(f"importing {Path(path).name}", args.quiet) as ctx:
                src = p.add_source(path, cam_id, ctx=ctx, start=start, fps=args.fps, new_camera=new)
            cam_id, new = src.camera_id, None
            print(f"Added {src.n_frames} frames from {src.path} (capture times from {src.time_origin})")
            if src.skipped:
                print(f"  skipped {len(src.skipped)} unreadable: " +
                      ", ".join(s["name"] for s in src.skipped[:10]) + (" ..." if len(src.skipped) > 10 else ""))
    return 0


def cmd_background(args) -> int:
    from .background_job import compute_backgrounds, merge_background_shard
    from .store import Project

    from .store.runs import recorded_run

    if args.merge:
        with Project.open(args.project) as p:
            cam, keys = merge_background_shard(p, args.merge)
            with recorded_run(p, "background-merge", {}, {"camera": cam, "from": str(args.merge)}) as rec:
                rec.counts["windows"] = len(keys)
        print(f"Stored {len(keys)} background(s) from {args.merge}: {', '.join(keys)}")
        return 0
    hours = None if args.all else args.hours_per_window
    if args.shard_out:  # the stage protocol: read the project, write a shard folder, the caller merges it
        with Project.open(args.project, readonly=True) as p:
            cam = _camera_id(p, args.camera)
            with progress_bar("median background", args.quiet) as ctx:
                keys = compute_backgrounds(p, cam, hours_per_window=hours, ctx=ctx, out_dir=args.shard_out)
        progress.set_result(shard=str(Path(args.shard_out).resolve()), camera_id=cam, windows=keys)
        print(f"Wrote background shard {args.shard_out}: {', '.join(keys)}. "
              f"Store it with: walt3d background {args.project} --merge {args.shard_out}")
        return 0
    with Project.open(args.project) as p:
        cam = _camera_id(p, args.camera)
        with recorded_run(p, "background", {"hours_per_window": hours}, {"camera": cam}) as rec, \
                progress_bar("median background", args.quiet) as ctx:
            keys = compute_backgrounds(p, cam, hours_per_window=hours, ctx=ctx)
            rec.counts["windows"] = len(keys)
        print(f"Stored {len(keys)} background(s): {', '.join(keys)}")
    return 0


def cmd_calibrate(args) -> int:
    from .calibration import calibrate_from_lines_file, summary
    from .camera import Camera
    from .store import Project

    with Project.open(args.project) as p:
        cam = _camera_id(p, args.camera)
        if args.lines:
            camera = calibrate_from_lines_file(args.lines)
        elif args.load:
            camera = Camera.load(args.load)
        else:
            camera = p.calibration(cam)
            if camera is None:
                raise Walt3DError("This camera has no calibration yet.", "Give --lines FILE or --load camera.json.")
        if args.lines or args.load:
            p.set_calibration(cam, camera)
        if args.save:
            camera.save(args.save)
        print(summary(camera))
    return 0


def cmd_info(args) -> int:
    from .store import Project

    with Project.open(args.project, readonly=True) as p:
        info = p.info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"Project {info['project']} (schema {info['schema_version']})")
    for c in info["cameras"]:
        size = "x".join(str(v) for v in c["size"]) if c["size"][0] else "?"
        print(f"  camera {c['name']} ({size}, {c['tz']}): {c['frames']} frames from {len(c['sources'])} source(s)"
              + (f", {c['skipped']} skipped" if c["skipped"] else ""))
        if c["time_span"]:
            from datetime import datetime

            from zoneinfo import ZoneInfo

            a, b = (datetime.fromtimestamp(t, ZoneInfo(c["tz"])).isoformat(timespec="seconds") for t in c["time_span"])
            print(f"    time span {a} .. {b}")
        cal = c["calibration"]
        if cal:
            print(f"    calibration: {cal['provenance'].get('method', '?')}, f = {cal['K'][0][0]:.1f} px, "
                  f"camera height {cal['d']:.2f} m")
        else:
            print("    calibration: none")
        bgs = ", ".join(f"{b['window']} ({b['n_frames']} frames)" for b in c["backgrounds"]) or "none"
        print(f"    backgrounds: {bgs}")
        if c["detections"]:
            print(f"    detections: {c['detections']} in {c['tracks']} tracks; {c['mined']} mined, "
                  f"{c['usable_tracks']} usable tracks")
            print(f"    human work: {c['labels']} labelled detections, {c['human_keypoints']} with keypoints"
                  + (f"; {c['orphans']} orphaned edits (walt3d orphans)" if c["orphans"] else ""))
        if c.get("splits") and any(c["splits"].values()):
            s = c["splits"]
            print(f"    splits (tracks): train {s['train']}, val {s['val']}, test {s['test']}")
        if c["fits"] or c["composites"]:
            print(f"    3D fits: {c['fits']} tracks; composites: {c['composites']}")
    if info["runs"]:
        print("  runs: " + ", ".join(f"{stage} ({r['last']['status']})" for stage, r in info["runs"].items())
              + " (walt3d runs)")
    return 0


def cmd_demo(args) -> int:
    if args.project_only:
        from .demo import run_demo

        with progress_bar("demo", args.quiet, unit="step") as ctx:
            root, lines = run_demo(Path(args.out), ctx=ctx)
        print("\n".join(lines))
        print(f"Demo project ready: {root}\nOpen it with: walt3d-studio {root}")
        return 0
    from .method_demo import run_method

    with progress_bar("demo: the whole method", args.quiet, unit="‰") as ctx:
        report, steps = run_method(Path(args.out), ctx=ctx)
    for s in steps:
        if "seconds" in s:
            print(f"{s['stage']:>13} {s['seconds']:>6.1f} s  {s.get('summary', '')[:160]}")
    print(f"Report: {report}\nOpen the project with: walt3d-studio {Path(args.out) / 'demo.walt3d'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="walt3d", description="WALT3D Studio pipeline, headless.")
    ap.add_argument("--version", action="version", version=f"walt3d {__version__}")
    ap.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    ap.add_argument("--progress", choices=["bar", "jsonl", "none"], default=None,
                    help="how long commands report progress: a bar on stderr (default), JSON lines on stdout "
                         "(one object per line: done, total, message; result or error last), or none")
    sub = ap.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="create a project folder NAME.walt3d")
    s.add_argument("project")
    s.add_argument("--camera", help="also add a camera with this name")
    s.add_argument("--tz", help="the camera's IANA time zone (default: this machine's)")
    s.set_defaults(func=cmd_init)

    s = sub.add_parser("add-source", help="add folders of images or video files to a camera")
    s.add_argument("project")
    s.add_argument("paths", nargs="+")
    s.add_argument("--camera", help="camera name (created if new; default: the first camera)")
    s.add_argument("--tz", help="time zone for a new camera")
    s.add_argument("--start", help="capture time of the first frame (ISO 8601, camera local time)")
    s.add_argument("--fps", type=float, help="frames per second of capture (overrides file times)")
    s.set_defaults(func=cmd_add_source)

    s = sub.add_parser("background", help="compute the median background per time window")
    s.add_argument("project")
    s.add_argument("--camera")
    s.add_argument("--hours-per-window", type=int, default=1, help="window length in hours of day (default 1)")
    s.add_argument("--all", action="store_true", help="one background over all frames")
    s.add_argument("--shard-out", metavar="DIR", help="write the medians to DIR (project opened read-only) "
                   "instead of storing them; store them later with --merge DIR")
    s.add_argument("--merge", metavar="DIR", help="store the medians of a folder written with --shard-out")
    s.set_defaults(func=cmd_background)

    s = sub.add_parser("calibrate", help="calibrate a camera from lines, or load/save camera.json")
    s.add_argument("project")
    s.add_argument("--camera")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--lines", help="lines file (see docs/calibration.md)")
    g.add_argument("--load", help="a camera.json to store for this camera")
    s.add_argument("--save", help="write the camera's calibration to this camera.json")
    s.set_defaults(func=cmd_calibrate)

    s = sub.add_parser("info", help="counts, time span, calibration")
    s.add_argument("project")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("demo", help="the whole method on the bundled footage, to OUT/report.html (minutes)")
    s.add_argument("out", help="folder to create the demo project in")
    s.add_argument("--project-only", action="store_true",
                   help="only build the project (import, calibration, backgrounds, mining): seconds, not minutes")
    s.set_defaults(func=cmd_demo)

    # Later stages add their subcommands from their own packages (light imports only at this point).
    import importlib

    for module in STAGE_COMMANDS:
        importlib.import_module(module).register(sub)
    return ap


# Modules with a `register(subparsers)` function adding a stage's subcommands.
STAGE_COMMANDS: list[str] = ["walt3d_studio.project_cli", "walt3d_studio.keypoints.cli", "walt3d_studio.mining.cli", "walt3d_studio.reconstruct.cli",
                              "walt3d_studio.training.cli", "walt3d_studio.scaleout",
                              "walt3d_studio.composite.cli", "walt3d_studio.dataset.cli"]


def _explain_fault(e: BaseException, project: str | None):
    from .errors import explain_os_error

    if isinstance(e, sqlite3.DatabaseError):
        from .store.db import damaged, explain_db_error
        from .store.project import normalise_path

        root = Path(project) if project else Path.cwd()
        if project and not root.exists():
            root = normalise_path(root)
        err = explain_db_error(e, root)
        if err is None and ("malformed" in str(e) or "not a database" in str(e)):
            err = damaged(root, e)
        return err
    return explain_os_error(e, None if getattr(e, "filename", None) or not project else Path(project))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    how = args.progress or ("none" if args.quiet else "bar")
    progress.set_mode("quiet" if how == "none" else how)
    try:
        if how == "jsonl":
            return progress.run_jsonl(args.func, args, lambda e: _explain_fault(e, getattr(args, "project", None))
                                      if isinstance(e, (OSError, sqlite3.DatabaseError)) else None)
        with progress.cancel_on_signals():  # Ctrl+C / SIGTERM stop at the next progress report, cleanly
            return args.func(args)
    except Walt3DError as e:
        if args.debug:
            raise
        print(f"error: {e.message}", file=sys.stderr)
        if e.hint:
            print(f"  {e.hint}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.DatabaseError) as e:
        # A full disk, a read-only place or a damaged database: say what is true, exit 2 (never "restore a
        # backup" for a disk that is merely full or read-only).
        err = _explain_fault(e, getattr(args, "project", None))
        if err is None or args.debug:
            raise
        print(f"error: {err.message}", file=sys.stderr)
        if err.hint:
            print(f"  {err.hint}", file=sys.stderr)
        return 2
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        progress.set_mode("bar")


if __name__ == "__main__":
    sys.exit(main())
