"""No wasted or clipped space: table columns fit their content (Start visible, no horizontal scrollbar), a short
table is only as tall as its rows, the filmstrip collapses when no track is selected, a tool dock is as tall as
its content, and track tags stay inside the frame at its right edge."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from .test_review_workflow import demo, review, template  # noqa: F401  (fixtures)


def _settle(qtbot):
    for _ in range(3):
        QApplication.processEvents()
    qtbot.wait(30)


def test_table_columns_and_height_fit_the_content(qtbot, review):
    w, rc = review
    _settle(qtbot)
    v = rc.panel.view
    assert not v.horizontalScrollBar().isVisible()
    hh = v.horizontalHeader()
    assert hh.sectionViewportPosition(8) + hh.sectionSize(8) <= v.viewport().width()  # Start fully visible
    for c in range(9):
        assert v.columnWidth(c) >= v.sizeHintForColumn(c), c  # every value shows in full
    rows_h = hh.height() + 3 * v.rowHeight(0) + 2 * v.frameWidth()
    assert v.height() <= rows_h + 12, (v.height(), rows_h)  # 3 tracks: no tall empty box
    # a header too wide for its column is elided ("Mi…", its tooltip in full)
    assert hh.textElideMode() == Qt.ElideRight


def test_the_sorted_column_keeps_its_whole_header_when_there_is_room(qtbot, review):
    w, rc = review
    v, hh = rc.panel.view, rc.panel.view.horizontalHeader()
    n = v.model().columnCount()
    data = [max(v.sizeHintForColumn(i), hh.minimumSectionSize()) + 4 for i in range(n)]
    head = [max(hh.sectionSizeHint(i), d) for i, d in enumerate(data)]
    # room for every value and the sorted column's header (Track, with its arrow), not for every header
    want = sum(data) + head[0] - data[0] + 6
    assert want < sum(head)
    rc.panel.resize(rc.panel.width() + want - v.viewport().width(), rc.panel.height())
    _settle(qtbot)
    assert hh.sortIndicatorSection() == 0 and v.viewport().width() >= want - 2
    assert v.columnWidth(0) >= hh.sectionSizeHint(0)
    assert any(v.columnWidth(c) < hh.sectionSizeHint(c) for c in range(1, n))  # the others share what is left
    assert not v.horizontalScrollBar().isVisible()


def test_filmstrip_collapses_without_a_selection(qtbot, review):
    w, rc = review
    rc.select_track(None)
    _settle(qtbot)
    assert not rc.panel.filmstrip.isVisible()
    rc.select_track(3)
    _settle(qtbot)
    assert rc.panel.filmstrip.isVisible()


def test_tool_dock_is_as_tall_as_its_content(qtbot, review):
    w, rc = review
    tool = rc.mining.paint_occluders()
    _settle(qtbot)
    assert tool.widget().height() <= tool.widget().sizeHint().height() + 8


def test_track_tags_stay_inside_the_frame(qtbot, review):
    w, rc = review
    view = w.frame_view
    w.resize(900, 700)
    _settle(qtbot)
    view.fit()
    boxes = rc.overlay.boxes
    wd, _ = boxes.size
    dets = [dict(d) for d in rc.frame_dets]
    d = dets[0]
    d["box"] = [wd - 6, 100, 5, 20]  # an object at the frame's right edge
    rc.overlay.show("edge", [d], boxes.size, None, None)
    _settle(qtbot)
    view.grab()  # paint
    (rect, right), = boxes.tag_rects.values()
    assert rect.right() <= right + 0.5 and rect.left() >= 0
    assert right <= view.widget_pos_of_pixel(wd - 1, 0).x() + 2  # the frame's right edge on screen


def test_no_panel_lies_loose_over_the_frame(qtbot, window):
    from PySide6.QtWidgets import QDockWidget

    _settle(qtbot)
    for d in window.findChildren(QDockWidget):
        if d.isVisible():
            assert d.isFloating() or window.dockWidgetArea(d) != 0, d.objectName() or d.windowTitle()
