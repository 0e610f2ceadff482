"""Sticky notes on the canvas: a marketer's words about the journey ("why this branch",
"ask legal before May"), stored with the campaign and in its files (engine.notes).

A note is drawn like a paper note; it is moved by dragging and edited by a double
click. Both end in one editor call, hence one undo step, as every gesture here does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneMouseEvent,
    QInputDialog,
    QStyleOptionGraphicsItem,
    QWidget,
)

from engine.notes import MAX_TEXT

from . import style

if TYPE_CHECKING:
    from .scene import CampaignScene

WIDTH, MIN_HEIGHT, PAD = 200.0, 80.0, 10.0
PAPER = {False: QColor("#FFF1A8"), True: QColor("#5A5126")}
EDGE = {False: QColor("#D9C25A"), True: QColor("#8A7A32")}
INK = {False: QColor("#3D3410"), True: QColor("#F4ECC4")}
PLACEHOLDER = "Double-click to write a note"


class NoteItem(QGraphicsItem):
    """One note, centred on its stored position (as cards are)."""

    def __init__(self, note: dict[str, Any], movable: bool) -> None:
        super().__init__()
        self.note_id: str = note["id"]
        self.text = ""
        self.rect = QRectF()
        self._shown: dict[str, Any] | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, movable)
        self.setZValue(-1)  # under the cards and links it comments on
        self.set_note(note)

    def set_note(self, note: dict[str, Any]) -> None:
        if note == self._shown:
            return
        self._shown = {**note, "position": dict(note["position"])}
        self.prepareGeometryChange()
        self.text = note["text"]
        lines = max(1, len(self._wrapped()))
        height = max(MIN_HEIGHT, lines * 18 + 2 * PAD)
        self.rect = QRectF(-WIDTH / 2, -height / 2, WIDTH, height)
        self.setPos(QPointF(note["position"]["x"], note["position"]["y"]))
        self.setToolTip(self.text)
        self.update()

    def _wrapped(self) -> list[str]:
        """The text in lines of about 28 characters (what fits the note's width)."""
        out: list[str] = []
        for paragraph in (self.text or PLACEHOLDER).splitlines() or [""]:
            line = ""
            for word in paragraph.split(" "):
                if line and len(line) + 1 + len(word) > 28:
                    out.append(line)
                    line = word
                else:
                    line = f"{line} {word}" if line else word
            out.append(line)
        return out[:40]

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-2, -2, 4, 4)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        dark = style.COLORS is style.DARK
        selected = self.isSelected()
        painter.setPen(QPen(style.SELECTION if selected else EDGE[dark], 2 if selected else 1))
        painter.setBrush(QBrush(PAPER[dark]))
        painter.drawRect(self.rect)
        font = QFont(painter.font())
        font.setItalic(not self.text)
        painter.setFont(font)
        painter.setPen(INK[dark])
        text = self.rect.adjusted(PAD, PAD, -PAD, -PAD)
        painter.drawText(
            text,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
            "\n".join(self._wrapped()),
        )

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        editor = getattr(scene, "editor", None)
        if editor is None:
            return
        text, ok = QInputDialog.getMultiLineText(None, "Note", "Text of the note:", self.text)
        if ok:
            editor.edit_note(self.note_id, text=text[:MAX_TEXT])
        event.accept()


def sync_notes(scene: CampaignScene) -> None:
    """Make the scene's note items match the document's notes."""
    notes = {n["id"]: n for n in scene.document.campaign.notes}
    for nid in [k for k in scene.note_for_id if k not in notes]:
        scene.removeItem(scene.note_for_id.pop(nid))
    for nid, note in notes.items():
        item = scene.note_for_id.get(nid)
        if item is None:
            item = scene.note_for_id[nid] = NoteItem(note, movable=scene.editor is not None)
            scene.addItem(item)
        else:
            item.set_note(note)
