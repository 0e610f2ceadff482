"""The activity palette: Email, SMS and Server action tiles to drag onto the canvas.

A tile starts a drag carrying the activity type (``PALETTE_MIME``); the view turns the
drop into an editor call. Clicking a tile emits ``activated`` so keyboard and click users
can add a step without dragging.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, QPointF, QSize, Qt, Signal
from PySide6.QtGui import QDrag, QIcon, QMouseEvent, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QToolButton, QVBoxLayout, QWidget

from ..document import TYPE_LABELS
from . import style
from .view import PALETTE_MIME

TYPES = ("email", "sms", "server_action")


def type_icon(type_: str, size: int = 28) -> QIcon:
    """The canvas badge as an icon, sharp on high-DPI screens."""
    ratio = 2.0
    pm = QPixmap(round(size * ratio), round(size * ratio))
    pm.setDevicePixelRatio(ratio)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    style.draw_icon(p, type_, QPointF(size / 2, size / 2), size)
    p.end()
    return QIcon(pm)


class PaletteTile(QToolButton):
    def __init__(self, type_: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.type_ = type_
        self.setText(TYPE_LABELS[type_])
        self.setIcon(type_icon(type_))
        self.setIconSize(QSize(28, 28))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
        self.setToolTip(f"Drag onto the canvas, or onto a step to add a {TYPE_LABELS[type_]}")
        self.setAutoRaise(True)
        self.setMinimumWidth(96)
        self._press: QPoint | None = None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            return super().mouseMoveEvent(event)
        if (event.position().toPoint() - self._press).manhattanLength() < 6:
            return None
        self._press = None
        self.setDown(False)
        drag = QDrag(self)
        drag.setMimeData(self.mime_data())
        drag.setPixmap(self.icon().pixmap(28, 28))
        drag.exec(Qt.DropAction.CopyAction)
        return None

    def mime_data(self) -> QMimeData:
        mime = QMimeData()
        mime.setData(PALETTE_MIME, self.type_.encode())
        return mime


class Palette(QWidget):
    activated = Signal(str)  # a tile was clicked: add that type where the user looks

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 8, 6, 8)
        box.setSpacing(4)
        title = QLabel("Add a step")
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        title.setEnabled(False)  # muted in every palette, light or dark
        box.addWidget(title)
        self.tiles: dict[str, PaletteTile] = {}
        for type_ in TYPES:
            tile = PaletteTile(type_, self)
            tile.clicked.connect(self._clicked)
            box.addWidget(tile)
            self.tiles[type_] = tile
        box.addStretch(1)

    def _clicked(self) -> None:
        tile = self.sender()
        if isinstance(tile, PaletteTile):
            self.activated.emit(tile.type_)
