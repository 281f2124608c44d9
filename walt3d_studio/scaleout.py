"""`walt3d run STAGE PROJECT [--ray [ADDRESS]]`: a stage's shards (camera × time range) as Ray tasks.

Every stage already splits into shard work that reads the project read-only and writes a folder of its own, and a
merge that imports a folder into the single SQLite store (DESIGN: scale-out). Here the shard work runs as Ray tasks
(many cameras and days at once; workers share the project folder's storage), and the driver — the only writer —
merges each finished shard in order. Without `--ray` the same shards run one after another in this process, which
is what the identity test compares against.

Safety: a shard writes into `<folder>.tmp` and renames it when complete, so a worker killed midway leaves nothing a
merge could pick up; Ray retries the task. The driver merges each shard exactly once (a merged shard gets a
`.merged` marker, checked before merging) and the store itself refuses frames mined twice.
Time shards split tracks at their boundaries; the merge stitches them back (store/stitch.py).
"""
from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import BadInputError
from .jobs import JobContext, silent

STAGES = ("mine",)


@dataclass(frozen=True)
class Shard:
    camera_id: int
    index: int                 # position in time within its camera
    start: float | None        # capture-time range [start, end), None = open (mining's own convention)
    end: float | None

    @property
    def name(self) -> str:
        return f"cam{self.camera_id}-t{self.index:03d}"


def plan_shards(project, camera_ids: list[int], time_shards: int = 1) -> list[Shard]:
    """Split each camera's frames into `time_shards` runs of consecutive frames of (nearly) equal count."""
    if time_shards < 1:
        raise BadInputError(f"--time-shards must be at least 1 (got {time_shards}).", "")
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


def _mine_shard_work(project_root: str, shard: dict, settings: dict, out_dir: str) -> str:
    """One shard of mining, on any worker: read the project, write `out_dir` atomically. Returns out_dir."""
    import os

    from .mining.mine import MineSettings, mine_shard
    from .store import Project

    kill_marker = Path(out_dir + ".kill-once")  # tests: a worker that dies on its first attempt
    if kill_marker.exists():
        kill_marker.unlink()
        os._exit(1)
    out, tmp = Path(out_dir), Path(out_dir + ".tmp")
    if out.exists():          # finished by an earlier attempt whose result was lost
        return out_dir
    shutil.rmtree(tmp, ignore_errors=True)
    with Project.open(project_root, readonly=True) as p:
        mine_shard(p, shard["camera_id"], _settings(settings), start=shard["start"], end=shard["end"],
                   out_dir=tmp, write=True)
    tmp.rename(out)
    return out_dir


def _settings(d: dict):
    """MineSettings back from its `to_dict` (what travels to a worker)."""
    from .mining.mine import MineSettings
    from .mining.occlusion import RuleSettings
    from .mining.tracker import TrackerSettings

    d = dict(d)
    return MineSettings(**{**d, "rule": RuleSettings(**d["rule"]), "tracker": TrackerSettings(**d["tracker"])})


def run_stage(project_root: str | Path, stage: str = "mine", *, settings=None, cameras: list[str] | None = None,
              time_shards: int = 1, ray_address: str | None = None, use_ray: bool = False, workers: int | None = None,
              shards_dir: str | Path | None = None, ctx: JobContext | None = None) -> dict:
    """Run STAGE over shards (Ray tasks when `use_ray`), merge them into the project, stitch tracks at time
    boundaries. Returns counts: shards, merged, detections, tracks stitched, seconds."""
    from .mining.mine import MineSettings, merge_shard
    from .store import Project
    from .store.stitch import stitch_at

    if stage not in STAGES:
        raise BadInputError(f"The stage {stage!r} cannot run sharded yet.", f"Stages: {', '.join(STAGES)}.")
    ctx = ctx or silent()
    root = Path(project_root)
    settings = settings or MineSettings()
    t0 = time.perf_counter()
    with Project.open(root, readonly=True) as p:
        cams = [p.camera(c).id for c in cameras] if cameras else [c.id for c in p.cameras()]
        shards = plan_shards(p, cams, time_shards)
    if not shards:
        raise BadInputError("No frames to work on.", "Add footage first (walt3d add-source).")
    run_dir = Path(shards_dir) if shards_dir else root / "shards" / f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}-" \
                                                                  f"{uuid.uuid4().hex[:6]}"
    run_dir.mkdir(parents=True, exist_ok=True)
    outs = {s: str(run_dir / s.name) for s in shards}
    ctx.progress(0, len(shards) * 2, f"{len(shards)} shards")
    if use_ray:
        finished = _run_on_ray(root, shards, settings.to_dict(), outs, ray_address, workers, ctx)
    else:
        finished = []
        for s in shards:
            finished.append(_mine_shard_work(str(root), asdict(s), settings.to_dict(), outs[s]))
            ctx.progress(len(finished), len(shards) * 2, f"shard {s.name}")
    merged, detections, stitched = 0, 0, 0
    with Project.open(root) as p:
        for i, s in enumerate(sorted(shards, key=lambda s: (s.camera_id, s.index))):
            marker = Path(outs[s] + ".merged")
            if marker.exists():
                continue  # merged before this run was interrupted: never twice
            rep = merge_shard(p, Path(outs[s]))
            marker.write_text(json.dumps({"merged_at": time.time()}))
            merged += 1
            detections += rep.n_detections if hasattr(rep, "n_detections") else 0
            if s.index > 0:
                stitched += stitch_at(p, s.camera_id, s.start)
            ctx.progress(len(shards) + i + 1, len(shards) * 2, f"merged {s.name}")
    return {"shards": len(shards), "merged": merged, "stitched": stitched, "detections": detections,
            "seconds": round(time.perf_counter() - t0, 2), "folder": str(run_dir)}


def _run_on_ray(root: Path, shards: list[Shard], settings: dict, outs: dict, address: str | None,
                workers: int | None, ctx: JobContext) -> list[str]:
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
        task = ray.remote(max_retries=3)(_mine_shard_work)
        refs = {task.remote(str(root), asdict(s), settings, outs[s]): s for s in shards}
        done: list[str] = []
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for r in ready:
                done.append(ray.get(r))
                ctx.progress(len(done), len(shards) * 2, f"shard {refs[r].name}")
            if ctx.cancelled:
                for r in pending:
                    ray.cancel(r, force=True)
                ctx.check()
        return done
    finally:
        if started_here:
            ray.shutdown()


def register(sub) -> None:
    s = sub.add_parser("run", help="run a stage over shards (camera x time range), on Ray when asked, and merge")
    s.add_argument("stage", choices=STAGES)
    s.add_argument("project")
    s.add_argument("--camera", action="append", help="a camera (repeat; default: all)")
    s.add_argument("--time-shards", type=int, default=1, help="shards per camera, in time (tracks are stitched)")
    s.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run the shards as Ray tasks; without an address Ray starts locally")
    s.add_argument("--workers", type=int, help="CPUs for a local Ray (default: all)")
    s.set_defaults(func=_cmd_run)


def _cmd_run(args) -> int:
    from .cli import progress_bar

    with progress_bar(f"{args.stage} shards", args.quiet, unit="step") as ctx:
        r = run_stage(args.project, args.stage, cameras=args.camera, time_shards=args.time_shards,
                      use_ray=args.ray is not None, ray_address=args.ray or None, workers=args.workers, ctx=ctx)
    print(f"{r['shards']} shard(s) run, {r['merged']} merged, {r['stitched']} track(s) stitched across time shards "
          f"in {r['seconds']:.1f} s (shard folders in {r['folder']})")
    return 0
