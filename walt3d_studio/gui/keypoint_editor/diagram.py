"""A small schematic car that shows where each keypoint is: a top view (front up, the car's right on the
right) and a side view of the right flank (front to the right) in cabinet projection, the far (left) side
shifted up a little, drawn with QPainter from a wire-frame in the vehicle frame of DESIGN (x forward, y left,
z up, metres).

Keypoints are placed from their names (right/left, front/back, wheel/light/top), so any vehicle schema that
names its points like vehicle12 gets a diagram. The current keypoint (the one a click places next) has a
yellow ring and its name under the drawing; placed points are filled in their colour, occluded ones half
filled, absent ones hollow. Clicking a point in the diagram picks it as the current one.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from .style import CURSOR, OCCLUDED, VISIBLE, side_of

# half widths / positions of the schematic car (metres)
_BODY = dict(x0=-2.25, x1=2.2, half_w=0.9, z0=0.28, z1=0.95)
_ROOF = dict(front=0.45, back=-1.3, half_w=0.68, z=1.48, belt_front=1.25, belt_back=-1.95)
_WHEEL = dict(x=1.4, half_w=0.92, z=0.34, r=0.34)
_LIGHT = dict(front=2.2, back=-2.25, half_w=0.66, z=0.72)


def keypoint_positions(names) -> np.ndarray | None:
    """(K, 3) schematic positions of vehicle keypoints from their names, or None when a name does not say
    where it is (e.g. a person schema)."""
    out = []
    for name in names:
        low = name.lower()
        side = side_of(name)
        front = "front" in low
        back = "back" in low or "rear" in low
        if side is None or front == back:
            return None
        sy = 1.0 if side == "left" else -1.0
        if "wheel" in low:
            out.append((_WHEEL["x"] if front else -_WHEEL["x"], sy * _WHEEL["half_w"], _WHEEL["z"]))
        elif "light" in low or "lamp" in low:
            out.append((_LIGHT["front"] if front else _LIGHT["back"], sy * _LIGHT["half_w"], _LIGHT["z"]))
        elif "top" in low or "roof" in low:
            out.append((_ROOF["front"] if front else _ROOF["back"], sy * _ROOF["half_w"], _ROOF["z"]))
        else:
            return None
    return np.asarray(out, dtype=np.float64)


def _wireframe() -> list[np.ndarray]:
    b, r = _BODY, _ROOF
    lines = []
    for z in (b["z0"], b["z1"]):  # the lower body: two rectangles and the vertical edges
        lines.append(np.array([[b["x0"], -b["half_w"], z], [b["x1"], -b["half_w"], z], [b["x1"], b["half_w"], z],
                               [b["x0"], b["half_w"], z], [b["x0"], -b["half_w"], z]]))
    for x in (b["x0"], b["x1"]):
        for y in (-b["half_w"], b["half_w"]):
            lines.append(np.array([[x, y, b["z0"]], [x, y, b["z1"]]]))
    roof = np.array([[r["front"], -r["half_w"], r["z"]], [r["back"], -r["half_w"], r["z"]],
                     [r["back"], r["half_w"], r["z"]], [r["front"], r["half_w"], r["z"]],
                     [r["front"], -r["half_w"], r["z"]]])
    lines.append(roof)
    for x_top, x_belt in ((r["front"], r["belt_front"]), (r["back"], r["belt_back"])):  # pillars
        for sy in (-1, 1):
            lines.append(np.array([[x_top, sy * r["half_w"], r["z"]], [x_belt, sy * b["half_w"] * 0.95, b["z1"]]]))
    t = np.linspace(0, 2 * np.pi, 17)
    for x in (-_WHEEL["x"], _WHEEL["x"]):  # wheels: circles in the x-z plane
        for sy in (-1, 1):
            lines.append(np.stack([x + _WHEEL["r"] * np.cos(t), np.full_like(t, sy * b["half_w"]),
                                   _WHEEL["z"] + _WHEEL["r"] * np.sin(t)], axis=1))
    return lines


def _cabinet(depth: float = 0.45, angle_deg: float = 35.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(screen right, screen down, towards the viewer) of a side view of the right flank, front to the right,
    the far side drawn `depth` x its distance up and to the right (cabinet projection)."""
    a = np.radians(angle_deg)
    return (np.array([1.0, depth * np.cos(a), 0.0]), np.array([0.0, -depth * np.sin(a), -1.0]),
            np.array([0.0, -1.0, 0.0]))


# (screen right, screen down, towards the viewer) per view; the top view has the front up
TOP = (np.array([0.0, -1.0, 0.0]), np.array([-1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]))
SIDE = _cabinet()
_TOP_LABELS = {"FRONT": (_BODY["x1"] + 0.45, 0.0, 0.0), "R": (0.0, -1.35, 0.0), "L": (0.0, 1.35, 0.0)}


class CarDiagram(QWidget):
    clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(240, 130)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.names: tuple[str, ...] = ()
        self.descriptions: tuple[str, ...] = ()
        self.colours: list = []
        self.positions: np.ndarray | None = None
        self.states = np.zeros(0)
        self.current: int | None = None
        self._hits: list[tuple[int, QPointF]] = []
        self._wire = _wireframe()

    def set_schema(self, names, descriptions, skeleton, colours) -> None:
        self.names, self.descriptions, self.colours = tuple(names), tuple(descriptions), list(colours)
        self.skeleton = tuple(skeleton)
        self.positions = keypoint_positions(self.names)
        self.states = np.zeros(len(self.names))
        self.update()

    def set_state(self, states, current: int | None) -> None:
        """`states`: v per keypoint (0 / 1 / 2; -1 = only proposed); `current`: the point a click places next."""
        self.states = np.asarray(states, dtype=np.float64)
        self.current = current
        self.update()

    # -- painting ------------------------------------------------------------------------------
    def paintEvent(self, _ev) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        p.fillRect(self.rect(), QColor(40, 40, 44))
        text_h = 34
        area = QRectF(self.rect()).adjusted(4, 4, -4, -text_h)
        self._hits = []
        if self.positions is not None and area.height() > 30:
            top_w = area.width() * 0.34
            self._draw_view(p, QRectF(area.left(), area.top(), top_w, area.height()), TOP, "top")
            self._draw_view(p, QRectF(area.left() + top_w + 6, area.top(), area.width() - top_w - 6, area.height()),
                            SIDE, "side")
        self._draw_caption(p, QRectF(self.rect()).adjusted(6, self.height() - text_h, -6, -2))
        p.end()

    def _fit(self, pts2d: np.ndarray, rect: QRectF):
        lo, hi = pts2d.min(0), pts2d.max(0)
        span = np.maximum(hi - lo, 1e-6)
        s = min((rect.width() - 16) / span[0], (rect.height() - 16) / span[1])
        c = (lo + hi) / 2
        cx, cy = rect.center().x(), rect.center().y()
        return lambda q: QPointF(cx + (q[0] - c[0]) * s, cy + (q[1] - c[1]) * s)

    def _draw_view(self, p: QPainter, rect: QRectF, view, kind: str) -> None:
        r, dn, towards = view
        proj = lambda X: np.stack([X @ r, X @ dn], axis=-1)  # noqa: E731
        extra = [proj(np.array(list(_TOP_LABELS.values())))] if kind == "top" else []
        allpts = np.concatenate([proj(w) for w in self._wire] + [proj(self.positions)] + extra)
        to_px = self._fit(allpts, rect)
        p.setPen(QPen(QColor(150, 150, 160), 1.2))
        for w in self._wire:
            q = proj(w)
            for a, b in zip(q[:-1], q[1:]):
                p.drawLine(to_px(a), to_px(b))
        if kind == "top":  # which way is front, which side is right
            p.setPen(QColor(200, 200, 210))
            f = QFont(self.font())
            f.setPointSizeF(max(f.pointSizeF() - 1.5, 6.5))
            p.setFont(f)
            for text, X in _TOP_LABELS.items():
                q = to_px(proj(np.array([X]))[0])
                p.drawText(QRectF(q.x() - 30, q.y() - 7, 60, 14), Qt.AlignCenter, text)
        pos = proj(self.positions)
        depth = self.positions @ towards
        near = depth >= np.median(depth) - 1e-9 if kind != "top" else np.ones(len(depth), bool)  # far side dimmer
        for i in np.argsort(depth):  # far points first
            c = QColor(*self.colours[i]) if i < len(self.colours) else QColor(255, 255, 255)
            v = self.states[i] if i < len(self.states) else 0
            alpha = 255 if near[i] else 150
            c.setAlpha(alpha)
            centre = to_px(pos[i])
            radius = 5.0 if near[i] else 4.0
            if v == VISIBLE:
                p.setPen(QPen(QColor(255, 255, 255, alpha), 1.2))
                p.setBrush(QBrush(c))
            elif v == OCCLUDED:
                half = QColor(c)
                half.setAlpha(alpha // 2)
                p.setPen(QPen(QColor(20, 20, 20, alpha), 1.2))
                p.setBrush(QBrush(half))
            else:  # absent or only proposed: hollow
                pen = QPen(c, 1.6)
                if v < 0:
                    pen.setStyle(Qt.DotLine)
                p.setPen(pen)
                p.setBrush(Qt.NoBrush)
            p.drawEllipse(centre, radius, radius)
            self._hits.append((int(i), centre))
            if i == self.current:
                p.setPen(QPen(QColor(*CURSOR), 2.2))
                p.setBrush(Qt.NoBrush)
                p.drawEllipse(centre, radius + 4, radius + 4)

    def _draw_caption(self, p: QPainter, rect: QRectF) -> None:
        f = QFont(self.font())
        if self.current is None or not (0 <= self.current < len(self.names)):
            p.setFont(f)
            p.setPen(QColor(200, 200, 200))
            text = "All keypoints placed" if self.names else ""
            p.drawText(rect, Qt.AlignLeft | Qt.AlignVCenter, text)
            return
        i = self.current
        f.setBold(True)
        p.setFont(f)
        p.setPen(QColor(*CURSOR))
        top = QRectF(rect.left(), rect.top(), rect.width(), rect.height() / 2)
        p.drawText(top, Qt.AlignLeft | Qt.AlignVCenter, f"{i + 1}/{len(self.names)}  {self.names[i]}")
        f.setBold(False)
        f.setPointSizeF(max(f.pointSizeF() - 1.0, 6.5))
        p.setFont(f)
        p.setPen(QColor(200, 200, 200))
        desc = self.descriptions[i] if i < len(self.descriptions) else ""
        bottom = QRectF(rect.left(), rect.top() + rect.height() / 2, rect.width(), rect.height() / 2)
        p.drawText(bottom, Qt.AlignLeft | Qt.AlignVCenter,
                   p.fontMetrics().elidedText(desc, Qt.ElideRight, int(rect.width())))

    # -- mouse ---------------------------------------------------------------------------------
    def point_at(self, pos) -> int | None:
        best, best_d = None, 9.0
        for i, c in self._hits:
            d = float(np.hypot(c.x() - pos.x(), c.y() - pos.y()))
            if d <= best_d:
                best, best_d = i, d
        return best

    def mousePressEvent(self, ev) -> None:
        i = self.point_at(ev.position())
        if ev.button() == Qt.LeftButton and i is not None:
            self.clicked.emit(i)
            ev.accept()
            return
        super().mousePressEvent(ev)
