"""`walt3d mine`, `walt3d detectors`, `walt3d classifier ...`, `walt3d labels ...` (light imports here only)."""
from __future__ import annotations

import json


def register(sub) -> None:
    s = sub.add_parser("mine", help="detect, track and judge occlusion; store mined objects and their crops")
    s.add_argument("project")
    s.add_argument("--camera", help="camera name (default: the first)")
    s.add_argument("--detector", default=None, help="detector backend (default: foreground, or import with "
                                                    "--import-detections); see `walt3d detectors`")
    s.add_argument("--weights", help="weights file for detectors that need one (e.g. maskrcnn)")
    s.add_argument("--import-detections", metavar="FILE", help="COCO results JSON or MOT txt computed elsewhere")
    s.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="detector option (repeatable), e.g. threshold=30")
    s.add_argument("--rule", action="append", default=[], metavar="KEY=VALUE",
                   help="occlusion rule setting (repeatable): occluder_score, delta, border_px, mine_score, "
                        "area_tolerance, area_window, min_mined_frames")
    s.add_argument("--start", help="first capture time to mine (ISO 8601, camera local time)")
    s.add_argument("--end", help="mine frames captured before this time (ISO 8601, camera local time)")
    s.add_argument("--replace", action="store_true", help="mine frames again, replacing their earlier detections "
                   "(human edits carry over to the matching new detections; the rest are kept as orphans)")
    s.add_argument("--dry-run", action="store_true", help="mine without storing anything and report what --replace "
                   "would carry over and what would become orphans")
    s.add_argument("--no-crops", action="store_true", help="do not write crops of mined objects")
    s.add_argument("--no-classifier", action="store_true", help="ignore a trained classifier (the rule decides)")
    s.add_argument("--shard-out", metavar="DIR", help="write results to DIR (project opened read-only) for a "
                                                      "later --merge, instead of storing them")
    s.add_argument("--merge", metavar="DIR", help="import a shard folder written by --shard-out")
    s.add_argument("--workers", type=int, help="detection threads (default: CPUs, at most 4)")
    s.set_defaults(func=cmd_mine)

    s = sub.add_parser("detectors", help="list detector backends and whether they can run")
    s.add_argument("--weights", help="check availability as if this weights file were given")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_detectors)

    s = sub.add_parser("classifier", help="the occlusion classifier trained on people's labels")
    csub = s.add_subparsers(dest="classifier_command", required=True)
    t = csub.add_parser("train", help="train on the project's U/O/X labels, report held-out accuracy, apply it")
    t.add_argument("project")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int)
    t.add_argument("--no-apply", action="store_true", help="store the model but do not re-judge detections")
    t.set_defaults(func=cmd_classifier_train)
    t = csub.add_parser("apply", help="re-judge every detection with the active classifier")
    t.add_argument("project")
    t.add_argument("--camera")
    t.set_defaults(func=cmd_classifier_apply)

    s = sub.add_parser("labels", help="export or import occlusion labels as a COCO dataset")
    lsub = s.add_subparsers(dest="labels_command", required=True)
    t = lsub.add_parser("export", help="write labelled detections (crops + U/O/X) to a COCO JSON")
    t.add_argument("project")
    t.add_argument("file")
    t.add_argument("--camera")
    t.add_argument("--read-only", action="store_true",
                   help="open the project read-only (export only the crops it has)")
    t.set_defaults(func=cmd_labels_export)
    t = lsub.add_parser("import", help="add labels from a file written by `labels export`")
    t.add_argument("project")
    t.add_argument("file")
    t.add_argument("--who", default="import", help="recorded as the labeller (default: import)")
    t.set_defaults(func=cmd_labels_import)

    s = sub.add_parser("occluders", help="the camera's static-occluder mask (poles, trees, parked vehicles)")
    osub = s.add_subparsers(dest="occluders_command", required=True)
    t = osub.add_parser("learn", help="learn it from long-lived foreground in the mined detections, and store it")
    t.add_argument("project")
    t.add_argument("--camera", help="camera name (default: the first)")
    t.add_argument("--min-seconds", type=float, default=3600.0,
                   help="an object must stay put at least this long (capture time; default 3600)")
    t.add_argument("--max-motion-px", type=float, default=5.0,
                   help="how far its box centre may move and still count as staying put (default 5)")
    t.add_argument("--dry-run", action="store_true", help="report what would be learned; store nothing")
    t.add_argument("--mask-out", metavar="PNG", help="write the learned mask to PNG (non-zero = occluder) and store "
                   "nothing, for review first (the app does this)")
    t.set_defaults(func=cmd_occluders_learn)
    t = osub.add_parser("set", help="store a mask painted elsewhere (PNG, frame-sized, non-zero = occluder)")
    t.add_argument("project")
    t.add_argument("--camera", help="camera name (default: the first)")
    g = t.add_mutually_exclusive_group(required=True)
    g.add_argument("--mask", metavar="PNG", help="the painted mask")
    g.add_argument("--clear", action="store_true", help="remove the camera's mask")
    t.set_defaults(func=cmd_occluders_set)


def _options(pairs: list[str]) -> dict:
    from ..errors import BadInputError

    out = {}
    for p in pairs:
        if "=" not in p:
            raise BadInputError(f"Detector option {p!r} is not KEY=VALUE.", "For example: --option threshold=30")
        k, v = p.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except ValueError:
            out[k.strip()] = v
    return out


def cmd_mine(args) -> int:
    from ..cli import _camera_id, progress_bar
    from ..store import Project
    from ..timelapse import parse_user_time
    from .mine import MineSettings, merge_shard, mine, mine_shard

    if args.merge:
        with Project.open(args.project) as p:
            rep = merge_shard(p, args.merge, replace=args.replace)
        print(f"Merged {args.merge}: {rep.summary()}")
        return 0
    from ..errors import BadInputError
    from .occlusion import RuleSettings

    detector = args.detector or ("import" if args.import_detections else "foreground")
    if ":" in detector:  # NAME:WEIGHTS, e.g. trained:RUN (a model `walt3d train` wrote)
        detector, args.weights = detector.split(":", 1)
    try:
        rule = RuleSettings(**_options(args.rule))
    except TypeError as e:
        raise BadInputError(f"Unknown occlusion rule setting ({e}).", "See `walt3d mine --help` for the names.")
    settings = MineSettings(rule=rule, detector=detector, weights=args.weights, import_path=args.import_detections,
                            detector_options=_options(args.option), crops=not args.no_crops,
                            use_classifier=not args.no_classifier, workers=args.workers)
    with Project.open(args.project, readonly=bool(args.shard_out or args.dry_run)) as p:
        cam = _camera_id(p, args.camera)
        tz = p.camera(cam).tz
        start = parse_user_time(args.start, tz) if args.start else None
        end = parse_user_time(args.end, tz) if args.end else None
        with progress_bar(f"mining {p.camera(cam).name}", args.quiet) as ctx:
            if args.dry_run:
                from .mine import preview_replace

                stake, plan, res = preview_replace(p, cam, settings, start=start, end=end, ctx=ctx)
                print(f"Dry run (nothing stored): {len(res.frame_ids)} frames would get {len(res.detections)} "
                      f"detections, replacing {stake.detections} with {stake.describe()}.")
                print(f"With --replace, human edits {plan.describe()}.")
                return 0
            if args.shard_out:
                from pathlib import Path

                res = mine_shard(p, cam, settings, start=start, end=end, out_dir=Path(args.shard_out), ctx=ctx,
                                 write=True)
                from ..progress import set_result

                set_result(shard=str(Path(args.shard_out).resolve()), camera_id=cam, frames=len(res.frame_ids),
                           detections=len(res.detections))
                print(f"Wrote shard {args.shard_out}: {len(res.frame_ids)} frames, {len(res.detections)} detections. "
                      f"Import it with: walt3d mine {args.project} --merge {args.shard_out}")
                return 0
            rep = mine(p, cam, settings, start=start, end=end, replace=args.replace, ctx=ctx)
    print(f"Mined {rep.summary()}")
    return 0


def cmd_detectors(args) -> int:
    from .registry import list_detectors

    rows = list_detectors(weights=args.weights)
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=2))
        return 0
    for r in rows:
        state = "available" if r.available else f"unavailable: {r.reason}"
        print(f"{r.name:<12} {state}  [{r.origin}]\n    {r.description}")
    return 0


def cmd_classifier_train(args) -> int:
    from ..cli import progress_bar
    from ..store import Project
    from .classifier import train_classifier

    from ..store.runs import recorded_run

    with Project.open(args.project) as p:
        settings = {"seed": args.seed, "epochs": args.epochs, "apply": not args.no_apply}
        with recorded_run(p, "classifier-train", settings) as rec, \
                progress_bar("occlusion classifier", args.quiet) as ctx:
            rep = train_classifier(p, seed=args.seed, epochs=args.epochs, apply=not args.no_apply, ctx=ctx)
            rec.counts.update(train=rep.n_train, val=rep.n_val, applied=rep.applied)
            rec.message = rep.summary()
    from dataclasses import asdict

    from ..progress import set_result

    set_result(report=asdict(rep))  # the app runs training as a child process and shows this report
    print(rep.summary())
    if rep.applied:
        print(f"Stored predictions for {rep.applied} detections (model {rep.version}).")
    return 0


def cmd_classifier_apply(args) -> int:
    from ..cli import progress_bar
    from ..store import Project
    from .classifier import apply_classifier

    from ..store.runs import recorded_run

    with Project.open(args.project) as p:
        cam = p.camera(args.camera).id if args.camera else None
        with recorded_run(p, "classifier-apply", {}, {"camera": cam} if cam else {}) as rec, \
                progress_bar("classifying", args.quiet) as ctx:
            n = apply_classifier(p, cam, ctx=ctx)
            rec.counts["judged"] = n
    print(f"Stored predictions for {n} detections.")
    return 0


def cmd_labels_export(args) -> int:
    from ..cli import progress_bar
    from ..progress import set_result
    from ..store import Project
    from .labels_dataset import export_labels

    with Project.open(args.project, readonly=args.read_only) as p:
        cam = p.camera(args.camera).id if args.camera else None
        with progress_bar("exporting labels", args.quiet) as ctx:
            n = export_labels(p, args.file, cam, ctx=ctx)
    from pathlib import Path

    set_result(exported=n, path=str(Path(args.file).resolve()))  # the app runs the export as a child process
    print(f"Exported {n} labelled detections to {args.file}")
    return 0


def cmd_labels_import(args) -> int:
    from dataclasses import asdict

    from ..cli import progress_bar
    from ..errors import Cancelled
    from ..progress import set_result
    from ..store import Project
    from .crops import ensure_mined_crops
    from .labels_dataset import import_labels

    with Project.open(args.project) as p:
        with progress_bar("matching labels", args.quiet, unit="label") as ctx:
            edit, matched, unmatched = import_labels(p, args.file, who=args.who, ctx=ctx)
        # the app pushes the import as one undoable edit: it needs exactly what changed
        set_result(edit=asdict(edit), matched=matched, unmatched=unmatched)
        try:  # a cache only (exports make what is missing): the labels are stored whatever happens here
            with progress_bar("crops of newly mined objects", args.quiet) as ctx:
                ensure_mined_crops(p, ctx=ctx)
        except Cancelled:
            print("Crops of newly mined objects left for later (cancelled).")
    print(f"Imported labels for {matched} detections ({len(edit.changes)} changed)"
          + (f"; {unmatched} did not match any detection" if unmatched else ""))
    return 0


def cmd_occluders_learn(args) -> int:
    from ..cli import _camera_id, progress_bar
    from ..store import Project
    from ..store.detections import set_static_occluder
    from .static_occluders import learn_report

    from pathlib import Path

    from ..progress import set_result

    store = not (args.dry_run or args.mask_out)
    with Project.open(args.project, readonly=not store) as p:
        cam = _camera_id(p, args.camera)
        with progress_bar("learning static occluders", args.quiet) as ctx:
            rep = learn_report(p, cam, min_seconds=args.min_seconds, max_motion_px=args.max_motion_px, ctx=ctx)
        if args.mask_out:
            import cv2
            import numpy as np

            from ..atomic import atomic_path
            from ..errors import BadInputError

            with atomic_path(args.mask_out, suffix=".png") as tmp:
                if not cv2.imwrite(str(tmp), rep.mask.astype(np.uint8) * 255):
                    raise BadInputError(f"Cannot write {args.mask_out}.", "Choose a folder you can write to.")
        if store:
            set_static_occluder(p, cam, rep.mask, origin="learned")
    # the app learns in a child process and reviews the mask before it stores it
    set_result(summary=rep.summary(), tracks=[int(t) for t in rep.tracks], places=int(rep.places),
               detections=int(rep.detections), coverage=rep.coverage, camera_id=cam,
               mask=str(Path(args.mask_out).resolve()) if args.mask_out else None)
    print(f"Learned {rep.summary()}" + (f" (not stored: written to {args.mask_out})" if args.mask_out else
                                        " (not stored: --dry-run)" if args.dry_run else
                                        f". Stored; re-mine with: walt3d mine {args.project} --replace"))
    return 0


def cmd_occluders_set(args) -> int:
    from ..cli import _camera_id
    from ..errors import BadInputError
    from ..store import Project
    from ..store.detections import set_static_occluder

    with Project.open(args.project) as p:
        cam = _camera_id(p, args.camera)
        if args.clear:
            set_static_occluder(p, cam, None)
            print(f"Cleared the static-occluder mask of camera {p.camera(cam).name!r}.")
            return 0
        import cv2

        img = cv2.imread(str(args.mask), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise BadInputError(f"Cannot read {args.mask} as an image.",
                                "Give a PNG the size of the camera's frames, non-zero where the occluders are.")
        if img.ndim == 3:  # colour: any channel non-zero; with alpha, the alpha channel decides
            img = img[..., 3] if img.shape[2] == 4 else img.max(axis=2)
        c = p.camera(cam)
        if c.width and img.shape[:2] != (c.height, c.width):
            raise BadInputError(f"The mask {args.mask} is {img.shape[1]}x{img.shape[0]} but camera {c.name!r} has "
                                f"{c.width}x{c.height} frames.",
                                f"Paint it on a {c.width}x{c.height} frame of this camera (export one with the "
                                f"app's frame view, or resize the mask), then run this again.")
        set_static_occluder(p, cam, img > 0, origin="painted")
        print(f"Stored the static-occluder mask of camera {c.name!r}: {float((img > 0).mean()):.1%} of the image. "
              f"Re-mine with: walt3d mine {args.project} --replace")
    return 0
