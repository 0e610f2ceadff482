"""Links between cards: a curve from a parent's output handle to a child's top, with the
trigger written on it ("clicked", "not opened") in the trigger family's colour.

An edge is keyed by its *child's* key — every activity has at most one parent — and its
end points are set by the scene whenever either card moves.
"""

from __future__ import annotations

from functools import lru_cache, partial

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
    QStaticText,
)
from PySide6.QtWidgets import QGraphicsItem, QStyle, QStyleOptionGraphicsItem, QWidget

from .. import wording
from . import style
from .painting import LOD_TEXT, static_text
from .sprites import draw_cached

LABEL_PAD_X, LABEL_H = 8.0, 18.0


@lru_cache(maxsize=64)
def _label_width(text: str) -> float:
    return QFontMetricsF(style.font("label")).horizontalAdvance(text)


def link_path(p0: QPointF, p1: QPointF) -> QPainterPath:
    """A vertical S-curve; when the child sits above its parent the curve loops round."""
    dy = max(40.0, abs(p1.y() - p0.y()) / 2)
    path = QPainterPath(p0)
    path.cubicTo(QPointF(p0.x(), p0.y() + dy), QPointF(p1.x(), p1.y() - dy), p1)
    return path


class EdgeItem(QGraphicsItem):
    """One parent → child link (or Start → root, unlabelled)."""

    def __init__(self, key: str, *, dashed: bool = False) -> None:
        super().__init__()
        self.key = key
        self.dashed = dashed
        self.setZValue(-1)
        if not dashed:
            self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self._p0 = self._p1 = QPointF()
        self._family = "neutral"  # the trigger's family: its colour is looked up at paint
        self._color: QColor | None = None  # set_color's override (a link being drawn)
        self._label: QStaticText | None = None
        self._label_w = 0.0
        self._path = QPainterPath()
        self._shape: QPainterPath | None = None
        self._bounds = QRectF()
        self._arrow = QPolygonF()
        self._label_rect = QRectF()

    def set_trigger(self, trigger: str | None) -> None:
        """``None`` for a Start link; otherwise the label and colour of ``trigger``."""
        text = wording.edge_label(trigger) if trigger else ""
        self._family = style.edge_family(trigger or "")
        self._label = static_text(text, "label") if text else None
        self._label_w = _label_width(text) if text else 0.0
        if not self._p0.isNull() or not self._p1.isNull():
            self._rebuild()

    def set_color(self, color: QColor) -> None:
        self._color = color
        self.update()

    def set_ends(self, p0: QPointF, p1: QPointF) -> None:
        if p0 == self._p0 and p1 == self._p1:
            return
        self._p0, self._p1 = QPointF(p0), QPointF(p1)
        self._rebuild()

    def _rebuild(self) -> None:
        self.prepareGeometryChange()
        end = self._p1 - QPointF(0, 5)  # the arrow tip touches the card's top
        self._path = link_path(self._p0, end)
        tip = self._p1
        self._arrow = QPolygonF([tip, tip + QPointF(-5, -8), tip + QPointF(5, -8)])
        if self._label is not None:
            mid = self._path.pointAtPercent(0.5)
            w = self._label_w + 2 * LABEL_PAD_X
            self._label_rect = QRectF(mid.x() - w / 2, mid.y() - LABEL_H / 2, w, LABEL_H)
        else:
            self._label_rect = QRectF()
        self._shape = None  # made when hit-testing asks for it
        self._bounds = self._path.controlPointRect().united(self._label_rect).adjusted(-8, -8, 8, 8)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            shape = stroker.createStroke(self._path)
            if not self._label_rect.isNull():
                shape.addRect(self._label_rect)
            self._shape = shape
        return self._shape

    def label_rect(self) -> QRectF:
        return self._label_rect

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            color = style.SELECTION
        elif self._color is not None:
            color = self._color
        else:
            color = style.EDGE_COLORS[self._family]
        # 1 px: Qt's fast stroker (wider pens go through the general one, 4-5x slower
        # on long curves — what a pan of a big journey spends its time on).
        pen = style.pen(color, 2.0 if selected else 1.0)
        if self.dashed:
            pen = QPen(pen)
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPolygon(self._arrow)
        if self._label is None:
            return
        if option.levelOfDetailFromTransform(painter.worldTransform()) < LOD_TEXT:
            return
        area = self._label_rect.adjusted(-1, -1, 1, 1)
        key = ("pill", self._label.text(), color.name(), area.width())
        draw_cached(painter, area, key, partial(_draw_pill, area, color, self._label))


def _draw_pill(area: QRectF, color: QColor, label: QStaticText, painter: QPainter) -> None:
    """The trigger label: a card-coloured pill, coloured outline and text (origin: area's
    corner)."""
    r = QRectF(1, 1, area.width() - 2, area.height() - 2)
    painter.setBrush(style.CARD)
    painter.setPen(style.pen(color, 1.0))
    painter.drawRoundedRect(r, r.height() / 2, r.height() / 2)
    painter.setFont(style.font("label"))
    painter.setPen(color)
    size = label.size()
    painter.drawStaticText(
        QPointF(r.center().x() - size.width() / 2, r.center().y() - size.height() / 2), label
    )
