"""Adding docks without growing the window: a new dock becomes a tab beside the docks already in its area.

Stacking docks one under another adds their minimum heights, and Qt grows the window to fit them (past the
screen on a laptop). Tabs share one slot; `fit_to_screen` pulls a window that grew anyway back inside.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow


def add_dock(window: QMainWindow, dock: QDockWidget, area=Qt.RightDockWidgetArea, visible: bool = True) -> None:
    """Add `dock` to `area`, tabbed with the first docked (non-floating) widget already there."""
    others = [d for d in window.findChildren(QDockWidget)
              if d is not dock and not d.isFloating() and window.dockWidgetArea(d) == area]
    if not dock.objectName():
        dock.setObjectName(dock.windowTitle().replace(" ", "") + "Dock")  # saveState needs names
    window.addDockWidget(area, dock)
    if others:
        window.tabifyDockWidget(others[0], dock)
    dock.setVisible(visible)
    if visible:
        dock.raise_()
    fit_to_screen(window)


def fit_to_screen(window: QMainWindow) -> None:
    """Shrink the window back inside its screen's available area if adding something made it grow."""
    screen = window.screen()
    if screen is None:
        return
    avail = screen.availableGeometry()
    w, h = min(window.width(), avail.width()), min(window.height(), avail.height())
    if (w, h) != (window.width(), window.height()):
        window.resize(w, h)
