"""The status bar's save indicator: tells a person whether their work is on disk.

Every edit is written to the project as it is made (one transaction per edit), so the usual state is "All
changes saved". Work that is not in the project yet lives only in an open tool (brush strokes, calibration lines
not computed): then the indicator says "Unsaved" and where to save. A project opened read-only says so.
"""
from __future__ import annotations

from PySide6.QtWidgets import QLabel

from .tools import active_tool

SAVED, UNSAVED, READ_ONLY, NONE = "saved", "unsaved", "read-only", "none"


class SaveIndicator(QLabel):
    def __init__(self, window):
        super().__init__("")
        self.setObjectName("saveIndicator")
        self.window_ = window
        self.state = NONE
        self._tool_stack = None
        window.undo_stack.indexChanged.connect(lambda _: self.refresh())
        window.frame_view.tool_changed.connect(self._on_tool)
        window.timeline.position_changed.connect(lambda _: self.refresh())  # projects open and close through it
        self.refresh()

    def _on_tool(self) -> None:
        if self._tool_stack is not None:
            try:
                self._tool_stack.indexChanged.disconnect(self._on_tool_step)
            except (RuntimeError, TypeError):
                pass
        tool = active_tool(self.window_)
        self._tool_stack = tool.undo_stack if tool is not None else None
        if self._tool_stack is not None:
            self._tool_stack.indexChanged.connect(self._on_tool_step)
        self.refresh()

    def _on_tool_step(self, _index: int) -> None:
        self.refresh()

    def refresh(self) -> None:
        w = self.window_
        tool = active_tool(w)
        if w.project is None:
            state, text, tip = NONE, "", ""
        elif w.project.readonly:
            state, text, tip = READ_ONLY, "Read-only", "Opened read-only: browse and export; nothing can be edited."
        elif tool is not None and tool.has_unsaved():
            state, text = UNSAVED, f"● Unsaved: {tool.windowTitle()}"
            tip = "This tool's work is not in the project yet: Save in the tool (Esc asks)."
        else:
            state, text = SAVED, "✓ All changes saved"
            tip = "Every edit is written to the project as you make it; there is nothing to save."
        self.state = state
        self.setText(text)
        self.setToolTip(tip)
        from .theme import is_dark

        colour = ("#ffb84d" if is_dark() else "#9a5500") if state == UNSAVED else ""  # >= 4.5:1 on either theme
        self.setStyleSheet(f"QLabel#saveIndicator {{ color: {colour}; font-weight: bold; }}" if colour else "")


def install_save_indicator(window) -> SaveIndicator:
    if isinstance(getattr(window, "save_indicator", None), SaveIndicator):
        return window.save_indicator
    window.save_indicator = SaveIndicator(window)
    window.statusBar().addPermanentWidget(window.save_indicator)
    return window.save_indicator
