"""Training, prediction and evaluation of the keypoint model, as jobs (JobContext progress and cancel).

`train_model` is the loop over in-memory samples; `train_job`, `predict_job` and `eval_job` are the project-
level jobs the CLI and the GUI run. The held-out split is by track (hash of the group key with the
checkpoint's `split_seed`), so `eval_job` scores the same vehicles `train_job` held out.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import BadInputError
from ..jobs import JobContext, silent
from .data import Sample, external_samples, project_samples, split_samples
from .metrics import PCKResult, pck
from .model import (KeypointPredictor, apply_affine, full_config, input_to_heatmap, load_checkpoint, new_model,
                    pick_device, save_checkpoint, to_tensor, warp, window_affine)

TRAIN_DEFAULTS = {
    "epochs": 60,
    "batch_size": 32,
    "lr": 2e-3,
    "weight_decay": 1e-4,
    "flip": True,             # mirror left-right, swapping the schema's flip pairs
    "scale_jitter": 0.10,     # window side * U(1 - s, 1 + s)
    "shift_jitter": 0.05,     # window centre + U(-s, s) * side
    "color_jitter": 0.15,     # brightness/contrast * U(1 - c, 1 + c)
    "val_fraction": 0.2,
    "split_seed": 0,
    "seed": 0,
    "fg_weight": 10.0,        # extra loss weight on heatmap pixels near a keypoint
}


@dataclass
class TrainResult:
    path: Path | None
    model_version: str
    pck_val: PCKResult | None
    pck_train: PCKResult | None
    n_train: int
    n_val: int
    history: list[float] = field(default_factory=list)  # mean loss per epoch
    seconds: float = 0.0


# -- batches ---------------------------------------------------------------------------------------

def make_batch(samples: list[Sample], cfg: dict, rng: np.random.Generator | None, flip_index: list[int]):
    """(N, S, S, 3) uint8 inputs, (N, K, 2) keypoints in input pixels, (N, K) weights. Augments when rng."""
    size, margin = int(cfg["input_size"]), float(cfg["margin"])
    imgs, pts_out, wts = [], [], []
    for s in samples:
        scale, shift, flip = 1.0, (0.0, 0.0), False
        if rng is not None:
            sj, tj = float(cfg.get("scale_jitter", 0)), float(cfg.get("shift_jitter", 0))
            scale = float(rng.uniform(1 - sj, 1 + sj)) if sj else 1.0
            shift = tuple(rng.uniform(-tj, tj, 2)) if tj else (0.0, 0.0)
            flip = bool(cfg.get("flip", True)) and bool(rng.random() < 0.5)
        a = window_affine(s.box, size, margin, scale=scale, shift=shift, flip=flip)
        img = warp(s.image, a, size)
        kp = s.keypoints
        if flip:
            kp = kp[flip_index]
        xy = apply_affine(a, kp[:, :2])
        w = (kp[:, 2] >= 1).astype(np.float32)
        inside = (xy[:, 0] >= -0.5) & (xy[:, 0] <= size - 0.5) & (xy[:, 1] >= -0.5) & (xy[:, 1] <= size - 0.5)
        w *= inside
        if rng is not None and cfg.get("color_jitter", 0):
            c = float(cfg["color_jitter"])
            img = np.clip(img.astype(np.float32) * rng.uniform(1 - c, 1 + c) + rng.uniform(-c, c) * 64, 0, 255)
            img = img.astype(np.uint8)
        imgs.append(img)
        pts_out.append(xy)
        wts.append(w)
    return np.stack(imgs), np.stack(pts_out), np.stack(wts)


def make_targets(xy_input: np.ndarray, size: int, sigma: float) -> torch.Tensor:
    """Unit-height Gaussian heatmaps (N, K, size/4, size/4) centred on the keypoints."""
    hs = size // 4
    c = torch.from_numpy(input_to_heatmap(xy_input)).float()  # (N, K, 2)
    g = torch.arange(hs, dtype=torch.float32)
    dx = (g[None, None, None, :] - c[..., 0, None, None]) ** 2
    dy = (g[None, None, :, None] - c[..., 1, None, None]) ** 2
    return torch.exp(-(dx + dy) / (2 * sigma ** 2))


# -- the loop --------------------------------------------------------------------------------------

def train_model(samples: list[Sample], config: dict | None = None, *, init: str | Path | None = None,
                layout=None, ctx: JobContext | None = None, device: str | None = None):
    """Train on samples; returns (model, config, layout, loss history). `init`: a checkpoint to start from
    (its network and classes are kept; training settings come from `config`). `layout`: the classes of a new
    head (default: config["schemas"])."""
    ctx = ctx or silent()
    cfg = dict(TRAIN_DEFAULTS)
    cfg.update(config or {})
    dev = pick_device(device)
    if init is not None:
        model, net_cfg, layout, ck = load_checkpoint(init, device=str(dev))
        cfg.update({k: net_cfg[k] for k in ("arch", "width", "input_size", "margin", "sigma", "schemas")})
        cfg["init"] = {"path": str(init), "model_version": ck["model_version"]}
    else:
        model, net_cfg, layout = new_model(cfg, layout)
        cfg = {**cfg, **net_cfg}
    model.to(dev).train()
    if not samples:
        raise BadInputError("There are no labelled keypoints to train on.",
                            "Label some vehicles in the keypoint editor, or import a keypoint dataset.")
    seed = int(cfg["seed"])
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    flip_index = layout.flip_index()
    bs = max(1, min(int(cfg["batch_size"]), len(samples)))
    steps_per_epoch = math.ceil(len(samples) / bs)
    epochs = int(cfg["epochs"])
    total = epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(cfg["lr"]), total_steps=max(total, 1),
                                                pct_start=0.15)
    history: list[float] = []
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(samples))
        losses = []
        for b in range(steps_per_epoch):
            idx = order[b * bs:(b + 1) * bs]
            if len(idx) < 2 and len(samples) >= 2:  # BatchNorm needs two samples
                idx = np.concatenate([idx, order[:1]])
            imgs, xy, w = make_batch([samples[i] for i in idx], cfg, rng, flip_index)
            x = to_tensor(imgs).to(dev)
            target = make_targets(xy, int(cfg["input_size"]), float(cfg["sigma"])).to(dev)
            weight = torch.from_numpy(w).to(dev)[..., None, None]
            pred = model(x)
            px_weight = 1 + float(cfg.get("fg_weight", 10)) * target  # keeps the net off the all-zero plateau
            loss = (((pred - target) ** 2) * px_weight * weight).mean() * 1000
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            ctx.progress(step, total, f"epoch {epoch + 1}/{epochs} loss {np.mean(losses):.3f}")
        history.append(float(np.mean(losses)))
    model.eval()
    return model, cfg, layout, history


def evaluate(predictor: KeypointPredictor, samples: list[Sample], alpha: float = 0.1,
             ctx: JobContext | None = None) -> PCKResult:
    """PCK over the samples' labelled keypoints, against each sample's (amodal) box."""
    if not samples:
        return pck(np.zeros((0, predictor.layout.total, 2)), np.zeros((0, predictor.layout.total, 3)),
                   np.zeros((0, 4)), alpha)
    xy_all = []
    for i in range(0, len(samples), 64):
        if ctx is not None:
            ctx.progress(i, len(samples), "evaluating")
        chunk = samples[i:i + 64]
        xy, _ = predictor.predict([s.image for s in chunk], [s.box for s in chunk])
        xy_all.append(xy)
    return pck(np.concatenate(xy_all), np.stack([s.keypoints for s in samples]),
               np.array([s.box for s in samples]), alpha)


# -- project jobs ----------------------------------------------------------------------------------

def _samples(project, layout, ctx, include_external: bool) -> list[Sample]:
    samples = project_samples(project, layout, ctx)
    if include_external:
        samples += external_samples(project, layout, ctx)
    return samples


def default_model_path(project) -> Path:
    return project.root / "models" / "keypoints" / time.strftime("kp-%Y%m%d-%H%M%S.pt")


def train_job(project, *, out: str | Path | None = None, init: str | Path | None = None,
              config: dict | None = None, device: str | None = None, include_external: bool = True,
              ctx: JobContext | None = None) -> TrainResult:
    """Train on the project's human keypoints (and imported datasets), hold out a split by track, report
    PCK@0.1 on it, and save the checkpoint (default: PROJECT/models/keypoints/kp-DATE-TIME.pt)."""
    ctx = ctx or silent()
    t0 = time.perf_counter()
    cfg = dict(TRAIN_DEFAULTS)
    cfg.update(config or {})
    if init is not None:
        _, net_cfg, layout, _ = load_checkpoint(init, device="cpu")
    else:
        net_cfg = full_config(cfg)
        from ..store.keypoints import project_schema_dir
        from ..keypoint_schema import joint_layout

        layout = joint_layout(*net_cfg["schemas"], search=(project_schema_dir(project),))
    samples = _samples(project, layout, ctx, include_external)
    train, val = split_samples(samples, float(cfg["val_fraction"]), int(cfg["split_seed"]))
    if not train:
        if not samples:
            raise BadInputError(f"{project.name} has no human keypoints for {', '.join(layout.names)} yet.",
                                "Label some vehicles (keypoint editor) or import a dataset (walt3d keypoints import).")
        train, val = samples, []
    model, cfg, layout, history = train_model(train, cfg, init=init, layout=layout, ctx=ctx, device=device)
    predictor = KeypointPredictor(model, cfg, layout)
    res_val = evaluate(predictor, val) if val else None
    res_train = evaluate(predictor, train)
    metrics = {"pck_val": res_val.to_dict() if res_val else None, "pck_train": res_train.to_dict(),
               "n_train": len(train), "n_val": len(val), "loss": history}
    path = Path(out) if out else default_model_path(project)
    version = save_checkpoint(path, model, cfg, layout, metrics)
    return TrainResult(path, version, res_val, res_train, len(train), len(val), history, time.perf_counter() - t0)


def predict_job(project, model_path: str | Path, *, camera_id: int | None = None, redo: bool = False,
                min_confidence: float = 0.1, device: str | None = None, batch_size: int = 64,
                ctx: JobContext | None = None) -> int:
    """Propose keypoints for every mined detection of the model's classes that has no human keypoints (and
    no proposal from this model yet, unless `redo`). Stored as origin 'model' with the model's version, in one
    transaction per class at the end (a cancelled run stores nothing). Returns how many were stored."""
    from ..store import keypoints as kstore
    from .data import CropSource

    ctx = ctx or silent()
    predictor = KeypointPredictor.load(model_path, device)
    version = predictor.model_version
    stored = 0
    todo = []
    for sch in predictor.layout.schemas:
        ids = kstore.mined_detection_ids(project, schema=sch.name, camera_id=camera_id, labelled=False)
        if not redo:
            done = kstore.model_versions(project, ids)
            ids = [i for i in ids if version not in done.get(i, ())]
        todo.append((sch, ids))
    total = sum(len(ids) for _, ids in todo)
    n = 0
    results = []
    with CropSource(project) as src:
        for sch, ids in todo:
            items = []
            for k in range(0, len(ids), batch_size):
                dets = kstore.detections(project, ids[k:k + batch_size])
                crops = [src.crop(d) for d in dets]
                pts, conf = predictor.predict_schema(sch.name, [c.image for c in crops],
                                                     [c.box_to_crop(d.box) for c, d in zip(crops, dets)],
                                                     min_confidence)
                for d, c, p, cf in zip(dets, crops, pts, conf):
                    p = p.copy()
                    found = p[:, 2] > 0
                    p[found, :2] = c.to_frame(p[found, :2])
                    items.append((d.id, p, cf))
                n += len(dets)
                ctx.progress(n, total, f"predicting {sch.name}")
            results.append((sch, items))
    ctx.check()
    for sch, items in results:
        if items:
            stored += kstore.add_model_keypoints(project, items, schema=sch.name, model_version=version)
    return stored


def eval_job(project, model_path: str | Path, *, split: str = "val", alpha: float = 0.1,
             include_external: bool = True, device: str | None = None,
             ctx: JobContext | None = None) -> tuple[PCKResult, int]:
    """PCK@alpha of a checkpoint on the project's human keypoints: the held-out split the checkpoint was
    trained with ('val'), its training split ('train') or everything ('all'). Returns (result, samples)."""
    if split not in ("val", "train", "all"):
        raise BadInputError(f"Unknown split {split!r}.", "Use val, train or all.")
    ctx = ctx or silent()
    predictor = KeypointPredictor.load(model_path, device)
    ck_cfg = predictor.config
    samples = _samples(project, predictor.layout, ctx, include_external)
    if split != "all":
        train, val = split_samples(samples, float(ck_cfg.get("val_fraction", TRAIN_DEFAULTS["val_fraction"])),
                                   int(ck_cfg.get("split_seed", 0)))
        samples = val if split == "val" else train
    return evaluate(predictor, samples, alpha, ctx), len(samples)
