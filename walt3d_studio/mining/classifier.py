"""The occlusion classifier (WALT3D §3 "Occlusion Classifier"): a small CNN trained on people's U/O/X labels,
predicting P(unoccluded) for every detection. Torch, CPU; imported only when a classifier is trained or used.

Input: the object's RGBA crop (RGB of its box, alpha = its mask) resized to 48x48, plus geometric cues the rule
also sees (box position and size in the image, distance to the border, the largest IoU with a lower-bottomed
candidate and with any detection, static-occluder overlap, the area ratio to its track's running median, the
detector's score). Labels: U -> 1, O and X -> 0 (an X is not a minable object either).

Held-out accuracy is measured on whole tracks kept out of training (neighbouring frames of one track are
near-duplicates, so a per-detection split would flatter the model), next to the rule's accuracy on the same
detections. The state dict is saved under arrays/classifiers/<version>.pt (loaded with weights_only=True) and
recorded in the `classifiers` table; `apply_classifier` then stores a prediction with that version for every
detection, and the classifier decides where no person has (DESIGN precedence: label > classifier > rule).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import BadInputError
from ..jobs import JobContext, silent

PATCH = 48
ARCH = "occnet-1"
CUE_NAMES = ("x", "y", "w", "h", "border_gap", "occluder_iou", "max_iou", "n_occluders", "static_overlap",
             "log_area_ratio", "score", "truncated")
MIN_LABELS = 20


# ------------------------------------------------------------------------------------------ inputs


def patch_from_rgba(rgba: np.ndarray) -> np.ndarray:
    """(4, PATCH, PATCH) float32 in [0, 1] from an RGBA crop."""
    p = cv2.resize(rgba, (PATCH, PATCH), interpolation=cv2.INTER_AREA)
    return p.transpose(2, 0, 1).astype(np.float32) / 255.0


def cue_vector(box, reasons: dict, width: int, height: int) -> np.ndarray:
    x, y, w, h = (float(v) for v in box)
    gap = min(x, y, width - (x + w), height - (y + h)) / max(1.0, min(width, height))
    occ = reasons.get("occluded_by") or []
    occ_iou = max((float(o.get("iou", 0.0)) for o in occ), default=0.0)
    ratio = float(reasons.get("area_ratio", 1.0) or 1.0)
    return np.array([x / width, y / height, w / width, h / height, min(1.0, max(-0.1, gap) * 10), occ_iou,
                     float(reasons.get("max_iou", 0.0)), min(len(occ), 3) / 3.0,
                     float(reasons.get("static_overlap", 0.0)), float(np.clip(math.log(max(ratio, 1e-3)), -2, 2)),
                     float(reasons.get("score", 1.0)), 1.0 if reasons.get("truncated") else 0.0], np.float32)


# ------------------------------------------------------------------------------------------- model


def _net(n_cues: int = len(CUE_NAMES)):
    from torch import nn

    class OcclusionNet(nn.Module):
        def __init__(self):
            super().__init__()

            def block(a, b):
                return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]

            self.features = nn.Sequential(*block(4, 16), nn.MaxPool2d(2), *block(16, 32), nn.MaxPool2d(2),
                                          *block(32, 48), nn.MaxPool2d(2), *block(48, 64), nn.AdaptiveAvgPool2d(1),
                                          nn.Flatten())
            self.cues = nn.Sequential(nn.Linear(n_cues, 32), nn.ReLU(inplace=True))
            self.head = nn.Sequential(nn.Linear(96, 64), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.Linear(64, 1))

        def forward(self, patches, cues):
            import torch

            return self.head(torch.cat([self.features(patches), self.cues(cues)], dim=1)).squeeze(1)

    return OcclusionNet()


class OcclusionModel:
    """A trained classifier ready to predict P(unoccluded)."""

    def __init__(self, net, version: str):
        self.net = net.eval()
        self.version = version

    def predict_arrays(self, patches: np.ndarray, cues: np.ndarray, batch: int = 256) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(patches), batch):
                logits = self.net(torch.from_numpy(patches[i:i + batch]), torch.from_numpy(cues[i:i + batch]))
                out.append(torch.sigmoid(logits).numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def predict(self, frame: np.ndarray, dets, reasons: list[dict], width: int, height: int) -> np.ndarray:
        from .detection import rgba_crop

        if not dets:
            return np.zeros(0)
        patches = np.stack([patch_from_rgba(rgba_crop(frame, d)) for d in dets])
        cues = np.stack([cue_vector(d.box, r, width, height) for d, r in zip(dets, reasons)])
        return self.predict_arrays(patches, cues)


@dataclass
class TrainReport:
    version: str
    n_labels: int
    n_train: int
    n_val: int
    val_accuracy: float
    rule_val_accuracy: float | None
    train_accuracy: float
    epochs: int
    seed: int
    seconds: float
    path: str = ""
    applied: int = 0

    def summary(self) -> str:
        rule = f" (rule: {self.rule_val_accuracy:.1%})" if self.rule_val_accuracy is not None else ""
        return (f"classifier {self.version}: held-out accuracy {self.val_accuracy:.1%}{rule} on {self.n_val} "
                f"detections; trained on {self.n_train} in {self.seconds:.0f} s")


def fit(patches: np.ndarray, cues: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, *, seed: int = 0,
        epochs: int | None = None, val_frac: float = 0.2, rule_pred: np.ndarray | None = None,
        ctx: JobContext | None = None, threads: int | None = None):
    """Train on arrays; returns (OcclusionModel, TrainReport without path). Deterministic for a seed."""
    import torch

    ctx = ctx or silent()
    y = np.asarray(y, np.float32)
    n = len(y)
    if n < MIN_LABELS:
        raise BadInputError(f"Only {n} labelled detections; the classifier needs at least {MIN_LABELS}.",
                            "Label more detections U / O / X in the review panel first.")
    if y.min() == y.max():
        raise BadInputError("All labels are the same; the classifier needs both unoccluded (U) and occluded (O/X) "
                            "examples.", "Label some of the other kind too.")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    val = _split(groups if groups is not None else np.arange(n), val_frac, rng)
    tr = ~val
    if epochs is None:
        epochs = int(np.clip(24000 // max(1, tr.sum()), 6, 30))
    net = _net(cues.shape[1])
    P, C, Y = torch.from_numpy(patches), torch.from_numpy(cues), torch.from_numpy(y)
    pos = float(Y[tr].sum())
    pos_weight = torch.tensor((tr.sum() - pos) / max(pos, 1.0))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    tr_idx = np.flatnonzero(tr)
    bs = 64
    steps = epochs * max(1, math.ceil(len(tr_idx) / bs))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    step = 0
    for ep in range(epochs):
        net.train()
        order = tr_idx[rng.permutation(len(tr_idx))]
        for i in range(0, len(order), bs):
            b = torch.from_numpy(order[i:i + bs])
            xb, cb, yb = P[b], C[b], Y[b]
            flip = torch.rand(len(b), generator=gen) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            xb = xb.clone()
            xb[:, :3] *= 0.8 + 0.4 * torch.rand(len(b), 1, 1, 1, generator=gen)
            loss = loss_fn(net(xb, cb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
        ctx.progress(ep + 1, epochs, f"training, epoch {ep + 1}/{epochs}, loss {float(loss.detach()):.3f}")
    model = OcclusionModel(net, "")
    p = model.predict_arrays(patches, cues)
    pred = p >= 0.5
    truth = y >= 0.5
    acc = lambda m: float((pred[m] == truth[m]).mean()) if m.any() else float("nan")  # noqa: E731
    rule_acc = float((rule_pred[val] == truth[val]).mean()) if rule_pred is not None and val.any() else None
    digest = hashlib.sha1(b"".join(v.detach().numpy().tobytes() for v in net.state_dict().values())).hexdigest()[:8]
    model.version = f"oc-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{digest}"
    rep = TrainReport(model.version, n, int(tr.sum()), int(val.sum()), acc(val), rule_acc, acc(tr), epochs, seed,
                      time.perf_counter() - t0)
    return model, rep


def _split(groups: np.ndarray, frac: float, rng) -> np.ndarray:
    """A held-out mask of whole groups covering about `frac` of the samples (at least one sample)."""
    groups = np.asarray(groups)
    uniq = np.unique(groups)
    val = np.zeros(len(groups), bool)
    if len(uniq) >= 3:
        for g in uniq[rng.permutation(len(uniq))]:
            if val.mean() >= frac:
                break
            val |= groups == g
        if 0 < val.sum() < len(groups):
            return val
    idx = rng.permutation(len(groups))[:max(1, int(round(frac * len(groups))))]
    val[:] = False
    val[idx] = True
    return val


# --------------------------------------------------------------------------------- project-level jobs


def training_set(project, ctx: JobContext | None = None):
    """(patches, cues, y, track ids, detection ids, rule says unoccluded) of every human-labelled detection."""
    from ..store.detections import detection_table, verdict_reasons
    from .crops import ensure_crops, read_png_rgba

    t = detection_table(project)
    keep = np.array([lab is not None for lab in t.label], bool)
    ids = t.id[keep]
    if len(ids) == 0:
        raise BadInputError("No detection has a human occlusion label yet.",
                            "Label detections U / O / X in the review panel (or import labels) first.")
    ensure_crops(project, ids, ctx)
    t = detection_table(project)
    keep = np.array([lab is not None for lab in t.label], bool)
    sizes = {c.id: (c.width, c.height) for c in project.cameras()}
    from ..store.frames import frame_cameras

    cam_of = frame_cameras(project)
    reasons = verdict_reasons(project, t.id[keep])
    patches, cues = [], []
    for i in np.flatnonzero(keep):
        W, H = sizes[cam_of[int(t.frame_id[i])]]
        patches.append(patch_from_rgba(read_png_rgba(project.root / t.crop_path[i])))
        cues.append(cue_vector(t.box[i], reasons.get(int(t.id[i]), {}), W, H))
    y = np.array([lab == "U" for lab in t.label[keep]], np.float32)
    rule = np.array([v == "unoccluded" for v in t.rule_verdict[keep]], bool)
    return np.stack(patches), np.stack(cues), y, t.track_id[keep], t.id[keep], rule


def train_classifier(project, *, seed: int = 0, epochs: int | None = None, apply: bool = True,
                     ctx: JobContext | None = None) -> TrainReport:
    """Train on the project's labels, store the model as the active classifier, and (by default) apply it."""
    import torch

    from ..store.detections import add_classifier

    ctx = ctx or silent()
    patches, cues, y, groups, _, rule = training_set(project, ctx)
    model, rep = fit(patches, cues, y, groups, seed=seed, epochs=epochs, rule_pred=rule, ctx=ctx)
    rel = Path("arrays") / "classifiers" / f"{model.version}.pt"
    dest = project.root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    meta = {"version": model.version, "arch": ARCH, "patch": PATCH, "cues": list(CUE_NAMES)}
    from ..atomic import atomic_path

    with atomic_path(dest) as tmp:
        torch.save({"state_dict": model.net.state_dict(), "meta": meta}, tmp)
    rep.path = str(rel)
    metrics = {k: v for k, v in asdict(rep).items() if k not in ("path", "version", "applied")}
    add_classifier(project, model.version, str(rel), metrics, {"seed": seed, "epochs": rep.epochs, **meta})
    if apply:
        rep.applied = apply_classifier(project, model=model, ctx=ctx)
    return rep


def load_active_model(project) -> OcclusionModel | None:
    import torch

    from ..store.detections import active_classifier

    row = active_classifier(project)
    if row is None:
        return None
    path = project.root / row["path"]
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        net = _net(len(obj["meta"]["cues"]))
        net.load_state_dict(obj["state_dict"])
    except Exception as e:
        from ..validate import torch_load_problem

        raise BadInputError(f"The occlusion classifier {row['version']} cannot be loaded ({torch_load_problem(e)}).",
                            "Train it again: walt3d classifier train PROJECT.") from None
    return OcclusionModel(net, row["version"])


def apply_classifier(project, camera_id: int | None = None, model: OcclusionModel | None = None,
                     ctx: JobContext | None = None) -> int:
    """Predict P(unoccluded) for every detection (decoding their frames once, in capture order), store it with
    the model version, let it decide over the rule, and write crops of newly mined objects. Returns the count."""
    from ..store.detections import (detection_rles, detections_with_rule_verdicts, set_crop_paths,
                                    update_machine_verdicts, verdict_reasons)
    from .crops import detection_from_row, write_png_rgba
    from .detection import rgba_crop
    from .occlusion import decide

    ctx = ctx or silent()
    model = model or load_active_model(project)
    if model is None:
        raise BadInputError("No trained occlusion classifier yet.", "Train one: walt3d classifier train PROJECT.")
    cams = [project.camera(camera_id)] if camera_id is not None else project.cameras()
    total = 0
    for cam in cams:
        rows = detections_with_rule_verdicts(project, cam.id)
        if not rows:
            continue
        reasons = verdict_reasons(project, [r["id"] for r in rows])
        reader = project.frame_reader(cam.id, cache_bytes=0)
        pos_of = {int(f): i for i, f in enumerate(reader.table.ids)}
        updates, crops = [], {}
        try:
            by_frame: dict[int, list] = {}
            for r in rows:
                by_frame.setdefault(r["frame_id"], []).append(r)
            frame_ids = list(by_frame)
            positions = [pos_of[f] for f in frame_ids]
            for n, (fid, frame) in enumerate(zip(frame_ids, reader.iter_frames(positions))):
                items = by_frame[fid]
                rles = detection_rles(project, [r["id"] for r in items])
                dets = [detection_from_row((r["x"], r["y"], r["w"], r["h"]), rles.get(r["id"]), r["category"],
                                           r["score"]) for r in items]
                rs = [reasons.get(r["id"], {}) for r in items]
                p = model.predict(frame, dets, rs, cam.width, cam.height)
                for r, d, reason, pi in zip(items, dets, rs, p):
                    verdict, by = decide(r["rule_verdict"] or "rejected", float(pi))
                    reason = dict(reason)
                    reason["classifier"] = {"p": round(float(pi), 4), "version": model.version}
                    updates.append((r["id"], verdict, by, float(pi), model.version, reason))
                    if verdict == "unoccluded" and not r["crop_path"]:
                        rel = Path("arrays") / "crops" / f"cam{cam.id}" / "extra" / f"{r['id']}.png"
                        write_png_rgba(project.root / rel, rgba_crop(frame, d))
                        crops[r["id"]] = str(rel)
                ctx.progress(n + 1, len(frame_ids), "classifying detections")
        finally:
            reader.close()
        update_machine_verdicts(project, updates)
        if crops:
            set_crop_paths(project, crops)
        total += len(updates)
    return total
