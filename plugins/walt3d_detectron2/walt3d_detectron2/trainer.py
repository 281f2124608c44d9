"""detectron2 as a WALT3D Studio trainer (entry point group `walt3d_studio.trainers`, name `detectron2`).

Trains a detectron2 Mask R-CNN on a dataset written by `walt3d export`: its COCO JSON's `segmentation` and
`bbox` are the amodal ones, so detectron2 learns amodal masks with no conversion. Keypoints are left to the
built-in trainer (detectron2's keypoint head takes one class). Nothing is downloaded: give `init` as a local
weights file or train from scratch.
"""
from __future__ import annotations

import time
from pathlib import Path

from walt3d_studio.training.registry import TrainerSpec

from . import _check


def train(dataset, run_dir, settings=None, ctx=None):
    from detectron2 import model_zoo
    from detectron2.config import get_cfg
    from detectron2.data.datasets import register_coco_instances
    from detectron2.engine import DefaultTrainer

    from walt3d_studio.training.dataset import split_file
    from walt3d_studio.training.train import TrainResult, TrainSettings

    settings = settings or TrainSettings()
    dataset, run_dir = Path(dataset), Path(run_dir)
    name = f"walt3d_{dataset.name}_{int(time.time())}"
    register_coco_instances(name, {}, str(split_file(dataset, settings.split)), str(dataset / "images"))
    cfg = get_cfg()
    cfg.merge_from_file(model_zoo.get_config_file("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"))
    cfg.DATASETS.TRAIN, cfg.DATASETS.TEST = (name,), ()
    cfg.MODEL.WEIGHTS = settings.init or ""
    cfg.MODEL.ROI_HEADS.NUM_CLASSES = 2
    cfg.MODEL.DEVICE = "cuda" if settings.device in ("auto", "cuda") and _cuda() else "cpu"
    cfg.SOLVER.MAX_ITER = settings.iterations or 1000
    cfg.SOLVER.IMS_PER_BATCH = settings.batch_size or 2
    cfg.SOLVER.BASE_LR = settings.lr or 0.0025
    cfg.SEED = settings.seed
    cfg.OUTPUT_DIR = str(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = DefaultTrainer(cfg)
    trainer.resume_or_load(resume=True)
    start = time.time()
    trainer.train()
    its = cfg.SOLVER.MAX_ITER
    return TrainResult(run_dir, run_dir / "model_final.pth", its, 0, float("nan"), float("nan"),
                       its * cfg.SOLVER.IMS_PER_BATCH / max(time.time() - start, 1e-9), cfg.MODEL.DEVICE)


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


spec = TrainerSpec("detectron2", "detectron2 Mask R-CNN on the amodal masks and boxes (plugin; no keypoints).",
                   train, check=_check)
