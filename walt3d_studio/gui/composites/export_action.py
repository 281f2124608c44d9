"""File > Export dataset… and the Composites menu: the export runs as a job (progress, Cancel) and leaves no
folder behind when cancelled or failed (the exporter writes atomically)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox

from .. import keymap


def add_menus(window, dock) -> None:
    mb = window.menuBar()
    menus = {m.title(): m for m in (a.menu() for a in mb.actions()) if m is not None}
    window.act_export_dataset = act = QAction("Export &dataset…", window)
    keymap.bind(act, "file.export_dataset")
    act.triggered.connect(lambda: ask_export(window))
    if "&File" in menus:
        menus["&File"].addSeparator()
        menus["&File"].addAction(act)
    m = mb.addMenu("&Composites")
    review = QAction("&Review composites", window)
    review.triggered.connect(lambda: _show(window))
    m.addAction(review)
    m.addAction(act)
    if "&View" in menus:
        menus["&View"].addAction(dock.toggleViewAction())


def _show(window):
    from . import show_composites

    show_composites(window)


def ask_export(window):
    if not window.can_write():
        return None
    path, _ = QFileDialog.getSaveFileName(window, "Export dataset to a new folder", window._start_dir())
    if not path:
        return None
    force = False
    if Path(path).exists():
        answer = QMessageBox.question(window, "Replace dataset?", f"{path} exists. Replace it when the export is done?")
        if answer != QMessageBox.Yes:
            return None
        force = True
    return export(window, path, force=force)


def export(window, path, force: bool = False, **kw):
    """Run the export of the open project to `path` as a job; the status bar reports the result."""
    from ...dataset.export import export_dataset

    if not window.can_write():
        return None
    project = window.project

    def work(ctx):
        return export_dataset(project, path, ctx=ctx, force=force, **kw)

    def done(s):
        c = s["counts"]["total"]
        window.statusBar().showMessage(f"Exported {c['images']} images, {c['annotations']} annotations to "
                                       f"{s['path']}", 10000)

    return window.run_job(work, f"Exporting {Path(path).name}", done)
