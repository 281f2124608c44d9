"""`walt3d fit people PROJECT`, `walt3d bodies set-model|show PROJECT` and `walt3d bodies estimators`."""
from __future__ import annotations

import argparse
import json


def register_fit(fsub) -> None:
    s = fsub.add_parser("people", help="fit SMPL-layout bodies to the usable person tracks, on the ground plane")
    s.add_argument("project")
    s.add_argument("--camera", help="camera name (default: every camera)")
    s.add_argument("--estimator", default="builtin", help="body estimator (see `walt3d bodies estimators`)")
    s.add_argument("--min-iou", type=float, default=0.5, help="silhouette IoU below which a fit needs review")
    s.add_argument("--fast-silhouette", action="store_true",
                   help="judge silhouettes by the body parts' convex hulls (faster, ~5%% larger)")
    s.add_argument("--no-proposals", action="store_true", help="do not store the fitted COCO-17 keypoints")
    s.add_argument("--json", action="store_true", help="print the summary as JSON")
    s.add_argument("--quiet", action="store_true", default=argparse.SUPPRESS,  # keeps `walt3d --quiet fit …`
                   help="no progress bars")
    s.set_defaults(func=cmd_fit_people)


def register(sub) -> None:
    b = sub.add_parser("bodies", help="body models (the shipped proxy or your SMPL file) and body estimators")
    bsub = b.add_subparsers(dest="bodies_cmd", required=True, metavar="COMMAND")
    s = bsub.add_parser("set-model", help="use your own SMPL model file for this project (or --proxy)")
    s.add_argument("project")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--smpl", metavar="PATH", help="SMPL model file (.pkl from smpl.is.tue.mpg.de, or .npz)")
    g.add_argument("--proxy", action="store_true", help="go back to the shipped proxy body")
    s.add_argument("--trust", action="store_true",
                   help="you trust this pickle: it is read once (restricted, no chumpy) and kept as .npz")
    s.set_defaults(func=cmd_set_model)
    s = bsub.add_parser("show", help="which body model the project uses")
    s.add_argument("project")
    s.set_defaults(func=cmd_show_model)
    s = bsub.add_parser("estimators", help="list body estimators and whether they can run")
    s.set_defaults(func=cmd_estimators)


def cmd_fit_people(args) -> int:
    from ..cli import progress_bar
    from ..store import Project
    from .people_fit import PeopleFitSettings, fit_people, summary_line

    settings = PeopleFitSettings(estimator=args.estimator, min_iou=args.min_iou, proposals=not args.no_proposals,
                                 silhouette="parts" if args.fast_silhouette else "exact")
    with Project.open(args.project) as p:
        cam = p.camera(args.camera).id if args.camera else None
        with progress_bar("fitting people", args.quiet, unit="track") as ctx:
            summary = fit_people(p, cam, ctx=ctx, settings=settings)
    from ..progress import set_result

    set_result(**{k: summary[k] for k in ("tracks", "detections", "by_status", "estimator", "body_model", "runs")})
    print(json.dumps(summary, indent=2) if args.json else summary_line(summary))
    return 0


def cmd_set_model(args) -> int:
    from ..store import Project
    from ..store.body_models import body_model, model_dir, set_body_model
    from .smpl_model import convert_model

    with Project.open(args.project) as p:
        if args.proxy:
            set_body_model(p, None)
            print("The project now uses the shipped proxy body.")
            return 0
        name, sha, npz = convert_model(args.smpl, model_dir(p), trust=args.trust)
        set_body_model(p, name, sha)
        info = body_model(p)
    print(f"The project now uses the SMPL model {info['file']} (sha256 {sha[:12]}…), kept as {npz.name}.")
    print("New fits record it; earlier fits keep the model they were made with.")
    return 0


def cmd_show_model(args) -> int:
    from ..store import Project
    from ..store.body_models import body_model

    with Project.open(args.project, readonly=True) as p:
        info = body_model(p)
    if info is None:
        print("proxy (the shipped body: SMPL-topology meshes, CC BY 4.0; see resources/body/ATTRIBUTION.md)")
    else:
        print(f"smpl: {info['file']} sha256 {info['sha256']} ({info['npz']})")
    return 0


def cmd_estimators(args) -> int:
    from .body_estimators import list_estimators

    for e in list_estimators():
        state = "available" if e.available else f"unavailable: {e.reason}"
        print(f"{e.name:10s} {state}  [{e.origin}]\n           {e.description}")
    return 0
