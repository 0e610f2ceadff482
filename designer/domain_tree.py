"""Odoo domains (Polish notation) as a tree of AND/OR groups the filter builder edits.

``to_tree`` reads a domain into :class:`Group` / :class:`Leaf` objects and ``to_domain``
writes it back. The round trip is exact for every domain whose structure the tree can
hold: leaves keep their values untouched, left-nested chains of the same operator
(``"|", "|", A, B, C``) become one n-ary group and are written back the same way, and the
top-level implicit AND stays implicit (an explicit top-level ``"&"`` stays explicit).
A group built in the builder with n children is written as n-1 prefix operators.
Empty groups are dropped when writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.filters import FilterError


@dataclass
class Leaf:
    field: Any  # a field path, or 0/1 for Odoo's constant leaves
    op: str
    value: Any


@dataclass
class Group:
    op: str = "&"  # "&" or "|"
    negated: bool = False
    children: list[Group | Leaf] = field(default_factory=list)
    implicit: bool = False  # the top-level AND written without "&" prefixes


Node = Group | Leaf


def _is_leaf(token: Any) -> bool:
    return (
        isinstance(token, list)
        and len(token) == 3
        and isinstance(token[0], str | int)
        and not isinstance(token[0], bool)
        and isinstance(token[1], str)
    )


def _read(domain: list[Any], pos: int) -> tuple[Node, int]:
    if pos >= len(domain):
        raise FilterError("the filter ends where a condition was expected (malformed nesting)")
    token = domain[pos]
    if _is_leaf(token):
        return Leaf(token[0], token[1], token[2]), pos + 1
    if token == "!":
        inner, pos = _read(domain, pos + 1)
        if isinstance(inner, Group) and not inner.negated:
            inner.negated = True
            return inner, pos
        return Group("&", True, [inner]), pos
    if token in ("&", "|"):
        first, pos = _read(domain, pos + 1)
        second, pos = _read(domain, pos)
        if isinstance(first, Group) and first.op == token and not first.negated:
            first.children.append(second)  # a left-nested chain: one n-ary group
            return first, pos
        return Group(token, False, [first, second]), pos
    raise FilterError(f"[{pos}]: expected a [field, operator, value] leaf, '&', '|' or '!'")


def to_tree(domain: list[Any]) -> Group:
    """The root group of ``domain``; raises FilterError for malformed nesting."""
    if not isinstance(domain, list):
        raise FilterError("a filter must be a list")
    items, pos = [], 0
    while pos < len(domain):
        node, pos = _read(domain, pos)
        items.append(node)
    if len(items) == 1 and isinstance(items[0], Group):
        return items[0]
    return Group("&", False, items, implicit=True)


def _write(node: Node) -> list[Any]:
    if isinstance(node, Leaf):
        return [[node.field, node.op, node.value]]
    parts = [p for p in (_write(c) for c in node.children) if p]
    if not parts:
        return []
    out = [node.op] * (len(parts) - 1)
    for p in parts:
        out.extend(p)
    return ["!", *out] if node.negated else out


def to_domain(root: Group) -> list[Any]:
    if root.implicit and root.op == "&" and not root.negated:
        out: list[Any] = []
        for c in root.children:
            out.extend(_write(c))
        return out
    return _write(root)
