"""detectron2 as a WALT3D Studio detector (entry point group `walt3d_studio.detectors`, name `detectron2`).

Nothing heavy is imported until a detector is created: listing the backends only asks whether `detectron2`
can be imported.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from walt3d_studio.errors import BadInputError
from walt3d_studio.mining.detection import Detection, FrameInfo
from walt3d_studio.mining.registry import DetectorSpec, RunInfo, package_missing

COCO_CONTIGUOUS = {0: "person", 2: "car"}  # detectron2's COCO class indices are 0-based and contiguous


def _check() -> str | None:
    reason = package_missing("detectron2", "torch")
    return f"{reason} (install detectron2: see plugins/walt3d_detectron2/README.md)" if reason else None


class Detectron2Detector:
    name = "detectron2"
    needs_pixels = True
    needs_background = False
    thread_safe = False

    def __init__(self, weights, config: str = "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml",
                 score_threshold: float = 0.5, device: str = "cpu", categories: list[str] | None = None,
                 keep_other: bool = False):
        self.weights = Path(weights)
        if not self.weights.is_file():
            raise BadInputError(f"No weights file at {self.weights}.", "Give a local detectron2 .pth / .pkl file.")
        self.config = config
        self.score_threshold = float(score_threshold)
        self.device = device
        self.categories = categories
        self.keep_other = keep_other
        self.settings = {"weights": str(self.weights), "config": config, "score_threshold": self.score_threshold}

    def start(self, run: RunInfo) -> None:
        from detectron2 import model_zoo
        from detectron2.config import get_cfg
        from detectron2.engine import DefaultPredictor

        cfg = get_cfg()
        path = Path(self.config)
        cfg.merge_from_file(str(path) if path.is_file() else model_zoo.get_config_file(self.config))
        cfg.MODEL.WEIGHTS = str(self.weights)
        cfg.MODEL.DEVICE = self.device
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = self.score_threshold
        self.predictor = DefaultPredictor(cfg)
        if self.categories:
            from walt3d_studio.mining.imported import category_of

            self.class_map = {i: category_of(n) for i, n in enumerate(self.categories)}
        else:
            self.class_map = dict(COCO_CONTIGUOUS)

    def detect(self, frame: np.ndarray, info: FrameInfo) -> list[Detection]:
        # DefaultPredictor takes OpenCV-style BGR and converts to the model's own input format
        inst = self.predictor(np.ascontiguousarray(frame[:, :, ::-1]))["instances"].to("cpu")
        out = []
        masks = inst.pred_masks.numpy() if inst.has("pred_masks") else None
        for i in range(len(inst)):
            cat = self.class_map.get(int(inst.pred_classes[i]))
            if cat is None:
                if not self.keep_other:
                    continue
                cat = "other"
            score = float(inst.scores[i])
            if masks is not None:
                d = Detection.from_full_mask(masks[i], cat, score)
            else:
                x0, y0, x1, y1 = inst.pred_boxes.tensor[i].tolist()
                d = Detection(cat, score, (x0, y0, x1 - x0, y1 - y0))
            if d is not None:
                out.append(d)
        return out

    def close(self) -> None:
        self.predictor = None


def _create(weights=None, **options):
    return Detectron2Detector(weights, **options)


spec = DetectorSpec("detectron2", "detectron2 instance segmentation (config + local weights; plugin).", _create,
                    check=_check, needs_weights=True)
