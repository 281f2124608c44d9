"""The tracks table model over 100,000 synthetic tracks: every column sorts correctly both ways (stable, missing
values last), most-uncertain-first, filters, and patched rows keep the selection on their track."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from walt3d_studio.gui.review.tracks_model import COLUMNS, UNCERTAIN, Filters, TracksModel, parse_ids
from walt3d_studio.store.detections import TrackTable

N = 100_000


def synthetic_tracks(n=N, seed=0) -> TrackTable:
    rng = np.random.default_rng(seed)
    length = rng.integers(1, 200, n)
    mined = np.minimum(rng.integers(0, 60, n), length)
    labelled = np.where(rng.random(n) < 0.3, rng.integers(0, 200, n) % (length + 1), 0)
    p = rng.random(n)
    p[rng.random(n) < 0.1] = np.nan  # tracks without a classifier score
    label = np.array([None, "U", "O", "X"], object)[rng.integers(0, 4, n) * (rng.random(n) < 0.2)]
    first = rng.integers(1, 50_000, n)
    return TrackTable(np.arange(1, n + 1, dtype=np.int64) * 3, np.ones(n, np.int64), np.ones(n, np.int64),
                      np.array(["car", "person", "other"], object)[rng.integers(0, 3, n)], length, mined, mined >= 3,
                      p, label, labelled, labelled >= length, first, first + length, first.astype(float))


def expected_order(key: np.ndarray, ascending: bool) -> np.ndarray:
    """Reference: lexsort on (NaN last, value, table position) -- independent of the model's argsort trick."""
    nan = np.isnan(key)
    v = np.where(nan, 0.0, key if ascending else -key)
    return np.lexsort((np.arange(len(key)), v, nan))


@pytest.fixture(scope="module")
def table():
    return synthetic_tracks()


def reference_key(t: TrackTable, name: str, start) -> np.ndarray:
    if name == "category":
        return np.unique(t.category.astype(str), return_inverse=True)[1].astype(float)
    if name == "label":
        return np.unique(np.array([x or "" for x in t.label]), return_inverse=True)[1].astype(float)
    if name == "reviewed":
        return t.n_labelled / np.maximum(t.length, 1)
    if name == "start":
        return start.astype(float)
    if name == UNCERTAIN:
        return np.abs(t.p_unoccluded - 0.5)
    if name.startswith("fit_"):  # no fits set: every row alike, the stable order is the id order
        return np.zeros(len(t))
    return getattr(t, name).astype(float)


@pytest.mark.parametrize("column", range(len(COLUMNS)))
def test_every_column_sorts_100k_tracks_both_ways(qapp, table, column):
    start = table.first_frame_id - 1
    m = TracksModel()
    m.set_table(table, start)
    key = reference_key(table, COLUMNS[column].key, start)
    for order, asc in ((Qt.AscendingOrder, True), (Qt.DescendingOrder, False)):
        m.sort(column, order)
        assert np.array_equal(m.rows, expected_order(key, asc)), (COLUMNS[column].key, asc)
        # what the view shows follows the permutation
        first, last = m.rows[0], m.rows[-1]
        assert m.data(m.index(0, 0)) == int(table.id[first])
        assert m.data(m.index(N - 1, 0)) == int(table.id[last])


def test_most_uncertain_first(qapp, table):
    m = TracksModel()
    m.set_table(table)
    m.set_order(UNCERTAIN)
    d = np.abs(table.p_unoccluded[m.rows] - 0.5)
    finite = ~np.isnan(d)
    assert np.all(np.diff(d[finite]) >= 0)
    assert finite[:finite.sum()].all() and not finite[finite.sum():].any()  # unscored tracks last
    assert np.array_equal(m.rows, expected_order(reference_key(table, UNCERTAIN, None), True))


def test_filters(qapp, table):
    m = TracksModel()
    m.set_table(table)
    m.set_filters(Filters(category="car", usable=True, reviewed=False))
    want = np.flatnonzero((table.category == "car") & table.usable & ~table.reviewed)
    assert np.array_equal(np.sort(m.rows), want)
    m.set_filters(Filters(label="none"))
    assert all(table.label[i] is None for i in m.rows) and len(m.rows) == sum(x is None for x in table.label)
    m.set_filters(Filters(ids="30, 60-90"))
    assert list(table.id[m.rows]) == [30, 60, 63, 66, 69, 72, 75, 78, 81, 84, 87, 90]
    assert parse_ids("12, 20-30") == [(12, 12), (20, 30)] and parse_ids("car") is None


def test_patched_rows_resort_and_keep_the_selection(qapp, table):
    from PySide6.QtWidgets import QTableView

    t = synthetic_tracks(1000, seed=3)
    m = TracksModel()
    m.set_table(t)
    view = QTableView()
    view.setModel(m)
    m.sort(6, Qt.AscendingOrder)  # by label
    tid = int(t.id[t.label == None][0])  # noqa: E711
    view.selectionModel().setCurrentIndex(m.index(m.row_of(tid), 0),
                                          QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows)
    sub = TrackTable(**{k: v[m.table_index(tid):m.table_index(tid) + 1].copy() for k, v in vars(t).items()})
    sub.label[0] = "X"  # as the store returns it after Shift+X
    m.update_tracks(sub)
    assert m.table.label[m.table_index(tid)] == "X"
    row = m.row_of(tid)
    assert m.data(m.index(row, 6)) == "X"
    assert view.selectionModel().currentIndex().row() == row  # the selection followed its track
    labels = [m.table.label[i] or "" for i in m.rows]
    assert labels == sorted(labels)
