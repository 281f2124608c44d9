"""`walt3d export PROJECT OUT` and `walt3d validate DATASET`."""
from __future__ import annotations


def cmd_export(args) -> int:
    from ..cli import progress_bar
    from .export import export_dataset

    with progress_bar("export", args.quiet, unit="image") as ctx:
        s = export_dataset(args.project, args.out, fmt=args.format, blur=args.blur, arrays=not args.no_arrays,
                           ctx=ctx, force=args.force, methods=tuple(args.method or ("walt3d",)))
    from ..progress import set_result

    # the app's File > Export dataset runs this command as a child and reads `summary` from the result line
    set_result(summary=dict(s), dataset=s["path"], images=s["counts"]["total"]["images"],
               annotations=s["counts"]["total"]["annotations"])
    c = s["counts"]
    print(f"Exported {c['total']['images']} images, {c['total']['annotations']} annotations to {s['path']} "
          f"({s['format']}) in {s['seconds']:.1f} s")
    for split, v in c["splits"].items():
        print(f"  {split}: {v['images']} images, " + ", ".join(f"{n} {k}" for k, n in v["categories"].items()))
    if s["privacy"]:
        print("  blurred: " + ", ".join(f"{n} {k}" for k, n in s["privacy"].items()))
    return 0


def cmd_validate(args) -> int:
    from ..cli import progress_bar
    from .validate_dataset import validate_dataset

    with progress_bar("validate", args.quiet, unit="split") as ctx:
        problems = validate_dataset(args.dataset, ctx=ctx)
    if problems:
        print(f"{args.dataset}: {len(problems)} problem(s)")
        for p in problems:
            print(f"  {p}")
        return 1
    print(f"{args.dataset}: valid")
    return 0


def register(sub) -> None:
    s = sub.add_parser("export", help="export the composites as an amodal dataset (COCO/KINS JSON, images, HDF5)")
    s.add_argument("project")
    s.add_argument("out", help="dataset folder to create (refused if it exists, unless --force)")
    s.add_argument("--format", choices=("coco-amodal", "kins"), default="coco-amodal")
    s.add_argument("--blur", default="faces,plates",
                   help="privacy treatment: comma list of faces, plates, cascade, plug-in names; or none")
    s.add_argument("--no-arrays", action="store_true", help="skip the HDF5 depth/normal/instance arrays")
    s.add_argument("--method", action="append", choices=("walt3d", "walt2d", "walt2d-bottom"),
                   help="composite method(s) to export (default walt3d)")
    s.add_argument("--force", action="store_true", help="replace an existing OUT")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("validate", help="check an exported dataset (exit 0 valid, 1 with a list of problems)")
    s.add_argument("dataset")
    s.set_defaults(func=cmd_validate)
