"""`walt3d run STAGE PROJECT [--ray [ADDRESS] | --workers N]`: a stage's shards as parallel tasks, then one merge.

Every stage has the same shape (DESIGN: scale-out): shards that read the project read-only and write a folder of
their own, and a merge that folds the folders into the single SQLite store (one writer). The heavy stages shard as:

  background     one camera x one time window (every window of `--hours-per-window`, or `--all` frames)
  mine           one camera x a time range (`--time-shards`); tracks cut at a boundary are stitched at merge
  fit-vehicles   some of one camera's usable vehicle tracks (`--shards` per camera)
  fit-people     some of one camera's usable person tracks (`--shards` per camera)
  composite      a range of one camera's composite indices (`--shards` per camera; composite/shards.py replays the
                 earlier indices' occlusion histogram so every image is the one the unsharded run makes)

Backends: in this process one after another (`--workers 1`, the default), local worker processes (`--workers N`),
or Ray tasks (`--ray`, an existing cluster with `--ray ADDRESS`). The result is the unsharded run's, whatever the
backend and the number of shards (tests/test_scaleout.py, tests/test_scaleout_stages.py).

Safety: a shard writes into `<folder>.tmp` and renames it when complete, so a worker killed midway leaves nothing a
merge could pick up; the task is retried (Ray: `max_retries`; local processes: a broken pool is rebuilt and the
unfinished shards resubmitted). Mining merges each shard once (a `.merged` marker; the store refuses frames mined
twice); fits and composites write their rows and their run row in one transaction keyed by the shard folder
(store/shard_merge.py), backgrounds are upserts followed by that run row; running the same shards again merges
nothing.
"""
from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BadInputError, Walt3DError
from .jobs import JobContext, silent

STAGES = ("background", "mine", "fit-vehicles", "fit-people", "composite")
RETRIES = 3


@dataclass(frozen=True)
class Shard:
    camera_id: int
    index: int                 # position within its camera
    start: float | None = None  # mine: capture-time range [start, end), None = open (mining's own convention)
    end: float | None = None
    tracks: tuple = ()         # fits: the camera's tracks this shard fits, in the unsharded order
    first: int | None = None   # composite: indices [first, stop) of the camera's composites
    stop: int | None = None
    window: str | None = None  # background: the window's key
    kind: str = "t"

    @property
    def name(self) -> str:
        return f"cam{self.camera_id}-{self.kind}{self.index:03d}"


# ---- planning ------------------------------------------------------------------------------------------------

def plan_shards(project, camera_ids: list[int], time_shards: int = 1) -> list[Shard]:
    """Mining: split each camera's frames into `time_shards` runs of consecutive frames of (nearly) equal count."""
    _check_count(time_shards, "--time-shards")
    shards = []
    for cam in camera_ids:
        times = np.asarray(project.frame_table(cam).times, float)
        if len(times) == 0:
            continue
        firsts = [int(idx[0]) for idx in np.array_split(np.arange(len(times)), min(time_shards, len(times)))]
        for i, first in enumerate(firsts):
            end = float(times[firsts[i + 1]]) if i + 1 < len(firsts) else None
            shards.append(Shard(cam, i, float(times[first]) if i else None, end))
    return shards


def plan_track_shards(project, stage: str, camera_ids: list[int], settings, shards: int = 1) -> list[Shard]:
    """Fitting: each camera's fittable tracks (in the unsharded stage's order) in `shards` runs of near-equal size."""
    from .reconstruct.fit_shards import check_calibrated, person_tracks, vehicle_tracks

    _check_count(shards, "--shards")
    pick = vehicle_tracks if stage == "fit-vehicles" else person_tracks
    out = []
    for cam in camera_ids:
        tracks = pick(project, cam, settings)
        if not tracks:
            continue
        check_calibrated(project, cam, stage)   # refused before any work, as the unsharded stage does
        for i, chunk in enumerate(np.array_split(np.asarray(tracks, int), min(shards, len(tracks)))):
            out.append(Shard(cam, i, tracks=tuple(int(t) for t in chunk), kind="tr"))
    return out


def plan_composite_shards(camera_ids: list[int], n: int, shards: int = 1) -> list[Shard]:
    """Compositing: each camera's composite indices 0..n-1 in `shards` consecutive ranges."""
    _check_count(shards, "--shards")
    out = []
    for cam in camera_ids:
        for i, idx in enumerate(np.array_split(np.arange(n), min(shards, n)) if n else []):
            out.append(Shard(cam, i, first=int(idx[0]), stop=int(idx[-1]) + 1, kind="c"))
    return out


def plan_window_shards(project, camera_ids: list[int], hours_per_window: int | None) -> list[Shard]:
    """Backgrounds: one shard per camera and time window."""
    from .background_shards import windows

    return [Shard(cam, i, window=key, kind="bg")
            for cam in camera_ids for i, key in enumerate(sorted(windows(project, cam, hours_per_window)))]


def _check_count(n: int, flag: str) -> None:
    if n < 1:
        raise BadInputError(f"{flag} must be at least 1 (got {n}).", "")


# ---- one shard, on any worker --------------------------------------------------------------------------------

def _work(stage: str):
    if stage == "background":
        from .background_shards import background_shard_work
        return background_shard_work
    if stage == "mine":
        return _mine_work
    if stage == "fit-vehicles":
        from .reconstruct.fit_shards import vehicle_shard_work
        return vehicle_shard_work
    if stage == "fit-people":
        from .reconstruct.fit_shards import people_shard_work
        return people_shard_work
    from .composite.shards import composite_shard_work
    return composite_shard_work


def _mine_work(project, shard: Shard, settings, out_dir: Path) -> dict:
    from .mining.mine import mine_shard

    res = mine_shard(project, shard.camera_id, settings, start=shard.start, end=shard.end, out_dir=out_dir,
                     write=True)
    return {"frames": len(res.frame_ids), "detections": len(res.detections)}


def shard_task(stage: str, project_root: str, shard: Shard, settings, out_dir: str) -> dict:
    """One shard of STAGE: open the project read-only, write `out_dir` atomically (via `out_dir.tmp`). Returns
    {"out", "counts", "cpu_s"} or {"error": [type, message, hint]} for an error a user can fix (raised again by
    the driver with its hint)."""
    import os

    from .store import Project

    kill_marker = Path(out_dir + ".kill-once")  # tests: a worker that dies on its first attempt
    if kill_marker.exists():
        kill_marker.unlink()
        os._exit(1)
    out, tmp = Path(out_dir), Path(out_dir + ".tmp")
    if out.exists():          # finished by an earlier attempt whose result was lost
        return {"out": out_dir, "counts": {}, "cpu_s": 0.0, "reused": True}
    shutil.rmtree(tmp, ignore_errors=True)
    if stage != "mine":       # mining makes its own folder
        tmp.mkdir(parents=True)
    c0 = time.process_time()
    try:
        with Project.open(project_root, readonly=True) as p:
            counts = _work(stage)(p, shard, settings, tmp)
    except Walt3DError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        return {"error": [type(e).__name__, e.message, e.hint]}
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    tmp.rename(out)
    return {"out": out_dir, "counts": counts, "cpu_s": time.process_time() - c0}


def _raise_if_error(res: dict) -> dict:
    if "error" in res:
        from . import errors

        kind, message, hint = res["error"]
        cls = getattr(errors, kind, None)
        raise (cls if isinstance(cls, type) and issubclass(cls, Walt3DError) else BadInputError)(message, hint)
    return res


# ---- the driver ----------------------------------------------------------------------------------------------

def default_settings(stage: str):
    if stage == "background":
        return {"hours_per_window": 1}
    if stage == "mine":
        from .mining.mine import MineSettings
        return MineSettings()
    if stage == "fit-vehicles":
        from .reconstruct.vehicle_fit import VehicleFitSettings
        return VehicleFitSettings()
    if stage == "fit-people":
        from .reconstruct.people_fit import PeopleFitSettings
        return PeopleFitSettings()
    from .composite.make import CompositeSettings
    return CompositeSettings()


def run_stage(project_root: str | Path, stage: str = "mine", *, settings=None, cameras: list[str] | None = None,
              time_shards: int = 1, shards: int = 1, ray_address: str | None = None, use_ray: bool = False,
              workers: int | None = None, backend: str | None = None, shards_dir: str | Path | None = None,
              ctx: JobContext | None = None) -> dict:
    """Run STAGE over shards and merge them into the project. `backend`: 'inline' (this process, one shard after
    another), 'processes' (`workers` local processes) or 'ray'; by default Ray when `use_ray`, processes when
    `workers` > 1, else inline. Returns counts: shards, merged, seconds, the shard folder, the workers' CPU seconds
    and the stage's own figures."""
    from .store import Project

    if stage not in STAGES:
        raise BadInputError(f"The stage {stage!r} cannot run sharded.", f"Stages: {', '.join(STAGES)}.")
    backend = backend or ("ray" if use_ray else "processes" if workers and workers > 1 else "inline")
    if backend not in ("inline", "processes", "ray"):
        raise BadInputError(f"Unknown backend {backend!r}.", "Use inline, processes or ray.")
    ctx = ctx or silent()
    root = Path(project_root).resolve()
    settings = settings or default_settings(stage)
    if stage == "composite":
        settings.check()
    t0, started = time.perf_counter(), time.time()
    with Project.open(root, readonly=stage != "composite") as p:
        cams = [p.camera(c).id for c in cameras] if cameras else [c.id for c in p.cameras()]
        if stage == "composite" and getattr(settings, "camera_id", None) is not None:
            cams = [settings.camera_id]
        if stage == "background":
            plan = plan_window_shards(p, cams, settings["hours_per_window"])
        elif stage == "mine":
            plan = plan_shards(p, cams, time_shards)
        elif stage == "composite":
            _check_composite(p, cams, settings)
            _prepare_crops(p, cams, settings, ctx)
            plan = plan_composite_shards(cams, settings.n, shards)
        else:
            plan = plan_track_shards(p, stage, cams, settings, shards)
    if not plan:
        raise BadInputError("Nothing to work on for this stage.",
                            "Add footage first (walt3d add-source)" if stage in ("mine", "background") else
                            "Mine usable tracks first (walt3d mine)" if stage.startswith("fit") else
                            "Ask for at least one composite (--n).")
    run_dir = Path(shards_dir) if shards_dir else root / "shards" / f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}-" \
                                                                  f"{uuid.uuid4().hex[:6]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_plan(run_dir, stage, plan, settings)
    outs = {s: str(run_dir / s.name) for s in plan}
    total = len(plan) + 1
    ctx.progress(0, total, f"{len(plan)} shards on {backend}")
    results = _run(backend, stage, root, plan, settings, outs, ray_address, workers, ctx)
    cpu = sum(r.get("cpu_s", 0.0) for r in results.values())
    work_s = time.perf_counter() - t0
    with Project.open(root) as p:
        parts = [(s, Path(outs[s])) for s in plan]
        key = str(run_dir.resolve())
        if stage == "background":
            from .background_shards import merge_backgrounds
            out = merge_backgrounds(p, settings, parts, key, started)
        elif stage == "mine":
            out = _merge_mine(p, plan, outs)
        elif stage == "composite":
            from .composite.shards import merge_composites
            out = dict(merge_composites(p, f"composite-{settings.method}", settings, parts, key, started))
        else:
            from .reconstruct.fit_shards import merge_fits
            out = merge_fits(p, stage, settings, parts, key, started)
    ctx.report(total, total, "merged")  # stored already: a late cancel changes nothing
    return {**out, "stage": stage, "backend": backend, "shards": len(plan),
            "seconds": round(time.perf_counter() - t0, 2), "work_seconds": round(work_s, 2),
            "worker_cpu_s": round(cpu, 2), "folder": str(run_dir)}


def _write_plan(run_dir: Path, stage: str, plan: list[Shard], settings) -> None:
    """`plan.json` in the shard folder; a folder reused for a different plan is refused (its finished shards would
    be taken for this plan's)."""
    from dataclasses import asdict

    from .store.runs import _jsonable

    doc = json.loads(json.dumps({"stage": stage, "settings": _jsonable(settings),
                                 "shards": [{"name": s.name, **asdict(s)} for s in plan]}, default=str))
    path = run_dir / "plan.json"
    if path.exists() and json.loads(path.read_text(encoding="utf-8")) != doc:
        raise BadInputError(f"The shard folder {run_dir} holds another run's shards (a different stage, settings or "
                            "shards).", "Give a new folder, or leave it out to get a fresh one.")
    path.write_text(json.dumps(doc, indent=1))


def _check_composite(project, cams: list[int], settings) -> None:
    """What `load_pools` refuses, refused before any shard starts (same messages)."""
    from .store.composites import splits

    for cam in cams:
        if not splits(project, cam):
            raise BadInputError("This camera's tracks have no train/val/test split yet.",
                                "Split them first: walt3d splits PROJECT --by track (DESIGN: splits before "
                                "compositing).")
        if settings.method == "walt3d" and project.calibration(cam) is None:
            raise BadInputError("This camera has no calibration.", "Calibrate it first (walt3d calibrate PROJECT).")
        if not project.backgrounds(cam):
            raise BadInputError("This camera has no median background.",
                                "Compute it first: walt3d background PROJECT.")


def _prepare_crops(project, cams: list[int], settings, ctx) -> None:
    """Compositing needs the crops of objects marked unoccluded after mining; `load_pools` writes the missing ones,
    which a read-only worker cannot, so the driver writes them first (those of every usable mined object)."""
    from .mining.crops import ensure_crops
    from .store.detections import mined_objects

    for cam in cams:
        dets = mined_objects(project, cam, usable_only=True, min_mined_frames=settings.min_mined_frames)
        missing = [int(dets.id[k]) for k in range(len(dets)) if not dets.crop_path[k]]
        if missing:
            ensure_crops(project, missing, ctx)


def _merge_mine(p, plan: list[Shard], outs: dict) -> dict:
    from .mining.mine import merge_shard, vote_track_classes
    from .store.stitch import stitch_at

    merged, detections, stitched = 0, 0, 0
    for s in sorted(plan, key=lambda s: (s.camera_id, s.index)):
        marker = Path(outs[s] + ".merged")
        if marker.exists():
            continue  # merged before this run was interrupted: never twice
        rep = merge_shard(p, Path(outs[s]))
        marker.write_text(json.dumps({"merged_at": time.time()}))
        merged += 1
        detections += getattr(rep, "detections", 0)
        if s.index > 0:
            stitched += stitch_at(p, s.camera_id, s.start, vote=vote_track_classes)
    return {"merged": merged, "stitched": stitched, "detections": detections}


def _run(backend, stage, root, plan, settings, outs, address, workers, ctx) -> dict:
    done: dict = {}

    def finished(s: Shard, res: dict) -> None:
        done[s] = _raise_if_error(res)
        ctx.progress(len(done), len(plan) + 1, f"shard {s.name}")

    if backend == "inline":
        for s in plan:
            finished(s, shard_task(stage, str(root), s, settings, outs[s]))
    elif backend == "processes":
        _run_on_processes(stage, root, plan, settings, outs, workers, ctx, finished)
    else:
        _run_on_ray(stage, root, plan, settings, outs, address, workers, ctx, finished)
    return done


def _run_on_processes(stage, root, plan, settings, outs, workers, ctx, finished) -> None:
    """Local worker processes (spawned: a clean interpreter each, like a cluster node). A worker that dies breaks
    the pool; the finished shards are kept, the pool is rebuilt and the rest resubmitted (up to RETRIES times)."""
    import multiprocessing as mp
    import os
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    todo, tries = list(plan), {s: 0 for s in plan}
    n = max(1, min(workers or os.cpu_count() or 1, len(plan)))
    while todo:
        pool = ProcessPoolExecutor(max_workers=min(n, len(todo)), mp_context=mp.get_context("spawn"))
        futures = {pool.submit(shard_task, stage, str(root), s, settings, outs[s]): s for s in todo}
        todo, ok = [], False
        try:
            pending = set(futures)
            while pending:
                ready, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                ctx.check()   # a cancel stops the workers within a second, not when a shard ends
                for fut in ready:
                    s = futures[fut]
                    try:
                        res = fut.result()
                    except BrokenProcessPool:
                        tries[s] += 1
                        if tries[s] > RETRIES:
                            raise RuntimeError(f"shard {s.name}: its worker died {tries[s]} times") from None
                        todo.append(s)
                        continue
                    finished(s, res)
            ok = True
        finally:
            if not ok:  # an error or a cancel: stop the workers now rather than let them finish
                for proc in list(getattr(pool, "_processes", {}).values()):
                    proc.terminate()
            pool.shutdown(wait=True, cancel_futures=True)


def _run_on_ray(stage, root, plan, settings, outs, address, workers, ctx, finished) -> None:
    try:
        import ray
    except ImportError:
        raise BadInputError("Ray is not installed.", "pip install 'walt3d-studio[ray]' (or pip install ray).") from None
    started_here = not ray.is_initialized()
    if started_here:
        kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = workers or None
        ray.init(**kwargs)
    try:
        task = ray.remote(max_retries=RETRIES)(shard_task)
        refs = {task.remote(stage, str(root), s, settings, outs[s]): s for s in plan}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for r in ready:
                finished(refs[r], ray.get(r))
            if ctx.cancelled:
                for r in pending:
                    ray.cancel(r, force=True)
                ctx.check()
    finally:
        if started_here:
            ray.shutdown()


# ---- command line --------------------------------------------------------------------------------------------

def register(sub) -> None:
    s = sub.add_parser("run", help="run a stage over shards (in parallel: local processes or Ray) and merge")
    s.add_argument("stage", choices=STAGES)
    s.add_argument("project")
    s.add_argument("--camera", action="append", help="a camera (repeat; default: all)")
    s.add_argument("--time-shards", type=int, default=1, help="mine: shards per camera in time (tracks are stitched)")
    s.add_argument("--shards", type=int, default=1,
                   help="fit-vehicles, fit-people: track shards per camera; composite: index ranges per camera")
    s.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run the shards as Ray tasks; without an address Ray starts locally")
    s.add_argument("--workers", type=int,
                   help="without --ray: local worker processes (default 1: one shard after another in this process);"
                        " with --ray: CPUs for a local Ray (default: all)")
    b = s.add_argument_group("background")
    b.add_argument("--hours-per-window", type=int, default=1, help="window length in hours of day (default 1)")
    b.add_argument("--all", action="store_true", help="one background over all frames")
    c = s.add_argument_group("composite")
    c.add_argument("--method", choices=("walt3d", "walt2d", "walt2d-bottom"), default="walt3d")
    c.add_argument("--n", type=int, default=100, help="composites per camera")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--include-unreviewed", action="store_true",
                   help="also use fits flagged 'needs review' that no person accepted")
    s.set_defaults(func=_cmd_run)


def _cmd_run(args) -> int:
    from .cli import progress_bar

    settings = None
    if args.stage == "background":
        settings = {"hours_per_window": None if args.all else args.hours_per_window}
    if args.stage == "composite":
        from .composite.make import CompositeSettings
        settings = CompositeSettings(method=args.method, n=args.n, seed=args.seed,
                                     include_unreviewed=args.include_unreviewed)
    with progress_bar(f"{args.stage} shards", args.quiet, unit="shard") as ctx:
        r = run_stage(args.project, args.stage, settings=settings, cameras=args.camera, time_shards=args.time_shards,
                      shards=args.shards, use_ray=args.ray is not None, ray_address=args.ray or None,
                      workers=args.workers, ctx=ctx)
    extra = {"background": lambda: f", {r['windows']} window(s) stored",
             "mine": lambda: f", {r['stitched']} track(s) stitched across time shards",
             "composite": lambda: f", {r['composites']} composites with {r['objects']} objects"}.get(
        r["stage"], lambda: f", {r['tracks']} track fit(s) {r['by_status']}")()
    print(f"{r['shards']} shard(s) run on {r['backend']}, {r['merged']} merge(s){extra} in {r['seconds']:.1f} s "
          f"(shard folders in {r['folder']})")
    return 0
