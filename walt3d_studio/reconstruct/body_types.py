"""What a body estimator is given and what it answers: shared by the estimator registry (`body_estimators`) and
the built-in estimator (`body_builtin`), so that neither imports the other at module level (no registry <->
estimator cycle); also importable from `body_estimators`."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PersonDetection:
    """One detection of a person to fit. `box` is [x, y, w, h] in pixels (DESIGN: a mask's box covers its
    pixels' index range); `crop` loads the RGBA crop when an estimator needs pixels."""

    detection_id: int
    time: float                       # seconds (capture time)
    box: np.ndarray
    mask_rle: dict | None = None
    crop_path: str | None = None      # absolute path of the RGBA crop (a file or a pack span: mining.crops), or None
    frame_id: int | None = None


@dataclass
class TrackEstimate:
    """An estimator's answer for one track: the shape, per-detection parameters (None where it could not fit
    that detection, with the reason in `failed`), and each detection's raw foot point on the ground (camera
    frame) from its box, for the foot-contact residual."""

    shape: dict
    params: list[dict | None]
    foot_raw: np.ndarray
    failed: dict[int, str] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
