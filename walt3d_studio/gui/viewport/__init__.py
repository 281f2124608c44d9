"""The "3D" dock (issue 16): fitted vehicles and bodies in a VTK scene, in step with the frame view.

`install_viewport(window)` adds only an empty dock and a View menu entry: VTK is imported when the dock is
first shown (`dock.ViewportDock.ensure_scene`), so the app starts as fast as without it.
"""
from __future__ import annotations


def install_viewport(window):
    """Add the (hidden) 3D dock to a MainWindow; returns it. Installing twice returns the first one."""
    from .dock import ViewportDock

    if isinstance(getattr(window, "viewport", None), ViewportDock):
        return window.viewport
    window.viewport = ViewportDock(window)
    return window.viewport


def show_viewport(window, camera_mode: bool = False):
    """Show the 3D dock large (beside a narrow frame view), optionally through the camera; for `--panel 3d`."""
    from PySide6.QtCore import Qt

    dock = install_viewport(window)
    dock.show()
    dock.raise_()
    window.resizeDocks([dock], [int(window.width() * 0.55)], Qt.Horizontal)
    window.resizeDocks([dock], [int(window.height() * 0.75)], Qt.Vertical)
    window.settle()
    if camera_mode:
        dock.btn_camera.setChecked(True)
    dock.redraw()
    return dock


__all__ = ["install_viewport", "show_viewport"]
