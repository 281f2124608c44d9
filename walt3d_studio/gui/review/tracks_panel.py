"""The review dock: the tracks table (filters, sort by any column or most-uncertain-first), progress counts,
the verdict legend, overlay toggles and a filmstrip of the selected track's crops.

The panel shows and reports; it decides nothing. Picking a row emits `track_activated`, clicking a crop emits
`crop_activated`; the controller does the rest and tells the panel what is selected (`show_track`,
`show_detection`) without those calls echoing back as signals.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QItemSelectionModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDockWidget, QGridLayout, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QListView, QTableView, QVBoxLayout,
                               QWidget)

from ...mining.crops import crop_bytes
from ..theme import mark_hint
from .style import VERDICT_COLOURS, VERDICT_NAMES, verdict_colour
from .tracks_model import COLUMNS, UNCERTAIN, Filters, TracksModel

THUMB = 72


class FilmstripModel(QAbstractListModel):
    """A track's crops, loaded lazily: the view asks only for the thumbnails on screen."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.root: Path | None = None
        self.items: list[dict] = []  # id, frame_id, position, crop_path, verdict, label
        self._pixmaps: dict[str, QPixmap] = {}

    def set_items(self, root: Path | None, items: list[dict]) -> None:
        self.beginResetModel()
        if root != self.root:
            self._pixmaps.clear()
        self.root, self.items = root, items
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items)

    def row_of(self, detection_id: int) -> int | None:
        return next((i for i, it in enumerate(self.items) if it["id"] == detection_id), None)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid():
            return None
        it = self.items[index.row()]
        if role == Qt.DisplayRole:
            return f"{it['position']}" + (f" {it['label']}" if it["label"] else "")
        if role == Qt.DecorationRole:
            return self._thumb(it["crop_path"], verdict_colour(it["verdict"]), bool(it["label"]))
        if role == Qt.ForegroundRole:
            return QColor(*verdict_colour(it["verdict"]))
        if role == Qt.ToolTipRole:
            by = "your label" if it["label"] else "machine"
            verdict = VERDICT_NAMES.get(it["verdict"], it["verdict"])
            return f"Frame {it['position']} · detection {it['id']} · {verdict} ({by})"
        return None

    def _thumb(self, rel: str, colour, solid: bool) -> QPixmap:
        key = f"{rel}|{colour}|{solid}"
        pm = self._pixmaps.get(key)
        if pm is None:
            src = QPixmap()
            if self.root is not None:
                try:  # a plain PNG or a span of a run's pack
                    src.loadFromData(crop_bytes(self.root / rel), "PNG")
                except OSError:
                    pass  # gone (a re-run removed it): the frame shows without a picture
            pm = QPixmap(THUMB, THUMB)
            pm.fill(QColor(24, 24, 24))
            p = QPainter(pm)
            if not src.isNull():
                s = src.scaled(THUMB - 6, THUMB - 6, Qt.KeepAspectRatio, Qt.SmoothTransformation)
                p.drawPixmap((THUMB - s.width()) // 2, (THUMB - s.height()) // 2, s)
            pen = QPen(QColor(*colour), 3, Qt.SolidLine if solid else Qt.DashLine)
            p.setPen(pen)
            p.drawRect(1, 1, THUMB - 3, THUMB - 3)
            p.end()
            self._pixmaps[key] = pm
        return pm


class TracksPanel(QDockWidget):
    track_activated = Signal(int)         # a track picked in the table
    crop_activated = Signal(int, int)     # (detection id, frame id) of a filmstrip crop
    order_changed = Signal()              # filter or order changed (Space follows the table's order)
    selection_changed = Signal()          # the set of selected tracks changed

    def __init__(self, parent=None):
        super().__init__("Occlusion review", parent)
        self.setObjectName("occlusionReviewDock")
        self._echo = False  # True while the controller sets the selection (no signals back)
        self.model = TracksModel(self)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)

        # -- filters and order
        grid = QGridLayout()
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(2)
        self.id_filter = QLineEdit()
        self.id_filter.setPlaceholderText("Track ids: 12, 20-30")
        self.id_filter.setClearButtonEnabled(True)
        self.class_filter = self._combo([("Any class", None)])
        self.usable_filter = self._combo([("Usable or not", None), ("Usable", True), ("Not usable", False)])
        self.label_filter = self._combo([("Any label", None), ("No track label", "none"), ("U", "U"), ("O", "O"),
                                         ("X", "X")])
        self.reviewed_filter = self._combo([("Reviewed or not", None), ("Unreviewed", False), ("Reviewed", True)])
        self.uncertain_box = QCheckBox("Most uncertain first")
        self.uncertain_box.setToolTip("Order by |P(unoccluded) − 0.5|, closest to 0.5 first; Space follows it")
        grid.addWidget(self.id_filter, 0, 0)
        grid.addWidget(self.class_filter, 0, 1)
        grid.addWidget(self.usable_filter, 0, 2)
        grid.addWidget(self.label_filter, 1, 0)
        grid.addWidget(self.reviewed_filter, 1, 1)
        grid.addWidget(self.uncertain_box, 1, 2)
        lay.addLayout(grid)
        self.id_filter.textChanged.connect(self._apply_filters)
        self.id_filter.returnPressed.connect(self.view_focus)  # back to the keys of the review
        for c in (self.class_filter, self.usable_filter, self.label_filter, self.reviewed_filter):
            c.currentIndexChanged.connect(self._apply_filters)
        self.uncertain_box.toggled.connect(self._on_uncertain)

        # -- the table
        self.view = QTableView()
        self.view.setObjectName("tracksTable")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.ExtendedSelection)  # Shift/Ctrl-click, Ctrl+A: bulk labels
        self.view.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(20)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.AscendingOrder)
        hh = self.view.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.Interactive)
        hh.setMinimumSectionSize(24)
        hh.setResizeContentsPrecision(200)  # size columns from the first rows: cheap on 100,000 tracks
        hh.setStretchLastSection(True)
        hh.setTextElideMode(Qt.ElideRight)  # a squeezed header reads "Mi…" (its tooltip in full), not "ine"
        hh.sortIndicatorChanged.connect(self._on_header_sort)
        self.view.selectionModel().currentRowChanged.connect(self._on_row)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self.selection_changed.emit())
        self.model.modelReset.connect(self._fit_table)
        self.model.layoutChanged.connect(self._fit_table)
        lay.addWidget(self.view, 1)
        self._body_layout = lay

        # -- progress, classifier, legend, overlay toggles
        self.progress_label = QLabel("No detections yet: Mining > Mine detections.")
        self.progress_label.setObjectName("reviewProgress")
        self.progress_label.setWordWrap(True)
        self.accuracy_label = QLabel("")
        self.accuracy_label.setObjectName("reviewAccuracy")
        self.accuracy_label.setWordWrap(True)
        lay.addWidget(self.progress_label)
        lay.addWidget(self.accuracy_label)
        swatches = " &nbsp; ".join(
            f'<span style="color: rgb{rgb}; font-size: 14px;">&#9632;</span>&nbsp;{VERDICT_NAMES[v].split(" (")[0]}'
            for v, rgb in VERDICT_COLOURS.items())
        self.legend = QLabel(swatches)
        self.legend.setWordWrap(True)
        lay.addWidget(self.legend)
        self.legend_hint = mark_hint(QLabel("Outline: solid = your label, dashed = the machine's verdict"))
        self.legend_hint.setWordWrap(True)
        lay.addWidget(self.legend_hint)
        self.toggles = QHBoxLayout()
        self.toggles.setSpacing(2)
        self.toggles.addWidget(QLabel("Show on frame:"))
        lay.addLayout(self.toggles)

        # -- filmstrip
        self.selection_label = QLabel("Select a track, or click an object in the frame.")
        self.selection_label.setObjectName("reviewSelection")
        self.selection_label.setWordWrap(True)
        lay.addWidget(self.selection_label)
        self.filmstrip_model = FilmstripModel(self)
        self.filmstrip = QListView()
        self.filmstrip.setObjectName("filmstrip")
        self.filmstrip.setModel(self.filmstrip_model)
        self.filmstrip.setViewMode(QListView.IconMode)
        self.filmstrip.setFlow(QListView.LeftToRight)
        self.filmstrip.setWrapping(False)
        self.filmstrip.setMovement(QListView.Static)
        self.filmstrip.setUniformItemSizes(True)
        self.filmstrip.setIconSize(QSize(THUMB, THUMB))
        self.filmstrip.setSpacing(2)
        self.filmstrip.setFixedHeight(THUMB + 44)
        self.filmstrip.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOn)
        self.filmstrip.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.filmstrip.setStyleSheet("QListView#filmstrip { background: #181818; }")
        self.filmstrip.selectionModel().currentChanged.connect(self._on_crop)
        self.filmstrip.hide()  # collapsed while no track with crops is selected
        lay.addWidget(self.filmstrip)
        self.filmstrip_label = QLabel("")
        mark_hint(self.filmstrip_label)
        lay.addWidget(self.filmstrip_label)
        self.keys_hint = keys = QLabel("U / O / X: label the selected object · Shift: its whole track · "
                                       "Space: next unreviewed · Ctrl+Z / Ctrl+Shift+Z: undo / redo · "
                                       "?: every key")
        keys.setWordWrap(True)
        mark_hint(keys)
        lay.addWidget(keys)
        lay.addStretch(0)
        self.setWidget(body)
        self.setMinimumWidth(420)
        self._fit_table()

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self._fit_table()

    def _fit_table(self, *_) -> None:
        """Columns as wide as their content (the last one takes the rest); a short table only as tall as its
        rows, so a handful of tracks does not leave a tall empty box."""
        v = self.view
        hh, rows = v.horizontalHeader(), self.model.rowCount()
        n = self.model.columnCount()
        data = [max(v.sizeHintForColumn(i), hh.minimumSectionSize()) + 4 for i in range(n)]
        head = [max(hh.sectionSizeHint(i), d) for i, d in zip(range(n), data)]
        avail = v.viewport().width() if v.isVisible() else max(self.width() - 20, 400)
        key = hh.sortIndicatorSection() if hh.isSortIndicatorShown() else -1
        if 0 <= key < n and head[key] - data[key] <= avail - sum(data):
            data[key] = head[key]  # the column the table is sorted by keeps its whole header (and arrow) first
        spare, short = avail - sum(data), sum(h - d for h, d in zip(head, data))
        # every column's values show in full; headers get what room is left (elided, with a tooltip, if none)
        share = 1.0 if short <= 0 or spare >= short else max(spare, 0) / short
        for i, (d, h) in enumerate(zip(data, head)):
            v.setColumnWidth(i, int(d + (h - d) * share))
        need = hh.height() + v.verticalHeader().defaultSectionSize() * max(rows, 3) + 2 * v.frameWidth()
        if hh.length() > v.viewport().width():
            need += v.horizontalScrollBar().sizeHint().height()
        v.setMaximumHeight(max(need, 90) if rows < 40 else 16777215)

    def view_focus(self) -> None:
        self.view.setFocus()

    @staticmethod
    def _combo(entries) -> QComboBox:
        c = QComboBox()
        for text, value in entries:
            c.addItem(text, value)
        c.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        return c

    def add_toggle(self, action) -> None:
        """A check box that mirrors a checkable action (the same toggle as in Mining > Show on frame)."""
        b = QCheckBox(action.text().replace("&", ""))
        b.setChecked(action.isChecked())
        b.setFocusPolicy(Qt.NoFocus)  # keys stay with the review
        b.toggled.connect(action.setChecked)
        action.toggled.connect(b.setChecked)
        self.toggles.addWidget(b)

    def finish_toggles(self) -> None:
        self.toggles.addStretch(1)

    def add_fit_buttons(self, actions) -> None:
        """A row under the table: "3D fits:" and a button per fitting action (Reconstruct menu), enabled with it."""
        from PySide6.QtWidgets import QToolButton

        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(QLabel("3D fits:"))
        self.fit_buttons = []
        for a in actions:
            b = QToolButton()
            b.setDefaultAction(a)
            b.setText(a.text().replace("&", "").replace(" in 3D", ""))
            b.setFocusPolicy(Qt.NoFocus)  # keys stay with the review
            a.changed.connect(lambda b=b, a=a: b.setText(a.text().replace("&", "").replace(" in 3D", "")))
            row.addWidget(b)
            self.fit_buttons.append(b)
        row.addStretch(1)
        lay = self._body_layout
        lay.insertLayout(lay.indexOf(self.view) + 1, row)

    # ------------------------------------------------------------------------------ table
    def set_table(self, table, start=None, categories=()) -> None:
        current = self.class_filter.currentData()
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("Any class", None)
        for c in categories:
            self.class_filter.addItem(c, c)
        i = self.class_filter.findData(current)
        self.class_filter.setCurrentIndex(max(i, 0))
        self.class_filter.blockSignals(False)
        self._echo = True
        try:
            self.model.filters = self.filters()
            self.model.set_table(table, start)
        finally:
            self._echo = False

    def filters(self) -> Filters:
        return Filters(self.id_filter.text(), self.class_filter.currentData(), self.usable_filter.currentData(),
                       self.label_filter.currentData(), self.reviewed_filter.currentData())

    def _apply_filters(self, *_) -> None:
        self._echo = True
        try:
            self.model.set_filters(self.filters())
        finally:
            self._echo = False
        self.order_changed.emit()

    def _on_uncertain(self, on: bool) -> None:
        self._echo = True
        try:
            if on:
                self.view.horizontalHeader().setSortIndicatorShown(False)
                self.model.set_order(UNCERTAIN)
            else:
                hh = self.view.horizontalHeader()
                hh.setSortIndicatorShown(True)
                self.model.set_order(COLUMNS[max(hh.sortIndicatorSection(), 0)].key,
                                     hh.sortIndicatorOrder() == Qt.AscendingOrder)
        finally:
            self._echo = False
        self.order_changed.emit()

    def _on_header_sort(self, *_) -> None:
        if self.uncertain_box.isChecked():
            self.uncertain_box.setChecked(False)  # -> _on_uncertain: the clicked column's order
        else:
            self.order_changed.emit()

    @property
    def uncertain_first(self) -> bool:
        return self.model.order_key == UNCERTAIN

    def set_uncertain_first(self, on: bool) -> None:
        self.uncertain_box.setChecked(on)

    def _on_row(self, current, _previous) -> None:
        if self._echo or not current.isValid():
            return
        tid = self.model.track_at(current.row())
        if tid is not None:
            self.track_activated.emit(tid)

    def selected_track_ids(self) -> list[int]:
        """The tracks selected in the table, in the table's order."""
        rows = sorted(i.row() for i in self.view.selectionModel().selectedRows())
        return [t for t in (self.model.track_at(r) for r in rows) if t is not None]

    def select_all_shown(self) -> int:
        """Ctrl+A: every track the filters show."""
        self.view.selectAll()
        return len(self.selected_track_ids())

    def show_track(self, track_id: int | None) -> None:
        """Select (and scroll to) a track's row without emitting track_activated. A track that is part of a
        multi-selection becomes the current one and the selection stays."""
        self._echo = True
        try:
            sm = self.view.selectionModel()
            row = self.model.row_of(track_id) if track_id is not None else None
            if row is None:
                sm.clear()
                return
            idx = self.model.index(row, 0)
            # already current (a click in the table, or stepping frames): the view owns the selection (Ctrl/Shift)
            keep = sm.currentIndex().row() == row or (len(sm.selectedRows()) > 1 and sm.isRowSelected(row))
            sm.setCurrentIndex(idx, QItemSelectionModel.NoUpdate if keep else
                               QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
            self.view.scrollTo(idx)
        finally:
            self._echo = False

    # ------------------------------------------------------------------------------ filmstrip
    def set_filmstrip(self, root: Path | None, items: list[dict], n_detections: int) -> None:
        self._echo = True
        try:
            self.filmstrip_model.set_items(root, items)
        finally:
            self._echo = False
        self.filmstrip.setVisible(bool(items))  # no empty black strip when nothing is selected
        self.filmstrip_label.setVisible(n_detections > 0)
        if n_detections == 0:
            self.filmstrip_label.setText("")
        elif items:
            self.filmstrip_label.setText(f"{len(items)} crops of {n_detections} detections (mined ones keep a crop); "
                                         "click one to go to its frame")
        else:
            self.filmstrip_label.setText(f"No crops among its {n_detections} detections: only mined (unoccluded) "
                                         "detections keep one.")

    def show_crop(self, detection_id: int | None) -> None:
        self._echo = True
        try:
            sm = self.filmstrip.selectionModel()
            row = self.filmstrip_model.row_of(detection_id) if detection_id is not None else None
            if row is None:
                sm.clear()
                return
            idx = self.filmstrip_model.index(row, 0)
            sm.setCurrentIndex(idx, QItemSelectionModel.ClearAndSelect)
            self.filmstrip.scrollTo(idx)
        finally:
            self._echo = False

    def _on_crop(self, current, _previous) -> None:
        if self._echo or not current.isValid():
            return
        it = self.filmstrip_model.items[current.row()]
        self.crop_activated.emit(it["id"], it["frame_id"])
