"""Crops for the editor: the vehicle's box plus context, cut from its decoded frame off the UI thread.

The mined crop (`detections.crop_path`) is only the box, so the editor cuts its own from the frame, reaching
CONTEXT of the box's larger side beyond it; when the frame cannot be decoded (source moved, broken video)
it falls back to the stored crop. Frame readers (one per camera) are made on the UI thread; the worker only
decodes. Newest request wins (LatestCall), so paging quickly through vehicles never queues decodes.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, Signal

from ...errors import Walt3DError
from ...keypoints.data import Crop, read_crop
from ..jobs import LatestCall

CONTEXT = 0.6


def cut_crop(frame: np.ndarray, box, context: float = CONTEXT) -> Crop:
    """The box plus `context` x its larger side on every side, clipped to the frame."""
    x, y, w, h = box
    pad = context * max(w, h) + 2
    x0, y0 = int(max(np.floor(x - pad), 0)), int(max(np.floor(y - pad), 0))
    x1, y1 = int(min(np.ceil(x + w + pad), frame.shape[1])), int(min(np.ceil(y + h + pad), frame.shape[0]))
    return Crop(np.ascontiguousarray(frame[y0:y1, x0:x1]), float(x0), float(y0), 1.0)


class CropLoader(QObject):
    loaded = Signal(object, object)   # detection, Crop
    failed = Signal(object, str)      # detection, message

    def __init__(self, parent=None):
        super().__init__(parent)
        self.project = None
        self._readers: dict[int, object] = {}
        self._call = LatestCall(self._load, self)
        self._call.done.connect(lambda req, crop: self.loaded.emit(req[2], crop))
        self._call.failed.connect(lambda req, e: self.failed.emit(req[2], getattr(e, "message", str(e))))

    def set_project(self, project) -> None:
        self._call.wait()  # a decode in flight finishes before its reader closes
        for r in self._readers.values():
            r.close()
        self._readers.clear()
        self.project = project

    def request(self, det) -> None:
        reader = self._readers.get(det.camera_id)
        if reader is None:
            reader = self._readers[det.camera_id] = self.project.frame_reader(det.camera_id, cache_bytes=64 << 20)
        hits = np.flatnonzero(reader.table.ids == det.frame_id)
        self._call.request((reader, int(hits[0]) if hits.size else -1, det, self.project.root))

    @staticmethod
    def _load(request) -> Crop:
        reader, pos, det, root = request
        try:
            if pos < 0:
                raise Walt3DError(f"Frame {det.frame_id} of vehicle {det.id} is not in its camera.", "Re-run mining.")
            frame = reader.frame(pos)
        except Walt3DError:
            crop = read_crop(root / det.crop_path, det.box) if det.crop_path else None
            if crop is None:
                raise
            return crop  # the stored crop (the box only) when the frame cannot be decoded
        return cut_crop(frame, det.box)

    def settle(self) -> None:
        """Wait until the newest request is delivered (tests, screenshots)."""
        while True:
            self._call.wait()
            QCoreApplication.processEvents()
            if not self._call.busy:
                return
