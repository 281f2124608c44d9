"""Mining > Paint static occluders…: a brush on the frame view for the camera's static-occluder mask (poles,
trees, signs, long-parked vehicles: DESIGN "Occlusion rule"), shown as a semi-transparent magenta layer.

Left-drag paints; Shift+left-drag (or with "Erase" ticked) erases; the brush diameter is in image pixels.
"Learn from long-lived objects" runs `walt3d occluders learn --mask-out` as a child job (View > Jobs) and adds
what it found to the layer for review. Save stores the mask as one undoable command (undo restores the previous
mask, or none). The mask takes effect the next time the camera is mined.

The tool has its own undo scope (gui/tools.py): while it is open, Ctrl+Z / Ctrl+Shift+Z undo and redo strokes one
by one (each keeps only the changed rectangle of the mask), review keys wait, and Escape or Cancel leave it,
asking first when there are unsaved strokes.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import (QCheckBox, QDockWidget, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from ...errors import BadInputError, Walt3DError
from ..errors import show_error
from ..tools import StepCommand, WrapLabel, fit_tool_height, leave

MAGENTA = (255, 0, 255)
ALPHA = 120
OVERLAY_Z = 15  # above the frame and detection overlays, below tools' lines


def _stored(project, camera_id: int) -> tuple[np.ndarray | None, str | None]:
    from ...store.detections import static_occluder, static_occluder_origin

    return static_occluder(project, camera_id), static_occluder_origin(project, camera_id)


class SetOccluderCommand(QUndoCommand):
    """Store a camera's static-occluder mask; undo puts back the previous one (or none)."""

    def __init__(self, window, project, camera_id: int, mask: np.ndarray | None, origin: str, errors=None):
        super().__init__("Static occluders")
        self.window, self.project, self.camera_id = window, project, camera_id
        self.errors = errors if errors is not None else []  # failures land here (an obsolete command is deleted)
        self.new = (None if mask is None else np.asarray(mask, bool).copy(), origin)
        self.old = _stored(project, camera_id)

    def _apply(self, mask, origin) -> None:
        from ...store.detections import set_static_occluder

        try:
            set_static_occluder(self.project, self.camera_id, mask, origin=origin or "painted")
        except Walt3DError as e:
            self.errors.append(e)
            self.setObsolete(True)
            show_error(self.window, e)

    def redo(self) -> None:
        self._apply(*self.new)

    def undo(self) -> None:
        self._apply(*self.old)


class OccluderTool(QDockWidget):
    def __init__(self, window, learn=None):
        """`learn(min_seconds)` starts the learning job (the Mining menu's jobs); its result comes back through
        `add_learned`."""
        super().__init__("Static occluders", window)
        self.setObjectName("occluderTool")
        self.setMinimumWidth(280)
        self.window_ = window
        self.view = window.frame_view
        self._learn = learn
        self.project = None
        self.camera_id: int | None = None
        self.mask: np.ndarray | None = None
        self.origin = "painted"
        self._last = None  # last brush point of the current drag
        self._before = None  # the mask when the current drag began (one stroke = one undo step)
        self.undo_stack = QUndoStack(self)  # strokes, while the tool is open
        self.undo_stack.indexChanged.connect(lambda _: self._stack_changed())
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.overlay.setPos(-0.5, -0.5)

        body = QWidget()
        lay = QVBoxLayout(body)
        help_ = WrapLabel("Paint what hides objects passing behind it: poles, trees, signs, long-parked vehicles. "
                          "Left-drag paints; Shift+drag erases; Ctrl+Z undoes a stroke; Esc leaves. Detections "
                          "overlapping the mask by more than delta of their area are judged occluded the next time "
                          "this camera is mined.")
        lay.addWidget(help_)
        form = QFormLayout()
        row = QHBoxLayout()
        self.brush = QSpinBox()
        self.brush.setRange(1, 400)
        self.brush.setValue(15)
        self.brush.setSuffix(" px")
        minus, plus = QPushButton("−"), QPushButton("+")
        for b, f in ((minus, 1 / 1.5), (plus, 1.5)):
            b.setFixedWidth(28)
            b.clicked.connect(lambda _=False, f=f: self.brush.setValue(max(1, round(self.brush.value() * f))))
        row.addWidget(self.brush, 1)
        row.addWidget(minus)
        row.addWidget(plus)
        form.addRow("Brush:", row)
        self.erase = QCheckBox("Erase")
        form.addRow("", self.erase)
        lay.addLayout(form)
        learn_row = QHBoxLayout()
        self.min_minutes = QDoubleSpinBox()
        self.min_minutes.setRange(0.0, 100000.0)
        self.min_minutes.setDecimals(1)
        self.min_minutes.setValue(60.0)
        self.min_minutes.setSuffix(" min")
        self.min_minutes.setToolTip("An object must stay put at least this long (capture time) to count")
        self.learn_button = QPushButton("Learn from long-lived objects")
        self.learn_button.clicked.connect(self.learn)
        learn_row.addWidget(self.learn_button)
        learn_row.addWidget(self.min_minutes)
        lay.addLayout(learn_row)
        buttons = QHBoxLayout()
        self.save_button, clear, cancel = QPushButton("Save"), QPushButton("Clear all"), QPushButton("Cancel")
        self.save_button.clicked.connect(self.save)
        clear.clicked.connect(self.clear)
        cancel.clicked.connect(self.cancel)
        for b in (self.save_button, clear, cancel):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        self.setWidget(body)
        fit_tool_height(self)  # docked under the review panel: as tall as its content, no blank strip

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, project, camera_id: int) -> bool:
        """Edit `camera_id`'s mask (starting from the stored one). False (error shown) without frames."""
        cam = project.camera(camera_id)
        if not cam.width or not cam.height:
            show_error(self.window_, BadInputError(f"Camera {cam.name!r} has no frames yet.",
                                                   "Add a time-lapse first (File menu)."))
            return False
        self.project, self.camera_id = project, camera_id
        stored, origin = _stored(project, camera_id)
        self.mask = stored.copy() if stored is not None else np.zeros((cam.height, cam.width), bool)
        self.origin = origin or "painted"
        if self.overlay.scene() is None:
            self.view.add_item(self.overlay, OVERLAY_Z)
        self.undo_stack.clear()
        self._redraw()
        self.view.set_tool(self)
        self.show()
        self.raise_()
        self.info.setText(f"Camera {cam.name!r}: " + ("editing the stored mask." if stored is not None
                                                     else "no mask stored yet."))
        return True

    @property
    def active(self) -> bool:
        return self.mask is not None

    def close_tool(self) -> None:
        if self.view.vb.tool is self:
            self.view.set_tool(None)
        if self.overlay.scene() is not None:
            self.view.vb.removeItem(self.overlay)
        self.mask = None
        self._last = self._before = None
        self.undo_stack.clear()
        self.hide()

    def closeEvent(self, ev):
        if self.active and not self.leave():
            ev.ignore()
            return
        super().closeEvent(ev)

    def has_unsaved(self) -> bool:
        return self.active and not self.undo_stack.isClean()

    def leave(self) -> bool:
        """Escape / Cancel: close, asking first (save / discard / stay) when strokes are unsaved."""
        return leave(self, self.window_, "Static-occluder strokes")

    def cancel(self) -> bool:
        return self.leave()

    def _stack_changed(self) -> None:
        update = getattr(self.window_, "_update_actions", None)
        if update is not None and self.view.vb.tool is self:
            update()  # the window's Undo / Redo show this tool's steps

    def _record(self, before: np.ndarray, text: str) -> None:
        """Push the change since `before` as one step, keeping only the rectangle that changed."""
        diff = before != self.mask
        if not diff.any():
            return
        ys, xs = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
        win = np.s_[ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1]
        old, new = before[win].copy(), self.mask[win].copy()

        def put(values):
            if self.mask is not None:
                self.mask[win] = values
                self._redraw()

        self.undo_stack.push(StepCommand(text, lambda: put(old), lambda: put(new)))

    # -- painting (image coordinates) --------------------------------------------------------
    def paint_stroke(self, points, erase: bool = False, size: int | None = None, record: bool = True) -> None:
        """Paint (or erase) along a polyline of image points (x, y) with a round brush of diameter `size`; one
        undo step unless `record` is off (a drag records once, when it ends)."""
        import cv2

        if self.mask is None:
            return
        before = self.mask.copy() if record else None
        size = int(size or self.brush.value())
        pts = [(int(round(x)), int(round(y))) for x, y in points]
        layer = self.mask.astype(np.uint8)
        value = 0 if erase else 1
        if len(pts) == 1:
            cv2.circle(layer, pts[0], max(size // 2, 0), value, -1)
        for a, b in zip(pts[:-1], pts[1:]):
            cv2.line(layer, a, b, value, max(size, 1))
            cv2.circle(layer, b, max(size // 2, 0), value, -1)
        self.mask = layer > 0
        self._redraw()
        if before is not None:
            self._record(before, "Erase" if erase else "Paint")

    def clear(self) -> None:
        if self.mask is not None:
            before = self.mask.copy()
            self.mask[:] = False
            self._redraw()
            self._record(before, "Clear all")

    def add_learned(self, mask: np.ndarray, summary: str = "") -> None:
        """Show a learned mask for review: added to what is painted (erase what is wrong, then Save)."""
        if self.mask is None or mask.shape != self.mask.shape:
            return
        self.origin = "learned" if not self.mask.any() else "painted+learned"
        before = self.mask.copy()
        self.mask |= mask
        self._redraw()
        self._record(before, "Learned mask")
        self.info.setText(f"Learned: {summary}. Review it (erase what is wrong), then Save." if summary
                          else "Learned mask added; review it, then Save.")

    def _redraw(self) -> None:
        if self.mask is None:
            return
        rgba = np.zeros(self.mask.shape + (4,), np.uint8)
        rgba[self.mask] = (*MAGENTA, ALPHA)
        self.overlay.setImage(rgba, autoLevels=False, levels=(0, 255))

    def _erasing(self, ev) -> bool:
        return self.erase.isChecked() or bool(ev.modifiers() & Qt.ShiftModifier)

    # -- mouse (called by the frame view's ViewBox) -------------------------------------------
    def mouse_drag(self, ev, pos) -> bool:
        if self.mask is None:
            return False
        p = (pos.x(), pos.y())
        if ev.isStart() or self._last is None:
            down = self.view.vb.mapSceneToView(ev.buttonDownScenePos())
            self._last = (down.x(), down.y())
            if self._before is None:
                self._before = self.mask.copy()
        erase = self._erasing(ev)
        self.paint_stroke([self._last, p], erase=erase, record=False)
        self._last = None if ev.isFinish() else p
        if ev.isFinish() and self._before is not None:
            before, self._before = self._before, None
            self._record(before, "Erase" if erase else "Paint")
        return True

    def mouse_click(self, ev, pos) -> bool:
        if self.mask is None:
            return False
        self.paint_stroke([(pos.x(), pos.y())], erase=self._erasing(ev))
        return True

    # -- learn and save ----------------------------------------------------------------------
    def learn(self):
        if self._learn is None or self.mask is None:
            return None
        return self._learn(self.min_minutes.value() * 60.0)

    def save(self) -> bool:
        """Store the mask (an empty one clears it) as one undoable command, and close."""
        w = self.window_
        if self.mask is None:
            return False
        if w.project is not self.project:
            show_error(w, BadInputError("The project this mask was painted for is no longer open.",
                                        "Open it again and repaint."))
            return False
        if not w.can_write():
            return False
        mask = self.mask if self.mask.any() else None
        errors = []
        w.undo_stack.push(SetOccluderCommand(w, self.project, self.camera_id, mask, self.origin, errors))
        if errors:
            return False
        self.close_tool()
        w.statusBar().showMessage("Static occluders saved; they apply the next time this camera is mined.", 8000)
        return True
