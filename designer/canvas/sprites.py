"""Vector drawings cached as pixmaps at the screen's exact scale, then blitted.

Antialiased rounded rectangles, shadows and glyphs are what a canvas of a thousand cards
spends its frames on; every card's frame looks the same, so it is drawn once per zoom
level and copied pixel for pixel (a translation-only blit, Qt's fastest path). Sprites
are used only on raster devices: an SVG or PDF export gets true vectors.

A sprite is keyed by what it shows, its size, the zoom, the device pixel ratio (a 2x
screen gets 2x pixels, never an upscaled 1x picture) and the colour scheme in force, so
a light export drawn from a dark window neither uses nor spoils the window's sprites.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPaintEngine, QPainter, QPixmap

from . import style


def raster_scale(painter: QPainter) -> float | None:
    """Device pixels per unit when a sprite can stand in for vectors, else None.

    The device transform counts everything between the item and the pixels: the view's
    zoom, a render's window/viewport and the device pixel ratio — also when a widget is
    rendered into a 2x image, where ``painter.device()`` is the 1x widget.
    """
    engine = painter.paintEngine()
    if engine is None or engine.type() != QPaintEngine.Type.Raster:
        return None
    t = painter.deviceTransform()
    if t.m12() or t.m21() or abs(t.m11() - t.m22()) > 1e-9 or t.m11() <= 0:
        return None  # rotated, sheared or mirrored: draw vectors
    return t.m11()


_CACHE: OrderedDict[tuple[object, ...], QPixmap] = OrderedDict()
CACHE_SIZE = 128  # a few card states x a few zoom levels


def clear() -> None:
    """Forget every sprite (the scheme changed: the other scheme's are dead weight)."""
    _CACHE.clear()


def _sprite(
    key: tuple[object, ...],
    size: tuple[float, float],
    scale: float,
    dpr: float,
    draw: Callable[[QPainter], None],
) -> QPixmap:
    full = (key, size, scale, dpr, style.SCHEME)
    cached = _CACHE.get(full)
    if cached is not None:
        _CACHE.move_to_end(full)
        return cached
    w, h = size
    pm = QPixmap(max(1, round(w * scale * dpr)), max(1, round(h * scale * dpr)))
    pm.setDevicePixelRatio(dpr)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    p.scale(scale, scale)
    draw(p)
    p.end()
    _CACHE[full] = pm
    if len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return pm


def draw_cached(
    painter: QPainter,
    area: QRectF,
    key: tuple[object, ...],
    draw: Callable[[QPainter], None],
) -> None:
    """Draw ``draw`` (which paints in ``area``'s coordinates, origin at its top-left)
    into ``area``: from a pixmap on raster devices, as vectors elsewhere.

    ``key`` must identify what ``draw`` paints; the same key always draws the same.
    """
    pixels = raster_scale(painter)
    if pixels is None:
        painter.save()
        painter.translate(area.topLeft())
        draw(painter)
        painter.restore()
        return
    at = painter.deviceTransform().map(area.topLeft())  # in device pixels
    painter.save()
    painter.resetTransform()
    # What is left is the device pixel ratio (and an offset when rendering a widget).
    screen = painter.deviceTransform()
    dpr = round(screen.m11(), 4) or 1.0
    scale = round(pixels / dpr, 4)
    pixmap = _sprite(key, (area.width(), area.height()), scale, dpr, draw)
    # Snap to a device pixel so the copy is 1:1 (no resampling).
    x = (round(at.x()) - screen.dx()) / dpr
    y = (round(at.y()) - screen.dy()) / dpr
    painter.drawPixmap(QPointF(x, y), pixmap)
    painter.restore()
