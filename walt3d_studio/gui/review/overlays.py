"""Detections drawn on the frame view: masks, boxes, track ids and short trails, coloured by verdict.

Masks: all of a frame's masks become one RGBA image (one ImageItem, one texture upload per frame): each RLE is
decoded with pycocotools, painted largest first into an index image, and a per-detection colour table maps it
to RGBA. Boxes, ids and trails are painted by one GraphicsObject (no item per detection): boxes with cosmetic
pens (same width at any zoom), solid where a person labelled the detection, dashed where the machine decided;
the selected detection gets a white outline; ids are drawn in screen space so they stay readable.

Pixel convention as in `frame_view`: pixel (i, j) is drawn over [i-0.5, i+0.5) x [j-0.5, j+0.5), so a box
[x, y, w, h] covering pixels x..x+w-1 has its edges at x-0.5 and x+w-0.5.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPen, QPolygonF, QTransform

from .style import MASK_ALPHA, verdict_colour

MASK_Z = 12   # above the horizon / ground grid (10), below interactive tools (20)
BOXES_Z = 14
TRAIL_LENGTH = 10


def decode_mask(rle: dict, bool_: bool = True) -> np.ndarray:
    """A full-image COCO RLE (counts as str or list) -> (H, W) bool (or pycocotools' uint8 with bool_=False)."""
    import warnings

    from pycocotools import mask as mask_util

    r = dict(rle)
    if isinstance(r.get("counts"), list):
        r = mask_util.frPyObjects(r, *r["size"])
    elif isinstance(r.get("counts"), str):
        r["counts"] = r["counts"].encode("ascii")
    with warnings.catch_warnings():  # pycocotools' own numpy-2 copy= deprecation, not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        m = mask_util.decode(r)
    return m.astype(bool) if bool_ else m


def compose_masks(dets: list[dict], height: int, width: int, alpha: int = MASK_ALPHA) -> np.ndarray:
    """One (H, W, 4) uint8 RGBA image of all masks, each in its verdict colour; smaller masks on top."""
    order = sorted(range(len(dets)), key=lambda k: -float(dets[k].get("area") or 0.0))
    index = np.zeros((height, width), np.uint16 if len(dets) > 254 else np.uint8)
    lut = np.zeros((len(dets) + 1, 4), np.uint8)
    for n, k in enumerate(order, 1):
        d = dets[k]
        lut[n, :3] = verdict_colour(d.get("verdict"))
        lut[n, 3] = alpha
        rle = d.get("rle")
        if rle is not None and tuple(rle["size"]) == (height, width):
            x, y, w, h = (int(round(v)) for v in d["box"])
            x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
            if x1 > x0 and y1 > y0:
                m = decode_mask(rle, bool_=False)[y0:y1, x0:x1]  # the mask lies in its box: write only there
                index[y0:y1, x0:x1][m != 0] = n
        else:  # box-only detector: fill the box
            x, y, w, h = (int(round(v)) for v in d["box"])
            index[max(y, 0):max(y + h, 0), max(x, 0):max(x + w, 0)] = n
    # gather whole RGBA pixels as uint32 (one 4-byte load per pixel, ~8x faster than gathering (N, 4) rows)
    return lut.view(np.uint32).ravel()[index].view(np.uint8).reshape(height, width, 4)


class BoxesItem(pg.GraphicsObject):
    """Boxes, id tags and trails of one frame's detections, painted in one pass."""

    def __init__(self):
        super().__init__()
        self.items: list[dict] = []  # box, colour, solid, tag, trail (N, 2) or None, selected
        self.size = (0, 0)
        self.show_boxes = True
        self.show_ids = True
        self.show_trails = True
        self.tag_rects: dict[str, tuple[QRectF, float]] = {}  # last paint: tag -> (screen rect, right limit)
        self.font = QFont()
        self.font.setPointSizeF(8.5)
        self.font.setBold(True)

    def set_items(self, items: list[dict], size: tuple[int, int]) -> None:
        self.prepareGeometryChange()
        self.items, self.size = items, size
        self.update()

    def boundingRect(self) -> QRectF:
        w, h = self.size
        return QRectF(-0.5, -0.5, max(w, 1), max(h, 1))

    def paint(self, p, *args) -> None:
        if not self.items:
            return
        p.setRenderHint(p.RenderHint.Antialiasing, True)
        p.setBrush(Qt.NoBrush)
        if self.show_trails:
            for it in self.items:
                trail = it.get("trail")
                if trail is not None and len(trail) > 1:
                    pen = QPen(QColor(*it["colour"], 200), 1.5)
                    pen.setCosmetic(True)
                    p.setPen(pen)
                    p.drawPolyline(QPolygonF([QPointF(float(x), float(y)) for x, y in trail]))
        if self.show_boxes:
            for it in self.items:
                x, y, w, h = it["box"]
                rect = QRectF(x - 0.5, y - 0.5, w, h)
                if it.get("selected"):
                    halo = QPen(QColor(255, 255, 255), 5)
                    halo.setCosmetic(True)
                    p.setPen(halo)
                    p.drawRect(rect)
                pen = QPen(QColor(*it["colour"]), 2.5 if it.get("selected") else 2)
                pen.setCosmetic(True)
                pen.setStyle(Qt.SolidLine if it.get("solid") else Qt.DashLine)
                p.setPen(pen)
                p.drawRect(rect)
        if self.show_ids:
            to_screen: QTransform = p.transform()
            p.save()
            p.resetTransform()  # text in screen pixels: readable at any zoom
            p.setFont(self.font)
            fm = QFontMetricsF(self.font)
            w, _ = self.size
            dev = p.device()
            # tags stay inside the frame and the view: pulled left at the right edge, never left of 0
            right = min(to_screen.map(QPointF(w - 0.5, 0)).x(), dev.width() if dev is not None else 1e9)
            self.tag_rects = {}
            for it in self.items:
                tag = it.get("tag")
                if not tag:
                    continue
                x, y, _, _ = it["box"]
                corner = to_screen.map(QPointF(x - 0.5, y - 0.5))
                tw, th = fm.horizontalAdvance(tag) + 6, fm.height() + 2
                top = corner.y() - th if corner.y() - th >= 0 else corner.y()
                left = max(min(corner.x(), right - tw), 0.0)
                bg = QRectF(left, top, tw, th)
                self.tag_rects[tag] = (bg, right)
                p.fillRect(bg, QColor(0, 0, 0, 170))
                p.setPen(QColor(*it["colour"]))
                p.drawText(bg, Qt.AlignCenter, tag)
            p.restore()


class DetectionOverlay:
    """Everything the review draws on a FrameView; `show(dets, size, ...)` replaces the frame's drawing."""

    def __init__(self, view):
        self.view = view
        self.mask_item = pg.ImageItem(axisOrder="row-major")
        self.mask_item.setPos(-0.5, -0.5)
        self.boxes = BoxesItem()
        view.add_item(self.mask_item, MASK_Z)
        view.add_item(self.boxes, BOXES_Z)
        self.show_masks = True
        self._mask_key = None  # (frame key, verdicts) of the mask image on screen

    def set_visible(self, masks: bool | None = None, boxes: bool | None = None, ids: bool | None = None,
                    trails: bool | None = None) -> None:
        if masks is not None:
            self.show_masks = masks
            self.mask_item.setVisible(masks)
        for name, on in (("show_boxes", boxes), ("show_ids", ids), ("show_trails", trails)):
            if on is not None:
                setattr(self.boxes, name, on)
        self.boxes.update()

    def clear(self) -> None:
        self.mask_item.clear()
        self._mask_key = None
        self.boxes.set_items([], (0, 0))

    def show(self, frame_key, dets: list[dict], size: tuple[int, int], selected: int | None = None,
             trails: dict[int, np.ndarray] | None = None) -> None:
        """Draw one frame's detections (dicts as `store.detections.frame_detections` returns them).
        `trails` maps track id -> (N, 2) recent centres ending at this frame."""
        w, h = size
        key = (frame_key, tuple((d["id"], d.get("verdict")) for d in dets))
        if key != self._mask_key:  # labels change colours; selection does not touch the masks
            self._mask_key = key
            if dets and w and h:
                self.mask_item.setImage(compose_masks(dets, h, w), autoLevels=False, levels=None)
            else:
                self.mask_item.clear()
        items = []
        for d in dets:
            tid = d.get("track_id")
            items.append({"box": d["box"], "colour": verdict_colour(d.get("verdict")),
                          "solid": d.get("decided_by") == "human" or d.get("label") is not None,
                          "tag": f"#{tid} {d.get('category', '')}" if tid is not None else d.get("category", ""),
                          "trail": (trails or {}).get(tid) if tid is not None else None,
                          "selected": d["id"] == selected})
        items.sort(key=lambda it: it["selected"])  # the selected one on top
        self.boxes.set_items(items, size)
