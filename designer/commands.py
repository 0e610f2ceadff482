"""Undo commands: every edit of a campaign is one of these, pushed on a QUndoStack.

Commands call only the :class:`~designer.document.CampaignDocument` API — never the
canvas — so undo/redo works the same whether the edit came from a drag, a menu or the
inspector, and the canvas follows the document's signals. Each redo/undo is one database
write; a write the database refuses marks the command obsolete, so the stack drops it
instead of keeping a step that never happened (QUndoStack deletes obsolete commands after
push, redo and undo), and the document reports the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from PySide6.QtGui import QUndoCommand

from engine.db import DATABASE_ERRORS, is_busy
from engine.errors import BUSY_MESSAGE, JourneysError

from .document import CampaignDocument, Node, Position

# Command ids for mergeWith (QUndoStack only merges commands with equal ids).
MOVE_ID = 1001
SET_FIELD_ID = 1002
SET_CAMPAIGN_FIELD_ID = 1003


class DocumentCommand(QUndoCommand):
    """Runs its edit, and turns a refused write into an obsolete command plus a message."""

    def __init__(self, document: CampaignDocument, text: str, parent: QUndoCommand | None = None):
        super().__init__(text, parent)
        self.document = document
        self.failure: str | None = None

    def redo(self) -> None:
        self._guard(self.apply)

    def undo(self) -> None:
        self._guard(self.revert)

    def apply(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError

    def _guard(self, step: Any) -> None:
        try:
            step()
        except (JourneysError, *DATABASE_ERRORS) as exc:
            # Rolled back: nothing of the edit was written. A lock held by another
            # process is said plainly; the person repeats the edit.
            self.failure = BUSY_MESSAGE if is_busy(exc) else str(exc)
            self.setObsolete(True)
            self.document.report_error(self.failure)


class AddNode(DocumentCommand):
    def __init__(
        self, document: CampaignDocument, node: Node, parent: QUndoCommand | None = None
    ) -> None:
        super().__init__(document, f"Add {node.name}", parent)
        self.node = node

    def apply(self) -> None:
        self.node = self.document.add_node(self.node)

    def revert(self) -> None:
        self.document.remove_nodes([self.node.key])


class RemoveNodes(DocumentCommand):
    """Removes nodes with all their descendants; undo restores every one of them with its
    key, parent link, trigger, position, content, trust and place in the file."""

    def __init__(
        self, document: CampaignDocument, keys: Iterable[str], parent: QUndoCommand | None = None
    ) -> None:
        self.keys = list(dict.fromkeys(keys))
        count = len(document.subtree(self.keys))
        text = (
            f"Delete {document.node(self.keys[0]).name}"
            if count == 1
            else f"Delete {count} activities"
        )
        super().__init__(document, text, parent)
        self.removed: list[Node] = []

    def apply(self) -> None:
        self.removed = self.document.remove_nodes(self.keys)

    def revert(self) -> None:
        self.document.add_nodes(self.removed)


class MoveNodes(DocumentCommand):
    """New positions. Consecutive drags (``merge``) of the same nodes merge into one step;
    an automatic layout does not merge with anything."""

    def __init__(
        self,
        document: CampaignDocument,
        moves: Mapping[str, tuple[Position | None, Position | None]],
        text: str = "Move",
        *,
        merge: bool = True,
        parent: QUndoCommand | None = None,
    ) -> None:
        super().__init__(document, text, parent)
        self.old = {k: old for k, (old, _new) in moves.items()}
        self.new = {k: new for k, (_old, new) in moves.items()}
        self.merge = merge

    def id(self) -> int:
        return MOVE_ID if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (isinstance(other, MoveNodes) and other.merge and set(other.new) == set(self.new)):
            return False
        self.new = dict(other.new)
        # A drag back to where it started leaves nothing to undo.
        self.setObsolete(self.new == self.old)
        return True

    def apply(self) -> None:
        self.document.move_nodes(self.new)

    def revert(self) -> None:
        self.document.move_nodes(self.old)


class Connect(DocumentCommand):
    """Attach a node under a new parent with a trigger (None: make it a root at begin)."""

    def __init__(
        self,
        document: CampaignDocument,
        key: str,
        parent_key: str | None,
        trigger: str,
        parent: QUndoCommand | None = None,
    ) -> None:
        node = document.node(key)
        super().__init__(document, f"Connect {node.name}", parent)
        self.key = key
        self.old = (node.parent, node.trigger)
        self.new = (parent_key, trigger)

    def apply(self) -> None:
        self.document.set_parent(self.key, *self.new)

    def revert(self) -> None:
        self.document.set_parent(self.key, *self.old)


class SetField(DocumentCommand):
    """One field of one node. With ``merge`` (typing in a text field), consecutive edits
    of the same field (or the same content entry) of the same node become one undo step."""

    def __init__(
        self,
        document: CampaignDocument,
        key: str,
        name: str,
        value: Any,
        *,
        merge: bool = False,
        parent: QUndoCommand | None = None,
    ) -> None:
        node = document.node(key)
        super().__init__(document, f"Change {name} of {node.name}", parent)
        self.key, self.name, self.merge = key, name, merge
        self.old = getattr(node, name)
        self.new = value

    def id(self) -> int:
        return SET_FIELD_ID if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (
            isinstance(other, SetField)
            and other.merge
            and (other.key, other.name) == (self.key, self.name)
            and other.entries() <= self.entries()
        ):
            return False
        self.new = other.new
        return True

    def entries(self) -> set[str]:
        """The content entries this edit changes: typing a subject, then a body, is two
        undo steps although both edit the node's one ``content`` field."""
        if not (isinstance(self.old, dict) and isinstance(self.new, dict)):
            return set()
        return {k for k in self.old.keys() | self.new.keys() if self.old.get(k) != self.new.get(k)}

    def apply(self) -> None:
        self.document.set_field(self.key, self.name, self.new)

    def revert(self) -> None:
        self.document.set_field(self.key, self.name, self.old)


class SetCampaignField(DocumentCommand):
    """A field of the campaign itself (name, description, audience filter...)."""

    def __init__(
        self,
        document: CampaignDocument,
        name: str,
        value: Any,
        *,
        merge: bool = False,
        parent: QUndoCommand | None = None,
    ) -> None:
        super().__init__(document, f"Change campaign {name}", parent)
        self.name, self.merge = name, merge
        self.old = getattr(document.campaign, name)
        self.new = value

    def id(self) -> int:
        return SET_CAMPAIGN_FIELD_ID if self.merge else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not (isinstance(other, SetCampaignField) and other.merge and other.name == self.name):
            return False
        self.new = other.new
        return True

    def apply(self) -> None:
        self.document.set_campaign_field(self.name, self.new)

    def revert(self) -> None:
        self.document.set_campaign_field(self.name, self.old)


class SetNotes(SetCampaignField):
    """The canvas's sticky notes after one edit (added, typed, moved, removed)."""

    def __init__(self, document: CampaignDocument, notes: list[dict[str, Any]], text: str) -> None:
        super().__init__(document, "notes", notes)
        self.setText(text)


class Paste(DocumentCommand):
    """Adds ready-made nodes (keys made unique, parents resolved) as one step."""

    def __init__(
        self,
        document: CampaignDocument,
        nodes: Sequence[Node],
        text: str = "Paste",
        parent: QUndoCommand | None = None,
    ) -> None:
        plural = "activity" if len(nodes) == 1 else "activities"
        super().__init__(document, f"{text} {len(nodes)} {plural}", parent)
        self.nodes = list(nodes)

    def apply(self) -> None:
        self.nodes = self.document.add_nodes(self.nodes)

    def revert(self) -> None:
        keys = {n.key for n in self.nodes}
        self.document.remove_nodes([n.key for n in self.nodes if n.parent not in keys])


class Composite(QUndoCommand):
    """Several commands as one undo step (children run in order, undo in reverse).

    If a child fails its redo, the children already done are undone, so a composite is
    all or nothing like a single command.
    """

    def __init__(self, text: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(text, parent)
        self.parts: list[QUndoCommand] = []  # Python references keep the overrides alive

    def add(self, command: QUndoCommand) -> QUndoCommand:
        self.parts.append(command)
        return command

    def redo(self) -> None:
        done: list[QUndoCommand] = []
        for child in self.parts:
            child.redo()
            if isinstance(child, DocumentCommand) and child.failure:
                child.setObsolete(False)
                child.failure = None
                for earlier in reversed(done):
                    earlier.undo()
                self.setObsolete(True)
                return
            done.append(child)

    def undo(self) -> None:
        for child in reversed(self.parts):
            child.undo()
