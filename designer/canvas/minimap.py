"""An overview of the whole journey in the view's corner; click or drag it to move there.

The overview is a picture of the scene re-drawn only when the journey changes (debounced),
not on every repaint of the view — painting a thousand cards for a thumbnail at every pan
frame would cost more than the pan. The visible area is drawn on top of that picture.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

from . import style
from .view import CanvasView

SIZE = (220, 150)  # the largest; narrower views get a smaller one (see place)
MIN_WIDTH = 110
MARGIN = 12


class Minimap(QWidget):
    def __init__(self, view: CanvasView) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(*SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self._image = QImage()
        self._source = QRectF()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.redraw)
        scene = view.canvas
        scene.document.edited.connect(self.schedule)
        scene.document.reloaded.connect(self.schedule)
        view.horizontalScrollBar().valueChanged.connect(self.update)
        view.verticalScrollBar().valueChanged.connect(self.update)
        view.zoomChanged.connect(self.update)
        self.redraw()

    def schedule(self) -> None:
        self._timer.start()

    def place(self) -> None:
        """Keep to the view's bottom-right corner (the view calls this on resize), at
        most a fifth of its width: a laptop-sized canvas keeps room for the journey."""
        area = self.view.viewport().geometry()
        width = max(MIN_WIDTH, min(SIZE[0], area.width() // 5))
        size = QSize(width, round(width * SIZE[1] / SIZE[0]))
        if size != self.size():
            self.setFixedSize(size)
            self.schedule()
        self.move(area.right() - self.width() - MARGIN, area.bottom() - self.height() - MARGIN)

    def redraw(self) -> None:
        scene = self.view.canvas
        content = QRectF(scene.content_rect).adjusted(-60, -60, 60, 60)
        self._source = _fit(content, self.width() - 8, self.height() - 8)
        ratio = self.devicePixelRatioF()
        image = QImage(
            round((self.width() - 8) * ratio),
            round((self.height() - 8) * ratio),
            QImage.Format.Format_ARGB32_Premultiplied,
        )
        image.setDevicePixelRatio(ratio)
        image.fill(style.CANVAS)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scene.render(painter, QRectF(0, 0, self.width() - 8, self.height() - 8), self._source)
        painter.end()
        self._image = image
        self.update()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.view.restyle()  # redraws this map if the scheme changed

    def _to_scene(self, pos: QPointF) -> QPointF:
        s = self._source
        scale = s.width() / (self.width() - 8)
        return QPointF(s.left() + (pos.x() - 4) * scale, s.top() + (pos.y() - 4) * scale)

    def _to_map(self, rect: QRectF) -> QRectF:
        s = self._source
        scale = (self.width() - 8) / s.width() if s.width() else 1.0
        return QRectF(
            4 + (rect.left() - s.left()) * scale,
            4 + (rect.top() - s.top()) * scale,
            rect.width() * scale,
            rect.height() * scale,
        )

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._image.devicePixelRatio() != self.devicePixelRatioF():
            self.redraw()  # moved to a screen of another pixel density: stay sharp
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(style.pen(style.BORDER, 1))
        painter.setBrush(style.CANVAS)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        painter.drawImage(QPointF(4, 4), self._image)
        seen = self.view.mapToScene(self.view.viewport().rect()).boundingRect()
        frame = self._to_map(seen).intersected(QRectF(self.rect()).adjusted(2, 2, -2, -2))
        fill = QColor(style.SELECTION)
        fill.setAlpha(30)
        painter.setBrush(fill)
        painter.setPen(style.pen(style.SELECTION, 1.2))
        painter.drawRect(frame)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.view.centerOn(self._to_scene(event.position()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.view.centerOn(self._to_scene(event.position()))
        event.accept()


def _fit(content: QRectF, width: float, height: float) -> QRectF:
    """``content`` grown to the minimap's aspect ratio, centred."""
    if content.isEmpty():
        return QRectF(-width / 2, -height / 2, width, height)
    aspect = width / height
    w, h = content.width(), content.height()
    if w / h > aspect:
        h = w / aspect
    else:
        w = h * aspect
    c = content.center()
    return QRectF(c.x() - w / 2, c.y() - h / 2, w, h)
