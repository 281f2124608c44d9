"""`walt3d keypoints ...`: export, import, train, predict, eval. Light at import time (no torch)."""
from __future__ import annotations


def register(subparsers) -> None:
    kp = subparsers.add_parser("keypoints", help="vehicle keypoints: export/import datasets, train, predict, eval")
    sub = kp.add_subparsers(dest="keypoints_command", required=True)

    s = sub.add_parser("export", help="write the human keypoints as a COCO keypoints JSON (+ images/ beside it)")
    s.add_argument("project")
    s.add_argument("file", help="the JSON file to write")
    s.add_argument("--images", choices=("crops", "frames"), default="crops",
                   help="one image per object (default) or whole frames")
    s.add_argument("--no-images", action="store_true", help="write the JSON only")
    s.add_argument("--schema", action="append", help="schema(s) to export (default vehicle12)")
    s.add_argument("--camera")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import", help="import a COCO keypoints file (or CarFusion text files with --carfusion)")
    s.add_argument("project")
    s.add_argument("file", help="COCO JSON, or a CarFusion gt .txt file or dataset folder")
    s.add_argument("--carfusion", action="store_true", help="FILE is CarFusion (x,y,kp_id,instance,visibility)")
    s.add_argument("--images", help="folder holding the CarFusion images (default: SEQ/images_jpg)")
    s.add_argument("--who", help="name recorded with imported labels (default import:FILE)")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("train", help="train the keypoint model on the human keypoints")
    s.add_argument("project")
    s.add_argument("--epochs", type=int, default=60)
    s.add_argument("--init", metavar="CKPT", help="start from this checkpoint (default: from scratch)")
    s.add_argument("--out", help="checkpoint to write (default PROJECT/models/keypoints/kp-DATE-TIME.pt)")
    s.add_argument("--arch", choices=("compact", "resnet18"), default="compact")
    s.add_argument("--input-size", type=int, default=128)
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--lr", type=float, default=2e-3)
    s.add_argument("--val-fraction", type=float, default=0.2, help="share of tracks held out (default 0.2)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--with-person", action="store_true", help="one head for vehicles and people (29 slots)")
    s.add_argument("--no-external", action="store_true", help="leave imported datasets out")
    s.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("predict", help="propose keypoints for mined objects without human keypoints")
    s.add_argument("project")
    s.add_argument("--model", required=True, metavar="CKPT")
    s.add_argument("--camera")
    s.add_argument("--redo", action="store_true", help="also where this model already proposed keypoints")
    s.add_argument("--min-confidence", type=float, default=0.1)
    s.add_argument("--device")
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("eval", help="PCK@0.1 of a model on the held-out human keypoints")
    s.add_argument("project")
    s.add_argument("--model", required=True, metavar="CKPT")
    s.add_argument("--split", choices=("val", "train", "all"), default="val")
    s.add_argument("--alpha", type=float, default=0.1)
    s.add_argument("--no-external", action="store_true")
    s.add_argument("--device")
    s.set_defaults(func=cmd_eval)


def _camera_id(project, name):
    return project.camera(name).id if name else None


def cmd_export(args) -> int:
    from ..cli import progress_bar
    from ..dataset.keypoints_coco import export_keypoints
    from ..store import Project

    with Project.open(args.project, readonly=True) as p:
        with progress_bar("exporting keypoints", args.quiet) as ctx:
            s = export_keypoints(p, args.file, images=args.images, schemas=tuple(args.schema or ["vehicle12"]),
                                 camera_id=_camera_id(p, args.camera), write_images=not args.no_images, ctx=ctx)
    from ..progress import set_result

    set_result(path=str(s.path), images=s.images, annotations=s.annotations, from_frames=s.from_frames)
    print(f"Wrote {s.annotations} annotation(s) on {s.images} image(s) to {s.path}"
          + (f" ({s.from_frames} crops cut from frames)" if s.from_frames else ""))
    return 0


def cmd_import(args) -> int:
    from ..cli import progress_bar
    from ..dataset.keypoints_coco import import_keypoints
    from ..progress import set_result
    from ..store import Project

    with Project.open(args.project) as p:
        with progress_bar("importing keypoints", args.quiet) as ctx:
            s = import_keypoints(p, args.file, carfusion=args.carfusion, image_dir=args.images, who=args.who,
                                 ctx=ctx)
    # the app runs the import as a child process (`--progress jsonl`) and shows these
    set_result(summary=s.summary(), updated=s.updated, unchanged=s.unchanged, external=s.external,
               missing_images=s.missing_images, issues=s.issues[:200],
               external_path=str(s.external_path) if s.external_path else None)
    print(s.summary())
    for msg in s.issues[:20]:
        print(f"  {msg}")
    if len(s.issues) > 20:
        print(f"  ... and {len(s.issues) - 20} more")
    if s.external_path:
        print(f"Extra training data: {s.external_path}")
    return 0


def cmd_train(args) -> int:
    from ..cli import progress_bar
    from ..store import Project
    from .train import train_job

    config = {"epochs": args.epochs, "arch": args.arch, "input_size": args.input_size, "batch_size": args.batch_size,
              "lr": args.lr, "val_fraction": args.val_fraction, "seed": args.seed,
              "schemas": ["vehicle12", "person17"] if args.with_person else ["vehicle12"]}
    from ..store.runs import recorded_run

    settings = dict(config, init=args.init, out=args.out, device=args.device, external=not args.no_external)
    with Project.open(args.project) as p:
        with recorded_run(p, "keypoints-train", settings) as rec, progress_bar("training keypoints", args.quiet) as ctx:
            r = train_job(p, out=args.out, init=args.init, config=config, device=args.device,
                          include_external=not args.no_external, ctx=ctx)
            rec.counts.update(train=r.n_train, val=r.n_val)
            rec.message = f"{r.model_version} saved to {r.path}"
    from ..progress import set_result

    # the app runs training as a child process and reports this
    set_result(model_version=r.model_version, path=str(r.path), n_train=r.n_train, n_val=r.n_val,
               pck_val=r.pck_val.summary() if r.pck_val else None, pck_train=r.pck_train.summary())
    print(f"Trained {r.model_version} on {r.n_train} object(s) in {r.seconds:.0f} s; saved {r.path}")
    print(f"  held-out ({r.n_val}): {r.pck_val.summary() if r.pck_val else 'none (too few tracks)'}")
    print(f"  training:      {r.pck_train.summary()}")
    return 0


def cmd_predict(args) -> int:
    from ..cli import progress_bar
    from ..store import Project
    from .train import predict_job

    from ..store.runs import recorded_run

    with Project.open(args.project) as p:
        cam = _camera_id(p, args.camera)
        settings = {"model": str(args.model), "redo": args.redo, "min_confidence": args.min_confidence,
                    "device": args.device}
        with recorded_run(p, "keypoints-predict", settings, {"camera": cam} if cam is not None else {}) as rec, \
                progress_bar("predicting keypoints", args.quiet) as ctx:
            n = predict_job(p, args.model, camera_id=cam, redo=args.redo,
                            min_confidence=args.min_confidence, device=args.device, ctx=ctx)
            rec.counts["stored"] = n
    from ..progress import set_result

    set_result(stored=n)
    print(f"Stored keypoint proposals for {n} object(s)")
    return 0


def cmd_eval(args) -> int:
    from ..cli import progress_bar
    from ..store import Project
    from .train import eval_job

    with Project.open(args.project, readonly=True) as p:
        with progress_bar("evaluating keypoints", args.quiet) as ctx:
            r, n = eval_job(p, args.model, split=args.split, alpha=args.alpha,
                            include_external=not args.no_external, device=args.device, ctx=ctx)
    print(f"{args.split} split, {n} object(s)")
    print(f"PCK@{args.alpha:g} all      {_pct(r.all)}  (n={r.n_all})")
    print(f"PCK@{args.alpha:g} visible  {_pct(r.visible)}  (n={r.n_visible})")
    print(f"PCK@{args.alpha:g} occluded {_pct(r.occluded)}  (n={r.n_occluded})")
    return 0


def _pct(x: float) -> str:
    return "  n/a" if x != x else f"{100 * x:5.1f}%"
