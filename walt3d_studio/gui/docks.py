"""Adding docks without growing the window: a new dock becomes a tab beside the docks already in its area.

Stacking docks one under another adds their minimum heights, and Qt grows the window to fit them (past the
screen on a laptop). Tabs share one slot; `keep_size` pulls a window that grew anyway back to its size.
"""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow


def add_dock(window: QMainWindow, dock: QDockWidget, area=Qt.RightDockWidgetArea, visible: bool = True) -> None:
    """Add `dock` to `area`, tabbed with the first docked (non-floating) widget already there."""
    before = window.size()
    others = [d for d in window.findChildren(QDockWidget)
              if d is not dock and not d.isFloating() and window.dockWidgetArea(d) == area]
    if not dock.objectName():
        dock.setObjectName(dock.windowTitle().replace(" ", "") + "Dock")  # saveState needs names
    window.addDockWidget(area, dock)
    if others:
        window.tabifyDockWidget(others[0], dock)
        # shown later from its View-menu toggle: a tab only appears when it is the current one
        dock.toggleViewAction().toggled.connect(lambda on: on and dock.raise_())
    dock.setVisible(visible)
    if not visible:
        return  # a hidden dock takes no room
    dock.raise_()
    if not window.isVisible():
        return  # being built: whoever shows the window sizes it afterwards (and a late keep_size would undo that)
    keep_size(window, before)
    QTimer.singleShot(0, lambda: keep_size(window, before))  # Qt may grow the window on its next layout pass


def keep_size(window: QMainWindow, before: QSize) -> None:
    """If the window grew past `before`, bring it back (never past its screen's available area)."""
    if window.width() <= before.width() and window.height() <= before.height():
        return
    w, h = before.width(), before.height()
    screen = window.screen()
    if screen is not None:
        avail = screen.availableGeometry()
        w, h = min(w, avail.width()), min(h, avail.height())
    window.resize(w, h)
