"""Undoable keypoint edits. One edit = one `set_human_keypoints` call = one transaction (DESIGN).

The edit is written before the command is pushed, so a refused edit (bad input, read-only project) leaves
nothing on the undo stack; `redo` after an `undo` writes the new value again, `undo` writes the value the
edit replaced (None: the detection had no human keypoints, so undo falls back to the model's proposal).
The command keeps only the two values of its own edit, never a copy of the labels.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from PySide6.QtGui import QUndoCommand, QUndoStack

from ...errors import Walt3DError
from ...store import keypoints as kstore


class SetKeypointsCommand(QUndoCommand):
    def __init__(self, project, detection_id: int, schema: str, old, new, text: str,
                 on_applied: Callable[[int], None] | None = None):
        super().__init__(text)
        self.project = project
        self.detection_id = int(detection_id)
        self.schema = schema
        self.old = None if old is None else np.array(old, dtype=np.float64)
        self.new = None if new is None else np.array(new, dtype=np.float64)
        self.on_applied = on_applied
        self._written = True  # by `apply_edit`, before the push that calls redo()

    def redo(self) -> None:
        if self._written:
            self._written = False
        else:
            self._write(self.new)
        self._notify()

    def undo(self) -> None:
        self._write(self.old)
        self._notify()

    def _write(self, points) -> None:
        if self.project.conn is None:  # the project was closed: nothing left to undo in it
            self.setObsolete(True)
            return
        try:
            kstore.set_human_keypoints(self.project, self.detection_id, points, schema=self.schema)
        except Walt3DError as e:
            from ..errors import show_error

            self.setObsolete(True)
            show_error(None, e)

    def _notify(self) -> None:
        if self.on_applied is not None and self.project.conn is not None:
            self.on_applied(self.detection_id)


def same_points(a, b) -> bool:
    """Equal as the store would keep them (rounded to 1/1000 px, absent points at 0, 0)."""
    if a is None or b is None:
        return a is None and b is None
    a, b = (np.round(np.asarray(p, dtype=np.float64), kstore.DECIMALS) for p in (a, b))
    for p in (a, b):
        p[p[:, 2] == 0, :2] = 0.0
    return a.shape == b.shape and bool(np.array_equal(a, b))


def apply_edit(stack: QUndoStack, project, detection_id: int, schema: str, new, text: str,
               on_applied: Callable[[int], None] | None = None) -> SetKeypointsCommand | None:
    """Write `new` (a (K, 3) array, or None to clear) as the detection's human keypoints and push the undo
    command. Returns None, writing nothing, when the store already holds exactly that. Raises Walt3DError
    (nothing written, nothing pushed) when the store refuses the edit."""
    current = kstore.human_keypoints(project, detection_id, schema=schema)
    if (current is None and new is None) or (current is not None and new is not None
                                             and same_points(current.points, new)):
        return None
    old = kstore.set_human_keypoints(project, detection_id, new, schema=schema)
    cmd = SetKeypointsCommand(project, detection_id, schema, old, new, text, on_applied)
    stack.push(cmd)
    return cmd


class OrphanKeypointsCommand(QUndoCommand):
    """Re-attach an orphaned keypoint set to a detection (`detection_id` given) or discard it
    (`store.orphans`: one transaction each way; undo restores what the detection had and reopens the orphan).
    Like `SetKeypointsCommand`, the edit is written before the push (`apply_first`), so a refused one leaves
    nothing on the stack."""

    def __init__(self, project, orphan_id: int, detection_id: int | None,
                 on_applied: Callable[[int, bool], None] | None = None):
        super().__init__(f"Re-attach orphaned keypoints to vehicle {detection_id}" if detection_id is not None
                         else "Discard orphaned keypoints")
        self.project, self.orphan_id, self.detection_id = project, int(orphan_id), detection_id
        self.on_applied = on_applied
        self.action = None
        self._written = False

    def apply_first(self) -> None:
        """Write it: raises Walt3DError, writing nothing, when the store refuses."""
        from ...store.orphans import discard_orphan, reattach_orphan

        self.action = (reattach_orphan(self.project, self.orphan_id, self.detection_id)
                       if self.detection_id is not None else discard_orphan(self.project, self.orphan_id))
        self._written = True

    def redo(self) -> None:
        from ...store.orphans import redo_orphan_action

        if self._written:
            self._written = False
        elif not self._step(redo_orphan_action):
            return
        self._notify(False)

    def undo(self) -> None:
        from ...store.orphans import undo_orphan_action

        if self._step(undo_orphan_action):
            self._notify(True)

    def _step(self, fn) -> bool:
        if self.project.conn is None:  # the project was closed: nothing left to undo in it
            self.setObsolete(True)
            return False
        try:
            fn(self.project, self.action)
        except Walt3DError as e:
            from ..errors import show_error

            self.setObsolete(True)
            show_error(None, e)
            return False
        return True

    def _notify(self, undone: bool) -> None:
        if self.on_applied is not None and self.project.conn is not None:
            self.on_applied(self.orphan_id, undone)
