"""Occlusion review (issue 3, GUI): the tracks panel, verdict overlays on the frame view, U/O/X labelling
with undo, "next unreviewed", and the Mining menu (mine, train the classifier, export/import labels).

`install_review(window)` adds all of it to a `MainWindow` through the window's public attributes and returns
the `ReviewController`. Modules: `tracks_model` (numpy-sorted table model), `tracks_panel` (the dock and
filmstrip), `overlays` (masks, boxes, ids, trails), `commands` (undo commands around the store's label edits),
`controller` (selection, keys, jobs), `data` (read-only store queries the panel needs), `style` (colours).
"""
from __future__ import annotations


def install_review(window):
    """Add the occlusion review to a MainWindow: a dock, overlays, keys (edits go on `window.undo_stack`) and a
    Mining menu. Returns the ReviewController. Installing twice
    returns the first one (a second set of the same shortcuts would make Qt call every key ambiguous)."""
    from .controller import ReviewController

    if isinstance(getattr(window, "review", None), ReviewController):
        return window.review
    window.review = ReviewController(window)
    return window.review


__all__ = ["install_review"]
