"""The vehicle being labelled, drawn on the main window's frame view (its box, keypoints and skeleton) while
that view shows the vehicle's frame: the full frame is one key (Ctrl+F) away from the zoomed crop."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from .style import CURSOR

OVERLAY_Z = 30


class FrameOverlay:
    def __init__(self, frame_view, colours, skeleton):
        self.view = frame_view
        self.colours = list(colours)
        self.skeleton = tuple(skeleton)
        self.box = pg.PlotCurveItem(pen=pg.mkPen(CURSOR, width=2))
        self.bones = pg.PlotCurveItem(pen=pg.mkPen((235, 235, 235, 200), width=1.5), connect="pairs")
        self.marks = pg.ScatterPlotItem(pxMode=True)
        for k, item in enumerate((self.box, self.bones, self.marks)):
            item.setAcceptedMouseButtons(Qt.NoButton)
            frame_view.add_item(item, OVERLAY_Z + k)
        self.show(None, None)

    @staticmethod
    def shows_frame_of(window, det) -> bool:
        """Whether the window's frame view is on `det`'s frame."""
        tl = window.timeline
        return (window.camera_id == det.camera_id and tl.table is not None and 0 <= tl.position < tl.count
                and int(tl.table.ids[tl.position]) == det.frame_id)

    @staticmethod
    def jump_to(window, det, fit: bool = True) -> None:
        """Make the window show `det`'s frame, whole (its camera, the playhead on that frame, zoomed out)."""
        if window.camera_id != det.camera_id:
            window.select_camera(det.camera_id)
        table = window.timeline.table
        if table is not None:
            hits = np.flatnonzero(table.ids == det.frame_id)
            if hits.size:
                window.timeline.set_position(int(hits[0]))
        if fit:
            window.frame_view.fit()

    def show(self, box, points, proposal: bool = False) -> None:
        """Draw a box [x, y, w, h] and (K, 3) keypoints in frame pixels; box None hides everything."""
        visible = box is not None
        for item in (self.box, self.bones, self.marks):
            item.setVisible(visible)
        if not visible:
            return
        x, y, w, h = box
        self.box.setData(np.array([x, x + w, x + w, x, x]) - 0.5, np.array([y, y, y + h, y + h, y]) - 0.5)
        xs, ys, spots = [], [], []
        if points is not None:
            for a, b in self.skeleton:
                if points[a, 2] > 0 and points[b, 2] > 0:
                    xs += [points[a, 0], points[b, 0]]
                    ys += [points[a, 1], points[b, 1]]
            for i, (px, py, v) in enumerate(points):
                if v > 0:
                    c = self.colours[i] if i < len(self.colours) else (255, 255, 255)
                    spots.append({"pos": (px, py), "size": 7, "symbol": "o", "pen": pg.mkPen(c, width=1.5),
                                  "brush": pg.mkBrush(None) if proposal else pg.mkBrush(*c)})
        self.bones.setData(np.asarray(xs, float), np.asarray(ys, float), connect="pairs")
        self.marks.setData(spots)
