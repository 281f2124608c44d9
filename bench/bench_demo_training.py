"""CPU cost of one training iteration of the demo's tiny model: the demo's settings (short side 256, 128 RoIs per
image) against the tiny preset's (short side 320, 512 RoIs, torchvision's sampler), same images, same process.

    .venv/bin/python bench/bench_demo_training.py [DATASET] [--iterations 4] [--threads 1]

DATASET: an exported dataset with a train split (default demo-out/datasets/walt2d, written by `walt3d demo
demo-out`; WALT2D's 30 objects an image are the heavier case). Each configuration builds a fresh model with the
same seed and runs the same batches (batch 2); the first iteration is a warm-up and not counted. Times are process
CPU time (user + system) per iteration, the fair figure on a shared machine, and wall clock. Run it with
`--threads 2` to see what torch's second thread costs when other jobs hold the cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]


def per_iteration(dataset: Path, cfg: dict, iterations: int) -> tuple[float, float, float]:
    """(CPU s per iteration, wall s per iteration, last loss) over `iterations` after one warm-up."""
    import torch

    from walt3d_studio.training.dataset import TorchDataset
    from walt3d_studio.training.model import build_model

    data = TorchDataset(dataset, "train")
    torch.manual_seed(0)
    model = build_model(cfg)
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    cpu = wall = 0.0
    loss = None
    for it in range(iterations + 1):
        batch = [data[(2 * it) % len(data)], data[(2 * it + 1) % len(data)]]
        c, w = time.process_time(), time.perf_counter()
        loss = sum(model([b[0] for b in batch], [b[1] for b in batch]).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it:
            cpu += time.process_time() - c
            wall += time.perf_counter() - w
    return cpu / iterations, wall / iterations, float(loss.detach())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", nargs="?", default="demo-out/datasets/walt2d")
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    from walt3d_studio.method_demo import TRAIN_ROIS_PER_IMAGE, TRAIN_SHORT_SIDE
    from walt3d_studio.training.train import TrainSettings, _config

    torch.set_num_threads(args.threads)
    base = _config(TrainSettings(preset="tiny"))
    demo = _config(TrainSettings(preset="tiny", short_side=TRAIN_SHORT_SIDE, rois_per_image=TRAIN_ROIS_PER_IMAGE))
    rows = []
    for name, cfg in (("tiny preset (short side 320, 512 RoIs)", base),
                      (f"demo (short side {TRAIN_SHORT_SIDE}, {TRAIN_ROIS_PER_IMAGE} RoIs)", demo)):
        cpu, wall, loss = per_iteration(Path(args.dataset), cfg, args.iterations)
        rows.append(cpu)
        print(f"{name}: {cpu:.2f} CPU s / iteration, {wall:.2f} s wall, loss {loss:.2f}", flush=True)
    print(f"torch threads {args.threads}; demo settings cost {rows[1] / rows[0]:.2f}x the preset's CPU time "
          f"({rows[0] / rows[1]:.2f}x cheaper)")


if __name__ == "__main__":
    main()
