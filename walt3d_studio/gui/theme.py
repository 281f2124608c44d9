"""Light and dark themes, and hint text that stays readable in both.

View > Dark theme switches the whole app to a dark Fusion palette (the choice is remembered; the first run
follows the system's colour scheme). Secondary text ("hints": key reminders, captions) is marked with
`mark_hint(label)` and coloured by one application style rule whose colour is chosen for a WCAG contrast of at
least 4.5:1 against the window background of the theme in use (grey #999 on white is only 2.8:1).
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget

MIN_CONTRAST = 4.5
_STYLE_BEGIN, _STYLE_END = "/* walt3d-theme */", "/* end walt3d-theme */"


def luminance(c: QColor) -> float:
    """WCAG relative luminance."""
    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hint_colour(palette: QPalette) -> QColor:
    """A muted text colour: the text colour blended towards the background as far as 4.5:1 contrast allows."""
    fg, bg = palette.color(QPalette.WindowText), palette.color(QPalette.Window)
    best = QColor(fg)
    for k in range(0, 61, 5):  # up to 60% of the way to the background
        t = k / 100
        c = QColor.fromRgbF(fg.redF() + (bg.redF() - fg.redF()) * t, fg.greenF() + (bg.greenF() - fg.greenF()) * t,
                            fg.blueF() + (bg.blueF() - fg.blueF()) * t)
        if contrast(c, bg) < MIN_CONTRAST + 0.2:
            break
        best = c
    return best


def dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor(45, 45, 48), QColor(30, 30, 32), QColor(230, 230, 230)
    for role, c in ((QPalette.Window, window), (QPalette.WindowText, text), (QPalette.Base, base),
                    (QPalette.AlternateBase, QColor(40, 40, 44)), (QPalette.ToolTipBase, QColor(60, 60, 64)),
                    (QPalette.ToolTipText, text), (QPalette.Text, text), (QPalette.Button, QColor(55, 55, 60)),
                    (QPalette.ButtonText, text), (QPalette.BrightText, QColor(255, 90, 90)),
                    (QPalette.Link, QColor(110, 170, 255)), (QPalette.Highlight, QColor(42, 110, 200)),
                    (QPalette.HighlightedText, QColor(255, 255, 255)), (QPalette.PlaceholderText, QColor(160, 160, 160))):
        p.setColor(role, c)
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        p.setColor(QPalette.Disabled, role, QColor(125, 125, 125))
    return p


def system_prefers_dark() -> bool:
    try:
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # Qt < 6.5
        return False


def is_dark(app: QApplication | None = None) -> bool:
    app = app or QApplication.instance()
    return luminance(app.palette().color(QPalette.Window)) < 0.2


def apply_theme(dark: bool, app: QApplication | None = None) -> None:
    """Switch the app's palette (Fusion style for both, so the two look alike) and the hint colour."""
    app = app or QApplication.instance()
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    hint = hint_colour(app.palette()).name()
    rule = f'{_STYLE_BEGIN} QLabel[hint="true"] {{ color: {hint}; }} {_STYLE_END}'
    sheet = app.styleSheet()
    if _STYLE_BEGIN in sheet:
        head, _, rest = sheet.partition(_STYLE_BEGIN)
        sheet = head + rest.partition(_STYLE_END)[2]
    app.setStyleSheet((sheet.strip() + " " + rule).strip())


def mark_hint(label: QWidget) -> QWidget:
    """Show a label as secondary text (readable in both themes)."""
    label.setProperty("hint", True)
    label.style().unpolish(label)
    label.style().polish(label)
    return label


class ThemeMenu:
    """View > Dark theme, remembered in the window's settings (first run: the system's scheme)."""

    def __init__(self, window):
        self.window = window
        self.act_dark = QAction("&Dark theme", window)
        self.act_dark.setCheckable(True)
        self.act_dark.setStatusTip("Switch between the light and the dark theme")
        stored = window.settings.value("dark_theme", None)
        dark = system_prefers_dark() if stored is None else str(stored).lower() in ("true", "1")
        self.act_dark.setChecked(dark)
        apply_theme(dark)
        self.act_dark.toggled.connect(self.set_dark)
        menus = {m.title(): m for m in (a.menu() for a in window.menuBar().actions()) if m is not None}
        if "&View" in menus:
            menus["&View"].addSeparator()
            menus["&View"].addAction(self.act_dark)

    def set_dark(self, on: bool) -> None:
        if self.act_dark.isChecked() != on:
            self.act_dark.setChecked(on)  # re-enters through toggled
            return
        apply_theme(on)
        self.window.settings.setValue("dark_theme", on)


def install_theme(window) -> ThemeMenu:
    if isinstance(getattr(window, "theme", None), ThemeMenu):
        return window.theme
    window.theme = ThemeMenu(window)
    return window.theme


_readable_cache: dict[tuple, QColor] = {}


def readable(rgb, background: QColor | None = None) -> QColor:
    """`rgb` darkened (light background) or lightened (dark background) just enough for 4.5:1 contrast; the hue
    stays, so a colour code still reads as itself. Cached per (colour, background)."""
    bg = background or QApplication.palette().color(QPalette.Base)
    key = (tuple(rgb), bg.rgb())
    c = _readable_cache.get(key)
    if c is None:
        c = QColor(*rgb)
        target = QColor(0, 0, 0) if luminance(bg) > 0.18 else QColor(255, 255, 255)
        for k in range(0, 101, 5):
            t = k / 100
            c = QColor.fromRgbF(*(a + (b - a) * t for a, b in ((QColor(*rgb).redF(), target.redF()),
                                                                (QColor(*rgb).greenF(), target.greenF()),
                                                                (QColor(*rgb).blueF(), target.blueF()))))
            if contrast(c, bg) >= MIN_CONTRAST:
                break
        _readable_cache[key] = c
    return QColor(c)
