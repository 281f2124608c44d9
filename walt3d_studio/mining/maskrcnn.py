"""torchvision Mask R-CNN (ResNet-50 FPN, v1 or v2) from a local weights file; nothing is downloaded.

The file is read with ``torch.load(..., weights_only=True)`` (never unpickled). It may be a bare state dict
(torchvision's ``maskrcnn_resnet50_fpn_coco-*.pth``) or a dict holding one under "model" or "state_dict".
A COCO-trained checkpoint (91 classes) maps person -> person and car -> car; other classes are dropped (or
kept as "other" with ``keep_other=True``). A checkpoint with another class count needs ``categories``: the
names of its classes 1..N-1 (or the checkpoint may carry them under "categories").
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BadInputError
from .detection import Detection, FrameInfo
from .imported import COCO_IDS, category_of
from .detection import RunInfo

_HINT = ("Point --weights at a torchvision Mask R-CNN checkpoint, e.g. maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth "
         "(a state dict saved with torch.save).")


def load_state_dict(path) -> tuple[dict, list | None]:
    """(state dict, category names or None) from a checkpoint file; BadInputError when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"No weights file at {path}.", _HINT)
    import torch  # after the cheap checks: `walt3d detectors --weights MISSING` needs no torch
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        from ..validate import torch_load_problem

        raise BadInputError(f"{path.name} is not a PyTorch checkpoint that can be loaded safely "
                            f"({torch_load_problem(e)}).", _HINT) from None
    cats = None
    if isinstance(obj, dict):
        cats = obj.get("categories") if isinstance(obj.get("categories"), (list, tuple)) else None
        for key in ("model", "state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or "roi_heads.box_predictor.cls_score.weight" not in obj \
            or "roi_heads.mask_predictor.mask_fcn_logits.weight" not in obj:
        raise BadInputError(f"{path.name} is a checkpoint but not of a torchvision Mask R-CNN "
                            "(no box and mask predictor weights).", _HINT)
    return obj, (list(cats) if cats else None)


class MaskRCNNDetector:
    name = "maskrcnn"
    needs_pixels = True
    needs_background = False
    thread_safe = False

    def __init__(self, weights, score_threshold: float = 0.5, mask_threshold: float = 0.5,
                 categories: list[str] | None = None, keep_other: bool = False, threads: int | None = None):
        self.weights = Path(weights)
        self.state, ckpt_cats = load_state_dict(self.weights)  # fail early, before any frame is read
        self.num_classes = int(self.state["roi_heads.box_predictor.cls_score.weight"].shape[0])
        names = categories or ckpt_cats
        if self.num_classes == 91 and not names:
            self.class_map = dict(COCO_IDS)
        elif names:
            if len(names) not in (self.num_classes - 1, self.num_classes):
                raise BadInputError(f"{self.weights.name} has {self.num_classes - 1} classes but {len(names)} "
                                    "category names were given.", "Give one name per class (background excluded).")
            names = list(names)[-(self.num_classes - 1):]
            self.class_map = {i + 1: category_of(n) for i, n in enumerate(names)}
        else:
            raise BadInputError(f"{self.weights.name} has {self.num_classes - 1} classes, not COCO's 90, and no "
                                "category names.", "Give the class names with the detector option categories.")
        self.score_threshold = float(score_threshold)
        self.mask_threshold = float(mask_threshold)
        self.keep_other = keep_other
        self.threads = threads
        self.model = None
        self.settings = {"weights": str(self.weights), "score_threshold": self.score_threshold,
                         "mask_threshold": self.mask_threshold, "num_classes": self.num_classes}

    def start(self, run: RunInfo) -> None:
        import torch
        from torchvision.models.detection import maskrcnn_resnet50_fpn, maskrcnn_resnet50_fpn_v2

        if self.threads:
            torch.set_num_threads(int(self.threads))
        v2 = "rpn.head.conv.1.0.weight" in self.state  # v2 has a two-conv RPN head
        build = maskrcnn_resnet50_fpn_v2 if v2 else maskrcnn_resnet50_fpn
        model = build(weights=None, weights_backbone=None, num_classes=self.num_classes)
        try:
            model.load_state_dict(self.state, strict=True)
        except RuntimeError as e:
            raise BadInputError(f"{self.weights.name} does not fit torchvision's Mask R-CNN ResNet-50 FPN"
                                f"{' v2' if v2 else ''}: {' '.join(str(e).split())[:240]}.", _HINT) from None
        model.eval()
        self.model = model
        self.state = None

    def detect(self, frame: np.ndarray, info: FrameInfo) -> list[Detection]:
        import torch

        x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float().div_(255)
        with torch.inference_mode():
            out = self.model([x])[0]
        scores = out["scores"].numpy()
        labels = out["labels"].numpy()
        masks = out["masks"]
        dets = []
        for i in np.flatnonzero(scores >= self.score_threshold):
            cat = self.class_map.get(int(labels[i]))
            if cat is None:
                if not self.keep_other:
                    continue
                cat = "other"
            m = (masks[i, 0] > self.mask_threshold).numpy()
            d = Detection.from_full_mask(m, cat, float(scores[i]), source_label=int(labels[i]))
            if d is not None:
                dets.append(d)
        return dets

    def close(self) -> None:
        self.model = None
