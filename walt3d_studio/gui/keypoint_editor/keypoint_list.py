"""The schema's keypoints as a list: colour, name and state of each; the current one in bold. A click picks
the keypoint that the next click on the canvas places."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from .style import STATE_NAMES

SHORT = {2: "visible", 1: "occluded", 0: "–", -1: "proposed"}


class KeypointList(QListWidget):
    picked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFocusPolicy(Qt.NoFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setUniformItemSizes(True)
        self.setTextElideMode(Qt.ElideMiddle)
        f = self.font()
        f.setPointSizeF(max(f.pointSizeF() - 1.0, 7.0))
        self.setFont(f)
        self.names: tuple[str, ...] = ()
        self.itemClicked.connect(lambda it: self.picked.emit(self.row(it)))

    def set_schema(self, names, descriptions, colours) -> None:
        self.clear()
        self.names = tuple(names)
        for i, name in enumerate(self.names):
            pm = QPixmap(11, 11)
            pm.fill(QColor(*colours[i]))
            item = QListWidgetItem(QIcon(pm), name)
            item.setToolTip(descriptions[i] if i < len(descriptions) and descriptions[i] else name)
            self.addItem(item)

    def set_state(self, states, current: int | None) -> None:
        """`states`: v per keypoint (-1 = only proposed by the model)."""
        for i, name in enumerate(self.names):
            v = int(states[i])
            item = self.item(i)
            item.setText(f"{name}  {SHORT.get(v, STATE_NAMES.get(v, ''))}")
            f = item.font()
            f.setBold(i == current)
            item.setFont(f)
