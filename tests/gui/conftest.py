"""GUI test fixtures: offscreen Qt, isolated settings, a window that releases its project, captured dialogs."""
import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import

import pytest  # noqa: E402

@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture
def dialogs(monkeypatch):
    """Message boxes are recorded (text, informative text) instead of blocking."""
    from PySide6.QtWidgets import QMessageBox

    shown = []

    def fake_exec(box):
        shown.append((box.text(), box.informativeText()))
        return QMessageBox.Ok

    monkeypatch.setattr(QMessageBox, "exec", fake_exec)
    return shown


@pytest.fixture
def make_window(qtbot, settings, dialogs):
    from walt3d_studio.gui.main_window import MainWindow

    windows = []

    def make():
        w = MainWindow(settings)
        qtbot.addWidget(w)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()  # cancels jobs, releases the project lock


@pytest.fixture
def window(make_window):
    return make_window()
