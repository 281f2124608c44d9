"""What the app-screenshot scripts share: a headless app whose errors never open a dialog, a main window with its
own settings file, and pumping the event loop while jobs run."""
from __future__ import annotations

import time
from pathlib import Path


def headless_app():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import walt3d_studio.gui.errors as gerr

    gerr.set_interactive(False)
    return app


def main_window(settings_dir: Path, size: tuple[int, int]):
    """A shown MainWindow of `size` that keeps its settings in `settings_dir` (never the user's)."""
    from PySide6.QtCore import QSettings

    from walt3d_studio.gui.main_window import MainWindow

    win = MainWindow(QSettings(str(Path(settings_dir) / "s.ini"), QSettings.IniFormat), remember_recent=False)
    win.resize(*size)
    win.show()
    return win


def pump(seconds: float) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def wait(job) -> None:
    """Until a job (thread or child process) is no longer active."""
    while job.active:
        pump(0.05)
