"""Mining unoccluded objects (WALT3D §3): detectors through a registry, SORT tracking, the occlusion rule and
classifier, and the mining stage that stores detections, tracks, verdicts and crops.

Light on purpose (the CLI imports it at start-up): torch and the detectors load only when used.
Entry points: `mine.mine` (the stage), `registry.list_detectors`, `classifier.train_classifier`,
`labels_dataset.export_labels` / `import_labels`; store queries and label edits live in `store.detections`.
"""
from .detection import Detection, FrameInfo
from .registry import DetectorSpec, DetectorStatus, create_detector, list_detectors, register

__all__ = ["Detection", "FrameInfo", "DetectorSpec", "DetectorStatus", "create_detector", "list_detectors",
           "register"]
