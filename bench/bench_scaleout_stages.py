"""Scale-out of fitting and compositing on the demo project: the unsharded stage functions (the baseline) against
`walt3d run STAGE --shards 2 --workers 2` (2 local worker processes) and optionally a local Ray with 2 workers.

Each measurement runs in a fresh child interpreter, so every side pays its own imports, and the parent reads the
child's CPU time from RUSAGE_CHILDREN (which includes the worker processes it spawned and reaped; Ray's daemons and
workers are not reaped by the child, so for Ray only the shards' own CPU, summed inside the tasks, is known). Two
walls are printed: the child process's (start to exit, what a user waits for) and the stage call's alone (no
interpreter start or imports on the driver). The demo is small: it shows the fixed costs honestly (docs/benchmarks.md).

    python bench/bench_scaleout_stages.py [--ray] [--n 25] [--shards 2]
    python bench/bench_scaleout_stages.py --sweep      # compositing with 1, 2, 4, 8 shards per camera
"""
import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(out: Path) -> Path:
    from walt3d_studio.composite.splits import split_tracks
    from walt3d_studio.demo import run_demo
    from walt3d_studio.store import Project

    root, _ = run_demo(out)
    with Project.open(root) as p:
        split_tracks(p, by="track", val=0.2, test=0.2, seed=0)   # splits only need usable tracks
    return root


def one(stage: str, mode: str, project: str, n: int, shards: int = 2) -> dict:
    """Run one stage one way in this (fresh) process; returns the stage call's wall seconds."""
    from walt3d_studio.composite.make import CompositeSettings, make_composites
    from walt3d_studio.reconstruct.people_fit import fit_people
    from walt3d_studio.reconstruct.vehicle_fit import fit_vehicles
    from walt3d_studio.scaleout import run_stage
    from walt3d_studio.store import Project

    methods = ("walt3d", "walt2d")
    runs = []
    t0 = time.perf_counter()
    if mode == "unsharded":
        with Project.open(project) as p:
            if stage == "fits":
                fit_vehicles(p)
                fit_people(p)
            else:
                for m in methods:
                    make_composites(p, settings=CompositeSettings(method=m, n=n, include_unreviewed=True))
    else:
        kw = {"workers": 2, "use_ray": mode == "ray", "shards": shards}
        if stage == "fits":
            runs += [run_stage(project, "fit-vehicles", **kw), run_stage(project, "fit-people", **kw)]
        else:
            for m in methods:
                runs.append(run_stage(project, "composite",
                                      settings=CompositeSettings(method=m, n=n, include_unreviewed=True), **kw))
    # the shards' own CPU (process time inside shard_task, summed): what Ray's workers spent on the work itself
    return {"call_s": time.perf_counter() - t0, "shard_cpu_s": sum(r["worker_cpu_s"] for r in runs) if runs else None}


def measure(stage: str, mode: str, project: Path, n: int, shards: int = 2) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--one", stage, mode, str(project), "--n", str(n),
                          "--shards", str(shards)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, **json.loads(out.stdout.strip().splitlines()[-1])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--one", nargs=3, metavar=("STAGE", "MODE", "PROJECT"))
    ap.add_argument("--n", type=int, default=25, help="composites per camera and method (the demo's 25)")
    ap.add_argument("--ray", action="store_true", help="also a local Ray with 2 workers")
    ap.add_argument("--shards", type=int, default=2, help="shards per camera")
    ap.add_argument("--sweep", action="store_true",
                    help="compositing only, on 2 local workers with 1, 2, 4, 8 shards per camera (the replay's cost)")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.n, args.shards)))
        return
    if args.sweep:
        return sweep(args.n)
    tmp = Path(tempfile.mkdtemp())
    base = build(tmp / "demo")
    fitted = tmp / "fitted.walt3d"
    shutil.copytree(base, fitted)
    m = measure("fits", "unsharded", fitted, args.n)        # the fitted project the composite runs start from
    modes = ["unsharded", "processes"] + (["ray"] if args.ray else [])
    print(f"demo project, {args.n} composites per camera and method (walt3d + walt2d), 2 shards per camera")
    print(f"{'stage':<11}{'mode':<12}{'process wall s':>15}{'call wall s':>12}{'CPU s':>8}{'shard CPU s':>12}"
          f"{'wall vs unsharded':>19}")
    for stage, src in (("fits", base), ("composites", fitted)):
        res = {}
        for mode in modes:
            proj = tmp / f"{stage}-{mode}.walt3d"
            shutil.copytree(src, proj)
            res[mode] = m = measure(stage, mode, proj, args.n)
            shutil.rmtree(proj)
            ratio = res["unsharded"]["wall_s"] / m["wall_s"]
            shard_cpu = "-" if m["shard_cpu_s"] is None else f"{m['shard_cpu_s']:.1f}"
            print(f"{stage:<11}{mode:<12}{m['wall_s']:>15.1f}{m['call_s']:>12.1f}{m['cpu_s']:>8.1f}{shard_cpu:>12}"
                  f"{ratio:>18.2f}x")
    shutil.rmtree(tmp, ignore_errors=True)


def sweep(n: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    fitted = tmp / "fitted.walt3d"
    shutil.copytree(build(tmp / "demo"), fitted)
    measure("fits", "unsharded", fitted, n)
    print(f"demo project, {n} composites per camera and method, compositing on 2 local workers")
    print(f"{'shards/camera':>13}{'shards':>7}{'wall s':>8}{'CPU s':>7}{'shard CPU s':>12}{'shards/s':>9}")
    for mode, k in (("unsharded", 1), ("processes", 1), ("processes", 2), ("processes", 4), ("processes", 8)):
        proj = tmp / f"sweep-{mode}-{k}.walt3d"
        shutil.copytree(fitted, proj)
        m = measure("composites", mode, proj, n, k)
        shutil.rmtree(proj)
        total = 0 if mode == "unsharded" else 2 * 2 * k        # 2 cameras x 2 methods
        label = "unsharded" if mode == "unsharded" else str(k)
        shard_cpu = "-" if m["shard_cpu_s"] is None else f"{m['shard_cpu_s']:.1f}"
        rate = f"{total / m['wall_s']:.2f}" if total else "-"
        print(f"{label:>13}{total or '-':>7}{m['wall_s']:>8.1f}{m['cpu_s']:>7.1f}{shard_cpu:>12}{rate:>9}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
