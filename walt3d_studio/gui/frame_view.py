"""The frame view: one RGB image at full resolution in a pyqtgraph ViewBox, with geometry overlays, and
`CameraDisplay`, which decides what it shows for a camera at the playhead (frame or background).

Coordinates are image pixels with pixel centres at integer positions (DESIGN "Conventions"), y down.
The ImageItem is shifted by half a pixel so that pixel (i, j) is drawn over [i-0.5, i+0.5) x [j-0.5, j+0.5):
then overlays computed by `Camera` (same convention) line up without any offset.
Wheel zooms, left-drag pans, double-click or `fit()` shows the whole frame.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QObject, QPoint, QPointF, Qt, Signal
from PySide6.QtWidgets import QLabel

from ..errors import Walt3DError
from .jobs import LatestCall

OVERLAY_Z = 10
TOOL_Z = 20


class _ViewBox(pg.ViewBox):
    """A ViewBox that lets an interactive tool (e.g. line drawing) take left-button clicks and drags."""

    def __init__(self):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.tool = None  # object with mouse_click(ev, pos) / mouse_drag(ev, pos) -> bool (True = handled)

    def mouseDragEvent(self, ev, axis=None):
        if self.tool is not None and ev.button() == Qt.LeftButton:
            if self.tool.mouse_drag(ev, self.mapSceneToView(ev.scenePos())):
                ev.accept()
                return
        super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev):
        if self.tool is not None and ev.button() == Qt.LeftButton and not ev.double():
            if self.tool.mouse_click(ev, self.mapSceneToView(ev.scenePos())):
                ev.accept()
                return
        super().mouseClickEvent(ev)


class FrameView(pg.GraphicsView):
    """Shows frames; emits `hovered(x, y)` with the integer pixel under the cursor, or (-1, -1) outside."""

    hovered = Signal(int, int)
    mouse_moved = Signal(float, float)  # view (pixel) coordinates, for tools' rubber bands
    tool_changed = Signal()  # a tool took or gave back the mouse (the window's Undo follows the active tool)

    def __init__(self, parent=None):
        super().__init__(parent, background=(32, 32, 32))
        self.setObjectName("frameView")
        self.vb = _ViewBox()
        self.setCentralItem(self.vb)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setPos(-0.5, -0.5)
        self.vb.addItem(self.image_item)
        self.horizon_item = pg.PlotCurveItem(pen=pg.mkPen((255, 210, 0), width=2))
        self.grid_item = pg.PlotCurveItem(pen=pg.mkPen((0, 230, 255, 150), width=1), connect="pairs")
        for item in (self.grid_item, self.horizon_item):
            item.setZValue(OVERLAY_Z)
            self.vb.addItem(item, ignoreBounds=True)
        self.banner = QLabel(self)
        self.banner.setObjectName("banner")
        self.banner.setStyleSheet("QLabel#banner { background: rgba(0,0,0,170); color: #ffd34d;"
                                  " padding: 4px 8px; font-weight: bold; }")
        self.banner.move(8, 8)
        self.banner.hide()
        self.placeholder = QLabel(self)  # says what to do while there is nothing to show
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setWordWrap(True)
        self.placeholder.setStyleSheet("color: #bbbbbb; font-size: 15px;")
        self._size: tuple[int, int] | None = None  # (w, h) of the shown image
        self._overlays_on = True
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # -- the image ---------------------------------------------------------------------------
    def set_image(self, rgb: np.ndarray | None) -> None:
        """Show an RGB (or grey) uint8 image; keeps the zoom unless the size changed."""
        self.placeholder.setVisible(rgb is None)
        if rgb is None:
            self.image_item.clear()
            self._size = None
            return
        # uint8 without levels takes pyqtgraph's zero-copy path (levels would rescale every pixel).
        self.image_item.setImage(rgb, autoLevels=False, levels=None)
        size = (rgb.shape[1], rgb.shape[0])
        if size != self._size:
            self._size = size
            self.fit()

    @property
    def image(self) -> np.ndarray | None:
        return self.image_item.image

    def fit(self) -> None:
        """Show the whole frame."""
        if self._size is not None:
            w, h = self._size
            self.vb.setRange(xRange=(-0.5, w - 0.5), yRange=(-0.5, h - 0.5), padding=0)

    # -- overlays ----------------------------------------------------------------------------
    def set_geometry(self, camera) -> None:
        """Horizon line and 1 m ground grid of a `Camera` (None clears them)."""
        if camera is None:
            self.horizon_item.setData([], [])
            self.grid_item.setData([], [])
            return
        seg = camera.horizon_segment()
        if seg is None:
            self.horizon_item.setData([], [])
        else:
            seg = np.asarray(seg, float)
            self.horizon_item.setData(seg[:, 0], seg[:, 1])
        segs = np.asarray(camera.ground_grid_segments(spacing=1.0), float).reshape(-1, 2)
        # one item, pairs of points: thousands of segments draw as one path
        self.grid_item.setData(segs[:, 0], segs[:, 1], connect="pairs")

    def set_placeholder(self, text: str) -> None:
        self.placeholder.setText(text)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if hasattr(self, "placeholder"):  # pyqtgraph calls this from its constructor
            self.placeholder.setGeometry(self.rect().adjusted(40, 40, -40, -40))

    def set_overlays_visible(self, on: bool) -> None:
        self._overlays_on = on
        self.horizon_item.setVisible(on)
        self.grid_item.setVisible(on)

    def set_banner(self, text: str | None) -> None:
        if text:
            self.banner.setText(text)
            self.banner.adjustSize()
            self.banner.show()
            self.banner.raise_()
        else:
            self.banner.hide()

    # -- tools ---------------------------------------------------------------------------------
    def set_tool(self, tool) -> None:
        """Route left clicks/drags to `tool` (None gives them back to panning)."""
        changed = self.vb.tool is not tool
        self.vb.tool = tool
        self.setCursor(Qt.CrossCursor if tool is not None else Qt.ArrowCursor)
        if changed:
            self.tool_changed.emit()

    def add_item(self, item, z: float = TOOL_Z) -> None:
        item.setZValue(z)
        self.vb.addItem(item, ignoreBounds=True)

    # -- mapping -----------------------------------------------------------------------------
    def widget_pos_of_pixel(self, x: float, y: float) -> QPoint:
        """Where image pixel (x, y)'s centre is drawn, in this widget's coordinates."""
        scene = self.vb.mapViewToScene(QPointF(x, y))
        return self.mapFromScene(scene)

    def pixel_at_widget_pos(self, pos: QPointF) -> tuple[float, float]:
        p = self.vb.mapSceneToView(self.mapToScene(pos.toPoint()))
        return p.x(), p.y()

    def _on_mouse_moved(self, scene_pos) -> None:
        p = self.vb.mapSceneToView(scene_pos)
        self.mouse_moved.emit(p.x(), p.y())
        if self._size is None:
            self.hovered.emit(-1, -1)
            return
        x, y = int(round(p.x())), int(round(p.y()))
        w, h = self._size
        self.hovered.emit(*((x, y) if 0 <= x < w and 0 <= y < h else (-1, -1)))

    def mouseDoubleClickEvent(self, ev) -> None:
        super().mouseDoubleClickEvent(ev)
        if ev.button() == Qt.LeftButton and self.vb.tool is None:  # a drawing tool counts its own clicks
            self.fit()

    def leaveEvent(self, ev) -> None:
        self.hovered.emit(-1, -1)
        super().leaveEvent(ev)


PREFETCH_AHEAD, PREFETCH_BEHIND = 8, 2
SEQUENTIAL_STEPS = 8  # a video step forward by at most this many frames decodes on, without seeking


class CameraDisplay(QObject):
    """What a FrameView shows for one camera at a position: the frame, or (background on) the stored median
    of the time window covering it, rounded for display.

    Frames come from the camera's FrameReader (bounded cache; the next 8 and previous 2 are prefetched).
    Cached frames, image files and short forward steps in a video decode right here (a few ms); a video jump,
    which seeks to a keyframe and decodes forward, runs on a latest-wins loader thread and appears when ready,
    so scrubbing never waits on a seek. The window keeps no copy of frames or backgrounds beyond this cache.
    """

    failed = Signal(object)  # a Walt3DError from decoding the frame at the playhead
    displayed = Signal(int)  # the position now on screen (-1: nothing)

    def __init__(self, view: FrameView, parent: QObject | None = None):
        super().__init__(parent)
        self.view = view
        self.project, self.camera_id, self.reader = None, None, None
        self.backgrounds: list[dict] = []  # the camera's stored windows (read once, not per frame)
        self.show_background = False
        self.shown: np.ndarray | None = None  # the array on screen
        self.shown_pos = -1
        self._wanted = -1
        self._bg_images: dict[str, np.ndarray] = {}
        self._video_sources: set[int] = set()
        self._loader = LatestCall(self._load, self)
        self._loader.done.connect(self._on_loaded)
        self._loader.failed.connect(lambda req, e: req[0] is self.reader and self.failed.emit(e))

    def set_camera(self, project, camera_id: int | None) -> None:
        """Show another camera (None: nothing); closes the previous camera's reader."""
        old = self.reader
        self.project, self.camera_id = project, camera_id
        self.reader = project.frame_reader(camera_id) if camera_id is not None else None
        self._loader.wait()  # a decode in flight finishes on the old reader before it closes
        if old is not None:
            old.close()
        self._video_sources = set() if camera_id is None else {
            s.id for s in project.sources(camera_id) if s.kind == "video"}
        self.set_backgrounds(project.backgrounds(camera_id) if camera_id is not None else [])
        self.shown_pos = -1

    def set_backgrounds(self, backgrounds: list[dict]) -> None:
        self.backgrounds = backgrounds
        self._bg_images.clear()

    def show(self, pos: int, t: float | None = None, tz: str = "UTC") -> None:
        """Show position `pos` (capture time t, camera zone tz, pick the background window)."""
        self._wanted = pos
        if pos < 0 or self.reader is None:
            self._display(None, -1)
        elif self.show_background and self.backgrounds:
            key = self.background_key(t, tz)
            n = next(b["n_frames"] for b in self.backgrounds if b["window"] == key)
            self._display(self._background_image(key), pos, f"Background (window {key}, {n} frames)")
        elif self._decode_here(pos):
            try:
                self._display(self.reader.frame(pos), pos)
            except Walt3DError as e:
                self.failed.emit(e)
        else:
            self._loader.request((self.reader, pos))

    def background_key(self, t: float, tz: str) -> str:
        from ..background import window_for_time

        return window_for_time(self.backgrounds, t, tz)

    def _background_image(self, key: str) -> np.ndarray:
        img = self._bg_images.get(key)
        if img is None:
            from ..background import to_display

            img = self._bg_images[key] = to_display(self.project.load_background(self.camera_id, key))
        return img

    def _decode_here(self, pos: int) -> bool:
        r = self.reader
        if int(r.table.source_ids[pos]) not in self._video_sources or int(r.table.ids[pos]) in r.cache:
            return True
        return 0 < pos - self.shown_pos <= SEQUENTIAL_STEPS  # the decoder just continues forward

    def _load(self, request):
        reader, pos = request
        return reader.frame(pos) if reader is self.reader else None  # stale: that camera is gone

    def _on_loaded(self, request, img) -> None:
        reader, pos = request
        if reader is self.reader and pos == self._wanted and not (self.show_background and self.backgrounds):
            self._display(img, pos)

    def _display(self, img, pos: int, banner: str | None = None) -> None:
        self.shown, self.shown_pos = img, pos
        self.view.set_image(img)
        self.view.set_banner(banner)
        if pos >= 0 and self.reader is not None:
            self.reader.prefetch([*range(pos + 1, pos + 1 + PREFETCH_AHEAD),
                                  *range(pos - 1, pos - 1 - PREFETCH_BEHIND, -1)])
        self.displayed.emit(pos)

    def settle(self) -> None:
        """Wait until the frame asked for last is on screen (screenshots, tests, benchmarks)."""
        while True:
            self._loader.wait()
            QCoreApplication.processEvents()  # delivers the decoded frame
            if not self._loader.busy:
                return
