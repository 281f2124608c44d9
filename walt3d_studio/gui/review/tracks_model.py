"""The tracks table model: a QAbstractTableModel over the store's columnar `TrackTable`, with its own filter
and sort done in numpy.

A QSortFilterProxyModel would sort by calling `data()` (a Python call) for every comparison: seconds for
100,000 tracks. Here a sort is one stable `numpy.argsort` over the column's key array (strings are sorted
once into integer codes, cached until that column changes) and the view reads rows through a permutation
`rows` (indices into the table). Filters are boolean masks over the same columns. `bench/bench_tracks_panel.py`
times both on 100,000 tracks.

The model keeps no labels of its own: it shows the `TrackTable` the controller last read from the store and is
patched (`update_tracks`) with the rows the store returns after each edit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from ..theme import readable
from .style import LABEL_COLOURS

TRACK_ID_ROLE = Qt.UserRole + 1
SORT_ROLE = Qt.UserRole + 2  # the numeric sort key (what a QSortFilterProxyModel baseline would sort by)
UNCERTAIN = "uncertain"  # the order key "most uncertain first": |P(unoccluded) - 0.5| ascending


@dataclass(frozen=True)
class Column:
    key: str      # the sort key name (see `TracksModel._key`)
    title: str
    tip: str


COLUMNS = (
    Column("id", "Track", "Track id"),
    Column("category", "Class", "Detected class (the track's majority)"),
    Column("length", "Dets", "Detections in the track"),
    Column("n_mined", "Mined", "Detections whose verdict is unoccluded"),
    Column("usable", "Usable", "At least min_mined_frames mined detections"),
    Column("p_unoccluded", "P(U)", "Mean classifier P(unoccluded) (– before a classifier is trained)"),
    Column("label", "Label", "Track-level human label: U unoccluded, O occluded, X not an object"),
    Column("reviewed", "Reviewed", "Detections with a human label / all detections"),
    Column("start", "Start", "Frame (timeline position) of the track's first detection"),
    Column("fit_method", "Fit", "3D fit method (keypoints+track, silhouette, …; empty: not fitted)"),
    Column("fit_px", "Reproj", "Fit's median keypoint reprojection error, pixels"),
    Column("fit_iou", "IoU", "Fit's median silhouette IoU (rendered mesh vs mined mask)"),
    Column("fit_review", "Fit review", "accepted / rejected (your verdict, W / Shift+W), else flagged when one of "
                                       "its objects was rejected in the composites review, else the fitter's: "
                                       "needs review / ok / skipped"),
)
FIT_KEYS = ("fit_method", "fit_px", "fit_iou", "fit_review")
REVIEW_TEXT = {"accept": "accepted", "reject": "rejected"}
STATUS_TEXT = {"needs_review": "needs review", "ok": "ok", "skipped": "skipped", "failed": "failed"}
COMPOSITE_REJECTED = "review: rejected in a composite"  # until a person accepts or rejects the fit (W / Shift+W)
REVIEW_COLOURS = {"accepted": (120, 200, 120), "rejected": (235, 90, 80), "needs review": (240, 200, 60),
                  COMPOSITE_REJECTED: (240, 200, 60)}
COLUMN_KEYS = [c.key for c in COLUMNS]


@dataclass
class Filters:
    """What the panel's filter row asks for; None = any."""

    ids: str = ""                 # "12", "12, 15", "10-20"
    category: str | None = None
    usable: bool | None = None
    label: str | None = None      # "U", "O", "X" or "none"
    reviewed: bool | None = None


def parse_ids(text: str) -> list[tuple[int, int]] | None:
    """'12, 15, 20-30' -> [(12, 12), (15, 15), (20, 30)]; None when empty or not understood (no filter)."""
    out = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        a, sep, b = part.partition("-")
        try:
            lo = int(a)
            hi = int(b) if sep else lo
        except ValueError:
            return None
        out.append((min(lo, hi), max(lo, hi)))
    return out or None


class TracksModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = None            # TrackTable
        self.start = np.zeros(0, np.int64)  # timeline position of each track's first frame (-1 unknown)
        self.rows = np.zeros(0, np.int64)   # view row -> table index
        self.filters = Filters()
        self.order_key: str = "id"
        self.ascending = True
        self._keys: dict[str, np.ndarray] = {}
        self._label_text = np.zeros(0, object)
        self.fit_method = np.zeros(0, object)  # per table row; "" = no fit
        self.fit_px = np.zeros(0)
        self.fit_iou = np.zeros(0)
        self.fit_review = np.zeros(0, object)  # "accepted" / "rejected" / "needs review" / "ok" / …

    # ------------------------------------------------------------------------------ data in
    def set_table(self, table, start: np.ndarray | None = None) -> None:
        """Show another TrackTable (rows in track-id order, as `track_table` returns them)."""
        self.beginResetModel()
        self.table = table
        n = 0 if table is None else len(table)
        self.start = np.full(n, -1, np.int64) if start is None else np.asarray(start, np.int64)
        self._keys.clear()
        self._label_text = self._labels_as_text()
        self.fit_method, self.fit_review = np.full(n, "", object), np.full(n, "", object)
        self.fit_px, self.fit_iou = np.full(n, np.nan), np.full(n, np.nan)
        self.rows = self._compute_rows()
        self.endResetModel()

    def set_fits(self, summaries: dict[int, dict], replace: bool = True) -> None:
        """Fit columns from `store.fits.fit_summaries` ({track_id: {method, status, reproj_px, iou, review}});
        with replace=False only those tracks change (after an accept / reject)."""
        if self.table is None:
            return
        if replace:
            self.fit_method[:] = ""
            self.fit_review[:] = ""
            self.fit_px[:] = np.nan
            self.fit_iou[:] = np.nan
        for tid, s in summaries.items():
            i = self.table_index(int(tid))
            if i is None:
                continue
            self.fit_method[i] = s["method"]
            self.fit_px[i], self.fit_iou[i] = s["reproj_px"], s["iou"]
            self.fit_review[i] = REVIEW_TEXT.get(s["review"]) or (
                COMPOSITE_REJECTED if s.get("composite_rejected") else STATUS_TEXT.get(s["status"], s["status"]))
        for k in FIT_KEYS:
            self._keys.pop(k, None)
        self._relayout()
        if len(self.rows):
            first = COLUMN_KEYS.index("fit_method")
            self.dataChanged.emit(self.index(0, first), self.index(len(self.rows) - 1, len(COLUMNS) - 1))

    def update_tracks(self, sub, start: np.ndarray | None = None) -> None:
        """Patch the rows of the tracks in `sub` (a TrackTable of some tracks, fresh from the store), then
        filter and sort again; selection and current index follow their tracks."""
        if self.table is None or sub is None or len(sub) == 0:
            return
        idx = np.searchsorted(self.table.id, sub.id)
        ok = (idx < len(self.table.id)) & (self.table.id[np.minimum(idx, len(self.table.id) - 1)] == sub.id)
        if not ok.all():  # a track we do not show (another camera, or new): reload instead
            idx, keep = idx[ok], ok
        else:
            keep = slice(None)
        for name, col in vars(self.table).items():
            col[idx] = getattr(sub, name)[keep]
        if start is not None:
            self.start[idx] = np.asarray(start, np.int64)[keep]
        self._keys.clear()
        self._label_text[idx] = self._labels_as_text(sub.label[keep])
        self._relayout()

    def _labels_as_text(self, labels=None) -> np.ndarray:
        if labels is None:
            labels = self.table.label if self.table is not None else np.zeros(0, object)
        return np.array([lab or "" for lab in labels], object)

    # ------------------------------------------------------------------------------ filter and sort
    def set_filters(self, filters: Filters) -> None:
        self.filters = filters
        self._relayout()

    def set_order(self, key: str, ascending: bool = True) -> None:
        """Sort by a column key (COLUMN_KEYS) or UNCERTAIN; stable, NaN last either way."""
        self.order_key, self.ascending = key, ascending
        self._relayout()

    def sort(self, column: int, order: Qt.SortOrder = Qt.AscendingOrder) -> None:  # QTableView header clicks
        if 0 <= column < len(COLUMNS):
            self.set_order(COLUMNS[column].key, order == Qt.AscendingOrder)

    def _relayout(self) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        tracks = [int(self.rows[i.row()]) if 0 <= i.row() < len(self.rows) else -1 for i in old]
        self.rows = self._compute_rows()
        where = np.full(0 if self.table is None else len(self.table), -1, np.int64)
        where[self.rows] = np.arange(len(self.rows))
        new = [self.index(int(where[t]), i.column()) if t >= 0 and where[t] >= 0 else QModelIndex()
               for t, i in zip(tracks, old)]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _compute_rows(self) -> np.ndarray:
        if self.table is None:
            return np.zeros(0, np.int64)
        rows = np.flatnonzero(self.filter_mask())
        return rows[self.order_of(rows)]

    def filter_mask(self) -> np.ndarray:
        t, f = self.table, self.filters
        keep = np.ones(len(t), bool)
        ranges = parse_ids(f.ids)
        if ranges:
            hit = np.zeros(len(t), bool)
            for lo, hi in ranges:
                hit |= (t.id >= lo) & (t.id <= hi)
            keep &= hit
        if f.category is not None:
            keep &= t.category == f.category
        if f.usable is not None:
            keep &= t.usable == f.usable
        if f.label is not None:
            keep &= self._label_text == ("" if f.label == "none" else f.label)
        if f.reviewed is not None:
            keep &= t.reviewed == f.reviewed
        return keep

    def order_of(self, rows: np.ndarray) -> np.ndarray:
        """Argsort of `rows` (table indices) by the current order key: stable, NaN last."""
        key = self._key(self.order_key)[rows]
        if not self.ascending and self.order_key != UNCERTAIN:
            key = np.where(np.isposinf(key), np.inf, -key)  # NaN (stored as +inf) stays last
        return np.argsort(key, kind="stable")

    def _key(self, name: str) -> np.ndarray:
        """A float64 sort key per table row (NaN -> +inf so it sorts last), cached until the table changes."""
        k = self._keys.get(name)
        if k is not None:
            return k
        t = self.table
        if name == UNCERTAIN:
            k = np.abs(t.p_unoccluded - 0.5)
        elif name == "category":
            k = _codes(t.category)
        elif name == "label":
            k = _codes(self._label_text)
        elif name == "reviewed":
            k = t.n_labelled / np.maximum(t.length, 1)
        elif name == "start":
            k = self.start.astype(np.float64)
        elif name in ("fit_method", "fit_review"):
            k = _codes(getattr(self, name))
        elif name in ("fit_px", "fit_iou"):
            k = getattr(self, name).astype(np.float64)
        else:
            k = getattr(t, name).astype(np.float64)
        k = np.where(np.isnan(k), np.inf, k)
        self._keys[name] = k
        return k

    # ------------------------------------------------------------------------------ lookups
    def track_at(self, row: int) -> int | None:
        if 0 <= row < len(self.rows):
            return int(self.table.id[self.rows[row]])
        return None

    def table_index(self, track_id: int) -> int | None:
        if self.table is None or len(self.table) == 0:
            return None
        i = int(np.searchsorted(self.table.id, track_id))
        return i if i < len(self.table) and self.table.id[i] == track_id else None

    def row_of(self, track_id: int) -> int | None:
        i = self.table_index(track_id)
        if i is None:
            return None
        r = np.flatnonzero(self.rows == i)
        return int(r[0]) if len(r) else None

    def visible_track_ids(self) -> np.ndarray:
        return self.table.id[self.rows] if self.table is not None else np.zeros(0, np.int64)

    # ------------------------------------------------------------------------------ Qt model
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.DisplayRole):
        if orientation == Qt.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.DisplayRole:
                return COLUMNS[section].title
            if role == Qt.ToolTipRole:
                return COLUMNS[section].tip
        return None

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        i = int(self.rows[index.row()])
        key = COLUMNS[index.column()].key
        t = self.table
        if role == Qt.DisplayRole:
            if key == "usable":
                return "yes" if t.usable[i] else "no"
            if key == "p_unoccluded":
                p = t.p_unoccluded[i]
                return "–" if np.isnan(p) else f"{p:.2f}"
            if key == "label":
                return self._label_text[i]
            if key == "reviewed":
                return f"{int(t.n_labelled[i])}/{int(t.length[i])}"
            if key == "start":
                return int(self.start[i]) if self.start[i] >= 0 else "–"
            if key == "category":
                return str(t.category[i])
            if key in ("fit_method", "fit_review"):
                return getattr(self, key)[i]
            if key in ("fit_px", "fit_iou"):
                v = getattr(self, key)[i]
                return "" if np.isnan(v) else (f"{v:.1f}" if key == "fit_px" else f"{v:.2f}")
            return int(getattr(t, key)[i])
        if role == Qt.TextAlignmentRole:
            return int(Qt.AlignLeft | Qt.AlignVCenter) if key in ("category", "label", "fit_method", "fit_review") \
                else int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.ForegroundRole:  # coloured text kept at >= 4.5:1 on the table's background, any theme
            if key == "label" and self._label_text[i]:
                return readable(LABEL_COLOURS[self._label_text[i]])
            if key == "reviewed" and t.reviewed[i]:
                return readable((120, 200, 120))
            if key == "fit_review" and self.fit_review[i] in REVIEW_COLOURS:
                return readable(REVIEW_COLOURS[self.fit_review[i]])
            if key == "usable" and not t.usable[i]:
                return readable((150, 150, 150))
        if role == TRACK_ID_ROLE:
            return int(t.id[i])
        if role == SORT_ROLE:
            return float(self._key(key)[i])
        return None


def _codes(values: np.ndarray) -> np.ndarray:
    """Sortable integer codes of a string column (one sort of the distinct values)."""
    if len(values) == 0:
        return np.zeros(0)
    _, inv = np.unique(values.astype(str), return_inverse=True)
    return inv.astype(np.float64)


__all__ = ["COLUMNS", "COLUMN_KEYS", "Filters", "TracksModel", "SORT_ROLE", "TRACK_ID_ROLE", "UNCERTAIN", "parse_ids"]
