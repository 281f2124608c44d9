"""`walt3d train DATASET`, `walt3d eval DATASET --model CKPT`, `walt3d eval-plot`: training and evaluation."""
from __future__ import annotations

import json


def register(sub) -> None:
    s = sub.add_parser("train", help="train the amodal detector (boxes, masks, keypoints) on an exported dataset")
    s.add_argument("dataset", help="a dataset folder written by `walt3d export`")
    s.add_argument("--out", required=True, help="the run folder (an unfinished run there is resumed)")
    s.add_argument("--preset", default="tiny", choices=["tiny", "standard"])
    s.add_argument("--init", help="start from a local checkpoint (a WALT3D model or a ResNet state dict)")
    s.add_argument("--device", default="auto", help="cpu, cuda or auto (default: cuda when present)")
    s.add_argument("--iterations", type=int, help="iterations (default: the preset's)")
    s.add_argument("--batch-size", type=int)
    s.add_argument("--lr", type=float)
    s.add_argument("--checkpoint-every", type=int)
    s.add_argument("--short-side", type=int, help="resize images to this short side (default: the preset's)")
    s.add_argument("--rois-per-image", type=int,
                   help="RoIs sampled per image for the heads while training (default: the preset's, 512; "
                        "128 is about 40%% cheaper on a CPU)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--trainer", default="torchvision", help="a trainer backend (see `walt3d trainers`)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("trainers", help="every trainer backend, and why one is unavailable")
    s.set_defaults(func=cmd_trainers)

    s = sub.add_parser("eval", help="AP box/mask and PCK by occlusion level of a trained model on a split")
    s.add_argument("dataset")
    s.add_argument("--model", required=True, help="RUN/model.pt written by `walt3d train`")
    s.add_argument("--split", default="test")
    s.add_argument("--device", default="auto")
    s.add_argument("--out", help="folder for eval.json, eval.csv and occlusion.png (default: beside the model)")
    s.add_argument("--json", action="store_true", help="print the whole report as JSON")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("eval-plot", help="plot accuracy against occlusion for several evaluations on one figure")
    s.add_argument("reports", nargs="+", help="eval.json files (e.g. trained on WALT3D, on WALT2D, without)")
    s.add_argument("--out", required=True, help="PNG to write")
    s.add_argument("--labels", help="comma-separated names for the runs")
    s.add_argument("--metric", default="AP_mask", choices=["AP_mask", "AP_box", "AP50_mask", "AP50_box"])
    s.set_defaults(func=cmd_eval_plot)


def cmd_train(args) -> int:
    from ..cli import progress_bar
    from .registry import get_trainer
    from .train import TrainSettings

    settings = TrainSettings(preset=args.preset, iterations=args.iterations, batch_size=args.batch_size,
                             lr=args.lr, checkpoint_every=args.checkpoint_every,
                             short_side=args.short_side, rois_per_image=args.rois_per_image, seed=args.seed,
                             device=args.device, init=args.init)
    with progress_bar("training", getattr(args, "quiet", False), unit="it") as ctx:
        r = get_trainer(args.trainer).train(args.dataset, args.out, settings, ctx)
    resumed = f" (resumed at {r.resumed_from})" if r.resumed_from else ""
    print(f"Trained {r.iterations} iterations on {r.device}{resumed}: loss {r.first_loss:.3f} -> {r.last_loss:.3f}, "
          f"{r.images_per_s:.1f} images/s. Model: {r.model_path}")
    return 0


def cmd_trainers(args) -> int:
    from .registry import list_trainers

    for t in list_trainers():
        state = "available" if t.available else f"unavailable: {t.reason}"
        print(f"{t.name:<14} {state}  [{t.origin}]\n    {t.description}")
    return 0


def cmd_eval(args) -> int:
    from pathlib import Path

    from ..cli import progress_bar
    from .evaluate import evaluate

    out = Path(args.out) if args.out else Path(args.model).parent / f"eval-{args.split}"
    with progress_bar("evaluating", getattr(args, "quiet", False), unit="image") as ctx:
        report = evaluate(args.dataset, args.model, args.split, args.device, out, ctx)
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    o = report["overall"]
    print(f"{args.split}: {report['n_images']} images, {report['n_annotations']} objects; "
          f"AP box {o['AP_box']:.3f}, AP mask {o['AP_mask']:.3f}")
    print(f"{'occlusion':>10} {'objects':>8} {'AP box':>7} {'AP mask':>8} {'PCK@0.1':>8}")
    for b, row in report["buckets"].items():
        print(f"{b:>10} {row['n_gt']:>8} {row['AP_box']:>7.3f} {row['AP_mask']:>8.3f} {row['PCK@0.1']:>8.3f}")
    print(f"Written: {out}/eval.json, eval.csv, occlusion.png")
    return 0


def cmd_eval_plot(args) -> int:
    from pathlib import Path

    from ..errors import BadInputError
    from .evaluate import plot_runs

    reports = []
    for p in args.reports:
        try:
            reports.append(json.loads(Path(p).read_text()))
        except (OSError, ValueError) as e:
            raise BadInputError(f"{p} is not an eval.json ({e}).", "Give files written by `walt3d eval`.") from None
        if not isinstance(reports[-1].get("buckets"), dict):
            raise BadInputError(f"{p} is not an eval.json (no buckets).", "Give files written by `walt3d eval`.")
    labels = args.labels.split(",") if args.labels else None
    if labels and len(labels) != len(reports):
        raise BadInputError(f"{len(labels)} labels for {len(reports)} reports.", "Give one label per report.")
    plot_runs(reports, args.out, labels, args.metric)
    print(f"Written {args.out}")
    return 0
