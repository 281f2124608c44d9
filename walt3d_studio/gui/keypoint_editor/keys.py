"""Keys that belong to one panel: its actions' shortcuts win over the window's while focus is inside it.

The actions carry their shortcuts with Qt.WidgetWithChildrenShortcut, so they do nothing elsewhere (the review
and timeline keys keep working). Inside the panel a window-wide shortcut on the same key (F is also the frame
view's Fit) would make Qt call the key ambiguous and do neither; this filter claims the key first
(ShortcutOverride) and triggers the panel's action. Text fields (spin boxes, combo boxes, line edits) are left
alone so typing digits there still types.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QKeyCombination, QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLineEdit, QWidget


class PanelKeys(QObject):
    def __init__(self, panel: QWidget, actions: list[QAction]):
        super().__init__(panel)
        self.map: dict[int, QAction] = {}
        for a in actions:
            for seq in a.shortcuts():
                self.map[seq[0].toCombined()] = a
        for w in [panel, *panel.findChildren(QWidget)]:
            if not isinstance(w, (QAbstractSpinBox, QLineEdit, QComboBox)):
                w.installEventFilter(self)

    def action_for(self, ev) -> QAction | None:
        combo = QKeyCombination(ev.modifiers() & ~Qt.KeypadModifier, Qt.Key(ev.key()))
        return self.map.get(combo.toCombined())

    def eventFilter(self, obj, ev) -> bool:
        if ev.type() in (QEvent.ShortcutOverride, QEvent.KeyPress):
            action = self.action_for(ev)
            if action is not None:
                ev.accept()
                if ev.type() == QEvent.KeyPress and action.isEnabled():
                    action.trigger()
                return True
        return False
