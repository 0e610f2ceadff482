"""The node cards: an activity (type colour and icon, name, when it runs, counters and a
15-day sparkline) and the Start node (target model, audience filter, records matching).

Items hold only what they draw, made from the document's data by the scene; they never
own or change model state. Cards do not override ``itemChange`` (a Python call for every
flag and position change of a thousand items): the drag gesture tells the scene which
cards moved and ends in a command pushed by the interaction code, not by the item.

Texts and sparklines are laid out on the first detailed paint, frames come from sprites,
and below a zoom threshold cards draw as plain shapes, so a journey of a thousand steps
opens and pans smoothly.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPolygonF,
    QStaticText,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneHoverEvent,
    QStyle,
    QStyleOptionGraphicsItem,
    QWidget,
)

from .. import wording
from ..document import Node
from . import style
from .painting import (
    COUNTERS_DY,
    FRAME_PAD,
    LOD_SHAPES,
    LOD_TEXT,
    draw_frame,
    draw_handle,
    elide,
    paint_icon,
    static_text,
    two_lines,
)
from .sprites import draw_cached
from .stats import EMPTY, NodeStats

SPARK_W, SPARK_H = 48.0, 24.0
ROW_H = 16.0  # one counter row


_SHAPES: dict[tuple[float, float], QPainterPath] = {}


def _card_shape(w: float, h: float) -> QPainterPath:
    """The card's body and its output handle as one path, made once per card size.

    One path holding both would use the odd-even rule: where the handle overlaps the
    body it would be a hole, and a press on the handle's upper half (easy to hit once
    zoomed in) found no card and dragged the canvas instead. ``united`` fixes that but
    is slow, hence the cache (a thousand cards share a few sizes).
    """
    shape = _SHAPES.get((w, h))
    if shape is None:
        body, handle = QPainterPath(), QPainterPath()
        body.addRoundedRect(QRectF(-w / 2, -h / 2, w, h), style.CORNER, style.CORNER)
        r = style.HANDLE_R + 4
        handle.addEllipse(QPointF(0, h / 2), r, r)
        shape = _SHAPES[w, h] = body.united(handle)
    return shape


class CardItem(QGraphicsItem):
    """What both cards share: geometry centred on the item's position, an output handle
    at the bottom centre, selection and drop-target outlines, a hover state."""

    WIDTH, HEIGHT = style.CARD_W, style.CARD_H
    DIVIDER: float | None = None  # y of the counters' divider line, from the card's top
    kind = "start"
    show_handle = True  # False in read-only scenes (rendered diagrams)

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptHoverEvents(True)
        self.drop_state: str | None = None  # "valid" | "invalid" while a link hovers
        self._hot_handle = False
        self.set_size(self.WIDTH, self.HEIGHT)

    def set_size(self, w: float, h: float) -> None:
        self.prepareGeometryChange()
        self.height = h
        self.rect = QRectF(-w / 2, -h / 2, w, h)
        self._bounds = self.rect.adjusted(-8, -8, 8, 8 + style.HANDLE_R)
        self._shape = _card_shape(w, h)

    # geometry -------------------------------------------------------------------------------
    def rows(self) -> int:
        """How many counter rows (each with its coloured dot) the card has."""
        return 2

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._shape

    def handle_pos(self) -> QPointF:
        return QPointF(0, self.height / 2)

    def in_handle(self, local: QPointF) -> bool:
        d = local - self.handle_pos()
        return d.x() * d.x() + d.y() * d.y() <= (style.HANDLE_R + 6) ** 2

    def output_anchor(self) -> QPointF:
        return self.mapToScene(self.handle_pos())

    def input_anchor(self) -> QPointF:
        return self.mapToScene(QPointF(0, -self.height / 2))

    # state ----------------------------------------------------------------------------------
    def set_drop_state(self, state: str | None) -> None:
        if state != self.drop_state:
            self.drop_state = state
            self.update()

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        hot = self.in_handle(event.pos())
        if hot != self._hot_handle:
            self._hot_handle = hot
            self.setCursor(Qt.CursorShape.CrossCursor if hot else Qt.CursorShape.ArrowCursor)
            self.update()

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        if self._hot_handle:
            self._hot_handle = False
            self.unsetCursor()
            self.update()

    # painting -------------------------------------------------------------------------------
    def paint_frame(self, painter: QPainter, option: QStyleOptionGraphicsItem) -> bool:
        """Shadow, body and outline; returns False when the zoom is too low for details."""
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        outline = {"valid": style.VALID, "invalid": style.INVALID}.get(self.drop_state or "")
        if outline is None and selected:
            outline = style.SELECTION
        if lod >= LOD_TEXT:
            w, h = self.rect.width(), self.rect.height()
            area = self.rect.adjusted(-FRAME_PAD, -FRAME_PAD, FRAME_PAD, FRAME_PAD)
            rows = self.rows()
            key = ("frame", w, h, outline.name() if outline else "", self.DIVIDER, rows)
            draw = partial(draw_frame, w, h, outline, self.DIVIDER, rows=rows)
            draw_cached(painter, area, key, draw)
            return True
        # Zoomed far out: a plain card with its type colour band, no text.
        painter.setPen(style.pen(outline or style.BORDER, 2.0 if outline else 1.0))
        painter.setBrush(style.CARD)
        band = QRectF(self.rect.left(), self.rect.top(), self.rect.width(), 26)
        if lod < LOD_SHAPES:  # corners are under a pixel: plain rectangles are cheaper
            painter.drawRect(self.rect)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(style.TYPE_COLORS[self.kind])
            painter.drawRect(band)
        else:
            painter.drawRoundedRect(self.rect, style.CORNER, style.CORNER)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(style.TYPE_COLORS[self.kind])
            painter.drawRoundedRect(band, style.CORNER, style.CORNER)
        return False

    def paint_handle(self, painter: QPainter) -> None:
        if not self.show_handle:
            return
        c = self.handle_pos()
        area = QRectF(c.x() - 10, c.y() - 10, 20, 20)
        key = ("handle", self.kind, self._hot_handle)
        draw_cached(painter, area, key, partial(draw_handle, self.kind, self._hot_handle))


class ActivityNode(CardItem):
    """One activity card, keyed by the activity key."""

    DIVIDER = 68.0

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable)
        self._problem: str | None = None  # "error" | "warning"
        self._problem_text = ""
        self.highlight: str | None = None  # a participant's trace state here (dashboard)
        self._node: Node | None = None
        self._stats: NodeStats = EMPTY
        self._spark: list[tuple[QPolygonF, str]] = []  # (line, style colour name)
        # Texts and sparklines are laid out on first detailed paint, not on creation:
        # of a thousand cards only those on screen at a readable zoom ever need them.
        self._texts_ready = self._stats_ready = False

    @property
    def node(self) -> Node | None:
        """The document data this card last drew (read-only view state)."""
        return self._node

    def set_node(self, node: Node) -> None:
        """Take the display data of ``node`` (the scene calls this on every change)."""
        self._node = node
        if node.type != self.kind:
            self.kind = node.type
            self.set_size(self.WIDTH, self.HEIGHT + ROW_H * (self.rows() - 2))
            self._stats_ready = False
        self._texts_ready = False
        self.update()

    def rows(self) -> int:
        """Counter rows: three for email (its five figures), two otherwise."""
        return 3 if self.kind == "email" else 2

    def set_stats(self, stats: NodeStats) -> None:
        if stats == self._stats:
            return
        self._stats = stats
        self._stats_ready = False
        self.update()

    def set_highlight(self, state: str | None) -> None:
        """Ring the card in the colour of a participant's trace state (None clears it)."""
        if state != self.highlight:
            self.highlight = state
            self.update()

    def set_problems(self, severity: str | None, text: str = "") -> None:
        """A badge for validation problems (None clears it); ``text`` is the tooltip."""
        if (severity, text) != (self._problem, self._problem_text):
            self._problem = severity
            self._problem_text = text
            self.setToolTip(text)
            self._texts_ready = False
            self.update()

    def texts(self) -> dict[str, str]:
        """What the card reads, line by line (for tests and accessibility)."""
        if not self._texts_ready:
            self._prepare_texts()
        if not self._stats_ready:
            self._prepare_stats()
        return {
            "caption": self._caption.text(),
            "name": self._name.text(),
            "when": self._phrase.text(),
            "processed": self._lines[0].text(),
            "rejected": self._lines[1].text(),
            "counters": "\n".join(t.text() for t in self._lines),
            "sparklines": str(len(self._spark)),
        }

    def _prepare_texts(self) -> None:
        node = self._node
        if node is None:
            return
        inner = self.WIDTH - 48 - 12 - (22 if self._problem else 0)
        caption = style.TYPE_CAPTIONS[node.type]
        if not node.trusted:
            caption += " · DISABLED"
        self._caption = static_text(caption, "caption")
        self._name = static_text(elide(node.name, "title", inner), "title")
        phrase = wording.trigger_phrase(node.trigger, node.delay)
        self._phrase = static_text(elide(phrase, "body", self.WIDTH - 60), "body")
        self._texts_ready = True

    def _prepare_stats(self) -> None:
        s = self._stats
        r = self.rect
        room = r.width() - 25 - 14 - SPARK_W - 4
        lines = wording.counter_lines(self.kind, s.processed, s.rejected, s.figures)
        self._lines = [static_text(elide(line, "body", room), "body") for line in lines]
        box = QRectF(r.right() - 14 - SPARK_W, r.bottom() - 12 - SPARK_H, SPARK_W, SPARK_H)
        top = max([1, *s.processed_series, *s.rejected_series])
        self._spark_box = box
        self._spark = []
        for series, color in (
            (s.rejected_series, "REJECTED"),
            (s.processed_series, "PROCESSED"),
        ):
            if not series or not any(series):
                continue
            step = box.width() / max(1, len(series) - 1)
            points = [
                QPointF(box.left() + i * step, box.bottom() - 1 - (v / top) * (box.height() - 2))
                for i, v in enumerate(series)
            ]
            self._spark.append((QPolygonF(points), color))
        self._stats_ready = True

    def tooltip_at(self, pos: QPointF) -> str:
        """What hovering shows: the sparkline's bucket under the pointer, every figure
        over the counters, else the problems."""
        if not self._stats_ready:
            self._prepare_stats()
        s = self._stats
        if self._spark and s.days and self._spark_box.adjusted(-4, -6, 4, 6).contains(pos):
            box = self._spark_box
            n = len(s.days)
            i = min(n - 1, max(0, round((pos.x() - box.left()) / box.width() * (n - 1))))
            hourly = n > 1 and (s.days[1] - s.days[0]).days == 0
            when = s.days[i].strftime("%a %d %b %H:00 UTC" if hourly else "%a %d %b")
            period = "last 48 hours" if hourly else "last 15 days"
            return (
                f"{when}: {s.processed_series[i]:,} processed, {s.rejected_series[i]:,} "
                f"rejected\n({period}; View ▸ Sparklines Over 48 Hours switches)"
            )
        if pos.y() > self.rect.top() + (self.DIVIDER or 0) and s.figures is not None:
            return wording.figures_tooltip(self.kind, s.figures)
        return self.header_tooltip()

    def header_tooltip(self) -> str:
        """The name and the "when" line in full when the card had to cut them short,
        then the problems."""
        if not self._texts_ready:
            self._prepare_texts()
        parts = []
        node = self._node
        if node is not None:
            if self._name.text() != node.name:
                parts.append(node.name)
            phrase = wording.trigger_phrase(node.trigger, node.delay)
            if self._phrase.text() != phrase:
                parts.append(phrase)
        if self._problem_text:
            parts.append(self._problem_text)
        return "\n".join(parts)

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        super().hoverMoveEvent(event)
        tip = self.tooltip_at(event.pos())
        if tip != self.toolTip():
            self.setToolTip(tip)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._node is None:
            return
        if not self.paint_frame(painter, option):
            return
        if not self._texts_ready:
            self._prepare_texts()
        if not self._stats_ready:
            self._prepare_stats()
        r = self.rect
        paint_icon(painter, self.kind, QPointF(r.left() + 26, r.top() + 26))
        painter.setFont(style.font("caption"))
        painter.setPen(style.TYPE_TEXT[self.kind] if self._node.trusted else style.WARNING)
        painter.drawStaticText(QPointF(r.left() + 48, r.top() + 11), self._caption)
        painter.setFont(style.font("title"))
        painter.setPen(style.INK)
        painter.drawStaticText(QPointF(r.left() + 48, r.top() + 24), self._name)
        painter.setFont(style.font("body"))
        painter.setPen(style.MUTED)
        painter.drawStaticText(QPointF(r.left() + 48, r.top() + 45), self._phrase)
        self._paint_counters(painter)
        if self._problem:
            self._paint_badge(painter)
        if self.highlight:
            self._paint_highlight(painter)
        self.paint_handle(painter)

    def _paint_highlight(self, painter: QPainter) -> None:
        color = {"processed": style.PROCESSED, "rejected": style.REJECTED, "error": style.INVALID}
        ring = color.get(self.highlight or "", style.SELECTION)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        dash = self.highlight in ("scheduled", "canceled")  # not (or never) reached
        pen = style.pen(ring, 3.0)
        if dash:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(
            self.rect.adjusted(-4, -4, 4, 4), style.CORNER + 3, style.CORNER + 3
        )

    def _paint_counters(self, painter: QPainter) -> None:
        r = self.rect
        y = r.top() + self.DIVIDER + COUNTERS_DY  # the dots are in the frame sprite
        for i, line in enumerate(self._lines):
            painter.drawStaticText(QPointF(r.left() + 25, y + ROW_H * i), line)
        if not self._spark:
            return  # nothing happened in 15 days: no empty chart
        box = self._spark_box
        painter.setPen(style.pen(style.SPARK_AXIS, 1))
        painter.drawLine(box.bottomLeft(), box.bottomRight())
        painter.setBrush(Qt.BrushStyle.NoBrush)
        for poly, color in self._spark:
            painter.setPen(style.pen(getattr(style, color), 1.6))
            painter.drawPolyline(poly)

    def _paint_badge(self, painter: QPainter) -> None:
        r = self.rect
        center = QPointF(r.right() - 20, r.top() + 20)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(style.INVALID if self._problem == "error" else style.WARNING)
        painter.drawEllipse(center, 8, 8)
        painter.setPen(style.pen(style.ALERT_MARK, 2))
        painter.drawLine(center + QPointF(0, -4), center + QPointF(0, 1))
        painter.drawPoint(center + QPointF(0, 4))


class StartNode(CardItem):
    """Where participants enter: the target model, the audience filter, how many match."""

    WIDTH, HEIGHT = style.START_W, style.START_H

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        # (where, font role, style colour name, text): colours are looked up at paint
        # time, so the card follows a scheme change.
        self._texts: list[tuple[QPointF, str, str, QStaticText]] = []

    def set_campaign(self, target: str, domain: list, matching: int | None) -> None:
        summary_lines = two_lines(wording.domain_summary(domain, target), "body", self.WIDTH - 28)
        self.set_size(self.WIDTH, self.HEIGHT - 16 * (2 - len(summary_lines)))
        r = self.rect
        title = wording.target_label(target)
        count = "" if matching is None else f"{matching:,} matching"
        texts = [
            (QPointF(r.left() + 48, r.top() + 11), "caption", "START", "START"),
            (QPointF(r.left() + 48, r.top() + 24), "title", "INK", title),
        ]
        if count:
            width = QFontMetricsF(style.font("label")).horizontalAdvance(count)
            texts.append((QPointF(r.right() - 14 - width, r.top() + 14), "label", "MUTED", count))
        for i, line in enumerate(summary_lines):
            texts.append((QPointF(r.left() + 14, r.top() + 50 + i * 16), "body", "MUTED", line))
        self._texts = [(pos, role, color, static_text(t, role)) for pos, role, color, t in texts]
        self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if not self.paint_frame(painter, option):
            return
        r = self.rect
        paint_icon(painter, "start", QPointF(r.left() + 26, r.top() + 26))
        for pos, role, color, text in self._texts:
            painter.setFont(style.font(role))
            painter.setPen(style.TYPE_TEXT["start"] if color == "START" else getattr(style, color))
            painter.drawStaticText(pos, text)
        self.paint_handle(painter)
