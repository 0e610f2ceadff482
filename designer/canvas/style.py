"""The canvas's look in one place: sizes, colours, fonts and the small type icons.

Geometry constants are shared with the layout (a card is ``CARD_W`` wide, laid out on a
``H_PITCH`` x ``V_PITCH`` grid, the spacing the bundled templates use), so automatic
layout and hand-placed templates look alike. Icons are drawn with QPainter paths, so
they stay sharp at any zoom and in SVG exports, and no image files need shipping.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
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


@dataclass(frozen=True)
class Colors:
    """Every colour the canvas paints, for one scheme. The module's upper-case names
    (``INK``, ``CARD``, ``TYPE_COLORS`` …) are the fields of the set in force."""

    scheme: str  # "light" | "dark": part of every sprite's cache key
    ink: QColor  # titles
    muted: QColor  # secondary text
    faint: QColor  # hints on an empty canvas
    border: QColor
    card: QColor
    canvas: QColor
    grid_dot: QColor
    selection: QColor
    shadow: QColor
    divider: QColor  # the line above a card's counters
    spark_axis: QColor
    processed: QColor
    rejected: QColor
    valid: QColor
    invalid: QColor
    warning: QColor
    glyph: QColor  # icons and marks on a coloured badge
    alert_mark: QColor  # the "!" on a card's error / warning dot
    type_colors: dict[str, QColor]  # badges and handles
    type_text: dict[str, QColor]  # the type caption written on the card
    edge_colors: dict[str, QColor]  # by trigger family: neutral, positive, negative, failure


def _map(**kwargs: str) -> dict[str, QColor]:
    return {k: QColor(v) for k, v in kwargs.items()}


_LIGHT_TYPES = _map(email="#2563EB", sms="#0D9488", server_action="#7C3AED", start="#334155")
LIGHT = Colors(
    scheme="light",
    ink=QColor("#1F2933"),
    muted=QColor("#616E7C"),
    faint=QColor("#9AA5B1"),
    border=QColor("#D3D8DE"),
    card=QColor("#FFFFFF"),
    canvas=QColor("#F5F7FA"),
    grid_dot=QColor("#C3CAD3"),
    selection=QColor("#2563EB"),
    shadow=QColor(15, 23, 42, 22),
    divider=QColor("#EEF1F4"),
    spark_axis=QColor("#E4E7EB"),
    processed=QColor("#16A34A"),
    rejected=QColor("#DC2626"),
    valid=QColor("#16A34A"),
    invalid=QColor("#DC2626"),
    warning=QColor("#D97706"),
    glyph=QColor("#FFFFFF"),
    alert_mark=QColor("#FFFFFF"),
    type_colors=_LIGHT_TYPES,
    type_text=_LIGHT_TYPES,
    edge_colors=_map(neutral="#8A96A3", positive="#16A34A", negative="#D97706", failure="#DC2626"),
)
# Dark: the window's greys (designer.theme), badges as saturated as in light (white glyphs
# read on both), lighter tints wherever a colour is text or a thin line on a dark card.
DARK = Colors(
    scheme="dark",
    ink=QColor("#E8EAED"),
    muted=QColor("#A4ACB8"),
    faint=QColor("#7D8695"),
    border=QColor("#40454E"),
    card=QColor("#2A2D34"),
    canvas=QColor("#1B1D22"),
    grid_dot=QColor("#3A3F48"),
    selection=QColor("#60A5FA"),
    shadow=QColor(0, 0, 0, 90),
    divider=QColor("#383C44"),
    spark_axis=QColor("#454A54"),
    processed=QColor("#4ADE80"),
    rejected=QColor("#F87171"),
    valid=QColor("#4ADE80"),
    invalid=QColor("#F87171"),
    warning=QColor("#FBBF24"),
    glyph=QColor("#FFFFFF"),
    alert_mark=QColor("#1B1D22"),  # the dark set's red and amber are light: dark ink
    type_colors=_map(email="#2563EB", sms="#0D9488", server_action="#7C3AED", start="#52627A"),
    type_text=_map(email="#7DB0FF", sms="#2DD4BF", server_action="#B79CFF", start="#A4B1C4"),
    edge_colors=_map(neutral="#8B95A3", positive="#4ADE80", negative="#FBBF24", failure="#F87171"),
)

# The set in force, as module names read at paint time (rebound by use()).
COLORS = LIGHT
SCHEME = LIGHT.scheme
INK = LIGHT.ink
MUTED = LIGHT.muted
FAINT = LIGHT.faint
BORDER = LIGHT.border
CARD = LIGHT.card
CANVAS = LIGHT.canvas
GRID_DOT = LIGHT.grid_dot
SELECTION = LIGHT.selection
SHADOW = LIGHT.shadow
DIVIDER = LIGHT.divider
SPARK_AXIS = LIGHT.spark_axis
PROCESSED = LIGHT.processed
REJECTED = LIGHT.rejected
VALID = LIGHT.valid
INVALID = LIGHT.invalid
WARNING = LIGHT.warning
GLYPH = LIGHT.glyph
ALERT_MARK = LIGHT.alert_mark
TYPE_COLORS = LIGHT.type_colors
TYPE_TEXT = LIGHT.type_text
EDGE_COLORS = LIGHT.edge_colors
EDGE_NEUTRAL = EDGE_COLORS["neutral"]
TYPE_CAPTIONS = {"email": "EMAIL", "sms": "SMS", "server_action": "SERVER ACTION"}


def use(colors: Colors) -> bool:
    """Paint with ``colors`` from now on; True if that changed the set in force.

    Items read the module's names at paint time and sprites are cached per scheme, so
    after a change a repaint is all the canvas needs (views do it, see ``CanvasView``).
    """
    global COLORS, SCHEME, EDGE_NEUTRAL
    if colors is COLORS:
        return False
    COLORS, SCHEME = colors, colors.scheme
    names = globals()
    for f in fields(Colors):
        if f.name != "scheme":
            names[f.name.upper()] = getattr(colors, f.name)
    EDGE_NEUTRAL = colors.edge_colors["neutral"]
    return True


def sync() -> bool:
    """Follow the application's palette (light or dark); True if the set changed."""
    from .. import theme

    return use(DARK if theme.is_dark() else LIGHT)


@contextmanager
def using(colors: Colors) -> Iterator[Colors]:
    """Paint with ``colors`` for a while (a light diagram export from a dark window)."""
    before = COLORS
    use(colors)
    try:
        yield colors
    finally:
        use(before)


def edge_family(trigger: str) -> str:
    """What the recipient did (positive), did not (negative), a bounce (failure)."""
    if trigger in wording.POSITIVE:
        return "positive"
    if trigger in wording.NEGATIVE:
        return "negative"
    if trigger in wording.FAILURE:
        return "failure"
    return "neutral"


def edge_color(trigger: str) -> QColor:
    """Green for what the recipient did, amber for what they did not, red for bounces."""
    return EDGE_COLORS[edge_family(trigger)]


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
        painter.setBrush(GLYPH)
        painter.drawPath(glyph)
    else:
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(pen(GLYPH, 1.6))
        painter.drawPath(glyph)
        if kind == "sms":
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(GLYPH)
            for x in (-3.5, 0.0, 3.5):
                painter.drawEllipse(QPointF(x, -1.3), 1.1, 1.1)
    painter.restore()
