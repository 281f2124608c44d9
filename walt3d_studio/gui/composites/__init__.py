"""Composite review (issue 18, GUI): the Composites dock, File > Export dataset…, and the Composites menu.

`install_composites(window)` adds them to a MainWindow through its public attributes and returns the dock.
Modules: `layers` (the picture with its layers, numpy only), `model` (filtered list, twin, histogram; Qt-free),
`dock` (widgets, keys), `commands` (undoable rejections), `export_action` (the export job).
"""
from __future__ import annotations


def install_composites(window):
    from PySide6.QtCore import Qt

    from .dock import CompositesDock
    from .export_action import add_menus

    if isinstance(getattr(window, "composites", None), CompositesDock):
        return window.composites
    dock = window.composites = CompositesDock(window)
    from ..docks import add_dock

    add_dock(window, dock, Qt.BottomDockWidgetArea, visible=False)  # opened from the Composites menu
    dock.visibilityChanged.connect(lambda on: on and dock.refresh())
    window.context.camera_changed.connect(lambda _: dock.isVisible() and dock.refresh())
    # composites made (a compositing child job ended) or the project switched: re-read what it shows
    window.context.store_changed.connect(lambda what, _cam: what == "composites" and dock.isVisible()
                                         and dock.refresh())
    dock._update_generate()
    add_menus(window, dock, lambda: show_composites(window))
    return dock


def show_composites(window):
    """Open the dock large (the --panel composites screenshot and the menu use this)."""
    from PySide6.QtCore import Qt

    dock = install_composites(window)
    dock.show()
    dock.raise_()
    window.resizeDocks([dock], [int(window.height() * 0.72)], Qt.Vertical)
    dock.refresh()
    return dock


__all__ = ["install_composites", "show_composites"]
