"""Scale-out: mining shards on a local Ray with 1 and 2 workers, against the same shards run one after another in
this process (the baseline). Prints shards/s for 1, 2, 4 and 8 shards (two cameras x time shards) so docs can
estimate how cost grows with cameras x days.

    python bench/bench_scaleout.py
"""
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_scaleout import _copy, _two_camera_project  # noqa: E402

from walt3d_studio.scaleout import run_stage  # noqa: E402


def main():
    tmp = Path(tempfile.mkdtemp())
    base = _two_camera_project(tmp / "base.walt3d")
    print(f"{'shards':>6} {'in-process s':>13} {'ray 1 worker s':>15} {'ray 2 workers s':>16} {'speed-up 2w':>12}")
    for per_camera in (1, 2, 4):
        times = {}
        for mode, kw in (("local", {}), ("ray1", {"use_ray": True, "workers": 1}),
                         ("ray2", {"use_ray": True, "workers": 2})):
            proj = _copy(base, tmp, f"{mode}-{per_camera}.walt3d")
            t0 = time.perf_counter()
            r = run_stage(proj, "mine", time_shards=per_camera, shards_dir=tmp / f"s-{mode}-{per_camera}", **kw)
            times[mode] = time.perf_counter() - t0
            shutil.rmtree(proj)
        n = r["shards"]
        print(f"{n:>6} {times['local']:>13.1f} {times['ray1']:>15.1f} {times['ray2']:>16.1f} "
              f"{times['local'] / times['ray2']:>11.2f}x   ({n / times['ray2']:.2f} shards/s on 2 workers)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
