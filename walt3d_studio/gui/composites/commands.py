"""Undoable rejection of a composite or one object in it. The store keeps every verdict as a human label
(newest wins), so undo writes the previous verdict back rather than deleting anything."""
from __future__ import annotations

import getpass

from PySide6.QtGui import QUndoCommand

from ...store.composites import set_rejected


class RejectCommand(QUndoCommand):
    def __init__(self, dock, composite_id: int, object_index: int | None, rejected: bool):
        what = f"composite {composite_id}" if object_index is None else f"object {object_index} of {composite_id}"
        super().__init__(("Reject " if rejected else "Accept ") + what)
        self.dock, self.cid, self.idx, self.rejected = dock, composite_id, object_index, rejected
        self.project = dock.model.project
        self.previous: bool | None = None

    def redo(self) -> None:
        old = set_rejected(self.project, self.cid, self.idx, self.rejected, getpass.getuser())
        if self.previous is None:
            self.previous = old
        self.dock.edited(self.cid)

    def undo(self) -> None:
        set_rejected(self.project, self.cid, self.idx, bool(self.previous), getpass.getuser())
        self.dock.edited(self.cid)
