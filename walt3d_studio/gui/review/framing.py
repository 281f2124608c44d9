"""View > Frame selected object (Z) and Follow selected object (Shift+Z), as CVAT does: zoom the frame view to
the selected detection's box with a margin; with Follow on, re-frame it after every frame change, so stepping
through a track keeps the object centred and large."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction

from .. import keymap

MARGIN = 0.35      # of the box's larger side, on every side
MIN_SPAN_PX = 48   # never zoom in further than this many image pixels across


def box_view_range(box, margin: float = MARGIN, min_span: float = MIN_SPAN_PX):
    """(x0, x1), (y0, y1) of the view range that frames box [x, y, w, h] (pixel edges at +-0.5)."""
    x, y, w, h = (float(v) for v in box)
    pad = margin * max(w, h)
    cx, cy = x - 0.5 + w / 2, y - 0.5 + h / 2
    half_w, half_h = max(w / 2 + pad, min_span / 2), max(h / 2 + pad, min_span / 2)
    return (cx - half_w, cx + half_w), (cy - half_h, cy + half_h)


class Framing(QObject):
    def __init__(self, controller):
        super().__init__(controller)
        self.rc = controller
        w = controller.window
        self.act_frame = QAction("&Frame selected object", w)
        keymap.bind(self.act_frame, "view.frame_selected")
        self.act_frame.setShortcutContext(Qt.WindowShortcut)
        self.act_frame.triggered.connect(self.frame_selected)
        self.act_follow = QAction("F&ollow selected object", w)
        self.act_follow.setCheckable(True)
        keymap.bind(self.act_follow, "view.follow")
        self.act_follow.setShortcutContext(Qt.WindowShortcut)
        self.act_follow.toggled.connect(self._on_follow)
        for a in (self.act_frame, self.act_follow):
            w.addAction(a)
        menus = {m.title(): m for m in (a.menu() for a in w.menuBar().actions()) if m is not None}
        if "&View" in menus:
            menus["&View"].addSeparator()
            menus["&View"].addActions([self.act_frame, self.act_follow])
        controller.changed.connect(self._after_change)

    def selected_box(self):
        rc = self.rc
        d = next((d for d in rc.frame_dets if d["id"] == rc.detection_id), None)
        return d["box"] if d is not None else None

    def frame_selected(self) -> bool:
        box = self.selected_box()
        if box is None:
            self.rc.status("Nothing selected in this frame to zoom to: pick a track or click an object.")
            return False
        xr, yr = box_view_range(box)
        self.rc.window.frame_view.vb.setRange(xRange=xr, yRange=yr, padding=0)
        return True

    def _on_follow(self, on: bool) -> None:
        if on:
            self.frame_selected()
        self.rc.status("Following the selected object while stepping (Shift+Z stops)." if on else
                       "No longer following the selected object.", 3000)

    def _after_change(self) -> None:
        if self.act_follow.isChecked() and self.selected_box() is not None:
            self.frame_selected()
