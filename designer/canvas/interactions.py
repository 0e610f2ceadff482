"""Gestures on the canvas, each ending in one editor call (hence one undo command).

- Dragging cards moves them; on release the new, grid-snapped positions are pushed as
  one ``MoveNodes`` (consecutive drags of the same cards merge).
- Dragging from a card's output handle draws a link: dropped on another card it offers
  *only* the triggers valid for the source's type (SPEC §3); dropped on empty canvas it
  offers a trigger and an activity type and creates the child there. A drop that would
  loop the journey, or on the Start node, is refused visibly (red outline, a message).
- Palette tiles dropped on the canvas create a root; dropped on a card, a child.

Menus are asked of a *chooser* object so tests (and later a searchable popup) can
answer them without a modal menu.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Protocol

import shiboken6
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneMouseEvent, QMenu

from engine.catalog import TRIGGER_WORDS

from ..document import TYPE_LABELS, Position
from . import layout, style
from .edges import EdgeItem
from .items import ActivityNode, CardItem, StartNode

if TYPE_CHECKING:
    from ..editor import CampaignEditor
    from .scene import CampaignScene

ACTIVITY_TYPES = ("email", "sms", "server_action")


def snap(pos: QPointF) -> Position:
    g = style.GRID
    return (round(pos.x() / g) * g, round(pos.y() / g) * g)


class Chooser(Protocol):
    def choose_trigger(self, triggers: list[str], at: QPoint) -> str | None: ...

    def choose_new(self, triggers: list[str], at: QPoint) -> tuple[str, str] | None: ...


class MenuChooser:
    """Popup menus: triggers in words; for a new step, a trigger then an activity type."""

    def choose_trigger(self, triggers: list[str], at: QPoint) -> str | None:
        if len(triggers) == 1:
            return triggers[0]
        menu = QMenu()
        menu.addSection("Run when…")
        for t in triggers:
            menu.addAction(TRIGGER_WORDS[t].capitalize()).setData(t)
        chosen = menu.exec(at)
        return chosen.data() if chosen is not None else None

    def choose_new(self, triggers: list[str], at: QPoint) -> tuple[str, str] | None:
        menu = QMenu()
        for t in triggers:
            sub = menu.addMenu(TRIGGER_WORDS[t].capitalize()) if len(triggers) > 1 else menu
            for type_ in ACTIVITY_TYPES:
                sub.addAction(f"New {TYPE_LABELS[type_].lower()}").setData((t, type_))
        chosen = menu.exec(at)
        return tuple(chosen.data()) if chosen is not None else None


class ConnectGesture:
    """A link being drawn from ``source`` (None: the Start node) to the cursor."""

    def __init__(self, scene: CampaignScene, editor: CampaignEditor, source: CardItem) -> None:
        self.scene = scene
        self.editor = editor
        self.source = source
        self.source_key: str | None = getattr(source, "key", None)
        self.line = EdgeItem("", dashed=True)
        self.line.setZValue(10)
        self.line.set_color(style.SELECTION)
        scene.addItem(self.line)
        self.target: CardItem | None = None
        self.refusal: str | None = None

    def move(self, pos: QPointF) -> None:
        target = self.scene.card_at(pos, exclude=self.source)
        if target is not self.target:
            if self.target is not None:
                self.target.set_drop_state(None)
            self.target = target
            self.refusal = self._refusal(target) if target is not None else None
            if target is not None:
                target.set_drop_state("invalid" if self.refusal else "valid")
        end = self.target.input_anchor() if self.target and not self.refusal else pos
        self.line.set_ends(self.source.output_anchor(), end)

    def _refusal(self, target: CardItem) -> str | None:
        if isinstance(target, StartNode):
            return "The Start node has no input: link from it, not to it."
        assert isinstance(target, ActivityNode)
        return self.scene.document.connect_refusal(target.key, self.source_key)

    def finish(self, pos: QPointF, screen: QPoint) -> None:
        self.scene.removeItem(self.line)
        target = self.target
        editor = self.editor
        doc = self.scene.document
        if target is not None:
            target.set_drop_state(None)
            if self.refusal:
                flash_invalid(target)
                editor.refuse(self.refusal)
                return
            assert isinstance(target, ActivityNode)
            trigger = self.scene.chooser.choose_trigger(doc.valid_triggers(self.source_key), screen)
            if trigger is not None:
                editor.link(target.key, self.source_key, trigger)
            return
        if self.scene.card_at(pos) is not None:
            return  # released on the source itself
        chosen = self.scene.chooser.choose_new(doc.valid_triggers(self.source_key), screen)
        if chosen is not None:
            trigger, type_ = chosen
            spot = self.scene.interactions.free_spot(snap(pos + QPointF(0, style.CARD_H / 2)))
            key = editor.add_node(type_, spot, self.source_key, trigger)
            if key is not None:
                self.scene.show_new([key])

    def cancel(self) -> None:
        if self.target is not None:
            self.target.set_drop_state(None)
        self.scene.removeItem(self.line)


def flash_invalid(card: CardItem, ms: int = 700) -> None:
    """A short red outline on a card that refused a drop (the scene is the timer's
    context: items are not QObjects, and a removed card is simply left alone)."""
    scene = card.scene()
    if scene is None:
        return
    card.set_drop_state("invalid")
    QTimer.singleShot(ms, scene, partial(_clear_flash, scene, card))


def _clear_flash(scene: QGraphicsScene, card: CardItem) -> None:
    if shiboken6.isValid(card) and card.scene() is scene:
        card.set_drop_state(None)


class Interactions:
    """Routes the scene's mouse events to the gesture in progress."""

    def __init__(self, scene: CampaignScene, editor: CampaignEditor) -> None:
        self.scene = scene
        self.editor = editor
        self.gesture: ConnectGesture | None = None
        self._press: dict[str, QPointF] = {}
        self._note_press: dict[str, QPointF] = {}

    def press(self, event: QGraphicsSceneMouseEvent) -> bool:
        """Start a link when the press is on an output handle; else let Qt select/move."""
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        card = self.scene.card_at(event.scenePos())
        if card is not None and card.in_handle(card.mapFromScene(event.scenePos())):
            self.gesture = ConnectGesture(self.scene, self.editor, card)
            self.gesture.move(event.scenePos())
            event.accept()
            return True
        return False

    def after_press(self, event: QGraphicsSceneMouseEvent) -> None:
        """Remember where the selected cards were, to push one move on release."""
        self._press = {
            k: QPointF(self.scene.item_for_key[k].pos()) for k in self.scene.selected_keys()
        }
        self._note_press = {
            n: QPointF(self.scene.note_for_id[n].pos()) for n in self.scene.selected_notes()
        }

    def move(self, event: QGraphicsSceneMouseEvent) -> bool:
        if self.gesture is None:
            return False
        self.gesture.move(event.scenePos())
        return True

    def after_move(self, event: QGraphicsSceneMouseEvent) -> None:
        """Cards being dragged: keep their links attached while the mouse moves."""
        if self._press and event.buttons() & Qt.MouseButton.LeftButton:
            self.scene.cards_moved(self._press)

    def release(self, event: QGraphicsSceneMouseEvent) -> bool:
        if self.gesture is None:
            return False
        gesture, self.gesture = self.gesture, None
        gesture.finish(event.scenePos(), event.screenPos())
        return True

    def after_release(self, event: QGraphicsSceneMouseEvent) -> None:
        notes, self._note_press = self._note_press, {}
        moved = {
            nid: snap(self.scene.note_for_id[nid].pos())
            for nid, old in notes.items()
            if nid in self.scene.note_for_id and self.scene.note_for_id[nid].pos() != old
        }
        if moved:
            stack = self.editor.undo_stack
            stack.beginMacro("Move notes")
            for nid, spot in moved.items():
                self.editor.edit_note(nid, position=spot)
            stack.endMacro()
        pressed, self._press = self._press, {}
        moves = {}
        for key, old in pressed.items():
            item = self.scene.item_for_key.get(key)
            if item is None or item.pos() == old:
                continue
            stored = self.scene.document.node(key).position
            moves[key] = (stored, snap(item.pos()))
        if moves and not self.editor.move(moves):
            self.scene.relayout()  # refused or no-op: put the cards back where they belong

    def cancel(self) -> None:
        if self.gesture is not None:
            self.gesture.cancel()
            self.gesture = None

    # --- palette ------------------------------------------------------------------------------
    def drop_activity(self, type_: str, pos: QPointF, screen: QPoint | None = None) -> str | None:
        """A palette tile dropped at ``pos``: a child of the card there, or a new root."""
        scene, editor = self.scene, self.editor
        screen = screen or QCursor.pos()
        card = scene.card_at(pos)
        if isinstance(card, ActivityNode):
            trigger = scene.chooser.choose_trigger(scene.document.valid_triggers(card.key), screen)
            if trigger is None:
                return None
            key = editor.add_node(type_, self.child_spot(card.key), card.key, trigger)
        elif isinstance(card, StartNode):
            key = editor.add_node(type_, self.child_spot(None), None, "begin")
        else:
            key = editor.add_node(type_, self.free_spot(snap(pos)), None, "begin")
        if key is not None:
            scene.show_new([key])
        return key

    def free_spot(self, wanted: Position) -> Position:
        """``wanted``, or the nearest column beside it where the new card covers none."""
        start = self.scene.start_item.pos()
        taken = [(start.x(), start.y())]
        taken += [self.scene.position_of(k) for k in self.scene.item_for_key]
        return snap(QPointF(*layout.free_spot({"new": wanted}, taken)["new"]))

    def child_spot(self, parent: str | None) -> Position:
        """A free place one row below ``parent`` (the Start node for None)."""
        scene = self.scene
        card = scene.start_item if parent is None else scene.item_for_key[parent]
        return self.free_spot((card.pos().x(), card.pos().y() + style.V_PITCH))
