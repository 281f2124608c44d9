"""Help: one key table (gui/keymap.py) behind every shortcut, the menus, the Help sheet (also on `?`) and the
README's Keys section; About names the version, licences and the shipped data's sources; hint text is readable
(WCAG contrast >= 4.5:1) in the light and the dark theme."""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication

from walt3d_studio.gui import keymap

from .gui_helpers import REPO


def _actions_with_keys(window):
    return [a for a in window.findChildren(QAction) if a.shortcuts()]


def test_every_shortcut_comes_from_the_key_table(window):
    found = {}
    for a in _actions_with_keys(window):
        kid = a.property("keymap_id")
        assert kid, f"action {a.text()!r} has keys {[s.toString() for s in a.shortcuts()]} not in the key table"
        table = [QKeySequence(k) for k in keymap.entry(kid).keys]
        assert a.shortcuts()[:len(table)] == table, kid
        found[kid] = a
    bound = {k.id for k in keymap.KEYS if k.bound}
    assert bound <= set(found), f"keys in the table that no action carries: {sorted(bound - set(found))}"
    # no key is claimed twice in one scope (window-wide actions)
    seen = {}
    for kid, a in found.items():
        if keymap.entry(kid).panel == keymap.KEYPOINTS:
            continue  # the editor's keys win only while focus is in the editor (PanelKeys)
        for s in a.shortcuts():
            assert s.toString() not in seen, (kid, seen.get(s.toString()))
            seen[s.toString()] = kid


def test_menus_show_the_keys_and_tooltips_name_them(window):
    menus = {m.title().replace("&", ""): m for m in (a.menu() for a in window.menuBar().actions()) if m}
    assert {"File", "Edit", "View", "Mining", "Keypoints", "Help"} <= set(menus)
    assert window.act_undo in menus["Edit"].actions() and window.act_undo.shortcut() == QKeySequence("Ctrl+Z")
    ed = window.keypoint_editor.editor
    for act, key in ((ed.act_cycle, "V"), (ed.act_back, "Shift+Tab"), (ed.act_deselect, "Esc")):
        assert key in act.toolTip(), act.toolTip()
    help_menu = menus["Help"]
    texts = [a.text().replace("&", "") for a in help_menu.actions()]
    assert "Keyboard shortcuts" in texts and any(t.startswith("About") for t in texts)


def test_question_mark_opens_the_sheet_of_every_key(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    qtbot.keyClick(window, "?")
    dlg = window.help.keys_dialog
    assert dlg is not None and dlg.isVisible()
    text = dlg.text.toPlainText()
    for panel, keys in keymap.by_panel():
        assert panel in text
        for k in keys:
            assert k.action in text and k.keys[0] in text, k.id


def test_about_shows_version_licences_and_data_sources(qtbot, window, tmp_path, monkeypatch):
    from walt3d_studio import __version__
    from walt3d_studio.gui import help as help_mod

    dlg = window.help.show_about()
    text = dlg.text.toPlainText()
    assert __version__ in text and "Apache-2.0" in text and "LGPL" in text
    assert "Intel" in text and "CC BY 4.0" in text  # the shipped footage's attribution
    # body meshes shipped later bring their own ATTRIBUTION.md: it is shown too
    res = tmp_path / "resources"
    (res / "footage").mkdir(parents=True)
    (res / "body").mkdir()
    (res / "footage" / "ATTRIBUTION.md").write_text("# Footage\n\nIntel sample videos, CC BY 4.0\n")
    (res / "body" / "ATTRIBUTION.md").write_text("# Body meshes\n\nodedstein/meshes, Max Planck Society\n")
    md = help_mod.about_markdown(res)
    assert "Body meshes (resources/body/)" in md and "odedstein/meshes" in md and "Intel sample videos" in md


def test_hints_are_readable_in_light_and_dark(qtbot, window):
    from walt3d_studio.gui.theme import contrast

    label = window.review.panel.keys_hint
    for dark in (False, True, False):
        window.theme.set_dark(dark)
        qtbot.wait(10)
        label.ensurePolished()
        fg = label.palette().color(QPalette.WindowText)
        bg = window.review.panel.widget().palette().color(QPalette.Window)
        assert contrast(fg, bg) >= 4.5, (dark, fg.name(), bg.name())
        assert fg != QApplication.palette().color(QPalette.WindowText)  # still muted: a hint, not body text


def test_readme_keys_section_is_the_key_table():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert keymap.readme_section() in readme, "run: python -m walt3d_studio.gui.keymap --readme"
