"""`walt3d splits PROJECT ...` and `walt3d composite PROJECT ...`."""
from __future__ import annotations

import json


def cmd_splits(args) -> int:
    from ..cli import _camera_id
    from ..store import Project
    from .splits import check_splits, split_tracks

    with Project.open(args.project) as p:
        cam = _camera_id(p, args.camera) if args.camera else None
        out = split_tracks(p, args.by, args.val, args.test, args.seed, camera_id=cam)
        problems = check_splits(p, cam)
    c = out["counts"]
    print(f"Split {sum(c.values())} usable tracks by {args.by} ({out['groups']} groups): "
          f"train {c['train']}, val {c['val']}, test {c['test']}")
    for line in problems[:20]:
        print(f"  problem: {line}")
    return 0 if not problems else 1


def cmd_composite(args) -> int:
    from ..cli import _camera_id, progress_bar
    from ..store import Project
    from .make import CompositeSettings, delete_all, make_composites

    with Project.open(args.project) as p:
        cam = _camera_id(p, args.camera) if args.camera else None
        if args.n == 0 and args.clear:
            print(f"Deleted {delete_all(p, cam, args.method)} composite(s)")
            return 0
        s = CompositeSettings(method=args.method, n=args.n, seed=args.seed, camera_id=cam,
                              objects_per_image=tuple(args.objects) if args.objects else None,
                              margin_m=args.margin, per_track=args.per_track, feather_px=args.feather,
                              gain=args.gain,
                              arrays=not args.no_arrays, include_unreviewed=args.include_unreviewed)
        with progress_bar(f"composite {args.method}", args.quiet, unit="image") as ctx:
            out = make_composites(p, ctx=ctx, clear=args.clear, settings=s)
    from ..progress import set_result

    # the app runs compositing as a child process (`--progress jsonl`) and shows these
    set_result(**{k: out.get(k) for k in ("method", "composites", "objects", "by_camera", "occlusion_histogram")},
               seed=args.seed)
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    imp = out.get("impossible", {})
    print(f"Made {out['composites']} {args.method} composites with {out['objects']} objects")
    for name, c in out["by_camera"].items():
        print(f"  {name}: {c.get('composites', 0)}" + (f" ({c['why']})" if c.get("why") else ""))
    if imp and imp["pairs"]:
        print(f"  physically impossible: {imp['intersecting'] + imp['misordered']} of {imp['pairs']} interacting pairs"
              f" ({100 * imp['pair_rate']:.1f} %; {imp['intersecting']} intersect in 3D, {imp['misordered']} pasted"
              f" against 3D depth), {100 * imp['image_rate']:.1f} % of images")
    if imp and imp["unmeasured"]:
        print(f"  {imp['unmeasured']} overlapping pairs not measured (objects without a 3D fit)")
    if imp:
        print(f"  occlusion histogram 0-20-40-60-80-100 %: {out.get('occlusion_histogram')}")
    return 0


def register(sub) -> None:
    s = sub.add_parser("splits", help="assign usable tracks to train/val/test (before compositing)")
    s.add_argument("project")
    s.add_argument("--by", choices=("track", "day", "camera"), default="track")
    s.add_argument("--val", type=float, default=0.1)
    s.add_argument("--test", type=float, default=0.1)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--camera", help="only this camera's tracks (default: all)")
    s.set_defaults(func=cmd_splits)

    s = sub.add_parser("composite", help="paste mined objects onto the background: WALT3D or the WALT2D baselines")
    s.add_argument("project")
    s.add_argument("--method", choices=("walt3d", "walt2d", "walt2d-bottom"), default="walt3d")
    s.add_argument("--n", type=int, default=100, help="composites per camera")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--camera", help="only this camera (default: all)")
    s.add_argument("--clear", action="store_true", help="delete this method's earlier composites first")
    s.add_argument("--objects", type=int, nargs=2, metavar=("MIN", "MAX"),
                   help="objects per image (default 4 12 for walt3d, 30 30 for walt2d)")
    s.add_argument("--margin", type=float, default=0.2, help="minimum ground gap between footprints, metres")
    s.add_argument("--per-track", type=int, default=3, help="WALT3D: a track at most this often in one image")
    s.add_argument("--feather", type=float, default=0.0, help="soften mask edges over this many pixels (1-2)")
    s.add_argument("--gain", action="store_true", help="match each object's lighting to the background")
    s.add_argument("--no-arrays", action="store_true", help="skip depth/normal/instance maps")
    s.add_argument("--include-unreviewed", action="store_true",
                   help="also use fits flagged 'needs review' that nobody accepted yet (rejected fits never)")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.set_defaults(func=cmd_composite)
