"""Vector drawings cached as pixmaps at the screen's exact scale, then blitted.

Antialiased rounded rectangles, shadows and glyphs are what a canvas of a thousand cards
spends its frames on; every card's frame looks the same, so it is drawn once per zoom
level and copied pixel for pixel (a translation-only blit, Qt's fastest path). Sprites
are used only on raster devices: an SVG or PDF export gets true vectors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPaintEngine, QPainter, QPixmap


def raster_scale(painter: QPainter) -> float | None:
    """The painter's scale when a sprite can stand in for vectors, else None."""
    engine = painter.paintEngine()
    if engine is None or engine.type() != QPaintEngine.Type.Raster:
        return None
    t = painter.worldTransform()
    if t.m12() or t.m21() or abs(t.m11() - t.m22()) > 1e-9:
        return None  # rotated or sheared: draw vectors
    return t.m11()


def _dpr(painter: QPainter) -> float:
    device = painter.device()
    return float(device.devicePixelRatioF()) if device is not None else 1.0


_CACHE: OrderedDict[tuple[object, ...], QPixmap] = OrderedDict()
CACHE_SIZE = 128  # a few card states x a few zoom levels


def _sprite(
    key: tuple[object, ...],
    size: tuple[float, float],
    scale: float,
    dpr: float,
    draw: Callable[[QPainter], None],
) -> QPixmap:
    full = (key, size, scale, dpr)
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
    scale = raster_scale(painter)
    if scale is None:
        painter.save()
        painter.translate(area.topLeft())
        draw(painter)
        painter.restore()
        return
    scale = round(scale, 4)
    dpr = _dpr(painter)
    pixmap = _sprite(key, (area.width(), area.height()), scale, dpr, draw)
    at = painter.worldTransform().map(area.topLeft())
    painter.save()
    painter.resetTransform()
    # Snap to a device pixel so the copy is 1:1 (no resampling).
    painter.drawPixmap(QPointF(round(at.x() * dpr) / dpr, round(at.y() * dpr) / dpr), pixmap)
    painter.restore()
