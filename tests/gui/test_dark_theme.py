"""Every panel is legible in the dark theme (and the light one): text labels and the tracks table's coloured
text keep a contrast of at least 4.5:1 against what is behind them."""
from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel

from walt3d_studio.gui.theme import contrast

from .test_review_workflow import demo, review, template  # noqa: F401  (fixtures)


def _check_labels(w):
    bad = []
    for lab in w.findChildren(QLabel):
        if not lab.isVisible() or not lab.text() or "background" in lab.styleSheet():
            continue  # banners draw their own dark background with light text
        fg = lab.palette().color(lab.foregroundRole())
        bg = lab.palette().color(QPalette.Window)
        if contrast(fg, bg) < 4.5:
            bad.append((lab.text()[:40], fg.name(), bg.name()))
    return bad


def test_panels_are_legible_in_dark_and_light(qtbot, review):
    from walt3d_studio.gui.review.tracks_model import COLUMN_KEYS

    w, rc = review
    rc.select_track(3)
    rc.label_track("U")
    rc.select_track(1)
    rc.label_track("O")
    w.keypoint_editor.open_editor()
    for dark in (True, False):
        w.theme.set_dark(dark)
        for _ in range(3):
            QApplication.processEvents()
        assert (QApplication.palette().color(QPalette.Window).lightness() < 80) == dark
        assert _check_labels(w) == []
        m = rc.panel.model
        base = QApplication.palette().color(QPalette.Base)
        for row in range(m.rowCount()):
            for col in (COLUMN_KEYS.index("label"), COLUMN_KEYS.index("reviewed"), COLUMN_KEYS.index("usable")):
                c = m.data(m.index(row, col), role=9)  # Qt.ForegroundRole
                if c is not None:
                    assert contrast(c, base) >= 4.5, (dark, row, col, c.name())
    assert w.settings.value("dark_theme") in (False, "false")
