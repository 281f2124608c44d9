"""Do two code trees mine the same? Every record of `run_pipeline` (verdicts, reasons, RLE, boxes, tracks, whether
it has a crop) and every crop's decoded pixels, on bench_mining_dense.py's two scenes (1280x720 few objects,
768x576 with 30 small objects), with the default settings and with issue 12's checks off, on the thread pool and
on one thread.

    PYTHONPATH=$PWD .venv/bin/python bench/mining_records_identical.py /path/to/other/tree [--frames 150]

Each tree runs in a child process with its own PYTHONPATH; prints IDENTICAL (exit 0) or what differs (exit 1).
For a speed change that must not change any result (issue 12's dense-scene speed).
"""
from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def dump(out: Path, n: int) -> None:
    """Run every case with the tree on PYTHONPATH and pickle {case: (records, {crop name: pixels})} to `out`."""
    import dataclasses

    sys.path.insert(0, str(Path(os.environ["PYTHONPATH"].split(os.pathsep)[0]) / "bench"))
    import bench_mining_dense as b
    from walt3d_studio.mining.detection import FrameInfo
    from walt3d_studio.mining.foreground import ForegroundDetector
    from walt3d_studio.mining.mine import MineSettings, run_pipeline
    from walt3d_studio.mining.registry import RunInfo

    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scene, (frames, bg) in (("few", b.few_frames(n)), ("dense", b.dense_frames(n))):
            H, W = frames[0].shape[:2]
            for key, s in (("default", MineSettings()), ("checks off", b.settings_off(MineSettings()))):
                for workers in (None, 1):
                    folder = Path(tmp) / f"{scene}-{key}-{workers}"
                    det = ForegroundDetector(background=bg)
                    det.start(RunInfo(None, 1, W, H, None, None))
                    infos = [FrameInfo(i, i + 1, 1, i, 1000.0 + i / 10) for i in range(len(frames))]
                    recs = run_pipeline(zip(infos, frames), det, W, H, dataclasses.replace(s, workers=workers),
                                        crop_dir=folder, total=len(frames))
                    crops = {(r["frame_id"], r["k"]): _crop_pixels(folder, r["crop"]) for r in recs if r["crop"]}
                    for r in recs:  # where a crop is stored (a file, or a span of a pack) is no result
                        r["crop"] = bool(r["crop"])
                    res[(scene, key, workers)] = (recs, crops)
    out.write_bytes(pickle.dumps(res))


def _crop_pixels(folder: Path, crop: str) -> np.ndarray:
    """A record's crop, decoded: a span of the run's pack (`crops.pack#<offset>+<length>`) or a PNG file (trees
    before packs), read here so that either tree's records can be compared."""
    name, _, span = Path(crop).name.partition("#")
    if span:
        offset, length = (int(v) for v in span.split("+"))
        with open(folder / name, "rb") as f:
            f.seek(offset)
            return cv2.imdecode(np.frombuffer(f.read(length), np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED)


def compare(a: dict, b: dict) -> bool:
    same = a.keys() == b.keys()
    for case in a:
        (ra, ca), (rb, cb) = a[case], b.get(case, ([], {}))
        bad = []
        if ra != rb:
            first = next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
            bad.append(f"records differ ({len(ra)} vs {len(rb)}, first at {first})")
        if ca.keys() != cb.keys():
            bad.append(f"crops differ ({len(ca)} vs {len(cb)})")
        else:
            px = [f for f in ca if ca[f].shape != cb[f].shape or not np.array_equal(ca[f], cb[f])]
            if px:
                bad.append(f"{len(px)} crops' pixels differ")
        same &= not bad
        print(f"{case}: {len(ra)} records, {len(ca)} crops" + (": " + "; ".join(bad) if bad else ""))
    return same


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("other", type=Path, nargs="?", help="the other tree (root of a checkout or git archive)")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)  # the child's job
    a = ap.parse_args()
    if a.dump:
        dump(a.dump, a.frames)
        return
    if a.other is None:
        ap.error("name the other tree")
    with tempfile.TemporaryDirectory() as tmp:
        got = []
        for i, tree in enumerate((ROOT, a.other.resolve())):
            out = Path(tmp) / f"{i}.pkl"
            env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--dump", str(out),
                            "--frames", str(a.frames)], env=env, check=True)
            got.append(pickle.loads(out.read_bytes()))
    same = compare(*got)
    print("IDENTICAL" if same else "DIFFERENT")
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
