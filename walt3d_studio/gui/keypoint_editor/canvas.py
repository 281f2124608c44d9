"""The editor's canvas: the vehicle's crop (with context around its box) in a pyqtgraph view, its keypoints
as markers and the schema's skeleton, all in full-frame pixel coordinates.

The crop is placed in the frame by its `Crop` mapping (crop pixel (i, j) shows frame point
(x0 + i / scale, y0 + j / scale)), so view coordinates are frame pixels (pixel centres at integers) and
keypoints never need converting. Wheel zooms; dragging empty space pans; dragging a point moves it (the
marker and skeleton follow live, one edit is reported on release); a click on empty space reports where, a
click on a point selects it.

Marks: visible = filled circle with a white rim; occluded = diamond with a coloured rim, faintly filled;
model proposals (not yet accepted) = hollow dashed circles (diamonds when occluded) on a dashed skeleton.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtWidgets import QLabel

from .style import BOX, CURSOR, OCCLUDED, PROPOSAL_SKELETON, SKELETON, VISIBLE

HIT_PX = 9.0      # a press within this many screen pixels of a marker grabs it
MARK_PX = 11.0
FIT_PAD = 0.18    # initial view: the box plus this fraction of its size on every side
NO_BRUSH = pg.mkBrush(None)


def _dashed(colour, width=2.0, pattern=(2.0, 1.5)):
    pen = pg.mkPen(colour, width=width)
    pen.setStyle(Qt.CustomDashLine)
    pen.setDashPattern(list(pattern))
    pen.setCapStyle(Qt.FlatCap)
    return pen


class _EditBox(pg.ViewBox):
    def __init__(self, canvas: "KeypointCanvas"):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.canvas = canvas
        self._drag: int | None = None

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.LeftButton:
            ev.accept()
            self.canvas._click(ev.scenePos())
            return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() == Qt.LeftButton:
            if ev.isStart():
                self._drag = self.canvas.hit(ev.buttonDownScenePos()) if self.canvas.editable else None
            if self._drag is not None:
                ev.accept()
                p = self.mapSceneToView(ev.scenePos())
                self.canvas._drag_to(self._drag, p.x(), p.y(), ev.isFinish())
                if ev.isFinish():
                    self._drag = None
                return
        super().mouseDragEvent(ev, axis)


class KeypointCanvas(pg.GraphicsView):
    clicked = Signal(float, float)          # empty space, frame coordinates
    point_clicked = Signal(int)             # a marker (human or proposal)
    point_moved = Signal(int, float, float)  # a marker dragged to frame coordinates (on release)

    def __init__(self, parent=None):
        super().__init__(parent, background=(28, 28, 28))
        self.setObjectName("keypointCanvas")
        self.setFocusPolicy(Qt.StrongFocus)
        self.setMinimumSize(320, 240)
        self.vb = _EditBox(self)
        self.setCentralItem(self.vb)
        self.editable = True
        self.colours: list[tuple[int, int, int]] = []
        self.names: tuple[str, ...] = ()
        self.skeleton: tuple[tuple[int, int], ...] = ()
        self.human: np.ndarray | None = None      # (K, 3) as the store holds them, or None
        self.proposal: np.ndarray | None = None   # (K, 3) model proposal shown until accepted
        self.selected: int | None = None
        self._preview: dict[int, tuple[float, float]] = {}  # a point being dragged
        self._frame_rect = None  # (w, h) of the frame, for clamping

        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.box_item = pg.PlotCurveItem(pen=pg.mkPen(BOX, width=1, style=Qt.DashLine))
        self.bones = pg.PlotCurveItem(pen=pg.mkPen(SKELETON, width=2), connect="pairs")
        self.bones_occluded = pg.PlotCurveItem(pen=pg.mkPen(SKELETON, width=1.5, style=Qt.DotLine), connect="pairs")
        self.bones_proposal = pg.PlotCurveItem(pen=_dashed(PROPOSAL_SKELETON, 1.5, (4, 3)), connect="pairs")
        self.marks = pg.ScatterPlotItem(pxMode=True)
        self.proposal_marks = pg.ScatterPlotItem(pxMode=True)
        self.ring = pg.ScatterPlotItem(pxMode=True, symbol="o", size=MARK_PX + 10, brush=None,
                                       pen=pg.mkPen(CURSOR, width=2.5))
        self.label = pg.TextItem("", color=(255, 255, 255), fill=(0, 0, 0, 170), anchor=(0, 1.1))
        for z, item in enumerate((self.image_item, self.box_item, self.bones_proposal, self.bones_occluded,
                                  self.bones, self.proposal_marks, self.marks, self.ring, self.label)):
            item.setZValue(z)
            item.setAcceptedMouseButtons(Qt.NoButton)  # the view box handles every click and drag
            self.vb.addItem(item, ignoreBounds=item is not self.image_item)
        self.banner = QLabel(self)
        self.banner.setObjectName("kpBanner")
        self.banner.setStyleSheet("QLabel#kpBanner { background: rgba(0,0,0,175); color: #ffd34d;"
                                  " padding: 3px 7px; font-weight: bold; }")
        self.banner.move(6, 6)
        self.banner.hide()
        self.placeholder = QLabel(self)
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #bbbbbb; font-size: 14px;")
        self.scene().sigMouseMoved.connect(self._hover)

    # -- content -------------------------------------------------------------------------------
    def set_schema(self, names, skeleton, colours) -> None:
        self.names, self.skeleton, self.colours = tuple(names), tuple(skeleton), list(colours)

    def set_crop(self, crop, box=None, frame_size=None, fit: bool = True) -> None:
        """Show a `Crop` (None: nothing) and the detection's box; `fit` zooms to the box with some context."""
        self._frame_rect = frame_size
        if crop is None:
            self.image_item.clear()
            self.box_item.setData([], [])
            return
        img = np.ascontiguousarray(crop.image[..., :3])
        self.image_item.setImage(img, autoLevels=False, levels=None)
        h, w = img.shape[:2]
        s = float(crop.scale)
        self.image_item.setRect(crop.x0 - 0.5 / s, crop.y0 - 0.5 / s, w / s, h / s)
        if box is not None:
            x, y, bw, bh = box
            # the box covers pixel edges [x - 0.5, x + w - 0.5] with pixel centres at integers
            xs = np.array([x, x + bw, x + bw, x, x]) - 0.5
            ys = np.array([y, y, y + bh, y + bh, y]) - 0.5
            self.box_item.setData(xs, ys)
            if fit:
                self.fit_box(box)

    def fit_box(self, box) -> None:
        x, y, w, h = box
        pad = FIT_PAD * max(w, h)
        self.vb.setRange(xRange=(x - pad - 0.5, x + w + pad - 0.5), yRange=(y - pad - 0.5, y + h + pad - 0.5),
                         padding=0)

    def set_points(self, human, proposal, selected: int | None) -> None:
        self.human = None if human is None else np.array(human, dtype=np.float64)
        self.proposal = None if proposal is None else np.array(proposal, dtype=np.float64)
        self.selected = selected
        self._preview.clear()
        self._redraw()

    def set_banner(self, text: str | None) -> None:
        self.banner.setVisible(bool(text))
        if text:
            self.banner.setText(text)
            self.banner.adjustSize()
            self.banner.raise_()

    def set_placeholder(self, text: str | None) -> None:
        self.placeholder.setText(text or "")
        self.placeholder.setVisible(bool(text))

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if hasattr(self, "placeholder"):  # pyqtgraph calls this from its constructor
            self.placeholder.setGeometry(self.rect().adjusted(30, 30, -30, -30))

    # -- drawing -------------------------------------------------------------------------------
    def _shown(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(human, proposal) with a dragged point at its preview position."""
        human, prop = self.human, self.proposal
        if self._preview:
            target = human if human is not None else prop
            target = target.copy()
            for i, (x, y) in self._preview.items():
                target[i, :2] = x, y
                if target[i, 2] == 0:
                    target[i, 2] = VISIBLE
            if human is not None:
                human = target
            else:
                prop = target
        return human, prop

    def _redraw(self) -> None:
        human, prop = self._shown()
        spots = []
        if human is not None:
            for i, (x, y, v) in enumerate(human):
                if v <= 0:
                    continue
                c = self.colours[i] if i < len(self.colours) else (255, 255, 255)
                if v == OCCLUDED:
                    spots.append({"pos": (x, y), "size": MARK_PX + 3, "symbol": "d", "data": i,
                                  "brush": pg.mkBrush(*c, 90), "pen": pg.mkPen(c, width=2.0)})
                else:
                    spots.append({"pos": (x, y), "size": MARK_PX, "symbol": "o", "data": i,
                                  "brush": pg.mkBrush(*c), "pen": pg.mkPen((255, 255, 255), width=1.5)})
        self.marks.setData(spots)
        pspots = []
        if prop is not None:
            for i, (x, y, v) in enumerate(prop):
                if v > 0:
                    c = self.colours[i] if i < len(self.colours) else (255, 255, 255)
                    pspots.append({"pos": (x, y), "size": MARK_PX + 3, "symbol": "d" if v == OCCLUDED else "o",
                                   "data": i, "brush": NO_BRUSH, "pen": _dashed(c, 2.2, (1.6, 1.2))})
        self.proposal_marks.setData(pspots)
        self._bones(self.bones, human, lambda a, b: a == VISIBLE and b == VISIBLE)
        self._bones(self.bones_occluded, human, lambda a, b: (a == OCCLUDED or b == OCCLUDED) and a > 0 and b > 0)
        self._bones(self.bones_proposal, prop, lambda a, b: a > 0 and b > 0)
        pts = human if human is not None else prop
        sel = self.selected
        if sel is not None and pts is not None and 0 <= sel < len(pts) and pts[sel, 2] > 0:
            self.ring.setData([pts[sel, 0]], [pts[sel, 1]])
            self.label.setText(self.names[sel] if sel < len(self.names) else str(sel))
            self.label.setPos(pts[sel, 0], pts[sel, 1])
            self.label.setVisible(True)
        else:
            self.ring.setData([], [])
            self.label.setVisible(False)

    def _bones(self, item, pts, keep) -> None:
        xs, ys = [], []
        if pts is not None:
            for a, b in self.skeleton:
                if keep(pts[a, 2], pts[b, 2]):
                    xs += [pts[a, 0], pts[b, 0]]
                    ys += [pts[a, 1], pts[b, 1]]
        item.setData(np.asarray(xs, float), np.asarray(ys, float), connect="pairs")

    # -- mouse ---------------------------------------------------------------------------------
    def hit(self, scene_pos) -> int | None:
        """The keypoint whose marker is nearest to a scene position, within HIT_PX; human points first."""
        human, prop = self._shown()
        pts = human if human is not None else prop
        if pts is None:
            return None
        best, best_d = None, HIT_PX
        for i, (x, y, v) in enumerate(pts):
            if v <= 0:
                continue
            p = self.vb.mapViewToScene(QPointF(x, y))
            d = float(np.hypot(p.x() - scene_pos.x(), p.y() - scene_pos.y()))
            if d <= best_d:
                best, best_d = i, d
        return best

    def _click(self, scene_pos) -> None:
        i = self.hit(scene_pos)
        if i is not None:
            self.point_clicked.emit(i)
            return
        p = self.vb.mapSceneToView(scene_pos)
        self.clicked.emit(*self._clamp(p.x(), p.y()))

    def _drag_to(self, i: int, x: float, y: float, finish: bool) -> None:
        x, y = self._clamp(x, y)
        self._preview[i] = (x, y)
        self._redraw()
        if finish:
            self.point_moved.emit(i, x, y)  # the editor writes it; set_points then drops the preview

    def _clamp(self, x: float, y: float) -> tuple[float, float]:
        if self._frame_rect is None:
            return x, y
        w, h = self._frame_rect
        return min(max(x, -0.5), w - 0.5), min(max(y, -0.5), h - 0.5)

    def _hover(self, scene_pos) -> None:
        self._cursor = QPointF(scene_pos)
        i = self.hit(scene_pos)
        self.setToolTip(self.names[i] if i is not None and i < len(self.names) else "")

    def leaveEvent(self, ev) -> None:
        self._cursor = None
        super().leaveEvent(ev)

    def cursor_frame_pos(self) -> tuple[float, float] | None:
        """The frame point under the mouse while it is over the canvas (clamped to the frame), else None."""
        scene_pos = getattr(self, "_cursor", None)
        if scene_pos is None or not self.underMouse() and not self.viewport().underMouse():
            return None
        p = self.vb.mapSceneToView(scene_pos)
        return self._clamp(p.x(), p.y())

    # -- mapping (tests, tools) ----------------------------------------------------------------
    def widget_pos_of_frame(self, x: float, y: float) -> QPoint:
        """Where frame point (x, y) is drawn, in the viewport's coordinates."""
        return self.mapFromScene(self.vb.mapViewToScene(QPointF(x, y)))

    def frame_at_widget_pos(self, pos) -> tuple[float, float]:
        p = self.vb.mapSceneToView(self.mapToScene(QPoint(int(pos.x()), int(pos.y()))))
        return p.x(), p.y()
