"""Drawing primitives shared by the cards and links: laid-out text, the card frame, the
output handle and the type badge (the last three cached as sprites on screen).

Texts are QStaticText laid out once and shared by every item showing the same words;
frames, handles and badges look the same on every card, so they are drawn once per zoom
level (see :mod:`designer.canvas.sprites`). Colours come from :mod:`.style` at paint
time, so a scheme change needs only a repaint.
"""

from __future__ import annotations

from functools import lru_cache, partial

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QStaticText, QTextLayout

from . import style
from .sprites import draw_cached

LOD_TEXT = 0.38  # below this zoom, cards are drawn without text
LOD_SHAPES = 0.15  # below this zoom, rounded corners are drawn square


@lru_cache(maxsize=8192)
def static_text(text: str, role: str) -> QStaticText:
    """Laid-out text, shared by every card showing the same words (captions, phrases,
    labels repeat across a journey)."""
    st = QStaticText(text)
    st.setTextFormat(Qt.TextFormat.PlainText)
    st.setPerformanceHint(QStaticText.PerformanceHint.AggressiveCaching)
    st.prepare(font=style.font(role))
    return st


@lru_cache(maxsize=8192)
def elide(text: str, role: str, width: float) -> str:
    return QFontMetricsF(style.font(role)).elidedText(text, Qt.TextElideMode.ElideRight, width)


def two_lines(text: str, role: str, width: float) -> list[str]:
    """Wrap ``text`` on at most two lines of ``width``, eliding the second."""
    layout = QTextLayout(text, style.font(role))
    layout.beginLayout()
    lines: list[str] = []
    while len(lines) < 2:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        start = line.textStart()
        if len(lines) == 1:
            lines.append(elide(text[start:], role, width))
        else:
            lines.append(text[start : start + line.textLength()].rstrip())
    layout.endLayout()
    return lines


FRAME_PAD = 7.0  # room around a card for its glow and shadow


def draw_frame(
    w: float,
    h: float,
    outline: QColor | None,
    divider: float | None,
    painter: QPainter,
    rows: int = 2,
) -> None:
    """A card's shadow, glow, body and counters divider (with the counters' coloured
    dots), the body's top-left at (FRAME_PAD, FRAME_PAD)."""
    rect = QRectF(FRAME_PAD, FRAME_PAD, w, h)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(style.SHADOW)
    painter.drawRoundedRect(rect.translated(0, 2), style.CORNER, style.CORNER)
    if outline is not None:
        glow = QColor(outline)
        glow.setAlpha(45)
        painter.setBrush(glow)
        painter.drawRoundedRect(rect.adjusted(-5, -5, 5, 5), 14, 14)
    painter.setBrush(style.CARD)
    painter.setPen(style.pen(outline or style.BORDER, 2.0 if outline else 1.0))
    painter.drawRoundedRect(rect, style.CORNER, style.CORNER)
    if divider is None:
        return
    y = rect.top() + divider
    painter.setPen(style.pen(style.DIVIDER, 1))
    painter.drawLine(QPointF(rect.left() + 12, y), QPointF(rect.right() - 12, y))
    painter.setPen(Qt.PenStyle.NoPen)
    # Steps: processed, rejected. Messages (three rows for email): sent and rejected,
    # then rates, in a neutral colour.
    dots = (
        (style.PROCESSED, style.REJECTED) if rows < 3 else (style.PROCESSED,) + (style.MUTED,) * 2
    )
    for row, dot in enumerate(dots[:rows]):
        painter.setBrush(dot)
        painter.drawEllipse(QPointF(rect.left() + 17, y + COUNTERS_DY + 7.5 + row * 16), 3, 3)


COUNTERS_DY = 8.0  # first counter line, below the divider


def draw_handle(kind: str, hot: bool, painter: QPainter) -> None:
    color = style.TYPE_COLORS[kind]
    center = QPointF(10, 10)
    r = style.HANDLE_R + (2 if hot else 0)
    painter.setPen(style.pen(color, 1.5))
    painter.setBrush(color if hot else style.CARD)
    painter.drawEllipse(center, r, r)
    if hot:
        painter.setPen(style.pen(style.GLYPH, 1.5))
        painter.drawLine(center + QPointF(-3.5, 0), center + QPointF(3.5, 0))
        painter.drawLine(center + QPointF(0, -3.5), center + QPointF(0, 3.5))


def _draw_icon(kind: str, painter: QPainter) -> None:
    style.draw_icon(painter, kind, QPointF(14, 14))


def paint_icon(painter: QPainter, kind: str, center: QPointF) -> None:
    area = QRectF(center.x() - 14, center.y() - 14, 28, 28)
    draw_cached(painter, area, ("icon", kind), partial(_draw_icon, kind))
