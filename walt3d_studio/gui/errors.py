"""Showing errors: a `Walt3DError` becomes a message box with its message and hint; the app keeps running.

Anything else (a bug) shows a short message with the traceback under "Show Details…", and is also printed.
In headless runs (`--screenshot`) dialogs would block forever, so `set_interactive(False)` prints instead.
"""
from __future__ import annotations

import sys
import traceback

from PySide6.QtWidgets import QMessageBox, QWidget

from ..errors import Walt3DError

_interactive = True


def set_interactive(on: bool) -> None:
    global _interactive
    _interactive = on


def show_error(parent: QWidget | None, exc: BaseException, title: str = "WALT3D Studio") -> None:
    """Tell the user what went wrong and what to do. Never raises."""
    if isinstance(exc, OSError):  # a full or read-only disk is said as such, not as a bug
        from ..errors import explain_os_error

        exc = explain_os_error(exc) or exc
    if isinstance(exc, Walt3DError):
        text, hint, details, icon = exc.message, exc.hint, None, QMessageBox.Warning
    else:
        text = f"Something went wrong: {type(exc).__name__}: {exc}"
        hint = "Your project is unchanged. Please report this with the details below."
        details = getattr(exc, "traceback_text", None) or "".join(
            traceback.format_exception(type(exc), exc, exc.__traceback__))
        icon = QMessageBox.Critical
        print(details, file=sys.stderr)
    if not _interactive:
        print(f"error: {text}" + (f"\n  {hint}" if hint else ""), file=sys.stderr)
        return
    box = QMessageBox(icon, title, text, QMessageBox.Ok, parent)
    if hint:
        box.setInformativeText(hint)
    if details:
        box.setDetailedText(details)
    box.exec()


def install_excepthook() -> None:
    """Uncaught exceptions in slots go to a dialog instead of being lost on the terminal."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
            return
        value.traceback_text = "".join(traceback.format_exception(kind, value, tb))
        try:
            from PySide6.QtWidgets import QApplication

            show_error(QApplication.activeWindow(), value)
        except Exception:
            previous(kind, value, tb)

    sys.excepthook = hook
