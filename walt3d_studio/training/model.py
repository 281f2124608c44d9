"""The amodal detector: torchvision's Mask R-CNN (amodal boxes and masks) with a keypoint head added to the
same RoI heads, so one model predicts class, amodal box, amodal mask and the 29-slot keypoints (DESIGN).

Training RoI sampling: `rois_per_image` proposals per image go to the box head (a quarter of them at most
positives, which the mask and keypoint heads see too), and the RPN keeps four times as many per image after NMS;
fewer is much cheaper on a CPU and changes no weights (a checkpoint loads whatever was used to train it).

Presets: `tiny` (ResNet-18 FPN with 64 channels, light heads, short side 320; for CPU and tests) and
`standard` (ResNet-50 FPN, torchvision's head sizes, short side 800). Weights come from a local checkpoint
or start from scratch: nothing is downloaded. Checkpoints are dicts of tensors and plain values, read with
`torch.load(weights_only=True)`.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..atomic import atomic_path
from ..errors import BadInputError
from .dataset import CLASSES, N_SLOTS

FORMAT = "walt3d-amodal-model"
FORMAT_VERSION = 1

PRESETS = {
    "tiny": {"backbone": "resnet18", "fpn_channels": 64, "min_size": 320, "max_size": 544, "rois_per_image": 512,
             "box_rep": 256, "mask_layers": [64, 64], "kp_layers": [64, 64], "batch_size": 2, "lr": 0.01,
             "iterations": 300, "checkpoint_every": 50, "warmup": 20},
    "standard": {"backbone": "resnet50", "fpn_channels": 256, "min_size": 800, "max_size": 1333,
                 "rois_per_image": 512, "box_rep": 1024, "mask_layers": [256, 256, 256, 256], "kp_layers": [512] * 8,
                 "batch_size": 4, "lr": 0.02, "iterations": 20000, "checkpoint_every": 1000, "warmup": 500},
}


def preset(name: str) -> dict:
    if name not in PRESETS:
        raise BadInputError(f"Unknown preset {name!r}.", f"Use one of: {', '.join(PRESETS)}.")
    return dict(PRESETS[name])


def build_model(config: dict):
    """A fresh model for a preset config (random weights; load a checkpoint's state dict into it)."""
    import torch.nn as nn
    from torchvision.models import resnet18, resnet50
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.backbone_utils import BackboneWithFPN
    from torchvision.models.detection.faster_rcnn import TwoMLPHead
    from torchvision.models.detection.keypoint_rcnn import KeypointRCNNHeads, KeypointRCNNPredictor
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
    from torchvision.ops import MultiScaleRoIAlign
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    trunk = {"resnet18": resnet18, "resnet50": resnet50}[config["backbone"]](weights=None)
    width = 512 if config["backbone"] == "resnet18" else 2048
    in_channels = [width // 8, width // 4, width // 2, width]
    ch = int(config["fpn_channels"])
    backbone = BackboneWithFPN(trunk, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}, in_channels,
                               ch, extra_blocks=LastLevelMaxPool())
    rep = int(config["box_rep"])
    mask_layers = list(config["mask_layers"])
    rois = int(config.get("rois_per_image", 512))
    model = MaskRCNN(backbone, num_classes=None, min_size=int(config["min_size"]),
                     max_size=int(config["max_size"]), box_batch_size_per_image=rois,
                     rpn_pre_nms_top_n_train=min(2000, 8 * rois), rpn_post_nms_top_n_train=min(2000, 4 * rois),
                     box_head=TwoMLPHead(ch * 7 * 7, rep),
                     box_predictor=_box_predictor(rep, len(CLASSES) + 1),
                     mask_head=MaskRCNNHeads(ch, mask_layers, 1),
                     mask_predictor=MaskRCNNPredictor(mask_layers[-1], mask_layers[-1], len(CLASSES) + 1))
    kp_layers = list(config["kp_layers"])
    heads = model.roi_heads
    heads.keypoint_roi_pool = MultiScaleRoIAlign(["0", "1", "2", "3"], 14, 2)
    heads.keypoint_head = KeypointRCNNHeads(ch, kp_layers)
    heads.keypoint_predictor = KeypointRCNNPredictor(kp_layers[-1], N_SLOTS)
    assert isinstance(heads.keypoint_head, nn.Module) and heads.has_keypoint()
    return model


def _box_predictor(rep: int, n: int):
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor

    return FastRCNNPredictor(rep, n)


def save_checkpoint(path: str | Path, model, config: dict, *, iteration: int, optimizer=None, scaler=None,
                    extra: dict | None = None) -> str:
    """Atomically write a checkpoint (model, optimiser and scaler state for resume); returns its version."""
    import torch

    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    h = hashlib.sha256()
    for k in sorted(sd):
        h.update(k.encode())
        h.update(sd[k].contiguous().numpy().tobytes())
    version = f"amodal-{config['backbone']}-{h.hexdigest()[:12]}"
    payload = {"format": FORMAT, "version": FORMAT_VERSION, "config": dict(config), "classes": list(CLASSES),
               "iteration": int(iteration), "model_version": version, "state_dict": sd, "extra": extra or {}}
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if scaler is not None:
        payload["scaler"] = scaler.state_dict()
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
    return version


def read_checkpoint(path: str | Path) -> dict:
    """A checkpoint written by `save_checkpoint`, validated; BadInputError for anything else."""
    import torch

    path = Path(path).expanduser()
    hint = "Give a model written by `walt3d train` (RUN/model.pt or a checkpoint in RUN/checkpoints/)."
    if not path.is_file():
        raise BadInputError(f"No model file at {path}.", hint)
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickles, zip and format errors all mean: not a file we can read safely
        from ..validate import torch_load_problem

        raise BadInputError(f"{path.name} is not a WALT3D model ({torch_load_problem(e)}).", hint) from None
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise BadInputError(f"{path.name} is a torch file but not a WALT3D amodal model.", hint)
    if int(ck.get("version", 0)) > FORMAT_VERSION:
        raise BadInputError(f"{path.name} was written by a newer WALT3D Studio.", "Update WALT3D Studio.")
    for key in ("config", "state_dict", "iteration"):
        if key not in ck:
            raise BadInputError(f"{path.name} is damaged: it has no {key!r}.", hint)
    return ck


def load_model(path: str | Path, device: str = "cpu"):
    """(model in eval mode on device, checkpoint dict)."""
    ck = read_checkpoint(path)
    model = build_model(ck["config"])
    try:
        model.load_state_dict(ck["state_dict"])
    except RuntimeError as e:
        raise BadInputError(f"{Path(path).name} does not fit its own configuration ({str(e)[:160]}).",
                            "The file is damaged; use another checkpoint.") from None
    return model.to(device).eval(), ck


def pick_device(requested: str | None) -> str:
    import torch

    if requested in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise BadInputError("--device cuda was asked for but no CUDA GPU is available.",
                            "Use --device cpu, or install a CUDA build of torch on a machine with a GPU.")
    if requested not in ("cpu", "cuda"):
        raise BadInputError(f"Unknown device {requested!r}.", "Use cpu, cuda or auto.")
    return requested
