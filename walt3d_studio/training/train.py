"""The training job: SGD over an exported dataset's train split, with live progress, checkpoints and resume.

A run lives in one folder: `run.json` (settings, preset config, dataset checksum, version), `metrics.jsonl`
(one line per iteration: loss terms, learning rate, images/s, ETA — the app's loss curves read it),
`checkpoints/last.pt` (written atomically every `checkpoint_every` iterations and on cancel) and `model.pt`
when done. Starting a run in a folder that holds an unfinished run of the same dataset resumes it.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import write_text
from ..errors import BadInputError, Cancelled
from ..jobs import JobContext, silent
from .dataset import TorchDataset, dataset_checksum
from .model import build_model, pick_device, preset, read_checkpoint, save_checkpoint


@dataclass
class TrainSettings:
    preset: str = "tiny"
    iterations: int | None = None      # None: the preset's
    batch_size: int | None = None
    lr: float | None = None
    checkpoint_every: int | None = None
    short_side: int | None = None      # images are resized to this short side (default: the preset's)
    rois_per_image: int | None = None  # RoIs sampled per image for the box head (default: the preset's)
    seed: int = 0
    device: str = "auto"
    init: str | None = None            # a WALT3D model or a torchvision ResNet state dict (local file)
    split: str = "train"


@dataclass
class TrainResult:
    run_dir: Path
    model_path: Path
    iterations: int
    resumed_from: int
    first_loss: float
    last_loss: float
    images_per_s: float
    device: str


def _config(settings: TrainSettings) -> dict:
    cfg = preset(settings.preset)
    for key in ("iterations", "batch_size", "lr", "checkpoint_every"):
        value = getattr(settings, key)
        if value is not None:
            if value <= 0:
                raise BadInputError(f"--{key.replace('_', '-')} must be positive (got {value}).", "")
            cfg[key] = value
    if settings.short_side is not None:
        if not 64 <= settings.short_side <= 2048:
            raise BadInputError(f"--short-side must be 64..2048 pixels (got {settings.short_side}).", "")
        cfg["min_size"] = settings.short_side
        cfg["max_size"] = max(cfg["max_size"], settings.short_side)
    if settings.rois_per_image is not None:
        if not 16 <= settings.rois_per_image <= 2048:
            raise BadInputError(f"--rois-per-image must be 16..2048 (got {settings.rois_per_image}).", "")
        cfg["rois_per_image"] = settings.rois_per_image
    cfg["preset"] = settings.preset
    return cfg


def _lr_at(it: int, cfg: dict) -> float:
    """Linear warm-up, then constant, then a tenth for the last fifth."""
    base = float(cfg["lr"])
    if it < cfg["warmup"]:
        return base * (0.1 + 0.9 * it / max(cfg["warmup"], 1))
    return base * (0.1 if it >= 0.8 * cfg["iterations"] else 1.0)


def _load_init(model, path: str) -> int:
    """Load matching tensors from a local checkpoint; returns how many were loaded."""
    import torch

    try:
        obj = read_checkpoint(path)["state_dict"]
    except BadInputError:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            from ..validate import torch_load_problem

            raise BadInputError(f"--init {path}: not a checkpoint that can be loaded safely "
                                f"({torch_load_problem(e)}).",
                                "Give a WALT3D model or a torchvision ResNet state dict (.pth).") from None
        if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise BadInputError(f"--init {path} holds no state dict.", "Give a WALT3D model or a ResNet .pth file.")
    own = model.state_dict()
    take = {k: v for k, v in obj.items() if k in own and getattr(v, "shape", None) == own[k].shape}
    if not take:  # a bare ResNet: its keys live under backbone.body
        take = {f"backbone.body.{k}": v for k, v in obj.items()
                if f"backbone.body.{k}" in own and getattr(v, "shape", None) == own[f"backbone.body.{k}"].shape}
    if not take:
        raise BadInputError(f"--init {path}: none of its tensors fit this preset's model.",
                            "Use a checkpoint of the same preset, or a ResNet of the preset's depth.")
    model.load_state_dict(take, strict=False)
    return len(take)


def train(dataset: str | Path, run_dir: str | Path, settings: TrainSettings | None = None,
          ctx: JobContext | None = None) -> TrainResult:
    import torch

    settings = settings or TrainSettings()
    ctx = ctx or silent()
    dataset, run_dir = Path(dataset), Path(run_dir)
    data = TorchDataset(dataset, settings.split)
    if not any(len(s.anns) for s in data.items):
        raise BadInputError(f"The {settings.split} split of {dataset} has no vehicle or person annotations.",
                            "Export a dataset with composites in it (walt3d composite, walt3d export).")
    checksum = dataset_checksum(dataset)
    cfg = _config(settings)
    device = pick_device(settings.device)
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    start_it, resumed = 0, 0
    run_meta = {"dataset": str(dataset.resolve()), "dataset_checksum": checksum, "settings": asdict(settings),
                "config": cfg, "version": __version__, "device": device, "started_at": time.time()}
    if (run_dir / "run.json").exists():
        old = json.loads((run_dir / "run.json").read_text())
        if old.get("dataset_checksum") != checksum or old.get("config", {}).get("backbone") != cfg["backbone"]:
            raise BadInputError(f"{run_dir} holds a run on another dataset or preset.",
                                "Choose a new run folder (--out), or delete that one.")
        if (run_dir / "model.pt").exists():
            raise BadInputError(f"{run_dir} holds a finished run.", "Choose a new run folder (--out).")
        cfg = old["config"] | {k: cfg[k] for k in ("iterations",) if settings.iterations}
        run_meta = old | {"config": cfg}
    torch.manual_seed(settings.seed)
    model = build_model(cfg).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=cfg["lr"], momentum=0.9, weight_decay=1e-4)
    amp = device == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    if ckpt_path.exists():
        ck = read_checkpoint(ckpt_path)
        model.load_state_dict(ck["state_dict"])
        if "optimizer" in ck:
            optimizer.load_state_dict(ck["optimizer"])
        if "scaler" in ck and amp:
            scaler.load_state_dict(ck["scaler"])
        start_it = resumed = int(ck["iteration"])
    elif settings.init:
        run_meta["init_tensors"] = _load_init(model, settings.init)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "run.json", json.dumps(run_meta, indent=1))

    rng = np.random.default_rng(settings.seed)
    order: list[int] = []
    for _ in range(start_it * cfg["batch_size"] // max(len(data), 1) + 1):  # replay the sampler on resume
        order = list(rng.permutation(len(data)))
    cursor = (start_it * cfg["batch_size"]) % max(len(data), 1)
    total = int(cfg["iterations"])
    model.train()
    t_start, first_loss, last_loss, n_images = time.perf_counter(), math.nan, math.nan, 0
    metrics = open(run_dir / "metrics.jsonl", "a")
    it = start_it
    try:
        while it < total:
            batch = []
            while len(batch) < cfg["batch_size"]:
                if cursor >= len(order):
                    order, cursor = list(rng.permutation(len(data))), 0
                batch.append(data[order[cursor]])
                cursor += 1
            images = [b[0].to(device) for b in batch]
            targets = [{k: (v.to(device) if hasattr(v, "to") else v) for k, v in b[1].items()} for b in batch]
            for g in optimizer.param_groups:
                g["lr"] = _lr_at(it, cfg)
            with torch.autocast(device_type="cuda", enabled=amp):
                losses = model(images, targets)
            loss = sum(losses.values())
            if not torch.isfinite(loss):
                raise BadInputError(f"Training diverged at iteration {it} (loss {float(loss)}).",
                                    "Lower the learning rate (--lr) or check the dataset's boxes and masks.")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            it += 1
            n_images += len(batch)
            elapsed = time.perf_counter() - t_start
            ips = n_images / max(elapsed, 1e-9)
            eta = (total - it) * cfg["batch_size"] / max(ips, 1e-9)
            last_loss = float(loss.detach())
            first_loss = last_loss if math.isnan(first_loss) else first_loss
            row = {"iteration": it, "loss": last_loss, **{k: float(v.detach()) for k, v in losses.items()},
                   "lr": optimizer.param_groups[0]["lr"], "images_per_s": ips, "eta_s": eta}
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()
            if it % cfg["checkpoint_every"] == 0 and it < total:
                save_checkpoint(ckpt_path, model, cfg, iteration=it, optimizer=optimizer, scaler=scaler)
            ctx.progress(it, total, f"loss {last_loss:.3f} · {ips:.1f} img/s · ETA {eta:.0f} s")
    except (Cancelled, KeyboardInterrupt):
        save_checkpoint(ckpt_path, model, cfg, iteration=it, optimizer=optimizer, scaler=scaler)
        raise
    finally:
        metrics.close()
    model_path = run_dir / "model.pt"
    save_checkpoint(model_path, model, cfg, iteration=it,
                    extra={"dataset_checksum": checksum, "categories": ["vehicle", "person"]})
    elapsed = time.perf_counter() - t_start
    run_meta.update(finished_at=time.time(), iterations=it, model=str(model_path.name))
    write_text(run_dir / "run.json", json.dumps(run_meta, indent=1))
    return TrainResult(run_dir, model_path, it, resumed, first_loss, last_loss,
                       n_images / max(elapsed, 1e-9), device)


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The per-iteration rows of a run so far (a partly written last line is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    return rows
