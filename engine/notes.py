"""Sticky notes on a campaign's canvas: what they may hold, checked wherever they come in.

A note is ``{"id", "text", "position": {"x", "y"}}``. They travel in campaign files (an
optional ``notes`` list, SPEC §8's format) and are edited in the designer like any other
campaign field, so undo, files and the database agree on one shape. The engine never
reads them to run a journey.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import UserError

MAX_NOTES = 200
MAX_TEXT = 2000
MAX_COORDINATE = 1_000_000
ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


def check_notes(value: Any) -> list[dict[str, Any]]:
    """The notes in their stored shape, or UserError saying what is wrong with them."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise UserError("notes must be a list")
    if len(value) > MAX_NOTES:
        raise UserError(f"a campaign holds at most {MAX_NOTES} notes")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for note in value:
        if not isinstance(note, dict) or set(note) != {"id", "text", "position"}:
            raise UserError("a note has an id, a text and a position, nothing else")
        nid, text, position = note["id"], note["text"], note["position"]
        if not isinstance(nid, str) or not ID_RE.fullmatch(nid):
            raise UserError(f"{nid!r} is not a note id (lower-case letters, digits, _ and -)")
        if nid in seen:
            raise UserError(f"two notes have the id {nid!r}")
        seen.add(nid)
        if not isinstance(text, str) or len(text) > MAX_TEXT:
            raise UserError(f"a note's text is at most {MAX_TEXT} characters")
        out.append({"id": nid, "text": text, "position": _position(position)})
    return out


def _position(position: Any) -> dict[str, float | int]:
    if not isinstance(position, dict) or set(position) != {"x", "y"}:
        raise UserError("a note's position is {x, y}")
    point: dict[str, float | int] = {}
    for axis in ("x", "y"):
        v = position[axis]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise UserError("a note's position is two numbers")
        if abs(v) > MAX_COORDINATE:
            raise UserError(f"a note lies at most {MAX_COORDINATE:,} from the canvas centre")
        point[axis] = int(v) if float(v).is_integer() else float(v)
    return point


def new_id(notes: list[dict[str, Any]]) -> str:
    """The first free ``n1``, ``n2``…"""
    taken = {n["id"] for n in notes}
    n = 1
    while f"n{n}" in taken:
        n += 1
    return f"n{n}"
