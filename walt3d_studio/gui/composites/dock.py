"""The Composites review dock: browse composites (thumbnails + a large view, ←/→), filter them, toggle the
pseudo-groundtruth layers, hover for an object's facts, reject a composite (Shift+R) or the object under the
cursor (R) with undo, compare WALT3D with WALT2D of the same seed, and see the occlusion distribution per split.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDockWidget, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QSizePolicy, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from ...store import composites as store_comp
from ...training.dataset import BUCKETS, bucket_label
from . import layers as L
from .commands import RejectCommand
from .model import CompositesModel

MAX_THUMBS = 400
THUMB = 96
VIEW_PX = (520, 390)
DEFAULT_LAYERS = ("visible", "amodal", "boxes", "keypoints")


def to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()


class ImageView(QLabel):
    """A picture in integer scale; reports hovers and clicks in image pixels."""
    hovered = Signal(float, float)
    clicked = Signal(float, float)
    key = Signal(int, bool)  # Qt key, shift held
    KEYS = (Qt.Key_Left, Qt.Key_Right, Qt.Key_R)

    def __init__(self, caption: str):
        super().__init__()
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.StrongFocus)  # click the picture, then ←/→ and R act on the dock
        self.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)  # the picture follows the space, not back
        self.caption = caption
        self.scale = 1
        self.rgb: np.ndarray | None = None

    def show_rgb(self, rgb: np.ndarray | None, scale: int) -> None:
        self.rgb, self.scale = rgb, scale
        if rgb is None:
            self.setPixmap(QPixmap())
            self.setText(f"({self.caption}: none)")
        else:
            self.setPixmap(QPixmap.fromImage(to_qimage(rgb)))

    def _img_xy(self, pos):
        return pos.x() / self.scale, pos.y() / self.scale

    def mouseMoveEvent(self, e):
        self.hovered.emit(*self._img_xy(e.position()))

    def mousePressEvent(self, e):
        self.setFocus()
        self.clicked.emit(*self._img_xy(e.position()))

    def event(self, e):
        # the timeline's window-wide ←/→ would otherwise win: with the picture focused, the keys are the dock's
        if e.type() == QEvent.ShortcutOverride and e.key() in self.KEYS:
            e.accept()
            return True
        return super().event(e)

    def keyPressEvent(self, e):
        if e.key() in self.KEYS:
            self.key.emit(e.key(), bool(e.modifiers() & Qt.ShiftModifier))
        else:
            super().keyPressEvent(e)


class CompositesDock(QDockWidget):
    def __init__(self, window):
        super().__init__("Composites", window)
        self.setObjectName("composites_dock")
        self.window = window
        self.model = CompositesModel(None)
        self.layers = set(DEFAULT_LAYERS)
        self.hover_idx: int | None = None
        self._arrays = None
        self.wire_note = ""
        body = QWidget()
        split = QSplitter(Qt.Horizontal)
        outer = QHBoxLayout(body)
        outer.setContentsMargins(2, 2, 2, 2)
        outer.addWidget(split)
        # left: filters and thumbnails
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.f_split = self._combo([("all splits", None)] + [(s, s) for s in store_comp.SPLITS])
        self.f_camera = self._combo([("all cameras", None)])
        self.f_method = self._combo([(m, m) for m in store_comp.METHODS] + [("all methods", None)])
        self.f_bucket = self._combo([("any occlusion", None)] + [(bucket_label(b), i) for i, b in enumerate(BUCKETS)])
        self.f_rejected = QCheckBox("has rejected")
        self.f_rejected.toggled.connect(self._on_filters)
        for w in (self.f_split, self.f_camera, self.f_method, self.f_bucket, self.f_rejected):
            lv.addWidget(w)
        gen = QHBoxLayout()
        self.g_method = QComboBox()
        for m in ("walt3d", "walt2d"):
            self.g_method.addItem(m, m)
        self.g_n, self.g_seed = QSpinBox(), QSpinBox()
        self.g_n.setRange(1, 100000)
        self.g_n.setValue(20)
        self.g_n.setToolTip("composites per camera")
        self.g_seed.setRange(0, 2 ** 31 - 1)
        self.g_seed.setPrefix("seed ")
        self.g_button = QPushButton("Generate")
        self.g_button.clicked.connect(lambda: self.generate())
        for w in (self.g_method, self.g_n, self.g_seed, self.g_button):
            gen.addWidget(w)
        lv.addLayout(gen)
        self.thumbs = QListWidget()
        self.thumbs.setViewMode(QListWidget.IconMode)
        self.thumbs.setIconSize(QSize(THUMB, THUMB * 3 // 4))
        self.thumbs.setResizeMode(QListWidget.Adjust)
        self.thumbs.setMovement(QListWidget.Static)
        self.thumbs.currentRowChanged.connect(self._on_thumb)
        lv.addWidget(self.thumbs, 1)
        self.count_label = QLabel("")
        lv.addWidget(self.count_label)
        split.addWidget(left)
        # right: layer toggles, the two views, info, histogram
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.layer_boxes = {}
        for name in L.LAYERS:
            cb = QCheckBox(name)
            cb.setChecked(name in self.layers)
            cb.toggled.connect(lambda on, n=name: self.set_layer(n, on))
            self.layer_boxes[name] = cb
            row.addWidget(cb)
        row.addStretch(1)
        rv.addLayout(row)
        views = QHBoxLayout()
        self.view = ImageView("WALT3D")
        self.twin_view = ImageView("WALT2D")
        self.view_title, self.twin_title = QLabel(""), QLabel("")
        for title, v in ((self.view_title, self.view), (self.twin_title, self.twin_view)):
            col = QVBoxLayout()
            col.addWidget(title)
            col.addWidget(v, 1)
            views.addLayout(col, 1)
        rv.addLayout(views, 1)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        rv.addWidget(self.info)
        import pyqtgraph as pg

        hrow = QHBoxLayout()
        hrow.addWidget(QLabel("Occlusion per split of"))
        self.h_class = QComboBox()
        for text, data in (("all classes", None), ("vehicles", "vehicle"), ("people", "person")):
            self.h_class.addItem(text, data)
        self.h_class.currentIndexChanged.connect(lambda _: self._draw_histogram())
        hrow.addWidget(self.h_class)
        self.export_button = QPushButton("Export dataset…")
        self.export_button.setToolTip("Write the unrejected composites as a validated dataset (a job: progress and "
                                      "Cancel in View > Jobs; nothing is left behind if cancelled)")
        self.export_button.clicked.connect(self._export)
        hrow.addStretch(1)
        hrow.addWidget(self.export_button)
        rv.addLayout(hrow)
        self.plot = pg.PlotWidget()
        self.plot.setMaximumHeight(170)
        self.plot.setBackground("w")
        self.plot.setLabel("bottom", "occlusion bucket (unrejected WALT3D objects; dashed: target)")
        self.plot.addLegend(offset=(-5, 5))
        rv.addWidget(self.plot)
        split.addWidget(right)
        split.setSizes([220, 900])
        self.setWidget(body)
        self.view.hovered.connect(self._on_hover)
        self.view.clicked.connect(self._on_hover)
        self.view.key.connect(self._on_key)

    def _on_key(self, key: int, shift: bool) -> None:
        if key in (Qt.Key_Left, Qt.Key_Right):
            self.step(1 if key == Qt.Key_Right else -1)
        elif shift:
            self.reject_composite()
        else:
            self.reject_object()

    def _combo(self, items) -> QComboBox:
        c = QComboBox()
        for text, data in items:
            c.addItem(text, data)
        c.currentIndexChanged.connect(self._on_filters)
        return c

    # ---- data ---------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the store (project opened or switched, composites made, edits undone)."""
        project = self.window.project
        self.model.project = project
        self.model.reload()
        self.f_camera.blockSignals(True)
        keep = self.f_camera.currentData()
        self.f_camera.clear()
        self.f_camera.addItem("all cameras", None)
        for cam in (project.cameras() if project else []):
            self.f_camera.addItem(cam.name, cam.id)
        i = self.f_camera.findData(keep)
        self.f_camera.setCurrentIndex(max(i, 0))
        self.f_camera.blockSignals(False)
        self._fill_thumbs()
        self._draw_histogram()
        self.show_current()

    def edited(self, composite_id: int) -> None:
        """A rejection changed (or was undone): show the composite it was made on; the tracks table's fit review
        column flags (or unflags) the object's track."""
        self.model.reload()
        fits = getattr(getattr(self.window, "review", None), "fits", None)
        if fits is not None:
            fits.reload()
        ids = [c.id for c in self.model.shown]
        if composite_id in ids:
            self.model.index = ids.index(composite_id)
        self._fill_thumbs()
        self._draw_histogram()
        self.show_current()

    def _on_filters(self, *_):
        f = self.model.filters
        f.split, f.camera_id = self.f_split.currentData(), self.f_camera.currentData()
        f.method, f.bucket = self.f_method.currentData(), self.f_bucket.currentData()
        f.has_rejected = self.f_rejected.isChecked()
        self.model.apply(self.model.current.id if self.model.current else None)
        self._fill_thumbs()
        self.show_current()

    def _fill_thumbs(self) -> None:
        self.thumbs.blockSignals(True)
        self.thumbs.clear()
        import cv2

        for c in self.model.shown[:MAX_THUMBS]:
            try:
                img = self.model.image(c)
            except Exception:  # a missing file shows as an empty tile; the large view says why
                img = np.zeros((3, 4, 3), np.uint8)
            h, w = img.shape[:2]
            s = THUMB / max(w, h)
            small = cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
            if self.model.has_rejected(c):
                small[:3], small[-3:], small[:, :3], small[:, -3:] = L.REJECTED, L.REJECTED, L.REJECTED, L.REJECTED
            item = QListWidgetItem(QIcon(QPixmap.fromImage(to_qimage(small))), f"{c.id}")
            item.setToolTip(f"composite {c.id}: {c.split}, {c.method}, seed {c.seed}, {c.n_objects} objects")
            if self.model.is_rejected(c):
                item.setForeground(QColor(200, 0, 0))
            self.thumbs.addItem(item)
        self.thumbs.setCurrentRow(self.model.index if self.model.shown else -1)
        self.thumbs.blockSignals(False)
        n = len(self.model.shown)
        self.count_label.setText(f"{n} composites" + (f" (first {MAX_THUMBS} as thumbnails)" if n > MAX_THUMBS else ""))

    def _on_thumb(self, row: int) -> None:
        if row >= 0:
            self.model.index = row
            self.show_current()

    def step(self, delta: int) -> None:
        self.model.step(delta)
        self.thumbs.blockSignals(True)
        self.thumbs.setCurrentRow(self.model.index)
        self.thumbs.blockSignals(False)
        self.show_current()

    def set_layer(self, name: str, on: bool) -> None:
        (self.layers.add if on else self.layers.discard)(name)
        if self.layer_boxes[name].isChecked() != on:
            self.layer_boxes[name].setChecked(on)
        self.show_current()

    # ---- drawing ------------------------------------------------------------------------------------------
    def _scale(self, img) -> int:
        """The largest integer zoom that fits the view (crisp pixels, exact hover coordinates)."""
        h, w = img.shape[:2]
        vw, vh = self.view.width(), self.view.height()
        if vw < 200 or vh < 150:  # not laid out yet
            vw, vh = VIEW_PX
        return max(1, min(vw // w, vh // h))

    def resizeEvent(self, e):
        super().resizeEvent(e)
        if self.model.current is not None:
            self.show_current()

    def render_current(self):
        """(main picture, its scale, twin picture or None, its scale) of the current composite."""
        c = self.model.current
        if c is None:
            return None, 1, None, 1
        img = self.model.image(c)
        self._arrays = self.model.arrays(c)
        rej = self.model.rejected_objects(c) | ({o.idx for o in c.objects} if self.model.is_rejected(c) else set())
        self.wire_note = ""
        wires = None
        if "wireframes" in self.layers:
            wires, self.wire_note = self.model.wires(c)
        main = L.render(img, c.objects, self.layers, self._arrays, rejected=rej, scale=self._scale(img), wires=wires)
        twin = self.model.twin(c)
        side, tscale = None, 1
        if twin is not None:
            timg = self.model.image(twin)
            tscale = self._scale(timg)
            side = L.render(timg, twin.objects, self.layers, self.model.arrays(twin),
                            rejected=self.model.rejected_objects(twin),
                            impossible=L.impossible_pairs(twin.objects) if twin.method != "walt3d" else (),
                            scale=tscale, wires=self.model.wires(twin)[0] if "wireframes" in self.layers else None)
        return main, self._scale(img), side, tscale

    def show_current(self) -> None:
        c = self.model.current
        from ...errors import Walt3DError

        try:
            main, scale, side, tscale = self.render_current()
        except Walt3DError as e:  # a missing image must not break browsing
            main, scale, side, tscale = None, 1, None, 1
            self.info.setText(e.message)
        self.view.show_rgb(main, scale)
        self.twin_view.show_rgb(side, tscale)
        if c is None:
            self.view_title.setText("no composites" + (" match the filters" if self.model.all else " yet"))
            self.twin_title.setText("")
            return
        rej = " — REJECTED" if self.model.is_rejected(c) else ""
        self.view_title.setText(f"<b>{c.method.upper()}</b> #{c.id} {c.split} seed {c.seed} "
                                f"({self.model.index + 1}/{len(self.model.shown)}){rej}")
        twin = self.model.twin(c)
        self.twin_title.setText(f"<b>{twin.method.upper()}</b> #{twin.id} same seed (magenta: impossible)"
                                if twin else "no twin of the other method")
        self._on_hover(-1, -1)

    def _on_hover(self, x: float, y: float) -> None:
        c = self.model.current
        o = L.object_at(c.objects, x, y) if c is not None and x >= 0 else None
        self.hover_idx = o.idx if o is not None else None
        if o is None:
            if c is not None:
                self.info.setText(f"{c.n_objects} objects; hover one for its facts. R rejects it, Shift+R the "
                                  f"composite, ←/→ browse." + (f" ({self.wire_note})" if self.wire_note else ""))
            return
        text = L.describe(o, o.idx in self.model.rejected_objects(c))
        if o.track_id in self.model.rejections["tracks"]:
            text += " · its track has a rejected object: review its fit"
        self.info.setText(text)

    def _draw_histogram(self) -> None:
        import pyqtgraph as pg

        self.plot.clear()
        kind = self.h_class.currentData()
        hist = self.model.histogram(kind=kind)
        target, source = self.model.target()
        n = len(BUCKETS)
        colours = {"train": (0, 114, 178), "val": (230, 159, 0), "test": (0, 158, 115)}
        width = 0.8 / len(hist)
        total = sum(int(v.sum()) for v in hist.values())
        for k, (split, counts) in enumerate(hist.items()):
            x = np.arange(n) + (k - 1) * width
            self.plot.addItem(pg.BarGraphItem(x=x, height=counts, width=width, brush=colours[split],
                                              name=f"{split} ({int(counts.sum())})"))
        # the target as expected counts per split: a dashed step over each bucket (what an average split holding
        # these objects would have if the compositor had hit its target exactly)
        filled = sum(1 for v in hist.values() if v.sum()) or 1   # the splits that hold any of these objects
        self.hist_target = target * total / filled if total else np.zeros(n)
        if total:
            xs = np.repeat(np.arange(n + 1) - 0.5, 2)[1:-1]
            self.plot.plot(xs, np.repeat(self.hist_target, 2), pen=pg.mkPen((90, 90, 90), width=2, style=Qt.DashLine),
                           name=source)
        self.plot.getAxis("bottom").setTicks([[(i, bucket_label(b)) for i, b in enumerate(BUCKETS)]])
        self.hist_counts = hist

    def _export(self) -> None:
        from .export_action import ask_export

        ask_export(self.window)

    # ---- generating -------------------------------------------------------------------------------------------
    def generate(self, method: str | None = None, n: int | None = None, seed: int | None = None,
                 camera_id: int | None = None):
        """Make more composites with the chosen method, count and seed in a child process (`walt3d composite`,
        see gui/process_jobs.py); returns its ProcessJob, or None when refused (the reason is shown). Labelling
        goes on meanwhile; a second compositing run waits for this one; the dock refreshes when it ends. The child
        stores its composites in one transaction at its end: Cancel (View > Jobs) stores nothing and removes
        the pictures it had written. `camera_id`: only that camera (locked while the job runs); None: all."""
        from ...errors import BadInputError
        from ..errors import show_error

        w = self.window
        if not w.can_write():
            return None
        running = self.running_job()
        if running is not None:
            show_error(w, BadInputError(f"“{running.title}” is running already.",
                                        "Wait for it or cancel it in View > Jobs, then generate again."))
            return None
        reason = w.lock_reason(camera_id)
        if reason:
            show_error(w, BadInputError("This camera is busy.", reason))
            return None
        project = w.project
        method = method or self.g_method.currentData()
        n = n or self.g_n.value()
        seed = self.g_seed.value() if seed is None else seed
        args = ["composite", str(project.root), "--method", method, "--n", str(n), "--seed", str(seed)]
        title = f"Compositing {method} ×{n}"
        if camera_id is not None:
            name = project.camera(camera_id).name
            args += ["--camera", name]
            title += f": {name}"

        def done(result):
            if w.project is not project:
                return
            made = (result or {}).get("composites")
            text = (f"Made {made} {method} composites (seed {seed})" if made is not None else
                    ((result or {}).get("output") or "Compositing done.").splitlines()[0])
            why = [f"{cam}: {c['why']}" for cam, c in ((result or {}).get("by_camera") or {}).items()
                   if isinstance(c, dict) and c.get("why")]
            w.statusBar().showMessage(text + ("; " + "; ".join(why) if why else ""), 15000)
            if made and self.f_method.currentData() not in (None, method):  # show what was just made
                self.f_method.setCurrentIndex(self.f_method.findData(method))

        def ended():  # done, cancelled or failed: show what the store holds now
            self._update_generate()
            if w.project is project:
                w.context.notify_store_changed("composites", camera_id)

        job = w.run_process_job(args, title, camera_id, on_done=done, on_end=ended)
        job.composite_job = True
        self._update_generate()
        w.statusBar().showMessage(f"{title}… (View > Jobs shows its progress; Cancel there stores nothing)", 5000)
        return job

    def running_job(self):
        """The compositing child job running now, or None."""
        jobs = getattr(self.window, "process_jobs", None)
        return next((j for j in (jobs.running() if jobs else []) if getattr(j, "composite_job", False)), None)

    def _update_generate(self) -> None:
        job = self.running_job()
        self.g_button.setEnabled(job is None)
        self.g_button.setToolTip(f"“{job.title}” is running (View > Jobs)" if job is not None else
                                 "Make this many composites per camera with this method and seed (a job in its "
                                 "own process: progress and Cancel in View > Jobs; labelling goes on)")

    # ---- rejecting ----------------------------------------------------------------------------------------
    def reject_object(self, idx: int | None = None) -> None:
        c = self.model.current
        idx = self.hover_idx if idx is None else idx
        if c is None or idx is None or not self.window.can_write():
            return
        now = idx in self.model.rejected_objects(c)
        self.window.undo_stack.push(RejectCommand(self, c.id, idx, not now))

    def reject_composite(self) -> None:
        c = self.model.current
        if c is None or not self.window.can_write():
            return
        self.window.undo_stack.push(RejectCommand(self, c.id, None, not self.model.is_rejected(c)))
