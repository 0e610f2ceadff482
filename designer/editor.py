"""The one funnel for edits: turns a user's intent into an undo command on the stack.

Canvas gestures, menus, the inspector and keyboard shortcuts all call a
:class:`CampaignEditor` method; each builds a command from :mod:`designer.commands` and
pushes it, so every edit is undoable and written to the database at once. The editor
holds no widget, so it is equally usable (and testable) without a window.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QMimeData, QObject, Signal
from PySide6.QtGui import QGuiApplication, QUndoCommand, QUndoStack

from engine.errors import UserError
from engine.notes import new_id as new_note_id

from . import clipboard, commands, wording
from .document import (
    DEFAULT_CONTENT,
    CampaignDocument,
    Delay,
    Node,
    Position,
    normalize_field,
)


class CampaignEditor(QObject):
    """A document, its undo stack and its clipboard rules."""

    message = Signal(str)  # a refusal or a failure, in words for the status bar

    def __init__(self, document: CampaignDocument, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.undo_stack = QUndoStack(self)
        self._last_copy: dict[str, Any] | None = None
        document.error.connect(self.message)

    # --- plumbing ----------------------------------------------------------------------------
    def push(self, command: QUndoCommand) -> bool:
        """Run ``command`` and keep it for undo; False when the database refused it."""
        self.undo_stack.push(command)
        return not getattr(command, "failure", None)

    def refuse(self, reason: str) -> None:
        self.message.emit(reason)

    # --- nodes -------------------------------------------------------------------------------
    def new_node(
        self,
        type_: str,
        position: Position | None,
        parent: str | None = None,
        trigger: str | None = None,
        name: str | None = None,
    ) -> Node:
        """A node with defaults, not yet added (the caller pushes AddNode)."""
        if type_ not in DEFAULT_CONTENT:
            raise UserError(f"unknown activity type {type_!r}")
        valid = self.document.valid_triggers(parent)
        trigger = trigger if trigger in valid else valid[0]
        taken = {n.name for n in self.document.nodes.values()}
        return Node(
            key=self.document.new_key(type_),
            name=name or wording.step_name(type_, trigger, taken),
            type=type_,
            trigger=trigger,
            parent=parent,
            delay=Delay(0, "hours") if parent is None else Delay(1, "days"),
            content=dict(DEFAULT_CONTENT[type_]),
            position=position,
        )

    def add_node(
        self,
        type_: str,
        position: Position | None,
        parent: str | None = None,
        trigger: str | None = None,
        name: str | None = None,
    ) -> str | None:
        """Add a node (a root, or a child of ``parent``); returns its key."""
        if (
            parent is not None
            and trigger is not None
            and trigger not in self.document.valid_triggers(parent)
        ):
            self.refuse(f"{trigger!r} cannot follow {self.document.node(parent).name!r}")
            return None
        node = self.new_node(type_, position, parent, trigger, name)
        return node.key if self.push(commands.AddNode(self.document, node)) else None

    # --- sticky notes --------------------------------------------------------------------
    def _notes(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.document.campaign.notes)

    def add_note(self, position: Position, text: str = "") -> str | None:
        """A new note at ``position``; its id, or None when refused."""
        notes = self._notes()
        nid = new_note_id(notes)
        x, y = position
        notes.append({"id": nid, "text": text, "position": {"x": x, "y": y}})
        return nid if self.push(commands.SetNotes(self.document, notes, "Add note")) else None

    def edit_note(
        self, nid: str, *, text: str | None = None, position: Position | None = None
    ) -> bool:
        notes = self._notes()
        note = next((n for n in notes if n["id"] == nid), None)
        if note is None:
            return False
        if text is not None:
            note["text"] = text
        if position is not None:
            note["position"] = {"x": position[0], "y": position[1]}
        if notes == self.document.campaign.notes:
            return False
        label = "Edit note" if text is not None else "Move note"
        return self.push(commands.SetNotes(self.document, notes, label))

    def remove_notes(self, ids: Iterable[str]) -> bool:
        doomed = set(ids)
        notes = [n for n in self._notes() if n["id"] not in doomed]
        if len(notes) == len(self.document.campaign.notes):
            return False
        return self.push(commands.SetNotes(self.document, notes, "Delete note"))

    def remove(self, keys: Iterable[str]) -> bool:
        keys = [k for k in keys if k in self.document]
        if not keys:
            return False
        return self.push(commands.RemoveNodes(self.document, keys))

    def move(self, moves: Mapping[str, tuple[Position | None, Position | None]]) -> bool:
        moves = {k: (old, new) for k, (old, new) in moves.items() if old != new}
        if not moves:
            return False
        return self.push(commands.MoveNodes(self.document, moves))

    def link(self, key: str, parent: str | None, trigger: str) -> bool:
        """Re-attach ``key``; refused (with a message) when invalid for SPEC §3."""
        refusal = self.document.connect_refusal(key, parent)
        if refusal is None and trigger not in self.document.valid_triggers(parent):
            refusal = f"{trigger!r} is not a valid trigger there"
        if refusal:
            self.refuse(refusal)
            return False
        node = self.document.node(key)
        if (node.parent, node.trigger) == (parent, trigger):
            return False
        return self.push(commands.Connect(self.document, key, parent, trigger))

    def detach(self, key: str) -> bool:
        """Detach ``key`` from its parent: it becomes a root that runs at the beginning."""
        return self.link(key, None, "begin")

    def set_field(self, key: str, name: str, value: Any, *, merge: bool = False) -> bool:
        """One field of a node (the inspector's entry point); ``merge`` for typing."""
        value = normalize_field(name, value)
        if getattr(self.document.node(key), name) == value:
            return False
        return self.push(commands.SetField(self.document, key, name, value, merge=merge))

    def set_content(self, key: str, name: str, value: Any, *, merge: bool = True) -> bool:
        """One entry of a node's content object (subject, body, action values...)."""
        content = dict(self.document.node(key).content)
        content[name] = value
        return self.set_field(key, "content", content, merge=merge)

    def set_campaign_field(self, name: str, value: Any, *, merge: bool = False) -> bool:
        if getattr(self.document.campaign, name, object()) == value:
            return False
        return self.push(commands.SetCampaignField(self.document, name, value, merge=merge))

    def arrange(self, positions: Mapping[str, Position]) -> bool:
        """Apply an automatic layout as one undoable step."""
        moves = {k: (self.document.node(k).position, p) for k, p in positions.items()}
        moves = {k: m for k, m in moves.items() if m[0] != m[1]}
        if not moves:
            return False
        return self.push(commands.MoveNodes(self.document, moves, "Arrange", merge=False))

    # --- clipboard ---------------------------------------------------------------------------
    def copy(self, keys: Iterable[str]) -> QMimeData | None:
        """Copy the selected nodes (not their children) to the system clipboard."""
        keys = [k for k in keys if k in self.document]
        if not keys:
            return None
        payload = clipboard.copy_payload(self.document, keys)
        self._last_copy = payload
        mime = clipboard.to_mime(payload)
        QGuiApplication.clipboard().setMimeData(clipboard.to_mime(payload))
        return mime

    def cut(self, keys: Iterable[str]) -> bool:
        """Copy what a delete would remove (the nodes and their descendants), then delete."""
        keys = self.document.subtree(keys)
        if not keys or self.copy(keys) is None:
            return False
        return self.push(commands.RemoveNodes(self.document, keys))

    def paste(
        self,
        mime: QMimeData | None = None,
        *,
        at: Position | None = None,
        onto: str | None = None,
    ) -> list[str]:
        """Paste the clipboard (or ``mime``); returns the new keys."""
        mime = mime or QGuiApplication.clipboard().mimeData()
        payload = clipboard.from_mime(mime) if mime is not None else None
        if not payload or not payload.get("activities"):
            self.refuse("The clipboard holds no activities.")
            return []
        try:
            nodes = clipboard.paste_nodes(
                self.document,
                payload,
                at=at,
                onto=onto,
                trusted_payload=payload == self._last_copy,
            )
        except UserError as exc:
            self.refuse(str(exc))
            return []
        if not self.push(commands.Paste(self.document, nodes)):
            return []
        return [n.key for n in nodes]

    def duplicate(self, keys: Iterable[str]) -> list[str]:
        keys = [k for k in keys if k in self.document]
        if not keys:
            return []
        payload = clipboard.copy_payload(self.document, keys)
        nodes = clipboard.paste_nodes(self.document, payload, trusted_payload=True)
        if not self.push(commands.Paste(self.document, nodes, text="Duplicate")):
            return []
        return [n.key for n in nodes]
