"""The 3D dock's Qt side: an image of the offscreen VTK render (`scene.FitScene`), buttons for the views
(reset, top, through the camera), a "needs review" filter, drag to orbit, wheel to zoom, and a hint line.
Keys while the render has focus (click it): F frames the selected track's mesh, Space selects the next fit that
needs review; W / Shift+W (accept / reject the fit) are the window's own keys and work here too.

The VTK render is shown as an image rather than through a native VTK widget: the same path works on a desktop,
headless (offscreen Qt + OSMesa) and in tests, and a missing OpenGL only costs this dock (the error is shown in
it; the rest of the app does not notice).
"""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QEvent, QPoint, Qt, QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QDockWidget, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout,
                               QWidget)

NO_FITS_HINT = ("No 3D fits on this camera yet: Reconstruct > Fit vehicles in 3D / Fit people in 3D (or "
                "<code>walt3d fit vehicles PROJECT</code>); this view updates when the job ends.")


def _prepare_vtk_env() -> None:
    """Without a display, VTK's default X11 window cannot open: use OSMesa's offscreen window instead."""
    headless = os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal") or (
        os.name == "posix" and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"))
    if headless:
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkOSOpenGLRenderWindow")


class RenderLabel(QLabel):
    """Shows the scene's image; drag orbits, wheel zooms; F and Space while it has focus."""

    KEYS = (Qt.Key_F, Qt.Key_Space)

    def __init__(self, dock):
        super().__init__()
        self.dock = dock
        self._last: QPoint | None = None
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumSize(200, 150)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)
        self.setFocusPolicy(Qt.ClickFocus)

    def event(self, e):
        # the frame view's window-wide F (fit frame) and Space (next unlabelled) would otherwise win: with the
        # render focused, these keys are the 3D view's
        if e.type() == QEvent.ShortcutOverride and e.key() in self.KEYS and not e.modifiers():
            e.accept()
            return True
        return super().event(e)

    def keyPressEvent(self, e):
        if e.key() == Qt.Key_F and not e.modifiers():
            self.dock.frame_selected()
        elif e.key() == Qt.Key_Space and not e.modifiers():
            self.dock.next_needs_review()
        else:
            super().keyPressEvent(e)

    def mousePressEvent(self, ev):
        self.setFocus(Qt.MouseFocusReason)
        self._last = self._press = ev.position().toPoint()

    def image_point(self, pos) -> tuple[float, float] | None:
        """Widget position -> pixel of the scene's last render (the pixmap is centred, maybe scaled)."""
        pm = self.pixmap()
        img = getattr(self.dock, "last_image", None)
        if pm is None or pm.isNull() or img is None:
            return None
        ox, oy = (self.width() - pm.width()) / 2, (self.height() - pm.height()) / 2
        sx, sy = img.shape[1] / pm.width(), img.shape[0] / pm.height()
        return (pos.x() - ox) * sx, (pos.y() - oy) * sy

    def mouseMoveEvent(self, ev):
        if self._last is None or self.dock.scene is None or self.dock.scene.through_camera:
            return
        p = ev.position().toPoint()
        d = p - self._last
        self._last = p
        self.dock.scene.orbit(-d.x() * 0.4, d.y() * 0.4)
        self._dragged = True
        self.dock.redraw_soon(interactive=True)  # mouse moves that come faster than renders share one render

    def mouseReleaseEvent(self, ev):
        self._last = None
        if getattr(self, "_dragged", False):
            self._dragged = False
            self.dock.redraw()  # the view stopped: full resolution again
        p = ev.position().toPoint()
        if getattr(self, "_press", None) is not None and (p - self._press).manhattanLength() <= 3:
            xy = self.image_point(p)  # a click, not a drag: pick the mesh under it
            if xy is not None:
                self.dock.pick(*xy)

    def wheelEvent(self, ev):
        if self.dock.scene is None or self.dock.scene.through_camera:
            return
        self.dock.scene.zoom(1.1 if ev.angleDelta().y() > 0 else 1 / 1.1)
        self.dock.redraw_soon(interactive=True)

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self.dock.redraw()


class ViewportDock(QDockWidget):
    def __init__(self, window):
        super().__init__("3D", window)
        self.setObjectName("viewport3d")
        self.window_ = window
        self.context = window.context     # project, camera, frame, selection, store changes (gui/context.py)
        self.scene = None                 # FitScene, made on first show
        self.error: str | None = None     # why there is no scene (no OpenGL, …)
        self._loaded_for = None           # (project, camera) the scene shows
        self._fit_states: dict[int, str | None] = {}  # track id -> its fit's verdict, else its status
        self.n_fits = 0
        self._masks: dict[int, np.ndarray | None] = {}   # detection id -> mined mask (frames shown lately)
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(0)
        self._redraw_timer.timeout.connect(lambda: self.redraw(interactive=self._next_interactive))
        self._next_interactive = False
        # after the last interactive (half-size) frame, one full-size render once the view has settled
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(250)
        self._settle_timer.timeout.connect(self.redraw)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.btn_reset = QPushButton("Reset")
        self.btn_top = QPushButton("Top")
        self.btn_camera = QPushButton("Camera view")
        self.btn_camera.setCheckable(True)
        self.btn_frame = QPushButton("Frame (F)")
        self.btn_frame.setToolTip("Centre the 3D view on the selected track's mesh (F while the view has focus)")
        for b in (self.btn_reset, self.btn_top, self.btn_camera, self.btn_frame):
            b.setFocusPolicy(Qt.NoFocus)
            row.addWidget(b)
        self.needs_review = QCheckBox("Needs review only")
        self.needs_review.setToolTip("Show only the fits flagged for review that nobody accepted or rejected yet; "
                                     "Space (with the view focused) selects the next one")
        self.needs_review.setFocusPolicy(Qt.NoFocus)
        row.addWidget(self.needs_review)
        row.addStretch(1)
        lay.addLayout(row)
        self.image = RenderLabel(self)
        lay.addWidget(self.image, 1)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.RichText)
        lay.addWidget(self.hint)
        self.legend = QLabel("<span style='color:#4da6ff'>■</span> vehicle &nbsp; "
                             "<span style='color:#ff9933'>■</span> person &nbsp; darker = lower silhouette IoU"
                             " &nbsp; <span style='color:#ffff4d'>■</span> camera · drag: orbit · wheel: zoom · "
                             "F: frame selected · Space: next to review · camera view: white = mined mask, "
                             "coloured edge = the fit's silhouette, IoU beside it")
        self.legend.setWordWrap(True)
        lay.addWidget(self.legend)
        self.setWidget(body)
        self.btn_reset.clicked.connect(lambda: self._view("reset"))
        self.btn_top.clicked.connect(lambda: self._view("top"))
        self.btn_camera.toggled.connect(lambda on: self._view("camera" if on else "reset"))
        self.btn_frame.clicked.connect(self.frame_selected)
        self.needs_review.toggled.connect(lambda _: self._apply_filter())
        window.addDockWidget(Qt.RightDockWidgetArea, self)
        self.hide()
        self.visibilityChanged.connect(self._on_visible)
        ctx = self.context
        ctx.position_changed.connect(self._on_position)
        ctx.selection_changed.connect(self._on_selection)  # a track selected anywhere: its mesh is highlighted
        ctx.store_changed.connect(self._on_store_changed)
        self.toggle = self.toggleViewAction()
        self.toggle.setText("&3D viewport")
        menus = {m.title(): m for m in (a.menu() for a in window.menuBar().actions()) if m is not None}
        if "&View" in menus:
            menus["&View"].addAction(self.toggle)

    # ------------------------------------------------------------------------------ scene
    def _on_visible(self, on: bool) -> None:
        if on:
            self.ensure_scene()
            self.reload()

    def ensure_scene(self) -> bool:
        """Import VTK and make the scene (first show only). False, with the reason in the dock, if it cannot."""
        if self.scene is not None:
            return True
        if self.error is not None:
            return False
        try:
            _prepare_vtk_env()
            from .scene import FitScene

            self.scene = FitScene()
            self.scene.render((64, 48))       # fails here when there is no usable OpenGL
            self.scene.mask_source = self.mined_mask
        except Exception as e:  # noqa: BLE001  VTK raises many kinds; any of them means: no 3D here
            self.scene = None
            self.error = (f"The 3D view needs OpenGL, which is not available here ({type(e).__name__}: {e}). "
                          "The rest of the app works; install a GPU driver or Mesa (libosmesa6) for this view.")
            self.image.setText(self.error)
            self.image.setWordWrap(True)
            return False
        return True

    def reload(self) -> None:
        """Re-read the fits of the camera shown (on first show, and when the project or camera changes)."""
        if self.scene is None:
            return
        from ...errors import Walt3DError
        from ...store.detections import detection_table
        from ...store.fits import track_fits

        ctx = self.context
        self._loaded_for = (ctx.project, ctx.camera_id)
        self.n_fits = 0
        self._fit_states = {}
        if ctx.project is None or ctx.camera_id is None:
            self.hint.setText("Open a project to see its fits in 3D.")
            self.scene.renderer.RemoveAllViewProps()
            self.redraw()
            return
        try:
            camera = ctx.project.calibration(ctx.camera_id)
        except Walt3DError:
            camera = None
        if camera is None:
            self.hint.setText("This camera is not calibrated: Camera > Calibrate by lines…, then Reconstruct > Fit vehicles in 3D.")
            self.scene.renderer.RemoveAllViewProps()
            self.redraw()
            return
        fits = [f for f in track_fits(ctx.project, camera_id=ctx.camera_id, with_detections=True) if f.status != "skipped"]
        dt = detection_table(ctx.project, camera_id=ctx.camera_id)
        frame_of = dict(zip(dt.id.tolist(), dt.frame_id.tolist()))
        self._masks.clear()
        self.scene.load(camera, fits, frame_of)
        self.n_fits = len(fits)
        self._read_fit_states()
        self._apply_filter(redraw=False)
        self.hint.setText(NO_FITS_HINT if not fits else
                          f"{len(fits)} fitted track(s): "
                          f"{sum(f.kind == 'vehicle' for f in fits)} vehicle(s), "
                          f"{sum(f.kind == 'person' for f in fits)} person(s).")
        self._on_position(ctx.position)

    def _read_fit_states(self) -> None:
        from ...store.fits import fit_summaries

        ctx = self.context
        if ctx.project is None or ctx.camera_id is None:
            self._fit_states = {}
            return
        summaries = fit_summaries(ctx.project, ctx.camera_id)
        self._fit_states = {t: s["review"] or s["status"] for t, s in summaries.items()}

    def _on_store_changed(self, what: str, camera_id) -> None:
        if what in ("fits", "detections"):  # a fit or mining job stored new rows: re-read them
            self.reload()
        elif what == "fit_reviews" and self.scene is not None and camera_id in (None, self.context.camera_id):
            self._read_fit_states()         # a person accepted or rejected a fit (or undid it)
            if self.needs_review.isChecked() and self.isVisible():
                self._apply_filter()

    def mined_mask(self, detection_id: int) -> np.ndarray | None:
        """The detection's mined mask (bool, image size) from the store, or None; kept for the frames seen lately."""
        if detection_id not in self._masks:
            from ...store.detections import detection_rles
            from ..review.overlays import decode_mask

            if len(self._masks) > 512:
                self._masks.clear()
            rle = detection_rles(self.context.project, [detection_id]).get(detection_id)
            self._masks[detection_id] = None if rle is None else decode_mask(rle)
        return self._masks[detection_id]

    def _on_selection(self, track_id=None, _detection_id=None) -> None:
        if self.scene is None or not self.isVisible() or self.scene.selected == track_id:
            return
        self.scene.selected = track_id
        self.scene.set_frame(self.scene.frame_id)
        self.redraw()

    # ------------------------------------------------------------------------------ review from the viewport
    def tracks_needing_review(self) -> list[int]:
        """Fitted tracks of the scene flagged 'needs review' that nobody accepted or rejected yet, by track id."""
        if self.scene is None:
            return []
        return sorted(t for t in self.scene.fits if self._fit_states.get(t) == "needs_review")

    def _apply_filter(self, redraw: bool = True) -> None:
        if self.scene is None:
            return
        self.scene.set_only(self.tracks_needing_review() if self.needs_review.isChecked() else None)
        if redraw:
            self.redraw()

    def next_needs_review(self) -> int | None:
        """Select the next fit needing review after the selected track (wrapping), jump to its first frame with a
        fitted pose and, in the orbit view, frame its mesh. None (with a hint) when no fit needs review."""
        ctx = self.context
        todo = self.tracks_needing_review()
        if not todo:
            self.hint.setText("No fit needs review on this camera." if self.scene is not None and self.scene.fits
                              else self.hint.text())
            return None
        cur = ctx.track_id
        tid = next((t for t in todo if cur is None or t > cur), todo[0])
        frames = sorted(self.scene.track_frames.get(tid, []))
        ctx.request_selection(tid)  # the review selects it: the frame view, the table and this scene follow
        if not frames:  # no fitted pose: the track's first frame
            from ...store.detections import detection_table

            dets = detection_table(ctx.project, track_id=tid)
            frames = [int(dets.frame_id[0])] if len(dets) else []
        if frames:  # its first frame with a fitted pose (a track's first detections may have none)
            ctx.go_to(self.position_of(frames[0]))
        if not self.scene.through_camera:
            self.scene.frame_track(tid)
        self.redraw()
        self.hint.setText(f"Track {tid}: fit needs review ({todo.index(tid) + 1} of {len(todo)}). "
                          "W accepts, Shift+W rejects, Space goes on.")
        return tid

    def frame_selected(self) -> bool:
        """F: centre the orbit view on the selected track's mesh (leaving the camera view)."""
        tid = self.context.track_id
        if self.scene is None or tid is None:
            self.hint.setText("Select a track (click its mesh, or pick it in the review) to frame it with F.")
            return False
        if tid not in self.scene.actors or not self.scene.actors[tid].GetVisibility():
            self.hint.setText(f"Track {tid} has no fitted mesh in this frame.")
            return False
        if self.btn_camera.isChecked():
            self.btn_camera.blockSignals(True)
            self.btn_camera.setChecked(False)
            self.btn_camera.blockSignals(False)
        ok = self.scene.frame_track(tid)
        self.redraw()
        return ok

    def pick(self, x: float, y: float) -> int | None:
        """Select the track whose mesh is at pixel (x, y) of the render, in the review panel and frame view."""
        if self.scene is None:
            return None
        tid = self.scene.pick(x, y)
        if tid is not None:
            self.context.request_selection(tid)  # whoever owns the selection (the review) obliges
        return tid

    def frame_id_at(self, pos: int) -> int | None:
        r = self.context.reader
        if r is None or pos < 0 or pos >= len(r):
            return None
        return int(r.table.ids[pos])

    def position_of(self, frame_id: int) -> int:
        """The timeline position of a frame of the camera shown, or -1."""
        r = self.context.reader
        if r is None:
            return -1
        hit = np.flatnonzero(np.asarray(r.table.ids, np.int64) == int(frame_id))
        return int(hit[0]) if len(hit) else -1

    def _on_position(self, pos: int) -> None:
        if self.scene is None or not self.isVisible():
            return
        ctx = self.context
        if self._loaded_for != (ctx.project, ctx.camera_id):
            self.reload()
            return
        self.scene.selected = ctx.track_id  # (the selection follows its track from frame to frame)
        self.scene.set_frame(self.frame_id_at(pos))
        if self.scene.through_camera:
            self.scene.camera_view(self._frame_image())
        self.redraw()

    def _frame_image(self) -> np.ndarray | None:
        img = self.context.frame_image
        return None if img is None else np.asarray(img)[..., :3]

    def _view(self, which: str) -> None:
        if self.scene is None or self.scene.camera is None:
            return
        if which == "camera":
            self.scene.camera_view(self._frame_image())
        else:
            if self.btn_camera.isChecked():
                self.btn_camera.blockSignals(True)
                self.btn_camera.setChecked(False)
                self.btn_camera.blockSignals(False)
            self.scene.reset_view() if which == "reset" else self.scene.top_view()
            self.scene.set_frame(self.scene.frame_id)  # opaque again
        self.redraw()

    def redraw_soon(self, interactive: bool = False) -> None:
        """Redraw once the events waiting now are handled (a burst of drags costs one render). `interactive`:
        the view is moving (orbit, zoom), so draw at half size (see `redraw`) and full size once it settles."""
        self._next_interactive = interactive
        self._redraw_timer.start()
        if interactive:
            self._settle_timer.start()

    def redraw(self, interactive: bool = False) -> None:
        """Render the scene into the view. While the view moves it is drawn at half the widget's size and scaled
        up: software OpenGL (no GPU, e.g. OSMesa) fills a quarter of the pixels ~3x faster, so orbiting stays
        fluid; the still picture, picks and screenshots are always full size."""
        self._redraw_timer.stop()
        if not interactive:
            self._settle_timer.stop()
        if self.scene is None or not self.isVisible():
            return
        size = self.image.size()
        w, h = max(size.width(), 64), max(size.height(), 48)
        half = interactive and not self.scene.through_camera
        if half:
            w, h = max(w // 2, 64), max(h // 2, 48)
        rgb = self.scene.render((w, h))
        self.last_image = rgb
        h, w = rgb.shape[:2]
        qimg = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        pm = QPixmap.fromImage(qimg)
        if self.scene.through_camera or half:
            pm = pm.scaled(size, Qt.KeepAspectRatio, Qt.FastTransformation if half else Qt.SmoothTransformation)
        self.image.setPixmap(pm)


__all__ = ["ViewportDock", "NO_FITS_HINT"]
