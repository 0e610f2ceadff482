"""The canvas's look in one place: sizes, colours, fonts and the small type icons.

Geometry constants are shared with the layout (a card is ``CARD_W`` wide, laid out on a
``H_PITCH`` x ``V_PITCH`` grid, the spacing the bundled templates use), so automatic
layout and hand-placed templates look alike. Icons are drawn with QPainter paths, so
they stay sharp at any zoom and in SVG exports, and no image files need shipping.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontInfo, QPainter, QPainterPath, QPen, QPolygonF

from .. import wording

CARD_W, CARD_H = 260.0, 112.0
START_W, START_H = 280.0, 92.0
CORNER = 10.0
HANDLE_R = 6.0
GRID = 20.0
H_PITCH, V_PITCH = 320.0, 180.0

INK = QColor("#1F2933")
MUTED = QColor("#616E7C")
FAINT = QColor("#9AA5B1")
BORDER = QColor("#D3D8DE")
CARD = QColor("#FFFFFF")
CANVAS = QColor("#F5F7FA")
GRID_DOT = QColor("#C3CAD3")
SELECTION = QColor("#2563EB")
SHADOW = QColor(15, 23, 42, 22)
PROCESSED = QColor("#16A34A")
REJECTED = QColor("#DC2626")
VALID = QColor("#16A34A")
INVALID = QColor("#DC2626")
WARNING = QColor("#D97706")

TYPE_COLORS = {
    "email": QColor("#2563EB"),
    "sms": QColor("#0D9488"),
    "server_action": QColor("#7C3AED"),
    "start": QColor("#334155"),
}
TYPE_CAPTIONS = {"email": "EMAIL", "sms": "SMS", "server_action": "SERVER ACTION"}

EDGE_NEUTRAL = QColor("#8A96A3")


def edge_color(trigger: str) -> QColor:
    """Green for what the recipient did, amber for what they did not, red for bounces."""
    if trigger in wording.POSITIVE:
        return QColor("#16A34A")
    if trigger in wording.NEGATIVE:
        return QColor("#D97706")
    if trigger in wording.FAILURE:
        return QColor("#DC2626")
    return EDGE_NEUTRAL


_FAMILIES = ["Inter", "Segoe UI", "SF Pro Text", "Helvetica Neue", "Cantarell", "Noto Sans"]
_FAMILIES += ["Liberation Sans", "Arial", "DejaVu Sans"]


@cache
def font(role: str) -> QFont:
    """Fonts by role; pixel sizes so the canvas looks the same on every screen."""
    size, weight = {
        "title": (13.5, QFont.Weight.DemiBold),
        "body": (11.5, QFont.Weight.Normal),
        "caption": (9.5, QFont.Weight.Bold),
        "label": (10.5, QFont.Weight.DemiBold),
        "count": (11.0, QFont.Weight.DemiBold),
    }[role]
    f = QFont()
    f.setFamilies(_FAMILIES)
    f.setPixelSize(round(size))
    f.setWeight(weight)
    if role == "caption":
        f.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 0.6)
    f.setHintingPreference(QFont.HintingPreference.PreferVerticalHinting)
    # Name the font actually used, so SVG exports ask viewers for that same family.
    f.setFamily(QFontInfo(f).family())
    f.setFamilies(list(dict.fromkeys([f.family(), *_FAMILIES])))
    return f


_PENS: dict[tuple[int, float], QPen] = {}


def pen(color: QColor, width: float = 1.0) -> QPen:
    """A round-capped pen, shared: painting a thousand cards makes no new pens.
    Copy it (``QPen(pen(...))``) before changing it."""
    key = (color.rgba(), width)
    cached = _PENS.get(key)
    if cached is not None:
        return cached
    p = QPen(color, width)
    p.setCosmetic(False)
    p.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    _PENS[key] = p
    return p


@cache
def icon_path(kind: str) -> QPainterPath:
    """A glyph in a 16x16 box centred on the origin: envelope, bubble, bolt, play."""
    p = QPainterPath()
    if kind == "email":
        p.addRoundedRect(QRectF(-7.5, -5.5, 15, 11), 1.5, 1.5)
        p.moveTo(-7, -4.5)
        p.lineTo(0, 1)
        p.lineTo(7, -4.5)
    elif kind == "sms":
        p.addRoundedRect(QRectF(-7.5, -6.5, 15, 10.5), 3, 3)
        p.moveTo(-3.5, 4)
        p.lineTo(-5, 7.5)
        p.lineTo(0.5, 4)
    elif kind == "server_action":
        p.addPolygon(
            QPolygonF(
                [QPointF(x, y) for x, y in ((1.5, -8), (-5, 1), (-0.5, 1), (-1.5, 8), (5, -1))]
                + [QPointF(0.5, -1), QPointF(1.5, -8)]
            )
        )
    else:  # start: a play triangle
        p.addPolygon(QPolygonF([QPointF(-4, -6), QPointF(6, 0), QPointF(-4, 6), QPointF(-4, -6)]))
    return p


def draw_icon(painter: QPainter, kind: str, center: QPointF, size: float = 28.0) -> None:
    """The type badge: a rounded square in the type colour with a white glyph."""
    color = TYPE_COLORS.get(kind, TYPE_COLORS["start"])
    half = size / 2
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawRoundedRect(QRectF(center.x() - half, center.y() - half, size, size), 7, 7)
    painter.save()
    painter.translate(center)
    glyph = icon_path(kind)
    if kind in ("server_action", "start"):
        painter.setBrush(QColor("white"))
        painter.drawPath(glyph)
    else:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(pen(QColor("white"), 1.6))
        painter.drawPath(glyph)
        if kind == "sms":
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("white"))
            for x in (-3.5, 0.0, 3.5):
                painter.drawEllipse(QPointF(x, -1.3), 1.1, 1.1)
    painter.restore()
