"""The document the designer edits: one campaign's activity tree as plain, frozen data.

Every edit goes through this class (undo commands call nothing else), and every call
writes the database at once in one short unit of work through :mod:`engine.editing` — a
killed app loses nothing, and the engine always runs what the user sees. The in-memory
copy changes, and the change signals fire, only after the write committed, so the canvas
and the inspector never show an edit the database refused.

Nodes are identified by their activity *key*, stable across undo/redo and files; row ids
are never exposed. Only ``QtCore`` is used (signals), so the document runs without a GUI;
method names keep clear of QObject's own (``connect``, ``children``).
"""

from __future__ import annotations

import copy
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from PySide6.QtCore import QObject, Signal
from sqlalchemy import func, select

from engine import catalog, editing
from engine.campaigns import is_modified
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.errors import UserError
from engine.models import Activity, Campaign, Trace

Position = tuple[float, float]

# The content a new node starts with (the schema's defaults for each type).
DEFAULT_CONTENT: dict[str, dict[str, Any]] = {
    "email": {"subject": "", "from": "", "reply_to": None, "preheader": "", "body_html": ""},
    "sms": {"body": ""},
    "server_action": {"kind": "update_record", "values": {}},
}
TYPE_LABELS = {"email": "Email", "sms": "SMS", "server_action": "Server action"}
NODE_FIELDS = ("name", "trigger", "delay", "validity", "filter", "content", "trusted")


@dataclass(frozen=True)
class Delay:
    amount: int
    unit: str

    @classmethod
    def of(cls, value: Delay | Mapping[str, Any] | tuple[int, str]) -> Delay:
        """Accept the file shape ``{"amount", "unit"}`` or a pair as well."""
        if isinstance(value, Delay):
            return value
        if isinstance(value, Mapping):
            return cls(value["amount"], value["unit"])
        return cls(*value)


@dataclass(frozen=True)
class Node:
    """One activity as the designer sees it; replace(), never mutate."""

    key: str
    name: str
    type: str
    trigger: str = "begin"
    parent: str | None = None
    delay: Delay = Delay(0, "hours")
    validity: Delay | None = None
    filter: list[Any] = field(default_factory=list)
    content: dict[str, Any] = field(default_factory=dict)
    position: Position | None = None
    sequence: int | None = None
    trusted: bool = True

    def row(self) -> dict[str, Any]:
        """The values :func:`engine.editing.insert_activities` takes."""
        return {
            "key": self.key,
            "name": self.name,
            "type": self.type,
            "parent": self.parent,
            "trigger": self.trigger,
            "delay_amount": self.delay.amount,
            "delay_unit": self.delay.unit,
            "validity_amount": self.validity.amount if self.validity else None,
            "validity_unit": self.validity.unit if self.validity else None,
            "filter": copy.deepcopy(self.filter),
            "content": copy.deepcopy(self.content),
            "position_x": self.position[0] if self.position else None,
            "position_y": self.position[1] if self.position else None,
            "sequence": self.sequence,
            "trusted": self.trusted,
        }

    @classmethod
    def from_activity(cls, a: Activity, key_of: Mapping[int, str]) -> Node:
        has_pos = a.position_x is not None and a.position_y is not None
        return cls(
            key=a.key,
            name=a.name,
            type=a.type,
            trigger=a.trigger,
            parent=key_of.get(a.parent_id) if a.parent_id is not None else None,
            delay=Delay(a.delay_amount, a.delay_unit),
            validity=(
                Delay(a.validity_amount, a.validity_unit or "hours")
                if a.validity_amount is not None
                else None
            ),
            filter=list(a.filter or []),
            content=dict(a.content or {}),
            position=(float(a.position_x), float(a.position_y)) if has_pos else None,  # type: ignore[arg-type]
            sequence=a.sequence,
            trusted=a.trusted,
        )


def normalize_field(name: str, value: Any) -> Any:
    """A node field's value in the document's own shape (a delay given as a file-style
    dict becomes a :class:`Delay`), so equal values compare equal."""
    if name not in NODE_FIELDS:
        raise UserError(f"{name!r} is not an editable field (fields: {', '.join(NODE_FIELDS)})")
    if name == "delay" or (name == "validity" and value is not None):
        return Delay.of(value)
    if name in ("filter", "content"):
        return copy.deepcopy(value)
    return value


@dataclass(frozen=True)
class CampaignInfo:
    id: int
    name: str
    description: str
    target: str
    filter: list[Any]
    unique_field: str | None
    engagement_window_days: int
    state: str
    notes: list[dict[str, Any]] = field(default_factory=list)  # engine.notes' shape


class CampaignDocument(QObject):
    """One campaign, loaded from the database, edited only through the methods below."""

    nodeAdded = Signal(object)  # Node
    nodeRemoved = Signal(str)  # key
    nodeChanged = Signal(str, str)  # key, field ("parent" after connect)
    nodesMoved = Signal(object)  # {key: Position | None}
    campaignChanged = Signal(str)  # field
    reloaded = Signal()
    edited = Signal()  # after any committed edit (banner, validation refresh)
    error = Signal(str)  # an edit the database refused, in words for the user

    def __init__(
        self,
        db: Database,
        campaign_id: int,
        clock: Clock | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self._campaign_id = campaign_id
        self._nodes: dict[str, Node] = {}
        self.campaign: CampaignInfo
        self._load()

    # --- reading -----------------------------------------------------------------------------
    def _load(self) -> None:
        with self.db.read() as s:
            c = s.get(Campaign, self._campaign_id)
            if c is None:
                raise UserError(f"no campaign with id {self._campaign_id}")
            self.campaign = CampaignInfo(
                c.id,
                c.name,
                c.description or "",
                c.target,
                list(c.filter or []),
                c.unique_field,
                c.engagement_window_days,
                c.state,
                copy.deepcopy(c.notes or []),
            )
            acts = s.scalars(
                select(Activity)
                .where(Activity.campaign_id == c.id)
                .order_by(Activity.sequence, Activity.id)
            ).all()
            key_of = {a.id: a.key for a in acts}
            self._nodes = {a.key: Node.from_activity(a, key_of) for a in acts}

    def reload(self) -> None:
        """Read the campaign again (after an engine-side change such as a state change)."""
        self._load()
        self.reloaded.emit()

    @property
    def nodes(self) -> Mapping[str, Node]:
        """Every node by key, in campaign-file order (read-only)."""
        return MappingProxyType(self._nodes)

    def node(self, key: str) -> Node:
        try:
            return self._nodes[key]
        except KeyError:
            raise UserError(f"no activity {key!r} in this campaign") from None

    def __contains__(self, key: object) -> bool:
        return key in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def children_of(self, key: str | None) -> list[str]:
        """The children of ``key`` (None: the roots), in file order."""
        return [k for k, n in self._nodes.items() if n.parent == key]

    def _kids(self) -> dict[str | None, list[str]]:
        kids: dict[str | None, list[str]] = {}
        for k, n in self._nodes.items():
            kids.setdefault(n.parent, []).append(k)
        return kids

    def _walk(self, starts: Iterable[str], kids: Mapping[str | None, list[str]]) -> list[str]:
        out, todo = [], deque(starts)
        while todo:
            k = todo.popleft()
            out.append(k)
            todo.extend(kids.get(k, ()))
        return out

    def descendants(self, key: str) -> list[str]:
        """Every node below ``key``, parents before children."""
        kids = self._kids()
        return self._walk(kids.get(key, ()), kids)

    def subtree(self, keys: Iterable[str]) -> list[str]:
        """``keys`` and all their descendants once each, every parent before its children."""
        kids = self._kids()
        wanted = set(self._walk([k for k in keys if k in self._nodes], kids))
        tops = [k for k in self._nodes if k in wanted and self._nodes[k].parent not in wanted]
        return self._walk(tops, kids)

    def valid_triggers(self, parent: str | None) -> list[str]:
        """What a child of ``parent`` may run on (SPEC §3); None: a root runs at begin."""
        return catalog.triggers_for_parent(self._nodes[parent].type if parent else None)

    def connect_refusal(self, key: str, parent: str | None) -> str | None:
        """Why ``key`` cannot go under ``parent`` (None when it can), for the canvas."""
        if parent is not None and (parent == key or parent in self.descendants(key)):
            return "A journey cannot loop back: that step comes after this one."
        if not self.valid_triggers(parent):
            return "No trigger can follow that activity."
        return None

    def new_key(self, base: str, taken: Iterable[str] = ()) -> str:
        """A free key made from ``base`` (a name or a type): ``email``, ``email_2``..."""
        stem = re.sub(r"[^a-z0-9]+", "_", base.lower()).strip("_")[:48] or "activity"
        stem = re.sub(r"(?<=.)_\d+$", "", stem)  # a copy of "tag_hot_2" is "tag_hot_3"
        if not stem[0].isalnum():
            stem = "a" + stem
        used = set(self._nodes) | set(taken)
        if stem not in used:
            return stem
        n = 2
        while f"{stem}_{n}" in used:
            n += 1
        return f"{stem}_{n}"

    def next_sequence(self) -> int:
        return max((n.sequence or 0 for n in self._nodes.values()), default=-1) + 1

    def trace_count(self, keys: Iterable[str]) -> int:
        """How many traces (test ones included) deleting ``keys`` would delete with them."""
        keys = list(keys)
        if not keys:
            return 0
        with self.db.read() as s:
            ids = select(Activity.id).where(
                Activity.campaign_id == self.campaign.id, Activity.key.in_(keys)
            )
            return int(s.scalar(select(func.count()).where(Trace.activity_id.in_(ids))) or 0)

    def is_modified(self) -> bool:
        """E10: a started campaign with edits awaiting "Update participants"."""
        with self.db.read() as s:
            return is_modified(s, self.campaign.id)

    # --- writing -----------------------------------------------------------------------------
    def _write(self, edit: Callable[..., Any], *args: Any) -> Any:
        """One short unit of work: the edit commits, or nothing changes anywhere."""
        with self.db.session() as s:
            return edit(s, self.campaign.id, *args)

    def add_nodes(self, nodes: Iterable[Node]) -> list[Node]:
        """Insert nodes (parents before children; sequences kept or appended)."""
        seq = self.next_sequence()
        added = []
        for n in nodes:
            if n.sequence is None:
                n, seq = replace(n, sequence=seq), seq + 1
            added.append(n)
        now = self.clock.now()
        self._write(editing.insert_activities, [n.row() for n in added], now)
        for n in added:
            self._nodes[n.key] = n
        self._nodes = dict(sorted(self._nodes.items(), key=lambda kv: kv[1].sequence or 0))
        for n in added:
            self.nodeAdded.emit(n)
        self.edited.emit()
        return added

    def add_node(self, node: Node) -> Node:
        return self.add_nodes([node])[0]

    def remove_nodes(self, keys: Iterable[str]) -> list[Node]:
        """Remove ``keys`` and every descendant; returns them, parents first, for undo."""
        order = self.subtree(keys)
        if not order:
            return []
        self._write(editing.delete_activities, order, self.clock.now())
        removed = [self._nodes.pop(k) for k in order]
        for n in reversed(removed):
            self.nodeRemoved.emit(n.key)
        self.edited.emit()
        return removed

    def remove_node(self, key: str) -> list[Node]:
        return self.remove_nodes([key])

    def move_nodes(self, positions: Mapping[str, Position | None]) -> None:
        changed = {
            k: (None if p is None else (float(p[0]), float(p[1])))
            for k, p in positions.items()
            if self.node(k).position != p
        }
        if not changed:
            return
        self._write(editing.move_activities, changed)
        for k, p in changed.items():
            self._nodes[k] = replace(self._nodes[k], position=p)
        self.nodesMoved.emit(changed)
        self.edited.emit()

    def set_parent(self, key: str, parent: str | None, trigger: str) -> None:
        """Put ``key`` under ``parent`` (None: a root) with ``trigger``; refuses cycles."""
        node = self.node(key)
        if (node.parent, node.trigger) == (parent, trigger):
            return
        if parent is not None:
            self.node(parent)
        refusal = self.connect_refusal(key, parent)
        if refusal:
            raise UserError(refusal)
        self._write(editing.set_parent, key, parent, trigger, self.clock.now())
        self._nodes[key] = replace(node, parent=parent, trigger=trigger)
        self.nodeChanged.emit(key, "parent")
        self.edited.emit()

    def set_field(self, key: str, name: str, value: Any) -> None:
        """Set one field of a node: name, trigger, delay, validity, filter, content, trusted."""
        node = self.node(key)
        value = normalize_field(name, value)
        if getattr(node, name) == value:
            return
        if name == "delay":
            values = {"delay_amount": value.amount, "delay_unit": value.unit}
        elif name == "validity":
            values = {
                "validity_amount": value.amount if value else None,
                "validity_unit": value.unit if value else None,
            }
        else:
            values = {name: value}
        self._write(editing.update_activity, key, values, self.clock.now())
        self._nodes[key] = replace(node, **{name: value})
        self.nodeChanged.emit(key, name)
        self.edited.emit()

    def set_campaign_field(self, name: str, value: Any) -> None:
        """Set the campaign's name, description, filter, unique_field or window."""
        if name not in editing.CAMPAIGN_EDITABLE:
            raise UserError(f"{name!r} is not an editable campaign field")
        value = copy.deepcopy(value)
        if getattr(self.campaign, name) == value:
            return
        self._write(editing.update_campaign, {name: value}, self.clock.now())
        self.campaign = replace(self.campaign, **{name: value})
        self.campaignChanged.emit(name)
        self.edited.emit()

    def report_error(self, message: str) -> None:
        """Commands call this when the database refused an edit (nothing changed)."""
        self.error.emit(message)
