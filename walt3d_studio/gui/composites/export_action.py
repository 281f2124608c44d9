"""File > Export dataset… and the Composites menu: the export runs in a child process (progress, log and Cancel
in View > Jobs) and leaves no folder behind when cancelled, failed or killed (the exporter writes atomically)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QMessageBox, QPushButton)

from ...store.composites import METHODS

from .. import keymap


def add_menus(window, dock, show_review) -> None:
    """File > Export dataset…, and the Composites menu (`show_review()` opens the dock large)."""
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
    review.triggered.connect(lambda: show_review())
    m.addAction(review)
    m.addAction(act)
    if "&View" in menus:
        menus["&View"].addAction(dock.toggleViewAction())


class ExportDialog(QDialog):
    """Where and how to export: a new folder, the annotation format, privacy treatment, arrays, methods."""

    def __init__(self, window):
        super().__init__(window)
        self.setWindowTitle("Export dataset")
        self.window_ = window
        form = QFormLayout(self)
        row = QHBoxLayout()
        self.path = QLineEdit()
        self.path.setPlaceholderText("a new folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        form.addRow("Folder", row)
        self.fmt = QComboBox()
        for f, text in (("coco-amodal", "COCO amodal"), ("kins", "KINS field names")):
            self.fmt.addItem(text, f)
        form.addRow("Format", self.fmt)
        self.blur = {k: QCheckBox(text) for k, text in (("faces", "people's heads"), ("plates", "number plates"))}
        brow = QHBoxLayout()
        for cb in self.blur.values():
            cb.setChecked(True)  # the paper's release blurs both; off only on request
            brow.addWidget(cb)
        form.addRow("Blur", brow)
        self.arrays = QCheckBox("depth / normal / instance maps and 3D fields (HDF5)")
        self.arrays.setChecked(True)
        form.addRow("Arrays", self.arrays)
        self.methods = {m: QCheckBox(m.upper() if m != "walt2d-bottom" else "WALT2D-bottom") for m in METHODS}
        mrow = QHBoxLayout()
        for m, cb in self.methods.items():
            cb.setChecked(m == "walt3d")
            mrow.addWidget(cb)
        form.addRow("Composites", mrow)
        self.why = QLabel("")
        self.why.setStyleSheet("color: #c0392b")
        form.addRow(self.why)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Export")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.setMinimumWidth(520)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export dataset to a new folder", self.window_._start_dir())
        if path:
            self.path.setText(path)

    def options(self) -> dict:
        return {"path": self.path.text().strip(), "fmt": self.fmt.currentData(),
                "blur": tuple(k for k, cb in self.blur.items() if cb.isChecked()),
                "arrays": self.arrays.isChecked(),
                "methods": tuple(m for m, cb in self.methods.items() if cb.isChecked())}

    def problem(self) -> str | None:
        o = self.options()
        if not o["path"]:
            return "Choose a folder to export to."
        if not o["methods"]:
            return "Tick at least one kind of composite to export."
        return None

    def accept(self) -> None:
        why = self.problem()
        self.why.setText(why or "")
        if why:  # said in the dialog, which stays open with what was filled in
            return
        super().accept()


def ask_export(window):
    """File > Export dataset… (and the dock's button): the dialog, then the export as a job."""
    if not window.can_write():
        return None
    dlg = ExportDialog(window)
    if dlg.exec() != QDialog.Accepted:
        return None
    o = dlg.options()
    force = False
    if Path(o["path"]).exists():
        answer = QMessageBox.question(window, "Replace dataset?",
                                      f"{o['path']} exists. Replace it when the export is done?")
        if answer != QMessageBox.Yes:
            return None
        force = True
    return export(window, o["path"], force=force, fmt=o["fmt"], blur=o["blur"], arrays=o["arrays"],
                  methods=o["methods"])


def export(window, path, force: bool = False, fmt: str = "coco-amodal", blur=("faces", "plates"),
           arrays: bool = True, methods=("walt3d",), validate: bool = True):
    """Export the open project to `path` in a child process (`walt3d export`, see gui/process_jobs.py):
    labelling goes on meanwhile; the status bar reports the result, a failure shows its message and log. Cancel
    (View > Jobs) stops it and leaves no folder. A finished export is validated (`walt3d validate`, a second job).
    """
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
        text = f"Exported {c['images']} images, {c['annotations']} annotations to {s['path']}"
        window.statusBar().showMessage(text + "; validating…", 10000)
        if validate:  # the dataset is checked before anyone trains on it; problems show as the job's failure
            window.last_validation = window.run_process_job(
                ["validate", s["path"]], f"Validating {Path(s['path']).name}",
                on_done=lambda _: window.statusBar().showMessage(text + ": valid", 15000))

    return window.run_process_job(args, f"Exporting {Path(path).name}", on_done=done)
