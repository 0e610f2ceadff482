"""Audience filters: Odoo domains, checked up front and compiled to one SQL condition.

Users paste domains they know from Odoo, so the notation and its quirks follow Odoo:
``False`` means "not set", ``!=`` and the ``not …`` operators also match records where the
field is not set, and ``!`` is pushed down onto the leaves (De Morgan, operator inversion)
instead of being a bare SQL ``NOT`` that would silently drop NULL rows. Filters compile to
SQLAlchemy Core so a sync selects a whole audience in one statement, identically on SQLite
and PostgreSQL; no record is ever evaluated in Python.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Table, and_, false, literal, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from . import limits
from .errors import Problem, UserError
from .fields import (
    BOOL,
    CHAR,
    DATETIME,
    FLOAT,
    INT,
    JSONK,
    MANY2MANY,
    MANY2ONE,
    MODELS,
    RELATED_FIELDS,
    SELECTION,
    Field,
    ModelInfo,
)

Condition = ColumnElement[bool]

_PATTERN = ("like", "ilike", "not like", "not ilike", "=like", "=ilike")
_COMPARE = ("=", "!=", "<", "<=", ">", ">=", "in", "not in")
OPERATORS = (*_COMPARE, *_PATTERN)
_PREFIX = ("&", "|", "!")
_ORDERED: dict[str, Callable[[Any, Any], Condition]] = dict(
    zip(("<", "<=", ">", ">="), (operator.lt, operator.le, operator.gt, operator.ge), strict=True)
)
# Negative operators and their positive forms: a relation matches a negative leaf when no
# related row matches the positive one (Odoo's semantics for tags and dotted paths).
# ``not =like``/``not =ilike`` are internal: they exist so that ``!`` never needs a raw NOT.
_POSITIVE = {"!=": "=", **{f"not {p}": p for p in ("in", "like", "ilike", "=like", "=ilike")}}
# How ``!`` rewrites a leaf (Odoo's distribute_not).
_NEGATION = {
    **_POSITIVE,
    **{p: n for n, p in _POSITIVE.items()},
    **{"<": ">=", ">=": "<", ">": "<=", "<=": ">"},
}
_TEXT_KINDS = frozenset({"char", "text", "email", "phone", SELECTION})
_KIND_OPERATORS = {
    BOOL: ("=", "!=", "in", "not in"),
    INT: _COMPARE,
    FLOAT: _COMPARE,
    DATETIME: _COMPARE,
    MANY2MANY: ("=", "!=", "in", "not in", *_PATTERN),
}
# Columns a bare relation is matched against when the value is text (``salesperson``
# = "Alice" or "alice@example.com"; ``tags`` = "VIP").
_SEARCH_COLUMNS = {"user": ("name", "email"), "tag": ("name",), "mailing_list": ("name",)}
_KEY_RE = re.compile(r"[\w-]+")
_INT_RE = re.compile(r"\s*[+-]?\d{1,19}\s*")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RELATIVE_RE = re.compile(r"\s*([+-]?)\s*(\d{1,6})\s*(hour|day|week|month)s?\s*", re.IGNORECASE)
_INT_LIMIT = 2**63
_EXPECTED = "a [field, operator, value] leaf, '&', '|' or '!'"
_RELATIVE_EXAMPLE = '{"now": "-7 days"}, in hours, days, weeks or months'
# Relative dates only need a reference time to be checked, not a particular one.
_CHECK_NOW = datetime(2000, 1, 1, tzinfo=UTC)
# domain > leaf > 'in' list > relative date {"now": ...}: nothing valid nests deeper.
_MAX_DEPTH = 4
_TOO_DEEP = "the filter nests lists more deeply than [field, operator, value] leaves allow"


class FilterError(UserError):
    """A filter that cannot be read or used; ``problems`` lists everything found."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


# --- reading --------------------------------------------------------------------------------


def parse_domain(value: str | list[Any] | tuple[Any, ...] | None) -> list[Any]:
    """Read a filter as JSON or as a pasted Odoo domain (a Python literal, never eval'd)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return _normalise(value)
    if not isinstance(value, str):
        raise FilterError(f"a filter must be a list or text, got {_show(value)}")
    text = value.strip()
    if not text:
        return []
    if limits.json_too_deep(text, _MAX_DEPTH):
        raise FilterError(_TOO_DEEP)
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise FilterError(
                "cannot read the filter as JSON or as an Odoo domain; only literal values "
                'are allowed (write relative dates as {"now": "-7 days"}, not function calls)'
            ) from None
    if not isinstance(parsed, list | tuple):
        raise FilterError(
            f'a filter must be a list such as [["email", "!=", null]], got {_show(parsed)}'
        )
    return _normalise(parsed)


def _normalise(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    return value


def _show(value: Any) -> str:
    """A short rendering of a user's value for messages (JSON-ish, quoted names)."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- checking: the domain becomes a tree of checked leaves ----------------------------------


@dataclass(frozen=True)
class _Target:
    """What a leaf compares: a column, or a relation (``via``) crossed or compared bare."""

    kind: str
    column: ColumnElement[Any] | None = None  # None: the relation itself (``tags``)
    via: Field | None = None
    selection: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Leaf:
    target: _Target
    op: str
    value: Any  # coerced; None means "not set"; a list for in / not in


@dataclass(frozen=True)
class _Const:
    value: bool


@dataclass(frozen=True)
class _Bool:
    op: str  # "&" or "|"
    children: tuple[_Node, ...]


_Node = _Leaf | _Const | _Bool
_Checked = tuple[_Node, list[Problem]]
_Match = Callable[[str, Any], Condition | None]  # (positive operator, value) -> related rows
_TRUE = _Const(True)


class _Invalid(Exception):
    """A value that does not fit its field; the message names it."""


def _bad(path: str, message: str) -> _Checked:
    return _TRUE, [Problem(path, message)]


def _negate(node: _Node) -> _Node:
    if isinstance(node, _Const):
        return _Const(not node.value)
    if isinstance(node, _Leaf):
        return replace(node, op=_NEGATION[node.op])
    return _combine("|" if node.op == "&" else "&", [_negate(c) for c in node.children])


def _combine(op: str, nodes: Sequence[_Node]) -> _Bool:
    """``a | (b | c)`` as one ``a | b | c``: shallow trees compile to shallow SQL."""
    flat = [c for n in nodes for c in (n.children if isinstance(n, _Bool) and n.op == op else [n])]
    return _Bool(op, tuple(flat))


def _build(domain: Any, model: str, now: datetime) -> _Checked:
    """Check every element and build the tree, Polish notation read from the right."""
    if isinstance(domain, str):
        try:
            domain = parse_domain(domain)
        except FilterError as exc:
            return _bad("", str(exc))
    if domain is None:
        domain = []
    if not isinstance(domain, list | tuple):
        return _bad("", f"a filter must be a list, got {_show(domain)}")
    info = MODELS.get(model)
    if info is None:
        return _bad("", f"unknown model {model!r}")
    if _is_leaf_shaped(domain):
        return _bad("", f"a filter is a list of leaves: put {_show(list(domain))} in a list")
    shape = _shape_problems(domain)
    if shape:
        return _TRUE, shape
    problems: list[Problem] = []
    stack: list[_Node] = []
    for index in range(len(domain) - 1, -1, -1):
        token, path = domain[index], f"[{index}]"
        if isinstance(token, str) and token in _PREFIX:
            arity = 1 if token == "!" else 2
            operands = [stack.pop() for _ in range(min(arity, len(stack)))]
            if len(operands) < arity:
                needs = "one operand" if arity == 1 else "two operands"
                problems.append(Problem(path, f"{token!r} needs {needs}"))
                stack.append(_TRUE)
            elif token == "!":
                stack.append(_negate(operands[0]))
            else:
                stack.append(_combine(token, operands))
        elif isinstance(token, str):
            problems.append(Problem(path, f"unknown operator {token!r} (expected {_EXPECTED})"))
            stack.append(_TRUE)
        else:
            node, found = _check_leaf(info, token, path, now)
            problems += found
            stack.append(node)
    problems.sort(key=lambda p: [int(n) for n in re.findall(r"\[(\d+)\]", p.path)])
    stack.reverse()
    if len(stack) == 1:
        return stack[0], problems
    return (_combine("&", stack) if stack else _TRUE), problems


def filter_size(domain: Any) -> tuple[int, int]:
    """(terms, values) of a domain: its elements, and the values its leaves compare (each
    item of a list counts). Both are bounded (``limits.MAX_FILTER_TERMS``/``_VALUES``)."""
    if not isinstance(domain, list | tuple):
        return 0, 0
    values = 0
    for token in domain:
        if isinstance(token, list | tuple) and len(token) == 3:
            value = token[2]
            values += max(len(value), 1) if isinstance(value, list | tuple) else 1
    return len(domain), values


def size_problem(terms: int, values: int, what: str = "the filter") -> str | None:
    """Why ``terms``/``values`` are too many for the filters of one step, if they are."""
    if terms > limits.MAX_FILTER_TERMS:
        return (
            f"{what} has {terms} terms (conditions and '&', '|', '!'); at most "
            f"{limits.MAX_FILTER_TERMS} are allowed: match many values with one "
            '\'in\' condition, e.g. ["email", "in", [...]]'
        )
    if values > limits.MAX_FILTER_VALUES:
        return f"{what} compares {values} values; at most {limits.MAX_FILTER_VALUES} are allowed"
    return None


def _nesting(domain: Sequence[Any]) -> int:
    """How deep the groups of the built tree nest (as :func:`_build` combines them: a
    group inside one of the same operator merges into it; '!' swaps '&' and '|')."""
    stack: list[tuple[str | None, int]] = []
    deepest = 0

    def combine(op: str, operands: list[tuple[str | None, int]]) -> tuple[str, int]:
        return op, max(d if o == op else d + 1 for o, d in operands)

    for token in reversed(domain):
        if token == "!" and stack:
            op, depth = stack.pop()
            stack.append(({"&": "|", "|": "&"}.get(op or "", op), depth))
        elif token in ("&", "|") and len(stack) >= 2:
            stack.append(combine(token, [stack.pop(), stack.pop()]))
            deepest = max(deepest, stack[-1][1])
        else:  # a leaf, or an operator short of operands (then a placeholder, as in _build)
            del stack[len(stack) - (1 if token in ("&", "|") and stack else 0) :]
            stack.append((None, 0))
    if len(stack) > 1:
        deepest = max(deepest, combine("&", stack)[1])
    return deepest


def _shape_problems(domain: Sequence[Any]) -> list[Problem]:
    """Size, nesting and invalid text, checked before any leaf so that a huge or hostile
    filter is refused at once (and never reaches SQL, whose expression depth is bounded)."""
    message = size_problem(*filter_size(domain))
    if message is not None:
        return [Problem("", message)]
    if _nesting(domain) > limits.MAX_FILTER_NESTING:
        message = (
            f"the filter nests groups of conditions more than {limits.MAX_FILTER_NESTING} "
            "levels deep ('&' inside '|' inside '&'...)"
        )
        return [Problem("", message)]
    found: list[Problem] = []
    stack: list[tuple[Any, str, int]] = [(t, f"[{i}]", 1) for i, t in enumerate(domain)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, list | tuple | dict) and depth >= _MAX_DEPTH:
            return [Problem(path, _TOO_DEEP)]
        if isinstance(value, list | tuple):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                stack.append((key, path, depth + 1))
                stack.append((item, path, depth + 1))
        elif isinstance(value, str) and (bad := limits.surrogate_in(value)) is not None:
            found.append(Problem(path, f"the text {limits.surrogate_words(bad)}"))
    return sorted(found, key=lambda p: p.path)


def _is_leaf_shaped(domain: Sequence[Any]) -> bool:
    """A lone leaf given as the whole filter: a common paste error worth naming."""
    field, op = domain[:2] if len(domain) == 3 else (None, None)
    return isinstance(field, str) and field not in _PREFIX and op in OPERATORS


def _check_leaf(info: ModelInfo, token: Any, path: str, now: datetime) -> _Checked:
    if not isinstance(token, list | tuple) or len(token) != 3:
        return _bad(path, f"expected {_EXPECTED}, got {_show(token)}")
    name, op, value = token
    if _is_constant_leaf(name, op, value):  # Odoo's TRUE_LEAF (1, '=', 1) / FALSE_LEAF
        return _Const(name == 1), []
    problems: list[Problem] = []
    target: _Target | None = None
    if not isinstance(name, str) or not name:
        problems.append(Problem(f"{path}[0]", f"expected a field name, got {_show(name)}"))
    else:
        resolved = _resolve(info, name)
        if isinstance(resolved, str):
            problems.append(Problem(f"{path}[0]", resolved))
        else:
            target = resolved
    if not isinstance(op, str) or op not in OPERATORS:
        known = ", ".join(OPERATORS)
        problems.append(Problem(f"{path}[1]", f"unknown operator {_show(op)} (expected {known})"))
    elif target is not None and op not in _KIND_OPERATORS.get(target.kind, OPERATORS):
        message = f"operator {op!r} does not apply to {target.kind} field {name!r}"
        problems.append(Problem(f"{path}[1]", message))
    if problems or target is None:
        return _TRUE, problems
    coerced, problems = _coerce(target, name, op, value, now, f"{path}[2]")
    return (_Leaf(target, op, coerced) if not problems else _TRUE), problems


def _is_constant_leaf(name: Any, op: Any, value: Any) -> bool:
    return name in (0, 1) and type(name) is int and op == "=" and type(value) is int and value == 1


def _resolve(info: ModelInfo, name: str) -> _Target | str:
    """The target of a field name or dotted path, or the message saying why there is none."""
    head, dot, rest = name.partition(".")
    field = info.field(head)
    if field is None:
        return f"unknown field {name!r} on {info.name}"
    table = info.table
    if field.kind == JSONK:
        keys = rest.split(".")
        if not rest or not all(_KEY_RE.fullmatch(k) for k in keys):
            return f"field {head!r} holds free-form data; name one key of it, e.g. '{head}.source'"
        json_column: Any = table.c[field.column or head]
        key: str | tuple[str, ...] = keys[0] if len(keys) == 1 else tuple(keys)
        return _Target(CHAR, json_column[key].as_string())
    if not dot:
        if field.is_relational:
            return _Target(field.kind, via=field)
        return _Target(field.kind, table.c[field.column or head], selection=field.selection)
    if not field.is_relational or field.relation is None:
        return f"field {head!r} of {info.name} is not a relation, so {name!r} cannot follow it"
    related = RELATED_FIELDS[field.relation.name]
    sub = related.get(rest)
    if sub is None:
        known = ", ".join(f"'{head}.{n}'" for n in related)
        return f"unknown field {name!r} on {info.name} (expected one of {known})"
    return _Target(sub.kind, field.relation.c[sub.column or rest], via=field)


def _coerce(
    target: _Target, name: str, op: str, value: Any, now: datetime, path: str
) -> tuple[Any, list[Problem]]:
    """The value in the field's own type, or a problem for each value that does not fit."""
    if op in ("in", "not in"):
        if not isinstance(value, list | tuple):
            return None, [Problem(path, f"operator {op!r} needs a list, got {_show(value)}")]
        items, problems = [], []
        for k, item in enumerate(value):
            try:
                items.append(_coerce_one(target, name, "=", item, now))
            except _Invalid as exc:
                problems.append(Problem(f"{path}[{k}]", str(exc)))
        return items, problems
    if isinstance(value, list | tuple):
        message = f"operator {op!r} takes one value (use 'in' for a list), got {_show(value)}"
        return None, [Problem(path, message)]
    try:
        return _coerce_one(target, name, op, value, now), []
    except _Invalid as exc:
        return None, [Problem(path, str(exc))]


def _coerce_one(target: _Target, name: str, op: str, value: Any, now: datetime) -> Any:
    kind = target.kind
    if value is None or value is False:
        if op in _ORDERED or op in _PATTERN:
            raise _Invalid(f"operator {op!r} needs a value, got {_show(value)} for {name!r}")
        return None
    if kind == BOOL:
        if value is True or (type(value) is int and value in (0, 1)):
            return True if value else None
        raise _Invalid(f"{_show(value)} is not true or false for boolean field {name!r}")
    if isinstance(value, bool):
        raise _Invalid(f"true is not a value for {kind} field {name!r}")
    if isinstance(value, dict):
        if kind != DATETIME:
            raise _Invalid(f"relative date {_show(value)} given for {kind} field {name!r}")
        return _relative(value, now)
    if op in _PATTERN or kind in _TEXT_KINDS:
        if isinstance(value, int | float) and kind in _TEXT_KINDS:
            value = str(value)
        if not isinstance(value, str):
            raise _Invalid(f"operator {op!r} on {name!r} needs text, got {_show(value)}")
        if target.selection and op not in _PATTERN and value not in target.selection:
            choices = ", ".join(target.selection)
            raise _Invalid(f"{value!r} is not a choice of {name!r} (expected one of {choices})")
        return value
    if kind in (MANY2ONE, MANY2MANY):
        if type(value) is int or (isinstance(value, str) and op not in _ORDERED):
            return value
        raise _Invalid(f"{_show(value)} is not a record id or name for {name!r}")
    if kind == INT:
        return _integer(value, name)
    if kind == FLOAT:
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.inf
        if not math.isfinite(number):
            raise _Invalid(f"{_show(value)} is not a number for field {name!r}")
        return number
    if kind == DATETIME and isinstance(value, str):
        return _datetime(value, op, name)
    raise _Invalid(f"{_show(value)} is not a value for {kind} field {name!r}")


def _integer(value: Any, name: str) -> int:
    # Odoo writes selection-like ints (lead priority) as strings, hence "3".
    integral = isinstance(value, float) and value.is_integer()
    if integral or (isinstance(value, str) and _INT_RE.fullmatch(value)):
        value = int(value)
    if type(value) is not int or abs(value) >= _INT_LIMIT:
        raise _Invalid(f"{_show(value)} is not a whole number for field {name!r}")
    return value


def _datetime(text: str, op: str, name: str) -> datetime:
    """A UTC datetime; a bare date means its first instant, or its last for > and <= (Odoo)."""
    text = text.strip()
    try:
        if _DATE_RE.fullmatch(text):
            day = datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
            return day + timedelta(days=1, microseconds=-1) if op in (">", "<=") else day
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        raise _Invalid(f"{text!r} is not a date for {name!r} (e.g. '2026-01-31 10:00')") from None


def _relative(value: dict[Any, Any], now: datetime) -> datetime:
    spec = value.get("now") if list(value) == ["now"] else None
    match = _RELATIVE_RE.fullmatch(spec) if isinstance(spec, str) else None
    if match is None:
        raise _Invalid(f"bad relative date {_show(value)} (e.g. {_RELATIVE_EXAMPLE})")
    amount, unit = int(match[2]) * (-1 if match[1] == "-" else 1), match[3].lower()
    # A month is a calendar month (as for delays), so it cannot be a timedelta.
    try:
        if unit == "month":
            return _utc(now) + relativedelta(months=amount)
        return _utc(now) + timedelta(**{unit + "s": amount})
    except (ValueError, OverflowError):
        raise _Invalid(f"relative date {_show(value)} is out of range") from None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- compiling ------------------------------------------------------------------------------


def _sql(node: _Node, table: Table) -> Condition:
    if isinstance(node, _Const):
        return true() if node.value else false()
    if isinstance(node, _Leaf):
        return _compile_leaf(node, table)
    parts = [_sql(child, table) for child in node.children]
    return and_(*parts) if node.op == "&" else or_(*parts)


def _compile_leaf(leaf: _Leaf, table: Table) -> Condition:
    target, op, value = leaf.target, leaf.op, leaf.value
    if target.via is None:
        assert target.column is not None
        return _scalar(target.column, target.kind, op, value)
    via, column = target.via, target.column
    assert via.relation is not None
    related = via.relation
    if column is None:
        return _related(table, via, op, value, lambda o, v: _by_name_or_id(related, o, v))
    return _related(table, via, op, value, lambda o, v: _scalar(column, target.kind, o, v))


def _scalar(column: ColumnElement[Any], kind: str, op: str, value: Any) -> Condition:
    """One column against a coerced value, with Odoo's handling of "not set"."""
    if kind == BOOL:
        return _boolean(column, op, value)
    text = kind in _TEXT_KINDS
    unset = or_(column.is_(None), column == "") if text else column.is_(None)
    is_set = and_(column.is_not(None), column != "") if text else column.is_not(None)
    if op == "=":
        return unset if value is None else column == value
    if op == "!=":
        return is_set if value is None else or_(column != value, column.is_(None))
    if op in ("in", "not in"):
        wanted = [v for v in value if v is not None]
        with_unset = len(wanted) < len(value)
        if op == "in":
            parts = ([column.in_(wanted)] if wanted else []) + ([unset] if with_unset else [])
            return or_(*parts) if parts else false()
        if with_unset:
            return and_(is_set, column.not_in(wanted)) if wanted else is_set
        return or_(column.not_in(wanted), column.is_(None)) if wanted else true()
    if op in _ORDERED:
        return _ORDERED[op](column, value)
    positive = _POSITIVE.get(op, op)
    pattern = value if positive.startswith("=") else f"%{_escape_like(value)}%"
    if positive.endswith("ilike"):
        matched = column.ilike(pattern, escape="\\")
    else:
        matched = column.like(pattern, escape="\\")
    return or_(column.is_(None), not_(matched)) if op != positive else matched


def _boolean(column: ColumnElement[Any], op: str, value: Any) -> Condition:
    # IS TRUE / IS NOT TRUE are never NULL, so "false" includes NULL and NOT is exact.
    values = value if op in ("in", "not in") else [value]
    want_true, want_unset = True in values, None in values
    if want_true and want_unset:
        cond: Condition = true()
    elif want_true:
        cond = column.is_(True)
    elif want_unset:
        cond = column.is_not(True)
    else:
        cond = false()
    return not_(cond) if op in ("!=", "not in") else cond


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _related(table: Table, field: Field, op: str, value: Any, match: _Match) -> Condition:
    """A leaf across a relation: some related row matches, or (negative) none does.

    A record without any related row counts as "not set", so ``= false`` finds it and a
    negative leaf such as ``salesperson.email != x`` includes it, as in Odoo.
    """
    positive = _POSITIVE.get(op, op)
    with_unset = value is None or (positive == "in" and None in value)
    parts = []
    cond = match(positive, value)
    if cond is not None:
        parts.append(_linked(table, field, cond))
    if with_unset:
        parts.append(not_(_linked(table, field, None)))
    result = or_(*parts) if parts else false()
    return not_(result) if positive != op else result


def _linked(table: Table, field: Field, cond: Condition | None) -> Condition:
    """Whether the record has a related row (matching ``cond``); never NULL, so NOT is exact."""
    related = field.relation
    assert related is not None
    if field.kind == MANY2ONE:
        fk = table.c[field.column or field.name]
        if cond is None:
            return fk.is_not(None)
        # correlate(None): stay a plain sub-select even if the outer query joins ``user``.
        ids = select(related.c.id).where(cond).correlate(None)
        return and_(fk.is_not(None), fk.in_(ids))
    link = field.link
    assert link is not None and field.link_owner and field.link_other
    query = select(literal(1)).select_from(link)
    if cond is not None:
        query = query.join(related, link.c[field.link_other] == related.c.id).where(cond)
    return query.where(link.c[field.link_owner] == table.c.id).correlate(table).exists()


def _by_name_or_id(related: Table, op: str, value: Any) -> Condition | None:
    """Related rows named by id (int) or by name/email (text); None if nothing is named."""
    values = value if op == "in" else [value]
    ids = [v for v in values if type(v) is int]
    names = [v for v in values if isinstance(v, str)]
    columns = [related.c[c] for c in _SEARCH_COLUMNS.get(related.name, ("name",))]
    if op == "in":
        parts = ([related.c.id.in_(ids)] if ids else []) + [c.in_(names) for c in columns if names]
        return or_(*parts) if parts else None
    if ids:
        return _scalar(related.c.id, INT, op, ids[0])
    if names:
        return or_(*(_scalar(c, CHAR, op, names[0]) for c in columns))
    return None


# --- public entry points --------------------------------------------------------------------


def validate_domain(domain: Any, model: str) -> list[Problem]:
    """Every problem in ``domain``, located relative to it (``[2]``, ``[2][0]``)."""
    try:
        return _build(domain, model, _CHECK_NOW)[1]
    except Exception as exc:  # a checker bug must not crash an import; report it instead
        return [Problem("", f"cannot check this filter: {exc}")]


def compile_domain(domain: Any, model: str, now: datetime) -> Condition:
    """The WHERE condition selecting ``domain``'s records (archived ones included)."""
    node, problems = _build(domain, model, now)
    if problems:
        first = problems[0]
        where = f" at {first.path}" if first.path else ""
        raise FilterError(f"{first.message}{where}", problems)
    return _sql(node, MODELS[model].table)


def active_condition(model: str) -> Condition:
    """Archived records never join an audience; models without ``active`` have none."""
    info = MODELS[model]
    return info.table.c.active.is_(True) if info.has_active else true()


def audience_condition(domain: Any, model: str, now: datetime) -> Condition:
    return and_(compile_domain(domain, model, now), active_condition(model))
