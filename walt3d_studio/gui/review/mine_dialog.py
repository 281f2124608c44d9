"""Mining > Mine detections…: pick the detector backend (and its weights or detections file) before mining.

Every backend from the registry is listed, the unavailable ones greyed with the reason (package missing, no
weights, no detections file), as `walt3d detectors` does. OK is enabled only when the selected backend can run
with what was given. `MineDialog.ask(parent)` returns a `MineSettings`, or None on cancel.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QFileDialog, QGridLayout,
                               QLabel, QLineEdit, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout)

from ...mining import registry
from ...mining.mine import MineSettings

_CLI_HINT = re.compile(r"\s*\(--[\w-]+ FILE\)")  # the CLI's "(--weights FILE)": the dialog has its own buttons


class MineDialog(QDialog):
    def __init__(self, parent=None, initial: MineSettings | None = None):
        super().__init__(parent)
        self.setWindowTitle("Mine detections")
        self.initial = initial or MineSettings()
        self.weights = self.initial.weights or ""
        self.import_path = self.initial.import_path or ""
        self.statuses: list[registry.DetectorStatus] = []

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Backend", "Origin", "Status"])
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SingleSelection)
        self.tree.header().setStretchLastSection(True)
        self.tree.currentItemChanged.connect(lambda *_: self._update())
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setMinimumHeight(self.description.fontMetrics().lineSpacing() * 3)
        self.description.setAlignment(Qt.AlignTop | Qt.AlignLeft)

        self.weights_edit, self.weights_button = QLineEdit(self.weights), QPushButton("Weights file…")
        self.import_edit, self.import_button = QLineEdit(self.import_path), QPushButton("Detections file…")
        self.weights_edit.setPlaceholderText("a local weights file (nothing is downloaded)")
        self.import_edit.setPlaceholderText("COCO results JSON or MOT txt")
        self.weights_edit.editingFinished.connect(lambda: self.set_weights(self.weights_edit.text()))
        self.import_edit.editingFinished.connect(lambda: self.set_import_path(self.import_edit.text()))
        self.weights_button.clicked.connect(self._choose_weights)
        self.import_button.clicked.connect(self._choose_import)
        files = QGridLayout()
        files.addWidget(self.weights_button, 0, 0)
        files.addWidget(self.weights_edit, 0, 1)
        files.addWidget(self.import_button, 1, 0)
        files.addWidget(self.import_edit, 1, 1)

        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Mine")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Detector backend:"))
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.description)
        layout.addLayout(files)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.resize(720, 400)
        self._refresh(select=self.initial.detector)

    # ------------------------------------------------------------------------------------------ state

    @property
    def ok_button(self) -> QPushButton:
        return self.buttons.button(QDialogButtonBox.Ok)

    def _spec(self, name: str):
        try:
            return registry.get_spec(name)
        except Exception:  # a plugin that failed to load has no spec: listed with its error only
            return None

    def _reason(self, st: registry.DetectorStatus) -> str:
        """Why `st` cannot run with the files given so far ("" when it can)."""
        spec = self._spec(st.name)
        reason = st.reason
        if spec is not None and spec.needs_weights and self.weights and not Path(self.weights).is_file():
            reason = reason or f"weights file not found: {self.weights}"
        if spec is not None and spec.needs_input:
            reason = spec.check() or ""
            if not self.import_path:
                reason = reason or st.reason
            elif not Path(self.import_path).is_file():
                reason = reason or f"detections file not found: {self.import_path}"
        return _CLI_HINT.sub("", reason)

    def _refresh(self, select: str | None = None) -> None:
        """Re-check every backend with the files given so far and rebuild the list, keeping the selection."""
        select = select or self.selected()
        self.statuses = registry.list_detectors(weights=self.weights or None)
        self.tree.blockSignals(True)
        self.tree.clear()
        grey = self.palette().color(self.palette().ColorGroup.Disabled, self.palette().ColorRole.Text)
        for st in self.statuses:
            reason = self._reason(st)
            item = QTreeWidgetItem([st.name, st.origin, "available" if not reason else f"unavailable: {reason}"])
            item.setData(0, Qt.UserRole, st.name)
            for col in range(3):
                item.setToolTip(col, st.description)
                if reason:
                    item.setForeground(col, grey)
            self.tree.addTopLevelItem(item)
            if st.name == select:
                self.tree.setCurrentItem(item)
        if self.tree.currentItem() is None and self.tree.topLevelItemCount():
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self.tree.blockSignals(False)
        for col in (0, 1):  # fit the names, with room between the columns
            self.tree.resizeColumnToContents(col)
            self.tree.setColumnWidth(col, self.tree.columnWidth(col) + 20)
        self._update()

    def _update(self) -> None:
        name = self.selected()
        st = next((s for s in self.statuses if s.name == name), None)
        spec = self._spec(name) if name else None
        self.weights_button.setEnabled(bool(spec and spec.needs_weights))
        self.weights_edit.setEnabled(bool(spec and spec.needs_weights))
        self.import_button.setEnabled(bool(spec and spec.needs_input))
        self.import_edit.setEnabled(bool(spec and spec.needs_input))
        self.description.setText(st.description if st else "")
        reason = self._reason(st) if st else "no backend selected"
        self.problem.setText(f"<b>{name}</b> cannot run: {reason}." if reason and st else "")
        self.ok_button.setEnabled(not reason)

    # ----------------------------------------------------------------------------------------- public

    def selected(self) -> str | None:
        item = self.tree.currentItem()
        return item.data(0, Qt.UserRole) if item is not None else None

    def select(self, name: str) -> None:
        self._refresh(select=name)

    def set_weights(self, path: str | Path | None) -> None:
        self.weights = str(path or "")
        self.weights_edit.setText(self.weights)
        self._refresh()

    def set_import_path(self, path: str | Path | None) -> None:
        self.import_path = str(path or "")
        self.import_edit.setText(self.import_path)
        self._refresh()

    def can_run(self) -> bool:
        return self.ok_button.isEnabled()

    def settings(self) -> MineSettings | None:
        """The settings for the selected backend, or None when it cannot run with what was given."""
        if not self.can_run():
            return None
        spec = self._spec(self.selected())
        return dataclasses.replace(self.initial, detector=self.selected(),
                                   weights=self.weights if spec.needs_weights else None,
                                   import_path=self.import_path if spec.needs_input else None)

    @classmethod
    def ask(cls, parent=None, initial: MineSettings | None = None) -> MineSettings | None:
        dialog = cls(parent, initial)
        return dialog.settings() if dialog.exec() == QDialog.Accepted else None

    # ---------------------------------------------------------------------------------------- choosers

    def _choose_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Weights file", self.weights or str(Path.home()),
                                              "Weights (*.pth *.pt *.pkl *.ckpt);;All files (*)")
        if path:
            self.set_weights(path)

    def _choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Detections file", self.import_path or str(Path.home()),
                                              "Detections (*.json *.txt);;All files (*)")
        if path:
            self.set_import_path(path)
