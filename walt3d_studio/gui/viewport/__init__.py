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


__all__ = ["install_viewport"]
