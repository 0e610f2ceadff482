"""Copy and paste of activities, within and across campaigns (and from campaign files).

What travels is the campaign-file shape of each activity (SPEC §7), so a copied branch
pastes into another campaign, another database, or a text editor and back. A pasted
payload is untrusted input like a shared file: it is checked against the file schema,
and ``execute_code`` / ``webhook`` actions arrive disabled unless the payload is exactly
what this editor itself copied from trusted nodes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QMimeData

from engine import campaign_files
from engine.catalog import CONTENT_KEY, UNTRUSTED_KINDS
from engine.errors import ValidationError

from .document import CampaignDocument, Delay, Node, Position

MIME_TYPE = "application/x-journeys-activities+json"
FORMAT = "journeys/activities"
PASTE_OFFSET = (40.0, 40.0)
GRID = 20.0  # the canvas grid (designer.canvas.style.GRID)


def node_to_file(node: Node) -> dict[str, Any]:
    """One node in the campaign-file shape."""
    position = None if node.position is None else {"x": node.position[0], "y": node.position[1]}
    return {
        "key": node.key,
        "name": node.name,
        "type": node.type,
        "parent": node.parent,
        "trigger": node.trigger,
        "delay": {"amount": node.delay.amount, "unit": node.delay.unit},
        "validity": (
            None
            if node.validity is None
            else {"amount": node.validity.amount, "unit": node.validity.unit}
        ),
        "filter": node.filter,
        CONTENT_KEY[node.type]: node.content,
        "position": position,
    }


def node_from_file(act: dict[str, Any]) -> Node:
    validity, pos = act.get("validity"), act.get("position")
    return Node(
        key=act["key"],
        name=act["name"],
        type=act["type"],
        trigger=act["trigger"],
        parent=act.get("parent"),
        delay=Delay.of(act["delay"]),
        validity=Delay.of(validity) if validity else None,
        filter=list(act.get("filter") or []),
        content=dict(act[CONTENT_KEY[act["type"]]]),
        position=(float(pos["x"]), float(pos["y"])) if pos else None,
    )


def copy_payload(document: CampaignDocument, keys: Iterable[str]) -> dict[str, Any]:
    """The selected nodes (in file order); parents outside the selection are kept by name
    so a paste into the same campaign can re-attach them."""
    wanted = set(keys)
    nodes = [n for k, n in document.nodes.items() if k in wanted]
    return {
        "format": FORMAT,
        "version": 1,
        "target": document.campaign.target,
        "source": document.campaign.id,
        "activities": [node_to_file(n) for n in nodes],
        "trusted": [n.key for n in nodes if n.trusted],
    }


def to_mime(payload: dict[str, Any]) -> QMimeData:
    mime = QMimeData()
    text = json.dumps(payload, ensure_ascii=False, indent=2)
    mime.setData(MIME_TYPE, text.encode("utf-8"))
    mime.setText(text)
    return mime


def from_mime(mime: QMimeData) -> dict[str, Any] | None:
    """Our payload, or a whole campaign file pasted as text; None for anything else."""
    if mime.hasFormat(MIME_TYPE):
        raw = bytes(mime.data(MIME_TYPE).data()).decode("utf-8", "replace")
    elif mime.hasText():
        raw = mime.text()
    else:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if data.get("format") == campaign_files.FORMAT:
        return {"format": FORMAT, "version": 1, "activities": data.get("activities", [])}
    return data if data.get("format") == FORMAT else None


def check_payload(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The payload's activities, checked against the campaign-file schema."""
    acts = payload.get("activities")
    doc = {
        "format": campaign_files.FORMAT,
        "version": 1,
        "campaign": {"name": "clipboard", "target": payload.get("target") or "contact"},
        "activities": acts,
    }
    problems = [p for p in campaign_files.schema_problems(doc) if p.severity == "error"]
    if problems:
        raise ValidationError(problems, "the clipboard does not hold activities")
    return list(acts or [])


def paste_nodes(
    document: CampaignDocument,
    payload: dict[str, Any],
    *,
    at: Position | None = None,
    onto: str | None = None,
    trusted_payload: bool = False,
) -> list[Node]:
    """Nodes ready to add: fresh keys, parents resolved, positions placed.

    A node whose parent was copied with it keeps that link. Otherwise it goes under
    ``onto`` when given, under its old parent when pasting back into the same campaign,
    or becomes a root; its trigger is kept when still valid there, else the nearest valid
    one ("activity", or "begin" for a root).
    """
    acts = check_payload(payload)
    nodes = [node_from_file(a) for a in acts]
    trusted = set(payload.get("trusted") or []) if trusted_payload else set()
    same_campaign = payload.get("source") == document.campaign.id
    renamed: dict[str, str] = {}
    for n in nodes:
        renamed[n.key] = document.new_key(n.key, taken=renamed.values())
    offset = _offset(nodes, at)
    out: list[Node] = []
    types = {n.key: n.type for n in nodes}
    for n in nodes:
        parent: str | None
        parent_type: str | None
        if n.parent in renamed:
            parent, parent_type = renamed[n.parent], types[n.parent]
        elif onto is not None:
            parent, parent_type = onto, document.node(onto).type
        elif same_campaign and n.parent is not None and n.parent in document:
            parent, parent_type = n.parent, document.node(n.parent).type
        else:
            parent, parent_type = None, None
        trigger = n.trigger if n.trigger in _triggers(parent_type) else _fallback(parent_type)
        kind = n.content.get("kind") if n.type == "server_action" else None
        out.append(
            replace(
                n,
                key=renamed[n.key],
                parent=parent,
                trigger=trigger,
                position=(
                    None
                    if n.position is None
                    else (n.position[0] + offset[0], n.position[1] + offset[1])
                ),
                trusted=kind not in UNTRUSTED_KINDS or n.key in trusted,
                sequence=None,
            )
        )
    return _clear_of(document, out)


def _clear_of(document: CampaignDocument, nodes: list[Node]) -> list[Node]:
    """The pasted group slid sideways, whole columns at a time, until it covers no card:
    a paste or a duplicate never lands on top of a step already there."""
    from .canvas.layout import free_spot

    placed = {n.key: n.position for n in nodes if n.position is not None}
    taken = [n.position for n in document.nodes.values() if n.position is not None]
    if not placed or not taken:
        return nodes
    moved = free_spot(placed, taken)
    return [replace(n, position=moved.get(n.key, n.position)) for n in nodes]


def _triggers(parent_type: str | None) -> Sequence[str]:
    from engine.catalog import triggers_for_parent

    return triggers_for_parent(parent_type)


def _fallback(parent_type: str | None) -> str:
    return "begin" if parent_type is None else "activity"


def _offset(nodes: Sequence[Node], at: Position | None) -> Position:
    """Centre the pasted group on ``at``, by whole grid steps so cards stay on the grid."""
    placed = [n.position for n in nodes if n.position is not None]
    if at is None or not placed:
        return PASTE_OFFSET
    cx = (min(p[0] for p in placed) + max(p[0] for p in placed)) / 2
    cy = (min(p[1] for p in placed) + max(p[1] for p in placed)) / 2
    return (round((at[0] - cx) / GRID) * GRID, round((at[1] - cy) / GRID) * GRID)
