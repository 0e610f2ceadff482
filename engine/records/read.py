"""Reading audience records as plain dicts: for ``records list``, templates and webhooks.

One query for the records (their salesperson joined in) and one per many2many field,
whatever the number of records, so rendering a batch of thousands of emails costs the
same handful of queries as rendering one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from ..errors import UserError
from ..fields import MANY2MANY, MANY2ONE, ModelInfo
from ..ids import parse_id
from .sql import chunks
from .values import get_model


def _plural(info: ModelInfo) -> str:
    return info.label.lower() + "s"


def _fetch(
    session: Session, info: ModelInfo, ids: Sequence[int] | None, limit: int | None
) -> list[dict[str, Any]]:
    """Raw rows: ``id``, every field by name, the many2one as a dict, many2many as names."""
    t = info.table
    plain = [f for f in info.fields.values() if not f.is_relational and f.name != "id"]
    m2o = [f for f in info.fields.values() if f.kind == MANY2ONE]
    m2m = [f for f in info.fields.values() if f.kind == MANY2MANY]
    columns: list[Any] = [t.c.id, *(t.c[str(f.column)].label(f.name) for f in plain)]
    source: Any = t
    for f in m2o:
        assert f.relation is not None
        rel = f.relation.alias(f"rel_{f.name}")
        columns += [
            rel.c.id.label(f"{f.name}__id"),
            rel.c.name.label(f"{f.name}__name"),
            rel.c.email.label(f"{f.name}__email"),
        ]
        source = source.outerjoin(rel, rel.c.id == t.c[str(f.column)])
    base: Select[Any] = select(*columns).select_from(source).order_by(t.c.id)
    if limit is not None:
        base = base.limit(limit)

    rows: list[dict[str, Any]] = []
    if ids is None:
        rows = [dict(r._mapping) for r in session.execute(base)]
    else:
        for part in chunks(sorted({int(i) for i in ids})):
            rows += [dict(r._mapping) for r in session.execute(base.where(t.c.id.in_(part)))]
        if limit is not None:
            rows = rows[:limit]

    for row in rows:
        for f in m2o:
            uid = row.pop(f"{f.name}__id")
            name, email = row.pop(f"{f.name}__name"), row.pop(f"{f.name}__email")
            row[f.name] = None if uid is None else {"id": uid, "name": name, "email": email}
        for f in m2m:
            row[f.name] = []
    by_id = {row["id"]: row for row in rows}
    whole_table = ids is None and limit is None
    for f in m2m:
        assert f.link is not None and f.relation is not None
        owner, other = f.link.c[str(f.link_owner)], f.link.c[str(f.link_other)]
        query = select(owner, f.relation.c.name).join(f.relation, f.relation.c.id == other)
        statements = (
            [query]
            if whole_table
            else [query.where(owner.in_(part)) for part in chunks(list(by_id))]
        )
        for stmt in statements:
            for record_id, name in session.execute(stmt):
                if record_id in by_id:
                    by_id[record_id][f.name].append(name)
        for row in rows:
            row[f.name].sort()
    return [{name: row[name] for name in info.fields} for row in rows]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def list_records(
    session: Session,
    model: str,
    *,
    ids: Sequence[int] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Records in id order, as ``records list --json`` prints them.

    Tags/lists are sorted names, the salesperson is its email, datetimes are ISO-8601
    strings: every value is JSON-ready.
    """
    info = get_model(model)
    out = []
    for row in _fetch(session, info, ids, limit):
        for f in info.fields.values():
            if f.kind == MANY2ONE:
                row[f.name] = row[f.name]["email"] if row[f.name] else None
        out.append(_jsonable(row))
    return out


def load_records(session: Session, model: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Records by id for template contexts, webhooks and the sandbox.

    Like :func:`list_records` but the salesperson is ``{id, name, email}`` so templates
    can write ``record.salesperson.name``. Datetimes stay ISO strings so the same dict
    can be posted as JSON. Ids of deleted records are simply absent.
    """
    info = get_model(model)
    return {row["id"]: _jsonable(row) for row in _fetch(session, info, list(ids), None)}


def display_name(model: str, row: dict[str, Any]) -> str:
    """How a record is named in listings: its name, else its email, else ``Contact #3``."""
    info = get_model(model)
    for key in (info.display_field, info.email_field):
        value = row.get(key) if key else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return f"{info.label} #{row.get('id')}"


def resolve_record(
    session: Session, model: str, ref: str, *, among: Select[Any] | None = None
) -> int:
    """The id of the record ``ref`` designates: an id (digits) or an email address.

    Email matching is case-insensitive because people type addresses however they like;
    an email shared by several records is refused rather than guessed. ``among`` (a
    select of record ids, e.g. a campaign's participants) settles a shared email when
    exactly one of its records is among them: the one a command about that campaign
    can only mean.
    """
    info = get_model(model)
    t = info.table
    label = info.label.lower()
    record_id = parse_id(str(ref))  # ' 1' and '１' are no ids
    if record_id is not None:
        found = session.execute(select(t.c.id).where(t.c.id == record_id)).scalar()
        if found is None:
            raise UserError(f"no {label} with id {record_id}")
        return int(found)
    text = str(ref).strip()
    if text.isdigit():  # digits, yet no id: too large, or not ASCII
        raise UserError(
            f"no {label} with id {ref!r}: an id is written with the digits 0-9 alone, "
            "nothing around them, and has at most 19 of them"
        )
    if not info.email_field or "@" not in text:
        raise UserError(f"{ref!r} is neither a {label} id nor an email address")
    email = t.c[info.email_field]
    ids = list(
        session.execute(
            select(t.c.id).where(func.lower(email) == text.lower()).order_by(t.c.id)
        ).scalars()
    )
    if not ids:
        raise UserError(f"no {label} with email {text}")
    if len(ids) > 1 and among is not None:
        inside = set(session.scalars(among.where(among.selected_columns[0].in_(ids))))
        if len(inside) == 1:
            return int(inside.pop())
    if len(ids) > 1:
        raise UserError(
            f"several {_plural(info)} have email {text} (ids {', '.join(map(str, ids))}); "
            "give an id instead"
        )
    return int(ids[0])
