"""Orphaned edits in the review panel: a person's labels and keypoints that a re-run found no match for
(`store.orphans`). The "Orphaned edits" filter lists the camera's open ones; picking one goes to its old frame;
"Re-attach to selected" gives it to the object selected in the frame, "Discard" drops it. Both are undo
commands on the window's stack (the store keeps the truth; a command remembers only what it did).
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from ...errors import Walt3DError
from ..errors import show_error


class OrphanCommand(QUndoCommand):
    """Re-attach (`detection_id` given) or discard one orphaned edit."""

    def __init__(self, box: "OrphansBox", orphan_id: int, detection_id: int | None = None):
        super().__init__(f"Re-attach orphaned edit {orphan_id}" if detection_id is not None
                         else f"Discard orphaned edit {orphan_id}")
        self.box, self.orphan_id, self.detection_id = box, orphan_id, detection_id
        self.project = box.rc.window.project
        self.action = None

    def redo(self) -> None:
        from ...store.orphans import discard_orphan, reattach_orphan, redo_orphan_action

        try:
            if self.action is None:
                self.action = (reattach_orphan(self.project, self.orphan_id, self.detection_id)
                               if self.detection_id is not None else discard_orphan(self.project, self.orphan_id))
            else:
                redo_orphan_action(self.project, self.action)
        except Walt3DError as e:
            self.setObsolete(True)
            show_error(self.box.rc.window, e)
            return
        self.box.after_edit()

    def undo(self) -> None:
        from ...store.orphans import undo_orphan_action

        try:
            undo_orphan_action(self.project, self.action)
        except Walt3DError as e:
            show_error(self.box.rc.window, e)
            return
        self.box.after_edit()


class OrphansBox(QWidget):
    """The filter toggle and, when on, the list with its two actions (inside the review dock)."""

    def __init__(self, controller):
        super().__init__()
        self.rc = controller
        self.orphans = []
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.toggle = QCheckBox("Orphaned edits (0)")
        self.toggle.setObjectName("orphansFilter")
        self.toggle.setToolTip("Your labels and keypoints that mining again found no matching object for")
        self.list = QListWidget()
        self.list.setObjectName("orphansList")
        self.list.setMaximumHeight(110)
        row = QHBoxLayout()
        self.attach_button = QPushButton("Re-attach to selected object")
        self.discard_button = QPushButton("Discard")
        row.addWidget(self.attach_button)
        row.addWidget(self.discard_button)
        row.addStretch(1)
        lay.addWidget(self.toggle)
        lay.addWidget(self.list)
        lay.addLayout(row)
        self.buttons = row
        import pyqtgraph as pg

        # the selected orphan's old box, dashed magenta, on its frame
        self.old_box = pg.PlotCurveItem(pen=pg.mkPen((255, 0, 255), width=2, style=Qt.DashLine))
        controller.window.frame_view.add_item(self.old_box, 40)
        self.old_box.setVisible(False)
        self.toggle.toggled.connect(self._show_list)
        self.list.currentRowChanged.connect(self._on_row)
        self.attach_button.clicked.connect(self.reattach_selected)
        self.discard_button.clicked.connect(self.discard_selected)
        self._show_list(False)

    def _show_list(self, on: bool) -> None:
        for w in (self.list, self.attach_button, self.discard_button):
            w.setVisible(on)
        self._update_buttons()

    def reload(self) -> None:
        from ...store.orphans import list_orphans

        rc = self.rc
        keep = self.current_id()
        self.orphans = list_orphans(rc.project, rc.camera_id) if rc.project is not None and rc.camera_id else []
        self.toggle.setText(f"Orphaned edits ({len(self.orphans)})")
        self.list.blockSignals(True)
        self.list.clear()
        for o in self.orphans:
            pos = rc.position_of(o.frame_id) if o.frame_id is not None else -1
            item = QListWidgetItem(f"{o.describe()} · frame {pos if pos >= 0 else '?'} · "
                                   f"by {o.payload.get('who', '?')}")
            item.setData(Qt.UserRole, o.id)
            self.list.addItem(item)
            if o.id == keep:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self._update_buttons()

    def current_id(self) -> int | None:
        item = self.list.currentItem()
        return int(item.data(Qt.UserRole)) if item is not None else None

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(self.orphans) and self.orphans[row].frame_id is not None:
            pos = self.rc.position_of(self.orphans[row].frame_id)
            if pos >= 0:
                self.rc.go_to(pos)  # its old frame: the object it belonged to is probably there
        self._update_buttons()

    def _update_old_box(self) -> None:
        row = self.list.currentRow()
        o = self.orphans[row] if self.toggle.isChecked() and 0 <= row < len(self.orphans) else None
        if o is None or o.box is None or o.frame_id is None or self.rc.position_of(o.frame_id) != self.rc.position:
            self.old_box.setVisible(False)
            return
        x, y, w, h = o.box  # pixel (i, j) covers [i, i+1): the outline runs along the pixel edges
        xs = [x - 0.5, x + w - 0.5, x + w - 0.5, x - 0.5, x - 0.5]
        ys = [y - 0.5, y - 0.5, y + h - 0.5, y + h - 0.5, y - 0.5]
        self.old_box.setData(xs, ys)
        self.old_box.setVisible(True)

    def _update_buttons(self) -> None:
        self._update_old_box()
        has = self.current_id() is not None and not self.rc.window.jobs.busy
        self.attach_button.setEnabled(has and self.rc.detection_id is not None)
        self.discard_button.setEnabled(has)

    def reattach_selected(self) -> None:
        oid = self.current_id()
        if oid is None or self.rc.detection_id is None:
            return
        self.rc.undo_stack.push(OrphanCommand(self, oid, int(self.rc.detection_id)))

    def discard_selected(self) -> None:
        oid = self.current_id()
        if oid is not None:
            self.rc.undo_stack.push(OrphanCommand(self, oid))

    def after_edit(self) -> None:
        det = self.rc.detection_id
        self.rc.reload()  # labels changed: the tracks' cached columns and the overlays
        if det is not None:
            self.rc.select_detection(det)


def install_orphans(controller) -> OrphansBox:
    """Put the box under the review panel's filters; it follows the controller's selection."""
    box = OrphansBox(controller)
    controller.panel.widget().layout().insertWidget(1, box)
    controller.changed.connect(box._update_buttons)
    return box
