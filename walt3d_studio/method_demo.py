"""The whole WALT3D method on the bundled footage, as one job: `walt3d demo OUT`.

import → backgrounds → mining (the demo project of demo.py) → vehicle and people fits → splits → WALT3D and
WALT2D composites → export → validate → a tiny training run on each dataset → evaluation by occlusion level on
the same held-out WALT3D test split → OUT/report.html with the occlusion plot, sample composites with their
layers, and every stage's figures and time.

Each step is the same function the CLI runs for that stage; this module only chains them and keeps the figures.
"""
from __future__ import annotations

import time
from pathlib import Path

from .jobs import JobContext, silent

# Small enough for < 10 minutes on a 2-core CPU (docs/benchmarks.md), large enough that every split has objects.
N_COMPOSITES = 25          # per camera and method
TRAIN_ITERATIONS = 40      # tiny preset, per dataset
# The tiny preset trains at short side 320 with 512 sampled RoIs per image; for the demo's 480x270 and 768x432
# composites short side 256 and 128 RoIs halve the CPU time of an iteration (measured: 2.3 -> 1.2 s on one
# core), so the demo affords more iterations in less time.
TRAIN_SHORT_SIDE = 256
TRAIN_ROIS_PER_IMAGE = 128
SEED = 0


def _stage_context(parent: JobContext, index: int, total: int, name: str) -> JobContext:
    """A context for one step that maps its progress into the whole job's and shares its cancel flag."""
    def forward(done, n, message):
        frac = (index + (done / n if n else 0.0)) / total
        parent.progress(int(frac * 1000), 1000, f"{name}: {message}" if message else name)

    ctx = JobContext(forward)
    ctx._cancel = parent._cancel  # one Cancel stops every step
    return ctx


def _summary(result) -> str:
    """One line for the report from what a stage returned (a report object, a dict of counts, or text)."""
    if result is None:
        return ""
    if hasattr(result, "summary") and callable(result.summary):
        return result.summary()
    if isinstance(result, dict):
        return ", ".join(f"{k}: {_summary(v) if isinstance(v, dict) else v}" for k, v in result.items()
                         if not isinstance(v, (list, tuple)) or len(v) <= 6)
    return str(result)


def run_method(out: Path, ctx: JobContext | None = None, *, n_composites: int = N_COMPOSITES,
               train_iterations: int = TRAIN_ITERATIONS) -> tuple[Path, list[dict]]:
    """Run every stage into OUT; returns the report's path and the steps (stage, summary, seconds, figures)."""
    from .demo import run_demo
    from .report import write_report
    from .store import Project

    ctx = ctx or silent()
    out = Path(out)
    _clear_earlier_demo(out)
    started, cpu_started = time.time(), _cpu_seconds()
    steps: list[dict] = []
    plan = ["project", "vehicle fits", "people fits", "splits", "composites", "export", "validate", "training",
            "evaluation"]

    def step(name: str, fn):
        sub = _stage_context(ctx, len(steps), len(plan), name)
        t0, c0 = time.time(), _cpu_seconds()
        record = fn(sub) or {}
        record = {"stage": name, "seconds": round(time.time() - t0, 1),
                  "cpu_seconds": round(_cpu_seconds() - c0, 1), **record}
        steps.append(record)
        return record

    holder: dict = {}

    def project_step(sub):
        root, lines = run_demo(out, ctx=sub)
        holder["root"] = root
        return {"summary": "; ".join(lines)}

    step("project", project_step)
    root = holder["root"]

    with Project.open(root) as project:
        def vehicles(sub):
            from .reconstruct.vehicle_fit import fit_vehicles, summary_line
            return {"summary": summary_line(fit_vehicles(project, ctx=sub))}

        def people(sub):
            from .reconstruct.people_fit import fit_people
            return {"summary": _summary(fit_people(project, ctx=sub))}

        def splits(sub):
            from .composite.splits import split_tracks
            return {"summary": _summary(split_tracks(project, by="track", val=0.2, test=0.2, seed=SEED))}

        def composites(sub):
            from .composite.make import CompositeSettings, make_composites
            lines = []
            for method in ("walt3d", "walt2d"):
                # No person reviews the fits in the demo, so fits flagged "needs review" are used as well (the
                # report says so); in the app a person accepts or rejects them first.
                s = CompositeSettings(method=method, n=n_composites, seed=SEED, include_unreviewed=True)
                lines.append(f"{method}: " + _summary(make_composites(project, ctx=sub, settings=s)))
            reach = reachable_occlusion(project)
            return {"summary": "; ".join(lines) + " (fits flagged for review included: no person in the loop). "
                               "Below, per WALT3D pool, the most occlusion that physically possible composites of "
                               "its fitted objects can reach: WALT3D's occlusion levels fill only as far as that.",
                    "figures": reach}

        step("vehicle fits", vehicles)
        step("people fits", people)
        step("splits", splits)
        step("composites", composites)

        def export(sub):
            from .dataset.export import export_dataset
            lines = []
            for method in ("walt3d", "walt2d"):
                target = out / "datasets" / method
                # WALT2D pastes by 2D rules only: it has no 3D to render depth, normals or instances from
                summary = export_dataset(project, target, methods=(method,), force=True, arrays=method == "walt3d",
                                         ctx=sub)
                lines.append(f"{method}: " + _summary(summary))
            return {"summary": "; ".join(lines)}

        step("export", export)

    def validate(sub):
        from .dataset.validate_dataset import validate_dataset
        lines = []
        for method in ("walt3d", "walt2d"):
            problems = validate_dataset(out / "datasets" / method)
            lines.append(f"{method}: " + ("valid" if not problems else f"{len(problems)} problem(s): {problems[:3]}"))
        return {"summary": "; ".join(lines)}

    step("validate", validate)

    def training(sub):
        from .training.train import TrainSettings, train
        lines = []
        for method in ("walt3d", "walt2d"):
            r = train(out / "datasets" / method, out / "runs" / method,
                      TrainSettings(preset="tiny", iterations=train_iterations, seed=SEED, device="auto",
                                    short_side=TRAIN_SHORT_SIDE, rois_per_image=TRAIN_ROIS_PER_IMAGE), sub)
            lines.append(f"{method}: {r.iterations} iterations on {r.device}, loss {r.first_loss:.3f} → "
                         f"{r.last_loss:.3f}, {r.images_per_s:.1f} images/s")
        import torch

        return {"summary": "; ".join(lines) + f" (tiny preset at short side {TRAIN_SHORT_SIDE}, "
                                              f"{TRAIN_ROIS_PER_IMAGE} RoIs per image, batch 2, "
                                              f"{torch.get_num_threads()} torch thread(s))"}

    step("training", training)

    def evaluation(sub):
        from .training.dataset import BUCKETS, bucket_label
        from .training.evaluate import evaluate, plot_runs
        bucket_names = [bucket_label(b) for b in BUCKETS]
        rows, counts = [], []
        images = []
        # Both models on the same held-out test tracks, composited two ways: the WALT3D test split (physically
        # possible scenes) and the WALT2D one (2D pasting: every occlusion level, mostly impossible pairs).
        for test_method, folder, png in (("walt3d", "eval-test", "occlusion.png"),
                                         ("walt2d", "eval-test-walt2d", "occlusion-walt2d-test.png")):
            reports = []
            for method in ("walt3d", "walt2d"):
                rep = evaluate(out / "datasets" / test_method, out / "runs" / method / "model.pt", "test", "auto",
                               out / "runs" / method / folder, sub)
                reports.append(rep)
                buckets = list(rep["buckets"].values())
                if not counts or counts[-1][0] != f"{test_method.upper()} test":
                    counts.append([f"{test_method.upper()} test", "objects (ground truth)", ""]
                                  + [b["n_gt"] for b in buckets])
                for metric in ("AP_box", "AP_mask", "PCK@0.1"):
                    rows.append([f"{test_method.upper()} test", f"trained on {method.upper()}",
                                 metric.replace("_", " ")] + [b[metric] for b in buckets])
            (out / "plots").mkdir(exist_ok=True)
            title = f"on the {test_method.upper()} test split"
            plot_runs(reports, out / "plots" / png, ["trained on WALT3D", "trained on WALT2D"], "AP_mask",
                      title=title)
            images.append((f"plots/{png}", f"AP mask and PCK@0.1 against occlusion {title}"))
        return {"summary": "AP on the held-out test tracks by occlusion level, composited by WALT3D and by WALT2D "
                           "(tiny models trained for minutes: a pipeline check, not a result; nan: no objects "
                           "at that level)",
                "table": {"header": ["test set", "model", "metric"] + [f"{b} occluded" for b in bucket_names],
                          "rows": counts[:1] + rows[:6] + counts[1:] + rows[6:]},
                "images": images}

    step("evaluation", evaluation)

    steps.extend(_sample_images(out))
    report = write_report(out / "report.html", "WALT3D Studio — the method on the demo footage", steps,
                          total_seconds=time.time() - started, total_cpu_seconds=_cpu_seconds() - cpu_started)
    ctx.progress(1000, 1000, "done")
    return report, steps


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children: with other work on the machine the
    wall time of a stage says little, its CPU time says what it costs."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


OUTPUTS = ("datasets", "runs", "samples", "plots", "report.html")


def _clear_earlier_demo(out: Path) -> None:
    """A demo run again into the same folder starts over (training would otherwise resume the old runs); only
    what an earlier demo wrote is removed, and only when the folder holds a demo project."""
    import shutil

    if not (out / "demo.walt3d" / ".demo").exists():
        return
    for name in OUTPUTS:
        path = out / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def reachable_occlusion(project, margin_m: float | None = None) -> dict:
    """Per camera and WALT3D pool: how many fitted objects it holds and the most occlusion any physically possible
    pair of them can reach (footprints at least the margin apart; the nearer hides part of the farther). When
    that is small, no WALT3D composite of that pool can hold occluded objects, however many are drawn."""
    from .composite.make import CompositeSettings, load_pools
    from .composite.render import RenderContext
    from .composite.sampling import Pool, estimate_occlusions

    s = CompositeSettings(method="walt3d", include_unreviewed=True)
    margin = s.margin_m if margin_m is None else margin_m
    out = {}
    for cam in project.cameras():
        camera = project.calibration(cam.id)
        if camera is None:
            continue
        for (window, split), objs in sorted(load_pools(project, cam.id, s, None, RenderContext(camera)).items()):
            pool = Pool(objs)
            best = 0.0
            for i in range(len(objs)):
                for j in range(i + 1, len(objs)):
                    if pool.distance(i, j) >= margin:
                        best = max(best, float(estimate_occlusions(pool, [i, j]).max()))
            n_tracks = len({o.track_id for o in objs})
            out[f"WALT3D pool {cam.name} / {split} / {window}"] = (
                f"{len(objs)} fitted objects of {n_tracks} track(s); the most any physically possible pair of them "
                f"can occlude: {100 * best:.1f} %")
    return out


def _sample_images(out: Path) -> list[dict]:
    """Sample composites with their layers drawn, for the report (from the exported WALT3D and WALT2D test sets)."""
    from .dataset.preview import draw_samples
    images = draw_samples(out / "datasets", out / "samples", per_method=3)
    return [{"stage": "sample composites", "summary": "amodal (outline) and visible (fill) masks, keypoints",
             "images": [(str(p.relative_to(out)), caption) for p, caption in images]}] if images else []
