"""A model trained by `walt3d train` as a mining detector backend (`walt3d mine --detector trained:RUN`), so a
camera can be re-mined by a model that learnt from its own composites: the loop closes without downloaded
weights. Registered through the `walt3d_studio.detectors` entry point group like any plug-in.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BadInputError

CATEGORY = {"vehicle": "car", "person": "person"}


def model_file(run_or_model: str | Path) -> Path:
    """RUN folder or model file -> the model file."""
    p = Path(run_or_model).expanduser()
    if p.is_dir():
        p = p / "model.pt"
    if not p.is_file():
        raise BadInputError(f"No trained model at {p}.",
                            "Give a run folder written by `walt3d train` (it holds model.pt) or the model file.")
    return p


class TrainedDetector:
    name = "trained"
    needs_pixels = True
    needs_background = False
    thread_safe = False

    def __init__(self, weights, score_threshold: float = 0.5, mask_threshold: float = 0.5, device: str = "auto"):
        from .model import read_checkpoint

        self.path = model_file(weights)
        read_checkpoint(self.path)  # fail before any frame is read
        self.score_threshold = float(score_threshold)
        self.mask_threshold = float(mask_threshold)
        self.device = device
        self.model = None
        self.settings = {"weights": str(self.path), "score_threshold": self.score_threshold,
                         "mask_threshold": self.mask_threshold}

    def start(self, run) -> None:
        from .model import load_model, pick_device

        self.device = pick_device(self.device)
        self.model, ck = load_model(self.path, self.device)
        self.settings["model_version"] = ck.get("model_version")
        self.classes = list(ck.get("classes") or ["vehicle", "person"])

    def detect(self, frame: np.ndarray, info) -> list:
        import torch

        from ..mining.detection import Detection

        x = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float().div_(255).to(self.device)
        with torch.inference_mode():
            out = self.model([x])[0]
        dets = []
        scores = out["scores"].cpu().numpy()
        for i in np.flatnonzero(scores >= self.score_threshold):
            cls = self.classes[int(out["labels"][i]) - 1]
            m = (out["masks"][i, 0] > self.mask_threshold).cpu().numpy()
            d = Detection.from_full_mask(m, CATEGORY.get(cls, "other"), float(scores[i]))
            if d is not None:
                dets.append(d)
        return dets

    def close(self) -> None:
        self.model = None


def spec():
    from ..mining.registry import DetectorSpec, package_missing

    def create(weights=None, **opts):
        if weights is None:
            raise BadInputError("The trained detector needs a run.", "Use --detector trained:RUN "
                                "(or --detector trained --weights RUN/model.pt).")
        return TrainedDetector(weights, **opts)

    return DetectorSpec("trained", "A model trained by `walt3d train` on this product's composites "
                        "(RUN folder or model.pt).", create, check=lambda: package_missing("torch", "torchvision"),
                        needs_weights=True)
