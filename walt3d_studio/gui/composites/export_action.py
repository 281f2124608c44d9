"""File > Export dataset… and the Composites menu: the export runs in a child process (progress, log and Cancel
in View > Jobs) and leaves no folder behind when cancelled, failed or killed (the exporter writes atomically)."""
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


def export(window, path, force: bool = False, fmt: str = "coco-amodal", blur=("faces", "plates"),
           arrays: bool = True, methods=("walt3d",)):
    """Export the open project to `path` in a child process (`walt3d export`, see gui/process_jobs.py):
    labelling goes on meanwhile; the status bar reports the result, a failure shows its message and log."""
    if not window.can_write():
        return None
    blur = blur if isinstance(blur, str) else ",".join(blur) or "none"
    args = ["export", str(window.project.root), str(path), "--format", fmt, "--blur", blur]
    args += ["--force"] * bool(force) + ["--no-arrays"] * (not arrays)
    for m in methods:
        args += ["--method", m]

    def done(result):
        s = result["summary"]
        c = s["counts"]["total"]
        window.statusBar().showMessage(f"Exported {c['images']} images, {c['annotations']} annotations to "
                                       f"{s['path']}", 10000)

    return window.run_process_job(args, f"Exporting {Path(path).name}", on_done=done)
