"""Undo commands of the occlusion review. Each wraps one label edit of `store.detections`: the first `redo()`
makes the edit (one transaction, which returns the `LabelEdit` of what changed), `undo()` appends the old values
(`undo_edit`), later `redo()`s append the new ones again (`redo_edit`). No command keeps labels of its own: the
store is the truth, the command only remembers what its edit changed and where it was made.

Undo and redo return to the camera and frame where the edit was made, and select what was selected then
(CVAT-style "undo remembers the frame").
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QUndoCommand

from ...errors import Walt3DError
from ..errors import show_error


@dataclass(frozen=True)
class Place:
    """Where an edit was made: camera, timeline position, selected track and detection."""

    camera_id: int | None
    position: int
    track_id: int | None
    detection_id: int | None


class LabelCommand(QUndoCommand):
    """Label detections (`target="detection"`) or whole tracks (`target="track"`) U / O / X (None clears)."""

    def __init__(self, controller, target: str, ids: list[int], value: str | None, place: Place, text: str = ""):
        super().__init__(text or _describe(target, ids, value))
        self.controller, self.target, self.ids, self.value, self.place = controller, target, list(ids), value, place
        self.project = controller.window.project
        self.edit = None

    def redo(self) -> None:
        from ...store.detections import label_detections, label_tracks, redo_edit

        try:
            if self.edit is None:  # the edit itself
                fn = label_detections if self.target == "detection" else label_tracks
                self.edit = fn(self.project, self.ids, self.value)
                if not self.edit:  # nothing changed (already labelled so): keep it off the stack
                    self.setObsolete(True)
                    return
                self.controller.edited(self.edit, self.place, jump=False)
            else:
                redo_edit(self.project, self.edit)
                self.controller.edited(self.edit, self.place, jump=True)
        except Walt3DError as e:
            self.setObsolete(True)
            getattr(self, "failed", []).append(e)
            show_error(self.controller.window, e)

    def undo(self) -> None:
        from ...store.detections import undo_edit

        _replay(self, undo_edit)


class AppliedEditCommand(QUndoCommand):
    """An edit a job already made (label import): the first redo does nothing, then undo/redo as above."""

    def __init__(self, controller, project, edit, place: Place, text: str):
        super().__init__(text)
        self.controller, self.project, self.edit, self.place = controller, project, edit, place
        self._done = False

    def redo(self) -> None:
        from ...store.detections import redo_edit

        if not self._done:
            self._done = True
            return
        _replay(self, redo_edit)

    def undo(self) -> None:
        from ...store.detections import undo_edit

        _replay(self, undo_edit)


def _replay(cmd, step) -> None:
    """Undo or redo a stored edit (`store.detections.undo_edit` / `redo_edit`), then go back to where it was made."""
    try:
        step(cmd.project, cmd.edit)
    except Walt3DError as e:
        show_error(cmd.controller.window, e)
        return
    cmd.controller.edited(cmd.edit, cmd.place, jump=True)


def _describe(target: str, ids, value) -> str:
    what = {"U": "unoccluded", "O": "occluded", "X": "not an object", None: "no label"}[value]
    if target == "track":
        return f"Track {ids[0]} {what}" if len(ids) == 1 else f"{len(ids)} tracks {what}"
    return f"Detection {ids[0]} {what}" if len(ids) == 1 else f"{len(ids)} detections {what}"
