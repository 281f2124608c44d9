"""Benchmark: median background (walt3d_studio.background) against numpy.median over the stacked frames.

    .venv/bin/python bench/bench_median.py                       # 300 frames of the parking-lot clip at 1280x720
    .venv/bin/python bench/bench_median.py --source synthetic    # seeded synthetic street scene instead
    .venv/bin/python bench/bench_median.py --frames 301          # odd count

Every side runs in its own fresh Python process, which decodes the same frames itself (decode time is reported
apart), then measures only the median:

  numpy        np.median(np.stack(frames), axis=0).astype(float32)  (time: stack and median separately)
  ours-list    median_background(frames)           frames: the list of decoded arrays (read band by band)
  ours-iter    median_background(iter(frames))     the same list as a one-shot stream (spooled to a temp file)
  ours-stream  median_background(decoder)          frames decoded and resized on the fly, never all in memory
               (its time includes decoding; its memory rise is over a process that holds no frames)

Peak memory is the rise in peak RSS over the process's RSS just before the measured call: the child resets
the kernel's peak-RSS mark (writing 5 to /proc/self/clear_refs, Linux) after decoding, so the decode's own
peak cannot hide anything, then reads getrusage(RUSAGE_SELF).ru_maxrss after the call. Without clear_refs it
falls back to ru_maxrss minus the RSS before the call (then a decode peak could hide part of the rise; the
report says which method was used). Outputs are compared by SHA-256 of the float32 result.
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VIDEO = Path("/work/shared/data/footage/parking-lot-cars-top-down.mp4")
SIDES = ["numpy", "ours-list", "ours-iter", "ours-stream"]


# --------------------------------------------------------------------------------------------------- frames


def video_frames(path: Path, n: int, size: tuple[int, int]):
    """Decode `n` frames (RGB), resized to size=(w, h) with cv2.INTER_LINEAR; a short clip is played again."""
    import av
    import cv2

    produced = 0
    while produced < n:
        with av.open(str(path)) as c:
            for fr in c.decode(video=0):
                yield cv2.resize(fr.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_LINEAR)
                produced += 1
                if produced == n:
                    return
        if produced == 0:
            raise SystemExit(f"no frames in {path}")


def synthetic_frames(n: int, size: tuple[int, int], seed: int = 0):
    """A fixed street-like background, moving rectangles ("vehicles") and sensor noise; seeded."""
    w, h = size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.empty((h, w, 3), np.float32)
    base[..., 0] = 90 + 60 * yy / h + 10 * np.sin(xx / 37)
    base[..., 1] = 95 + 50 * yy / h + 10 * np.sin(yy / 23)
    base[..., 2] = 100 + 40 * xx / w
    base += rng.normal(0, 12, (h, w, 3)).astype(np.float32)  # texture
    base = np.clip(base, 0, 255).astype(np.uint8)
    cars = [dict(x=rng.uniform(0, w), y=rng.uniform(0, h), vx=rng.uniform(-12, 12), vy=rng.uniform(-3, 3),
                 w=int(rng.integers(60, 220)), h=int(rng.integers(40, 120)),
                 c=rng.integers(0, 256, 3).astype(np.uint8)) for _ in range(12)]
    for _ in range(n):
        f = base.copy()
        for c in cars:
            c["x"] = (c["x"] + c["vx"]) % w
            c["y"] = (c["y"] + c["vy"]) % h
            x0, y0 = int(c["x"]), int(c["y"])
            f[y0:y0 + c["h"], x0:x0 + c["w"]] = c["c"]
        noise = rng.integers(-3, 4, (h, w, 3), dtype=np.int16)
        yield np.clip(f.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def make_frames(args):
    size = (args.width, args.height)
    if args.source == "video":
        return video_frames(VIDEO, args.frames, size)
    return synthetic_frames(args.frames, size, args.seed)


# ------------------------------------------------------------------------------------------------- memory


def rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


class Peak:
    """Rise of peak RSS over the RSS at entry."""

    def __enter__(self):
        gc.collect()
        self.reset = reset_peak()
        self.base = rss_kib()
        return self

    def __exit__(self, *exc):
        self.rise_kib = peak_kib() - self.base
        return False


# -------------------------------------------------------------------------------------------------- child


def child(args) -> dict:
    from walt3d_studio.background import median_background

    res: dict = {"side": args.child}
    frames = None
    if args.child != "ours-stream":
        t = time.perf_counter()
        frames = list(make_frames(args))
        res["decode_s"] = time.perf_counter() - t
        res["frames_mib"] = sum(f.nbytes for f in frames) / 2**20
    else:
        # decode once without keeping the frames: loads the codec libraries before measuring, and gives the
        # decode-only time and memory to read the end-to-end figures against
        with Peak() as pk_dec:
            t = time.perf_counter()
            for _ in make_frames(args):
                pass
            res["decode_only_s"] = time.perf_counter() - t
        res["decode_only_rise_mib"] = pk_dec.rise_kib / 1024
    budget = args.budget_mib << 20
    times, cpu, out = [], [], None
    extra: dict = {}
    # numpy: measured per phase (each Peak resets the mark), combined into the whole call's rise
    with Peak() as pk:
        for r in range(args.repeats):
            if args.child == "numpy":
                c0 = time.process_time()
                t0 = time.perf_counter()
                with Peak() as pk_stack:
                    stacked = np.stack(frames)
                t1 = time.perf_counter()
                with Peak() as pk_med:
                    out = np.median(stacked, axis=0).astype(np.float32)
                t2 = time.perf_counter()
                del stacked
                times.append(t2 - t0)
                cpu.append(time.process_time() - c0)
                extra.setdefault("stack_s", []).append(t1 - t0)
                extra.setdefault("median_only_s", []).append(t2 - t1)
                whole = (max(pk_stack.base + pk_stack.rise_kib, pk_med.base + pk_med.rise_kib)
                         - pk_stack.base) / 1024
                extra["rise_stack_mib"] = max(extra.get("rise_stack_mib", 0.0), pk_stack.rise_kib / 1024)
                extra["rise_median_after_stack_mib"] = max(extra.get("rise_median_after_stack_mib", 0.0),
                                                           pk_med.rise_kib / 1024)
                extra["rise_whole_mib"] = max(extra.get("rise_whole_mib", 0.0), whole)
            else:
                src = {"ours-list": lambda: frames, "ours-iter": lambda: iter(frames),
                       "ours-stream": lambda: make_frames(args)}[args.child]()
                c0 = time.process_time()
                t0 = time.perf_counter()
                out = median_background(src, memory_budget_bytes=budget, workers=args.workers,
                                        total=args.frames)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
            out_hash = hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest()
            del out
            gc.collect()
    res.update(extra)
    res["times_s"] = times
    res["cpu_s"] = cpu  # user+sys of all threads
    res["best_s"] = min(times)
    res["median_s"] = statistics.median(times)
    res["rise_mib"] = extra.get("rise_whole_mib", pk.rise_kib / 1024)
    res["peak_method"] = "clear_refs+ru_maxrss" if pk.reset else "ru_maxrss-minus-rss (decode peak may hide some)"
    res["sha256"] = out_hash
    return res


# ------------------------------------------------------------------------------------------------- parent


def run_child(args, side: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", side,
           "--frames", str(args.frames), "--source", args.source, "--width", str(args.width),
           "--height", str(args.height), "--seed", str(args.seed), "--repeats", str(args.repeats),
           "--budget-mib", str(args.budget_mib)]
    if args.workers is not None:
        cmd += ["--workers", str(args.workers)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit(f"{side} failed")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--source", choices=["video", "synthetic"], default="video")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budget-mib", type=int, default=64)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--child", choices=SIDES, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        print(json.dumps(child(args)))
        return

    sides = args.sides.split(",")
    print(f"median background: {args.frames} frames {args.width}x{args.height}x3 uint8 from {args.source}"
          f" ({VIDEO.name if args.source == 'video' else f'seed {args.seed}'}), repeats {args.repeats},"
          f" budget {args.budget_mib} MiB, workers {args.workers or 'default'}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"numpy {np.__version__}, python {platform.python_version()}, load average before"
          f" {os.getloadavg()[0]:.2f} (other processes share the CPUs: timings are noisy when it is high)")
    results = {}
    for side in sides:
        r = run_child(args, side)
        results[side] = r
        dec = f"decode {r['decode_s']:.2f} s, " if "decode_s" in r else ""
        extra = ""
        if side == "numpy":
            extra = (f"  [stack {min(r['stack_s']):.2f} s + median {min(r['median_only_s']):.2f} s;"
                     f" rise: stack {r['rise_stack_mib']:.0f} MiB, median on the stack"
                     f" {r['rise_median_after_stack_mib']:.0f} MiB]")
        if side == "ours-stream":
            extra = (f"  [includes decoding; decoding alone: {r['decode_only_s']:.2f} s,"
                     f" rise {r['decode_only_rise_mib']:.0f} MiB]")
        print(f"{side:12s} {dec}time best {r['best_s']:.3f} s (median {r['median_s']:.3f} s,"
              f" CPU {min(r['cpu_s']):.2f} s),"
              f" peak RSS rise {r['rise_mib']:.0f} MiB{extra}")
    hashes = {r["sha256"] for r in results.values()}
    same = len(hashes) == 1
    print(f"identical output: {'yes' if same else 'NO'} ({len(results)} sides, sha256 {next(iter(hashes))[:16]}...)")
    if "numpy" in results:
        npy = results["numpy"]
        for side in sides:
            if side == "numpy":
                continue
            r = results[side]
            if side == "ours-stream":
                continue  # end to end with decoding; not comparable to a median on decoded frames
            print(f"{side:12s} speed-up vs numpy: {npy['best_s'] / r['best_s']:.1f}x (stack+median),"
                  f" {min(npy['median_only_s']) / r['best_s']:.1f}x (median alone);"
                  f" memory: {r['rise_mib'] / npy['rise_mib']:.3f} of numpy's rise"
                  f" ({r['rise_mib'] / max(npy['rise_median_after_stack_mib'], 1e-9):.3f} of the median"
                  f" alone on a ready stack)")
    print(f"peak method: {next(iter(results.values()))['peak_method']}; load average after"
          f" {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k != "json"},
                                         "results": results}, indent=1, default=str))
    if not same:
        raise SystemExit("outputs differ")


if __name__ == "__main__":
    main()
