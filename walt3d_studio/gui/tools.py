"""What every frame-view tool (the static-occluder brush, calibration lines) shares: its own undo scope, a way
out with Escape that asks before throwing work away, and the rule that review keys wait while a tool is open.

A tool has `undo_stack` (its strokes or lines, undone one by one while it is open; its Save is then one entry on
the window's stack), `has_unsaved()`, `save()` and `close_tool()`. The window's Undo / Redo act on the active
tool's stack while one is open (`active_stack`), so Ctrl+Z never reaches back into review labels mid-stroke.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QLabel, QMessageBox, QSizePolicy

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


class StepCommand(QUndoCommand):
    """A step already made on screen (the first redo does nothing); undo/redo call the given functions."""

    def __init__(self, text: str, undo: Callable[[], None], redo: Callable[[], None]):
        super().__init__(text)
        self._undo, self._redo, self._done = undo, redo, True

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self._redo()

    def undo(self) -> None:
        self._undo()


def active_tool(window):
    tool = window.frame_view.vb.tool
    return tool if tool is not None and hasattr(tool, "undo_stack") else None


def active_stack(window):
    """The undo stack Ctrl+Z acts on now: the open tool's, else the window's."""
    tool = active_tool(window)
    return tool.undo_stack if tool is not None else window.undo_stack


def ask_unsaved(parent, what: str) -> str:
    """Save / Discard / Cancel for unsaved work in a tool (tests replace this function)."""
    box = QMessageBox(QMessageBox.Question, "Unsaved changes", f"{what} are not saved yet.",
                      QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, parent)
    box.setInformativeText("Save them, discard them, or keep working.")
    box.setDefaultButton(QMessageBox.Save)
    r = box.exec()
    return {QMessageBox.Save: SAVE, QMessageBox.Discard: DISCARD}.get(r, CANCEL)


def leave(tool, parent, what: str) -> bool:
    """Close a tool, asking first when it holds unsaved work. False when the person chose to stay."""
    if tool.has_unsaved():
        answer = ask_unsaved(parent, what)
        if answer == CANCEL:
            return False
        if answer == SAVE:
            return bool(tool.save())
    tool.close_tool()
    return True


def leave_active(window) -> bool:
    """Escape: leave the open tool (if any)."""
    tool = active_tool(window)
    if tool is None:
        return False
    return tool.leave()


def blocked_by_tool(window) -> bool:
    """Review keys wait while a tool is open; say so in the status bar."""
    tool = active_tool(window)
    if tool is None:
        return False
    window.statusBar().showMessage(f"{tool.windowTitle()} is open: finish it (Save) or leave it (Esc) first.",
                                   4000)
    return True


def install_tool_keys(window):
    """Escape leaves the open tool (the keypoint editor keeps its own Escape while focus is in it)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QAction

    from . import keymap

    act = QAction("Leave the tool", window)
    keymap.bind(act, "tool.leave")
    act.setShortcutContext(Qt.WindowShortcut)
    act.triggered.connect(lambda: leave_active(window))
    window.addAction(act)
    window.act_leave_tool = act
    return act


class WrapLabel(QLabel):
    """A word-wrapped label that always gets the height its text needs at its width (Qt docks otherwise
    squeeze wrapped labels to a line or two)."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(text, parent)
        self.setWordWrap(True)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        need = self.heightForWidth(self.width())
        if need > 0 and self.minimumHeight() != need:
            self.setMinimumHeight(need)


def fit_tool_height(dock) -> None:
    """A tool dock takes the height its content needs, not a share of the dock area (no blank strip)."""
    body = dock.widget()
    body.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
    dock.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
