"""The Help menu: Keyboard shortcuts (one sheet of every key, per panel, from `keymap`) and About (version,
licences, and the attribution of the data the app ships, read from the resources' ATTRIBUTION.md files).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from . import keymap

RESOURCES = Path(__file__).resolve().parents[2] / "resources"

LICENCES = """
| Part | Licence |
| --- | --- |
| WALT3D Studio | Apache-2.0 |
| Qt for Python (PySide6) | LGPL-3.0 |
| pyqtgraph | MIT |
| NumPy, SciPy, OpenCV, pycocotools | BSD / Apache-2.0 |
| VTK, PyVista | BSD-3-Clause / MIT |
| PyTorch | BSD-3-Clause |
| SMPL body model (not shipped: each user supplies it) | Max Planck non-commercial licence |
"""


def attribution_files(resources: Path = RESOURCES) -> list[Path]:
    """Every ATTRIBUTION.md under resources/ (footage, body meshes, ...), in a stable order."""
    return sorted(resources.glob("*/ATTRIBUTION.md")) if resources.is_dir() else []


def about_markdown(resources: Path = RESOURCES) -> str:
    from .. import __version__

    parts = [f"# WALT3D Studio {__version__}",
             "Realistic, automatically labelled occlusion training data from a stationary camera's time-lapse, "
             "following WALT3D (Vuong, Reddy et al., CVPR 2024).",
             "## Licences", LICENCES.strip(), "## Data shipped with the app"]
    files = attribution_files(resources)
    by_text: dict[str, list[str]] = {}  # the same table copied beside several folders: shown once
    for f in files:
        by_text.setdefault(f.read_text(encoding="utf-8").strip(), []).append(f"resources/{f.parent.name}/")
    for text, folders in by_text.items():
        # the file's own title becomes a sub-heading naming the folders it describes
        title, _, body = text.partition("\n")
        parts.append(f"### {title.lstrip('# ')} ({', '.join(folders)})\n{body}")
    if not files:
        parts.append("No attribution files found under resources/.")
    return "\n\n".join(parts)


class _TextDialog(QDialog):
    def __init__(self, parent, title: str, size=(760, 620)):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(*size)
        lay = QVBoxLayout(self)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        lay.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)


class KeysDialog(_TextDialog):
    def __init__(self, parent=None):
        super().__init__(parent, "Keyboard shortcuts — WALT3D Studio", (820, 720))
        self.setObjectName("keysDialog")
        self.text.setHtml(keymap.sheet_html())


class AboutDialog(_TextDialog):
    def __init__(self, parent=None):
        super().__init__(parent, "About WALT3D Studio")
        self.setObjectName("aboutDialog")
        self.text.setMarkdown(about_markdown())


class HelpMenu:
    """Help > Keyboard shortcuts (? / F1) and Help > About; dialogs are modeless and reused."""

    def __init__(self, window):
        self.window = window
        self.keys_dialog: KeysDialog | None = None
        self.about_dialog: AboutDialog | None = None
        self.act_keys = QAction("&Keyboard shortcuts", window)
        keymap.bind(self.act_keys, "help.keys")
        self.act_keys.setShortcutContext(Qt.WindowShortcut)
        self.act_keys.triggered.connect(self.show_keys)
        window.addAction(self.act_keys)
        self.act_about = QAction("&About WALT3D Studio", window)
        self.act_about.triggered.connect(self.show_about)
        self.menu = window.menuBar().addMenu("&Help")
        self.menu.addActions([self.act_keys, self.act_about])

    def show_keys(self) -> KeysDialog:
        if self.keys_dialog is None:
            self.keys_dialog = KeysDialog(self.window)
        self.keys_dialog.show()
        self.keys_dialog.raise_()
        return self.keys_dialog

    def show_about(self) -> AboutDialog:
        if self.about_dialog is None:
            self.about_dialog = AboutDialog(self.window)
        self.about_dialog.show()
        self.about_dialog.raise_()
        return self.about_dialog


def install_help(window) -> HelpMenu:
    if isinstance(getattr(window, "help", None), HelpMenu):
        return window.help
    window.help = HelpMenu(window)
    return window.help
