"""The canvas view: zoom around the cursor, pan, fit, a dotted grid, palette drops.

- Mouse wheel zooms around the cursor; a trackpad's two-finger scroll pans and its
  pinch zooms; Ctrl+wheel always zooms.
- Middle-button drag, or Space + left drag, pans; a left drag on empty canvas draws a
  rubber band that selects the cards it touches.
- Zoom in/out/100%/fit have the platform's standard shortcuts (the actions live on the
  view, so a window can put them in its menus).
- A palette change (the system or the user switched light/dark) restyles the canvas at
  once: the colour set, the scene's background, the sprites, the overlays.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QContextMenuEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QNativeGestureEvent,
    QPainter,
    QPen,
    QPolygonF,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsItem, QGraphicsView, QWidget

from . import sprites, style
from .scene import CampaignScene

PALETTE_MIME = "application/x-journeys-activity-type"
EMPTY_HINT = "Drag an Email, SMS or Server action here to start the journey"


class CanvasView(QGraphicsView):
    zoomChanged = Signal(float)
    MIN_ZOOM, MAX_ZOOM = 0.08, 3.0

    def __init__(self, scene: CampaignScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.canvas = scene
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.TextAntialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # A canvas pans by dragging and scrolling, like other node editors; scroll bars
        # would only frame an arbitrary margin around the journey.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.show_grid = True
        self.overlays: list[QWidget] = []  # corner widgets (the minimap), kept in place
        self._scheme = ""
        self.restyle()
        self._pan_from: QPoint | None = None
        self._space = False
        keys = QKeySequence.StandardKey
        self.zoom_in_action = self._action("Zoom &In", keys.ZoomIn, self.zoom_in)
        self.zoom_out_action = self._action("Zoom &Out", keys.ZoomOut, self.zoom_out)
        self.zoom_reset_action = self._action("&Actual Size", "Ctrl+0", self.reset_zoom)
        self.fit_action = self._action("&Fit to Window", "Ctrl+9", self.fit)

    def _action(
        self, text: str, keys: QKeySequence.StandardKey | str, slot: Callable[[], None]
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # --- light and dark ----------------------------------------------------------------------
    def restyle(self) -> None:
        """Follow the application palette: colours, background, sprites, overlays.

        Idempotent, so every widget that hears of a palette change may call it first.
        """
        if style.sync():
            sprites.clear()  # keyed per scheme, but the other scheme's are dead weight now
        if self._scheme == style.SCHEME:
            return
        self._scheme = style.SCHEME
        self.canvas.setBackgroundBrush(style.CANVAS)  # what scene.render() fills with
        self.resetCachedContent()
        self.canvas.update()
        self.viewport().update()
        for overlay in self.overlays:
            redraw = getattr(overlay, "redraw", None)
            if redraw is not None:
                redraw()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.restyle()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        for overlay in self.overlays:
            overlay.place()  # type: ignore[attr-defined]

    # --- zoom --------------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` keeping the scene point under ``anchor`` (view coords) still."""
        zoom = min(self.MAX_ZOOM, max(self.MIN_ZOOM, zoom))
        if abs(zoom - self.zoom()) < 1e-9:
            return
        at = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        fixed = self.mapToScene(at.toPoint())
        factor = zoom / self.zoom()
        self.scale(factor, factor)
        drift = QPointF(self.mapFromScene(fixed)) - at
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(drift.x()))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(drift.y()))
        self.zoomChanged.emit(self.zoom())

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom() * 1.25)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom() / 1.25)

    def reset_zoom(self) -> None:
        self.set_zoom(1.0)

    def fit(self) -> None:
        """Show the whole journey, never magnified beyond 100%."""
        rect = getattr(self.canvas, "content_rect", self.canvas.itemsBoundingRect())
        rect = QRectF(rect).adjusted(-40, -40, 40, 40)
        view = self.viewport().rect()
        if rect.isEmpty() or view.isEmpty():
            return
        # Keep the journey clear of the overlays in the bottom-right corner (the minimap):
        # beside them or above them, whichever leaves the larger zoom. Reserving their
        # width over the whole height halved a short, wide canvas (a tall Test dock).
        visible = [o for o in self.overlays if o.isVisible()]
        side = max((o.width() + 16 for o in visible), default=0)
        below = max((o.height() + 16 for o in visible), default=0)
        w, h = view.width(), view.height()
        narrower, shorter = max(w - side, w // 2), max(h - below, h // 2)
        beside = min(narrower / rect.width(), h / rect.height())
        above = min(w / rect.width(), shorter / rect.height())
        zoom = min(max(beside, above), 1.0)
        self.set_zoom(zoom)
        if not visible:
            self.centerOn(rect.center())
        elif beside >= above:
            self.centerOn(rect.center() + QPointF((w - narrower) / 2 / zoom, 0))
        else:
            self.centerOn(rect.center() + QPointF(0, (h - shorter) / 2 / zoom))

    def reveal(self, items: list[QGraphicsItem]) -> None:
        """Scroll until ``items`` (new or pasted cards) are in sight, clear of the
        overlays in the corner: a step added off screen is a step the user never saw."""
        if not items:
            return
        rect = QRectF()
        for item in items:
            rect = rect.united(item.sceneBoundingRect())
        visible = [o for o in self.overlays if o.isVisible()]
        xmargin = max((o.width() + 24 for o in visible), default=40)
        ymargin = max((o.height() + 24 for o in visible), default=40)
        view = self.viewport().rect()
        if rect.width() * self.zoom() + 2 * xmargin > view.width():
            xmargin = 40  # too wide to clear the minimap: keep the cards themselves in view
        if rect.height() * self.zoom() + 2 * ymargin > view.height():
            ymargin = 40
        self.ensureVisible(rect, xmargin, ymargin)

    def wheelEvent(self, event: QWheelEvent) -> None:
        trackpad = not event.pixelDelta().isNull()
        if trackpad and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(event)  # two-finger scroll pans
            return
        steps = event.angleDelta().y() or event.angleDelta().x()
        if steps:
            self.set_zoom(self.zoom() * 1.0015**steps, event.position())
        event.accept()

    def viewportEvent(self, event: QEvent) -> bool:
        if (
            isinstance(event, QNativeGestureEvent)
            and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture
        ):
            pos = self.viewport().mapFromGlobal(event.globalPosition().toPoint())
            self.set_zoom(self.zoom() * (1 + event.value()), QPointF(pos))
            return True
        return super().viewportEvent(event)

    # --- pan ---------------------------------------------------------------------------------
    def pan_by(self, dx: float, dy: float) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + round(dx))
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + round(dy))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        middle = event.button() == Qt.MouseButton.MiddleButton
        if middle or (self._space and event.button() == Qt.MouseButton.LeftButton):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            pos = event.position().toPoint()
            delta = pos - self._pan_from
            self._pan_from = pos
            self.pan_by(-delta.x(), -delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self._restore_cursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        """A right click on a card opens that step's menu (see ``CanvasWidget.card_menu``)."""
        card = self.canvas.card_at(self.mapToScene(event.pos()))
        key = getattr(card, "key", None)
        owner = self.parentWidget()
        if key is None or not hasattr(owner, "card_menu"):
            super().contextMenuEvent(event)
            return
        owner.popup(owner.card_menu(key), event.globalPos())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() == Qt.Key.Key_Escape and self.canvas.interactions is not None:
            self.canvas.interactions.cancel()
        owner = self.parentWidget()
        plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        arrows = {
            Qt.Key.Key_Left: (-1, 0),
            Qt.Key.Key_Right: (1, 0),
            Qt.Key.Key_Up: (0, -1),
            Qt.Key.Key_Down: (0, 1),
        }
        key = event.key()
        if plain and key in arrows and hasattr(owner, "step_selection"):
            done = owner.step_selection(*arrows[key])
        elif plain and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            done = hasattr(owner, "inspect_selection") and owner.inspect_selection()
        else:
            done = False
        if done:
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self._restore_cursor()
            return
        super().keyReleaseEvent(event)

    def _restore_cursor(self) -> None:
        if self._space:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().unsetCursor()

    # --- palette drops -----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(PALETTE_MIME) and self.canvas.interactions is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if not event.mimeData().hasFormat(PALETTE_MIME) or self.canvas.interactions is None:
            event.ignore()
            return
        type_ = bytes(event.mimeData().data(PALETTE_MIME).data()).decode()
        view_pos = event.position().toPoint()
        event.acceptProposedAction()
        self.canvas.interactions.drop_activity(
            type_, self.mapToScene(view_pos), self.viewport().mapToGlobal(view_pos)
        )

    # --- background --------------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        rect = QRectF(rect)
        painter.fillRect(rect, style.CANVAS)
        if not self.show_grid or self.zoom() < 0.5:
            return
        g = style.GRID * 2
        left = int(rect.left() // g) * g
        top = int(rect.top() // g) * g
        cols = int((rect.right() - left) // g) + 1
        rows = int((rect.bottom() - top) // g) + 1
        # Device pixels per screen pixel: 2 on a high-DPI screen (or a 2x render).
        zoom = painter.worldTransform().m11() or 1.0
        ratio = painter.deviceTransform().m11() / zoom
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if ratio < 1.5:
            # One-pixel, non-antialiased points: Qt's fastest point path (wide or
            # antialiased points are drawn as ellipses, one by one).
            dot = QPen(style.GRID_DOT, 0)
            dot.setCosmetic(True)
            painter.setPen(dot)
            painter.drawPoints(_dots(cols, rows, g).translated(left, top))
        else:
            # A dot as big as on a 1x screen: small filled squares (plain fills), not
            # one-device-pixel points that would shrink to half their size.
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(style.GRID_DOT)
            painter.translate(left, top)
            painter.drawRects(_dot_squares(cols, rows, g, round(1 / zoom, 3)))
        painter.restore()

    def drawForeground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        if len(self.canvas.document) or self.canvas.interactions is None:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(style.FAINT)
        painter.setFont(style.font("title"))
        area = QRectF(self.viewport().rect()).adjusted(0, self.viewport().height() / 3, 0, 0)
        align = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
        painter.drawText(area, align, EMPTY_HINT)
        painter.restore()


@lru_cache(maxsize=8)
def _dot_squares(cols: int, rows: int, step: float, size: float) -> list[QRectF]:
    """The same block as squares ``size`` wide (one screen pixel at the view's zoom)."""
    h = size / 2
    return [
        QRectF(c * step - h, r * step - h, size, size) for c in range(cols) for r in range(rows)
    ]


@lru_cache(maxsize=8)
def _dots(cols: int, rows: int, step: float) -> QPolygonF:
    """A block of grid dots from the origin; panning only translates it."""
    return QPolygonF([QPointF(c * step, r * step) for c in range(cols) for r in range(rows)])
