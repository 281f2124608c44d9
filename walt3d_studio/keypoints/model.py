"""The keypoint model: a small heatmap network (torch), its checkpoints and inference on crops.

Input: a square window around the object's box (box side max(w, h) plus `margin` on every side), resized to
`input_size` x `input_size`. Output: one heatmap per keypoint slot at 1/4 resolution; a keypoint is the
heatmap's arg-max refined to sub-pixel by the weighted mean of its 3x3 neighbourhood, its confidence the
peak value (targets are unit-height Gaussians). Trunks: "compact" (a few residual blocks, fast on a CPU) or
"resnet18" (torchvision, weights=None), each followed by a deconvolution head (Simple Baselines).

Checkpoints are plain `torch.save` dicts of tensors and JSON-able values (loaded with weights_only=True):
{"format": "walt3d-keypoint-model", "version": 1, "config": {...}, "layout": {...schemas...},
 "model_version": "...", "metrics": {...}, "state_dict": {...}}.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from ..errors import BadInputError
from ..keypoint_schema import JointLayout, joint_layout

FORMAT = "walt3d-keypoint-model"
FORMAT_VERSION = 1
STRIDE = 4
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255

DEFAULT_CONFIG = {
    "arch": "compact",         # compact | resnet18
    "width": 32,               # channels of the compact trunk's first stage
    "input_size": 128,         # square network input in pixels (a multiple of 32)
    "margin": 0.15,            # context around the box, as a fraction of max(w, h), on each side
    "sigma": 1.5,              # heatmap Gaussian sigma in heatmap pixels
    "schemas": ["vehicle12"],  # classes of the head, in slot order (vehicle12 + person17 = 29 slots)
}


# -- network ---------------------------------------------------------------------------------------

class _Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.skip is None else self.skip(x)))


def _compact_trunk(width: int) -> tuple[nn.Module, int]:
    w = width
    layers = [nn.Conv2d(3, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),  # 1/2
              _Block(w, w, 2),            # 1/4
              _Block(w, 2 * w, 2),        # 1/8
              _Block(2 * w, 4 * w, 2),    # 1/16
              _Block(4 * w, 4 * w, 1)]
    return nn.Sequential(*layers), 4 * w


def _resnet18_trunk() -> tuple[nn.Module, int]:
    from torchvision.models import resnet18

    r = resnet18(weights=None)
    return nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3, r.layer4), 512


class KeypointNet(nn.Module):
    """Trunk to 1/16 (compact) or 1/32 (resnet18), deconvolutions back to 1/4, 1x1 conv to K heatmaps."""

    def __init__(self, num_keypoints: int, arch: str = "compact", width: int = 32):
        super().__init__()
        if arch == "compact":
            self.trunk, c = _compact_trunk(width)
            ups, head_c = 2, 4 * width
        elif arch == "resnet18":
            self.trunk, c = _resnet18_trunk()
            ups, head_c = 3, 256
        else:
            raise BadInputError(f"Unknown keypoint network {arch!r}.", "Use 'compact' or 'resnet18'.")
        deconv = []
        for _ in range(ups):
            deconv += [nn.ConvTranspose2d(c, head_c, 4, 2, 1, bias=False), nn.BatchNorm2d(head_c), nn.ReLU(inplace=True)]
            c = head_c
        self.head = nn.Sequential(*deconv)
        self.final = nn.Conv2d(c, num_keypoints, 1)

    def forward(self, x):
        return self.final(self.head(self.trunk(x)))


def build_model(config: dict, layout: JointLayout) -> KeypointNet:
    return KeypointNet(layout.total, config.get("arch", "compact"), int(config.get("width", 32)))


def full_config(config: dict | None = None) -> dict:
    cfg = dict(DEFAULT_CONFIG)
    cfg.update(config or {})
    if int(cfg["input_size"]) % 32:
        raise BadInputError(f"input_size must be a multiple of 32, got {cfg['input_size']}.", "Use e.g. 128 or 192.")
    return cfg


def pick_device(device: str | None = None) -> torch.device:
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# -- geometry: crop <-> network input --------------------------------------------------------------

def window_affine(box, input_size: int, margin: float, *, scale: float = 1.0, shift=(0.0, 0.0),
                  flip: bool = False) -> np.ndarray:
    """2x3 affine from image coordinates to network input coordinates (pixel centres at integers).

    The window is the square of side max(w, h) * (1 + 2 margin) * scale centred on the box centre moved by
    `shift` (a fraction of the side); `flip` mirrors it left-right."""
    x, y, w, h = (float(v) for v in box)
    side = max(w, h, 1.0) * (1 + 2 * margin) * scale
    cx = x + w / 2 - 0.5 + shift[0] * side  # box [x, x + w) of pixel cells -> centre x + w/2 - 0.5
    cy = y + h / 2 - 0.5 + shift[1] * side
    s = input_size / side
    a = np.array([[s, 0, input_size / 2 - 0.5 - s * cx], [0, s, input_size / 2 - 0.5 - s * cy]], dtype=np.float64)
    if flip:
        a = np.array([[-1, 0, input_size - 1], [0, 1, 0]], dtype=np.float64) @ np.vstack([a, [0, 0, 1]])
    return a


def apply_affine(a: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float64)
    return pts[..., :2] @ a[:, :2].T + a[:, 2]


def invert_affine(a: np.ndarray) -> np.ndarray:
    return cv2.invertAffineTransform(a.astype(np.float64))


def warp(image: np.ndarray, a: np.ndarray, input_size: int) -> np.ndarray:
    """The network input (RGB uint8, input_size^2) seen through affine `a` (zeros outside the image)."""
    img = image[..., :3] if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    return cv2.warpAffine(np.ascontiguousarray(img), a, (input_size, input_size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def to_tensor(batch: np.ndarray) -> torch.Tensor:
    """(N, S, S, 3) uint8 -> normalised (N, 3, S, S) float32."""
    x = (batch.astype(np.float32) - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def heatmap_to_input(xy: np.ndarray) -> np.ndarray:
    """Heatmap cell coordinates -> input pixel coordinates (cell j covers input pixels 4j .. 4j+3)."""
    return xy * STRIDE + (STRIDE - 1) / 2


def input_to_heatmap(xy: np.ndarray) -> np.ndarray:
    return (xy - (STRIDE - 1) / 2) / STRIDE


def decode_heatmaps(hm: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, H, W) heatmaps -> (N, K, 2) x, y in heatmap cells and (N, K) peak confidence.

    Sub-pixel: per axis, the vertex of the parabola through the log-heatmap at the arg-max and its two
    neighbours (exact for a Gaussian peak), limited to half a cell."""
    n, k, h, w = hm.shape
    hm = hm.detach().float().cpu()
    flat = hm.reshape(n, k, -1)
    peak, idx = flat.max(dim=-1)
    py, px = idx // w, idx % w
    logh = torch.log(hm.clamp(min=1e-6))
    bi = torch.arange(n)[:, None]
    ki = torch.arange(k)[None, :]

    def offset(a, b, c):
        den = a - 2 * b + c
        off = torch.where(den < 0, (a - c) / (2 * den.clamp(max=-1e-9)), torch.zeros_like(den))
        return off.clamp(-0.5, 0.5)

    b = logh[bi, ki, py, px]
    dx = offset(logh[bi, ki, py, (px - 1).clamp(min=0)], b, logh[bi, ki, py, (px + 1).clamp(max=w - 1)])
    dy = offset(logh[bi, ki, (py - 1).clamp(min=0), px], b, logh[bi, ki, (py + 1).clamp(max=h - 1), px])
    dx = torch.where((px == 0) | (px == w - 1), torch.zeros_like(dx), dx)
    dy = torch.where((py == 0) | (py == h - 1), torch.zeros_like(dy), dy)
    xy = torch.stack([px.float() + dx, py.float() + dy], dim=-1)
    return xy.numpy().astype(np.float64), peak.clamp(0, 1).numpy().astype(np.float64)


# -- checkpoints -----------------------------------------------------------------------------------

def state_digest(state_dict: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(state_dict):
        h.update(k.encode())
        h.update(state_dict[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:12]


def save_checkpoint(path: str | os.PathLike, model: nn.Module, config: dict, layout: JointLayout,
                    metrics: dict | None = None) -> str:
    """Write a checkpoint atomically (temp file + os.replace); returns its model_version."""
    sd = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    version = f"kp-{config.get('arch', 'compact')}-{state_digest(sd)}"
    payload = {"format": FORMAT, "version": FORMAT_VERSION, "config": dict(config), "layout": layout.to_dict(),
               "model_version": version, "metrics": metrics or {}, "state_dict": sd}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        from ..atomic import FILE_MODE

        os.fchmod(fd, FILE_MODE)  # mkstemp's 0600 would make a shared model unreadable to others
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return version


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint's dict, validated; BadInputError for anything that is not one of ours."""
    path = Path(path).expanduser()
    hint = "Give a checkpoint written by `walt3d keypoints train` (a .pt file)."
    if not path.is_file():
        raise BadInputError(f"Keypoint model {path} does not exist.", hint)
    try:
        with open(path, "rb") as f:
            data = f.read()
        ck = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and format errors all mean: not a checkpoint we can read safely
        from ..validate import torch_load_problem

        raise BadInputError(f"{path.name} is not a WALT3D keypoint checkpoint ({torch_load_problem(e)}).",
                            hint) from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise BadInputError(f"{path.name} is a torch file but not a WALT3D keypoint checkpoint.", hint)
    if int(ck.get("version", 0)) > FORMAT_VERSION:
        raise BadInputError(f"{path.name} was written by a newer WALT3D Studio.", "Update WALT3D Studio.")
    for key in ("config", "layout", "state_dict", "model_version"):
        if key not in ck:
            raise BadInputError(f"{path.name} is damaged: it has no {key!r}.", hint)
    return ck


def load_checkpoint(path: str | os.PathLike, device: str | None = None
                    ) -> tuple[KeypointNet, dict, JointLayout, dict]:
    """(model in eval mode on `device`, config, layout, the whole checkpoint dict)."""
    ck = read_checkpoint(path)
    config = full_config(ck["config"])
    try:
        layout = JointLayout.from_dict(ck["layout"])
        model = build_model(config, layout)
        model.load_state_dict(ck["state_dict"])
    except (RuntimeError, KeyError, TypeError, BadInputError) as e:
        raise BadInputError(f"{Path(path).name} does not match its own network description ({str(e)[:200]}).",
                            "The checkpoint is damaged; train again or use another one.") from None
    model.to(pick_device(device)).eval()
    return model, config, layout, ck


# -- inference -------------------------------------------------------------------------------------

class KeypointPredictor:
    """Runs a trained model on images and boxes; results in the images' own pixel coordinates."""

    def __init__(self, model: KeypointNet, config: dict, layout: JointLayout, model_version: str = "",
                 device: str | torch.device | None = None):
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.model = model.to(self.device).eval()
        self.config = full_config(config)
        self.layout = layout
        self.model_version = model_version

    @classmethod
    def load(cls, path: str | os.PathLike, device: str | None = None) -> "KeypointPredictor":
        model, config, layout, ck = load_checkpoint(path, device)
        return cls(model, config, layout, ck["model_version"])

    @torch.no_grad()
    def predict(self, images: list[np.ndarray], boxes, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """For each (image, box [x, y, w, h] in that image): (N, total, 2) x, y and (N, total) confidences."""
        size, margin = int(self.config["input_size"]), float(self.config["margin"])
        out_xy, out_conf = [], []
        for i in range(0, len(images), batch_size):
            affs = [window_affine(b, size, margin) for b in boxes[i:i + batch_size]]
            batch = np.stack([warp(im, a, size) for im, a in zip(images[i:i + batch_size], affs)])
            hm = self.model(to_tensor(batch).to(self.device))
            xy, conf = decode_heatmaps(hm)
            for a, p in zip(affs, heatmap_to_input(xy)):
                out_xy.append(apply_affine(invert_affine(a), p))
            out_conf.append(conf)
        if not out_xy:
            return np.zeros((0, self.layout.total, 2)), np.zeros((0, self.layout.total))
        return np.stack(out_xy), np.concatenate(out_conf)

    def predict_schema(self, schema: str, images, boxes, min_confidence: float = 0.1):
        """Predictions of one class: (N, K, 3) COCO triplets (v = 2 where confidence >= min_confidence, else
        0 with x = y = 0; the model does not judge occlusion) and (N, K) confidences."""
        xy, conf = self.predict(images, boxes)
        sl = self.layout.slots(self.layout.schema(schema).name)
        xy, conf = xy[:, sl], conf[:, sl]
        found = conf >= min_confidence
        pts = np.zeros(xy.shape[:2] + (3,))
        pts[..., :2] = np.where(found[..., None], xy, 0.0)
        pts[..., 2] = np.where(found, 2, 0)
        return pts, conf


def new_model(config: dict | None = None, layout: JointLayout | None = None) -> tuple[KeypointNet, dict, JointLayout]:
    """A fresh network for the config's classes (or for `layout`, whose schema names then go in the config)."""
    cfg = full_config(config)
    if layout is None:
        layout = joint_layout(*cfg["schemas"])
    cfg["schemas"] = list(layout.names)
    return build_model(cfg, layout), cfg, layout
