"""Camera > Calibrate by lines: draw two lines of ground direction A, two of the perpendicular direction B
and one reference segment of known length on the frame, then Compute (calibration.calibrate_vanishing_points).

Lines are drawn by click-drag, or by two clicks. After each line the next empty slot is selected; clicking
a slot's button redraws it. A failed Compute shows the CalibrationError and keeps every line.

Readability: the instructions wrap to their full height, only drawn segments carry a label (placed at the
segment's middle), and labels grow with the zoom. Like every tool (gui/tools.py) it has its own undo scope:
lines undo one by one while it is open, and Escape leaves it, asking when lines were drawn since the last Compute.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QUndoStack
from PySide6.QtWidgets import (QDockWidget, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from ..errors import Walt3DError
from .errors import show_error
from .tools import StepCommand, WrapLabel, fit_tool_height, leave

# slot name, label, colour
SLOTS = [("A1", "Direction A, line 1", (255, 80, 80)), ("A2", "Direction A, line 2", (255, 80, 80)),
         ("B1", "Direction B, line 1", (80, 160, 255)), ("B2", "Direction B, line 2", (80, 160, 255)),
         ("ref", "Reference segment", (255, 220, 0))]
MIN_LENGTH_PX = 3.0
LABEL_PT = (12.0, 40.0)  # label font size range (points)
LABEL_DIVISOR = 40.0     # label size = the frame's height on screen / this


class CalibrationTool(QDockWidget):
    computed = Signal(object)  # the Camera, after it was stored

    def __init__(self, window):
        super().__init__("Calibrate by lines", window)
        self.setObjectName("calibrationTool")
        self.setMinimumWidth(300)
        self.window_ = window
        self.view = window.frame_view
        self.segments: dict[str, np.ndarray | None] = {s: None for s, _, _ in SLOTS}
        self.current: str | None = "A1"
        self._pending_start = None  # first point of a two-click line
        self.undo_stack = QUndoStack(self)  # lines, while the tool is open
        self.undo_stack.indexChanged.connect(self._stack_changed)
        self.items = {}
        self.label_font = QFont()
        self.label_font.setBold(True)
        self.label_font.setPointSizeF(LABEL_PT[0])
        for name, _, colour in SLOTS:
            item = pg.PlotCurveItem(pen=pg.mkPen(colour, width=3))
            label = pg.TextItem(name, color=colour, anchor=(0.5, 1.1), fill=(0, 0, 0, 150))
            label.setFont(self.label_font)
            label.setVisible(False)  # only drawn segments carry a label
            self.items[name] = (item, label)

        body = QWidget()
        lay = QVBoxLayout(body)
        self.instructions = help_ = WrapLabel(
            "Draw on the frame (drag, or click twice): two lines along one ground direction (A, e.g. lane lines), "
            "two along the perpendicular direction (B, e.g. stop lines), and a reference segment between two "
            "ground points a known distance apart. Lines of one direction must converge in the image. "
            "Ctrl+Z undoes the last line; Esc leaves.")
        lay.addWidget(help_)
        self.slot_buttons = {}
        for name, text, colour in SLOTS:
            b = QPushButton()
            b.setCheckable(True)
            b.setStyleSheet(f"QPushButton {{ text-align: left; border-left: 6px solid rgb{colour}; padding: 3px; }}")
            b.clicked.connect(lambda _=False, n=name: self.select_slot(n))
            self.slot_buttons[name] = b
            lay.addWidget(b)
        form = QFormLayout()
        self.length = QDoubleSpinBox()
        self.length.setRange(0.01, 1000.0)
        self.length.setDecimals(2)
        self.length.setValue(5.0)
        self.length.setSuffix(" m")
        form.addRow("Reference length:", self.length)
        lay.addLayout(form)
        row = QHBoxLayout()
        self.compute_button = QPushButton("Compute")
        self.compute_button.clicked.connect(self.compute)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        done = QPushButton("Close")
        done.clicked.connect(self.close_tool)
        for b in (self.compute_button, clear, done):
            row.addWidget(b)
        lay.addLayout(row)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.PlainText)
        self.result.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.result)
        self.setWidget(body)
        fit_tool_height(self)
        self.view.mouse_moved.connect(self._on_mouse_moved)
        self.view.vb.sigTransformChanged.connect(lambda *_: self._scale_labels())
        self._refresh()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        for item, label in self.items.values():
            if item.scene() is None:
                self.view.add_item(item)
                self.view.add_item(label)
        self.undo_stack.clear()
        self.view.set_tool(self)
        self.show()
        self.raise_()
        self._scale_labels()

    def close_tool(self) -> None:
        self.view.set_tool(None)
        self._pending_start = None
        for item, label in self.items.values():
            if item.scene() is not None:
                self.view.vb.removeItem(item)
                self.view.vb.removeItem(label)
        self.undo_stack.clear()
        self.hide()

    def closeEvent(self, ev):
        if self.view.vb.tool is self and not self.leave():
            ev.ignore()
            return
        self.close_tool()
        super().closeEvent(ev)

    def _stack_changed(self, _index: int) -> None:
        if self.view.vb.tool is self:  # the window's Undo / Redo show this tool's steps while it is open
            getattr(self.window_, "_update_actions", lambda: None)()

    def has_unsaved(self) -> bool:
        """Lines drawn since the last successful Compute (they are kept, but nothing is calibrated by them)."""
        return not self.undo_stack.isClean()

    def save(self) -> bool:
        return self.compute() is not None

    def leave(self) -> bool:
        return leave(self, self.window_, "Calibration lines drawn since the last Compute")

    def clear(self) -> None:
        before = self._snapshot()
        for name in self.segments:
            self.set_segment(name, None)
        self.current = "A1"
        self.result.setText("")
        self._refresh()
        self._record(before, "Clear lines")

    # -- undo (lines, while the tool is open) -------------------------------------------------
    def _snapshot(self):
        return {n: (None if s is None else s.copy()) for n, s in self.segments.items()}, self.current

    def _restore(self, snap) -> None:
        segs, current = snap
        for name, seg in segs.items():
            self.set_segment(name, seg)
        self.current = current
        self._pending_start = None
        self._refresh()

    def _record(self, before, text: str) -> None:
        after = self._snapshot()
        self.undo_stack.push(StepCommand(text, lambda: self._restore(before), lambda: self._restore(after)))

    def draw_segment(self, name: str, seg) -> None:
        """A line drawn by the person: set it, go on to the next empty slot, one undo step."""
        before = ({n: (None if s is None else s.copy()) for n, s in self.segments.items()}, name)
        self.set_segment(name, seg)
        self.current = name
        self._advance()
        self._record(before, f"Draw {name}")

    def _scale_labels(self) -> None:
        """Labels in proportion to the frame's size on screen (clamped), so they are never tiny."""
        img = self.view.image_item
        h = img.height() if img.image is not None else None
        px = self.view.vb.viewPixelSize()[1] if h else 0
        size = LABEL_PT[0] if not px else min(max(h / px / LABEL_DIVISOR, LABEL_PT[0]), LABEL_PT[1])
        if abs(size - self.label_font.pointSizeF()) < 0.25:
            return
        self.label_font.setPointSizeF(size)
        for _, label in self.items.values():
            label.setFont(self.label_font)

    # -- slots -------------------------------------------------------------------------------
    def select_slot(self, name: str) -> None:
        self.current = name
        self._pending_start = None
        self._refresh()

    def set_segment(self, name: str, seg) -> None:
        """Set (or clear, with None) one slot's segment ((x1, y1), (x2, y2)) in image pixels."""
        item, label = self.items[name]
        if seg is None:
            self.segments[name] = None
            item.setData([], [])
            label.setVisible(False)
        else:
            seg = np.asarray(seg, float).reshape(2, 2)
            self.segments[name] = seg
            item.setData(seg[:, 0], seg[:, 1])
            label.setPos(*seg.mean(axis=0))
            label.setVisible(True)
        self._refresh()

    def _advance(self) -> None:
        names = [s for s, _, _ in SLOTS]
        start = names.index(self.current) if self.current in names else 0
        order = names[start + 1:] + names[:start + 1]
        self.current = next((n for n in order if self.segments[n] is None), None)
        self._refresh()

    def _refresh(self) -> None:
        for name, text, _ in SLOTS:
            seg = self.segments[name]
            state = "drawn" if seg is not None else "—"
            b = self.slot_buttons[name]
            b.setText(f"{text}: {state}" + ("   ◀ drawing" if name == self.current else ""))
            b.setChecked(name == self.current)
        self.compute_button.setEnabled(all(s is not None for s in self.segments.values()))

    # -- mouse (called by the frame view's ViewBox) -------------------------------------------
    def mouse_drag(self, ev, pos) -> bool:
        if self.current is None:
            return False
        p = (pos.x(), pos.y())
        down = self.view.vb.mapSceneToView(ev.buttonDownScenePos())  # where the button went down
        start = (down.x(), down.y())
        self._pending_start = None
        self._preview(start, p)
        if ev.isFinish():
            self._finish(start, p)
        return True

    def mouse_click(self, ev, pos) -> bool:
        if self.current is None:
            return False
        p = (pos.x(), pos.y())
        if self._pending_start is None:
            self._pending_start = p
            self._preview(p, p)
        else:
            start, self._pending_start = self._pending_start, None
            self._finish(start, p)
        return True

    def _on_mouse_moved(self, x: float, y: float) -> None:
        if self._pending_start is not None and self.current is not None:
            self._preview(self._pending_start, (x, y))

    def _preview(self, a, b) -> None:
        item, _ = self.items[self.current]
        item.setData([a[0], b[0]], [a[1], b[1]])

    def _finish(self, a, b) -> None:
        if np.hypot(b[0] - a[0], b[1] - a[1]) < MIN_LENGTH_PX:
            self.set_segment(self.current, self.segments[self.current])  # too short: keep what was there
            return
        self.draw_segment(self.current, (a, b))

    # -- compute -----------------------------------------------------------------------------
    def compute(self):
        """Calibrate from the drawn lines and store the result; on error show it and keep the lines."""
        from ..calibration import calibrate_vanishing_points, summary

        w = self.window_
        row = w.project.camera(w.camera_id)
        s = self.segments
        try:
            camera = calibrate_vanishing_points([s["A1"], s["A2"]], [s["B1"], s["B2"]], (row.width, row.height),
                                                s["ref"], float(self.length.value()))
            w.set_calibration(camera)
        except Walt3DError as e:
            self.result.setText(f"Not calibrated: {e.message}")
            show_error(self.window_, e)
            return None
        self.result.setText(summary(camera))
        self.undo_stack.setClean()  # the lines drawn so far are what the stored calibration came from
        self.computed.emit(camera)
        return camera
