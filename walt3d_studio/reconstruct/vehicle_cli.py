"""`walt3d fit vehicles PROJECT [--camera C] [--tracks ...]` and `walt3d shapes show|export`."""
from __future__ import annotations

import argparse
import json


def register_fit(fsub) -> None:
    s = fsub.add_parser("vehicles", help="fit the 3D vehicle model to the usable vehicle tracks")
    s.add_argument("project")
    s.add_argument("--camera", help="camera name (default: every camera)")
    s.add_argument("--tracks", nargs="+", type=int, metavar="ID", help="only these track ids")
    s.add_argument("--no-proposals", action="store_true", help="do not store the fit's keypoint proposals")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,  # keeps `walt3d --quiet fit …`
                   help="no progress bars")
    s.set_defaults(func=cmd_fit_vehicles)


def register(sub) -> None:
    sh = sub.add_parser("shapes", help="the vehicle shape model: show it, export a mesh")
    ssub = sh.add_subparsers(dest="shapes_cmd", required=True, metavar="COMMAND")
    s = ssub.add_parser("show", help="the mean's dimensions and the PCA components")
    s.add_argument("--kind", default="car", choices=["car", "bus_truck"])
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_shapes_show)
    e = ssub.add_parser("export", help="write the mesh of a shape α as OBJ")
    e.add_argument("out", help="output .obj file")
    e.add_argument("--alpha", nargs="*", type=float, default=[], help="shape coefficients (default: the mean)")
    e.add_argument("--kind", default="car", choices=["car", "bus_truck"])
    e.set_defaults(func=cmd_shapes_export)


def cmd_fit_vehicles(args) -> int:
    from ..cli import progress_bar
    from ..progress import set_result
    from ..store import Project
    from .vehicle_fit import VehicleFitSettings, fit_vehicles

    with Project.open(args.project) as p:
        cam = p.camera(args.camera).id if args.camera else None
        with progress_bar("fitting vehicles", args.quiet, unit="track") as ctx:
            summary = fit_vehicles(p, cam, args.tracks, ctx=ctx,
                                   settings=VehicleFitSettings(proposals=not args.no_proposals))
    set_result(**{k: summary[k] for k in ("tracks", "by_status", "by_method", "runs")})
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        from .vehicle_fit import summary_line

        print(summary_line(summary))
        for tid, why in summary["skipped"].items():
            print(f"  track {tid} skipped: {why}")
    return 0


def cmd_shapes_show(args) -> int:
    from .vehicle_shape import summary

    s = summary(args.kind)
    if args.json:
        print(json.dumps(s, indent=2))
        return 0
    m = s["mean"]
    print(f"{args.kind} shape model from {s['n_vehicles']} vehicles: mean length {m['length']:.2f} m (lamp to lamp), "
          f"width {m['width']:.2f} m, height {m['height']:.2f} m, wheelbase {m['wheelbase']:.2f} m, "
          f"track {m['track']:.2f} m")
    for c in s["components"]:
        print(f"  component {c['index']}: {100 * c['variance_ratio']:.1f} % of the variance, stddev {c['stddev_m']:.3f}")
    return 0


def cmd_shapes_export(args) -> int:
    from pathlib import Path

    from ..atomic import write_text
    from ..errors import BadInputError
    from .vehicle_shape import mesh_for_alpha

    out = Path(args.out)
    if out.suffix.lower() != ".obj":
        raise BadInputError(f"{out} is not an .obj file name.", "Give a path ending in .obj.")
    if not out.parent.exists():
        raise BadInputError(f"The folder {out.parent} does not exist.", "Create it first or pick another path.")
    v, f = mesh_for_alpha(args.alpha, args.kind)
    lines = [f"# WALT3D Studio vehicle ({args.kind}), alpha = {list(args.alpha)}; metres, x forward, y left, z up"]
    lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in v]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in f]
    write_text(out, "\n".join(lines) + "\n")
    print(f"Wrote {out}: {len(v)} vertices, {len(f)} faces")
    return 0
