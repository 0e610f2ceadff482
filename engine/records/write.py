"""Writing records in bulk: what server actions and CSV import do to many records at once.

Every function validates all its input first and only then writes, with a fixed number of
statements (per 5,000 records); a value shared by a batch is coerced once, not per record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, delete, exists, insert, select, true, tuple_, update
from sqlalchemy.orm import Session

from ..clock import as_utc
from ..fields import MANY2MANY, MANY2ONE, MODELS, PHONE, Field, ModelInfo
from ..models import Follower, Suppression, Task
from ..sqlutil import ids_in
from .sql import (
    chunks,
    ensure_names,
    insert_missing,
    insert_returning_ids,
    load_users,
)
from .values import (
    SALESPERSON,
    LinkChange,
    PreparedRow,
    RecordsError,
    cleared_value,
    coerce_plain,
    get_model,
    insert_default,
    is_empty,
    normalize_address,
    normalize_phone,
    parse_link_change,
    prepare_row,
    writable_field,
)

TASK_T: Table = Task.__table__  # type: ignore[assignment]
FOLLOWER_T: Table = Follower.__table__  # type: ignore[assignment]
SUPPRESSION_T: Table = Suppression.__table__  # type: ignore[assignment]
TASK_KINDS = ("todo", "call", "email", "meeting")
SUPPRESSION_KINDS = ("email", "phone")


# ----------------------------------------------------------------------------- update


def write_values(
    session: Session,
    model: str,
    ids: Sequence[int],
    values: Mapping[str, Any],
    *,
    now: datetime,
    region: str | None = None,
) -> None:
    """Apply ``values`` to every record in ``ids`` (the ``update_record`` action).

    Plain fields become one ``UPDATE … WHERE id IN``; tags/lists take a list (replace) or
    ``{"add": [...], "remove": [...]}`` (names, created when missing) and become
    ``INSERT … SELECT`` / ``DELETE`` statements. Empty values clear a field. A phone
    number without ``+prefix`` uses ``region``, else the records' common country.
    Unknown or read-only fields raise ValueError before anything is written.
    """
    info = get_model(model)
    t = info.table
    id_list = list(dict.fromkeys(int(i) for i in ids))
    fields = {name: writable_field(info, name) for name in values}
    plain: dict[str, Any] = {}
    links: dict[str, LinkChange] = {}

    # The country first: a national-format phone number written alongside uses it.
    for name, f in sorted(fields.items(), key=lambda item: item[0] != "country"):
        value = values[name]
        try:
            if name == "country":
                plain["country"] = (
                    cleared_value(info, f) if is_empty(value) else coerce_plain(info, f, value)
                )
                region = plain["country"] or region
            elif f.kind == MANY2MANY:
                links[name] = parse_link_change(f, value)
            elif is_empty(value):
                plain[str(f.column)] = cleared_value(info, f)
            elif f.kind == MANY2ONE:
                plain[str(f.column)] = load_users(session).lookup(value)
            elif f.kind == PHONE:
                phone_region = region or _common_country(session, info, id_list, value)
                plain[str(f.column)] = coerce_plain(info, f, value, region=phone_region)
            else:
                plain[str(f.column)] = coerce_plain(info, f, value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if not id_list or not (plain or links):
        return
    if "updated_at" in t.c:
        plain["updated_at"] = now

    created = {
        name: ensure_names(session, _relation(fields[name]), change.replace or change.add)
        for name, change in links.items()
    }
    for part in chunks(id_list):
        session.execute(update(t).where(ids_in(session, t.c.id, part)).values(plain))
        for name, change in links.items():
            _change_links(session, info, fields[name], part, change, list(created[name].values()))


def _relation(f: Field) -> Table:
    assert f.relation is not None
    return f.relation


def _common_country(session: Session, info: ModelInfo, ids: list[int], value: Any) -> str | None:
    """The one country of ``ids``, for a national-format number written to all of them."""
    if "country" not in info.table.c or not isinstance(value, str) or value.strip()[:1] == "+":
        return None
    t = info.table
    countries: set[str] = set()
    for part in chunks(ids):
        stmt = select(t.c.country).distinct().where(t.c.id.in_(part), t.c.country.is_not(None))
        countries.update(session.execute(stmt).scalars())
    return countries.pop() if len(countries) == 1 else None


def _change_links(
    session: Session,
    info: ModelInfo,
    f: Field,
    ids: Sequence[int],
    change: LinkChange,
    new_ids: list[int],
) -> None:
    assert f.link is not None
    link, rel = f.link, _relation(f)
    owner, other = link.c[str(f.link_owner)], link.c[str(f.link_other)]
    if change.replace is not None:
        session.execute(delete(link).where(ids_in(session, owner, ids)))
    elif change.remove:
        gone = select(rel.c.id).where(rel.c.name.in_(change.remove))
        session.execute(delete(link).where(ids_in(session, owner, ids), other.in_(gone)))
    if not new_ids:
        return
    t = info.table
    pairs = (
        select(t.c.id, rel.c.id)
        .select_from(t.join(rel, true()))
        .where(ids_in(session, t.c.id, ids), rel.c.id.in_(new_ids))
    )
    if change.replace is None:
        pairs = pairs.where(~exists().where(owner == t.c.id, other == rel.c.id))
    session.execute(insert(link).from_select([owner, other], pairs))


# ----------------------------------------------------------------------------- create


def create_records(
    session: Session,
    model: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    region: str | None = None,
) -> list[int]:
    """Create one record per row (values already rendered); their ids, in row order.

    Every row is validated first; if any is bad, :class:`RecordsError` maps each bad
    row's index to its message and nothing is created, so the caller can fail those and
    resubmit the others.
    """
    info = get_model(model)
    prepared: list[PreparedRow] = []
    errors: dict[int, str] = {}
    for index, raw in enumerate(rows):
        row, problems = prepare_row(info, raw, region=region)
        prepared.append(row)
        if problems:
            errors[index] = "; ".join(f"{name}: {msg}" for name, msg in problems)
    for index, problems in resolve_row_users(session, info, prepared).items():
        messages = [f"{name}: {msg}" for name, msg in problems]
        errors[index] = "; ".join([errors[index], *messages] if index in errors else messages)
    if errors:
        raise RecordsError(errors)
    return insert_prepared(session, info, prepared, now=now)


def resolve_row_users(
    session: Session,
    info: ModelInfo,
    rows: Sequence[PreparedRow],
    row_label: Callable[[int], str] = "rows[{}]".format,
) -> dict[int, list[tuple[str, str]]]:
    """Replace each row's user references by ids; ``(field, message)`` problems by row index.

    Also refuses duplicate user emails, the only unique column of an importable model,
    so that a bad row is reported instead of aborting the insert.
    """
    problems: dict[int, list[tuple[str, str]]] = {}
    users = load_users(session) if info.name == "user" or any(r.user_refs for r in rows) else None
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        for column, ref in list(row.user_refs.items()):
            assert users is not None
            try:
                row.columns[column] = users.lookup(ref)
            except ValueError as exc:
                problems.setdefault(index, []).append((_field_of(info, column), str(exc)))
        if info.name == "user" and "email" in row.columns:
            assert users is not None
            key = row.columns["email"].lower()
            if key in users.by_email:
                message = f"a user with email {row.columns['email']} already exists"
                problems.setdefault(index, []).append(("email", message))
            elif key in seen:
                message = f"same email as {row_label(seen[key])}"
                problems.setdefault(index, []).append(("email", message))
            seen.setdefault(key, index)
    return problems


def _field_of(info: ModelInfo, column: str) -> str:
    return next((f.name for f in info.fields.values() if f.column == column), column)


def insert_prepared(
    session: Session,
    info: ModelInfo,
    rows: Sequence[PreparedRow],
    *,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> list[int]:
    """Insert validated rows and their many2many links; progress after each 5,000."""
    t = info.table
    names = {
        f.name: ensure_names(
            session, _relation(f), (n for row in rows for n in row.links.get(f.name, ()))
        )
        for f in info.fields.values()
        if f.kind == MANY2MANY
    }
    defaults = {c.name: insert_default(c) for c in t.c if c.name != "id"}
    for stamp in ("created_at", "updated_at"):
        if stamp in defaults:
            defaults[stamp] = now
    ids: list[int] = []
    total = len(rows)
    if progress:
        progress(0, total)
    for part in chunks(list(rows)):
        new_ids = insert_returning_ids(session, t, [defaults | row.columns for row in part])
        for name, by_name in names.items():
            f = info.fields[name]
            assert f.link is not None
            pairs = [
                {str(f.link_owner): record_id, str(f.link_other): by_name[n]}
                for record_id, row in zip(new_ids, part, strict=True)
                for n in row.links.get(name, ())
            ]
            if pairs:
                session.execute(insert(f.link), pairs)
        ids += new_ids
        if progress:
            progress(len(ids), total)
    return ids


# ----------------------------------------------------------------------------- tasks


def create_tasks(session: Session, rows: Sequence[Mapping[str, Any]], *, now: datetime) -> None:
    """Insert the tasks ``create_activity`` makes, in one executemany.

    Rows carry kind, summary, note, due_date (date or ISO string), assignee_id,
    res_model, res_id and trace_id. A bad row raises :class:`RecordsError` and nothing is
    inserted. Summaries are rendered templates, so an overlong one is cut to the column's
    512 characters rather than failing the action.
    """
    out: list[dict[str, Any]] = []
    errors: dict[int, str] = {}
    for index, row in enumerate(rows):
        try:
            out.append(_task_row(row, now))
        except ValueError as exc:
            errors[index] = str(exc)
    if errors:
        raise RecordsError(errors)
    if out:
        session.execute(insert(TASK_T), out)


def _task_row(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    kind = row.get("kind", "todo")
    if kind not in TASK_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(TASK_KINDS)}")
    summary = str(row.get("summary") or "").strip()
    if not summary:
        raise ValueError("a task needs a summary")
    if len(summary) > 512:
        summary = summary[:511] + "…"
    if row.get("res_model") not in MODELS:
        raise ValueError(f"res_model {row.get('res_model')!r} is not a record model")
    due = row.get("due_date")
    if isinstance(due, datetime):
        due = as_utc(due).date()
    elif isinstance(due, str) and due.strip():
        try:
            due = date.fromisoformat(due.strip()[:10])
        except ValueError:
            raise ValueError(f"due_date {due!r} is not an ISO date (YYYY-MM-DD)") from None
    elif not isinstance(due, date):
        due = None
    return {
        "kind": kind,
        "summary": summary,
        "note": row.get("note") or None,
        "due_date": due,
        "assignee_id": _optional_id(row, "assignee_id"),
        "res_model": row["res_model"],
        "res_id": _optional_id(row, "res_id", required=True),
        "done": False,
        "created_at": now,
        "trace_id": _optional_id(row, "trace_id"),
    }


def _optional_id(row: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
    value = row.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer id, got {value!r}")
    return value


# ----------------------------------------------------------------------------- users


def salesperson_ids(session: Session, model: str, ids: Sequence[int]) -> dict[int, int | None]:
    """Each record's salesperson id (None when unset), for :func:`resolve_users`."""
    info = get_model(model)
    t = info.table
    found: dict[int, int | None] = {}
    if "salesperson_id" not in t.c:
        return {int(i): None for i in ids}
    for part in chunks(list(dict.fromkeys(int(i) for i in ids))):
        stmt = select(t.c.id, t.c.salesperson_id).where(t.c.id.in_(part))
        found.update((int(rid), sp) for rid, sp in session.execute(stmt))
    return found


def resolve_users(
    session: Session,
    refs: Sequence[str | int],
    *,
    salesperson_ids: Mapping[int, int | None],
) -> dict[int, list[int]]:
    """For each record id, the user ids that ``refs`` designate for it, in order.

    A ref is ``"salesperson"`` (the record's own salesperson, skipped when unset), a
    user's email, name or id. ``salesperson_ids`` maps record id → salesperson id (from
    :func:`salesperson_ids` or loaded records). One query at most; an unknown user raises
    ValueError naming it, because a misspelt assignee is a campaign error, not a record's.
    """
    fixed: list[int | None] = []
    users = None
    for ref in refs:
        if isinstance(ref, str) and ref.strip().lower() == SALESPERSON:
            fixed.append(None)
            continue
        users = users or load_users(session)
        fixed.append(users.lookup(ref))
    result: dict[int, list[int]] = {}
    for record_id, salesperson in salesperson_ids.items():
        chosen: list[int] = []
        for user_id in fixed:
            uid = salesperson if user_id is None else user_id
            if uid is not None and uid not in chosen:
                chosen.append(uid)
        result[record_id] = chosen
    return result


def add_followers(session: Session, model: str, pairs: Iterable[tuple[int, int]]) -> None:
    """Make users follow records: ``(record_id, user_id)`` pairs; existing pairs are kept."""
    get_model(model)
    rows = [{"res_model": model, "res_id": int(r), "user_id": int(u)} for r, u in pairs]
    insert_missing(session, FOLLOWER_T, rows)


def remove_followers(session: Session, model: str, pairs: Iterable[tuple[int, int]]) -> None:
    """Stop users following records; pairs that do not exist are ignored."""
    get_model(model)
    f = FOLLOWER_T.c
    unique = list(dict.fromkeys((int(r), int(u)) for r, u in pairs))
    for part in chunks(unique, 2500):
        session.execute(
            delete(FOLLOWER_T).where(f.res_model == model, tuple_(f.res_id, f.user_id).in_(part))
        )


# ----------------------------------------------------------------------------- suppression


def _suppression_key(kind: str, value: str) -> str | None:
    if kind not in SUPPRESSION_KINDS:
        raise ValueError(f"suppression kind must be email or phone, not {kind!r}")
    return normalize_address(value) if kind == "email" else normalize_phone(value)


def suppressed(session: Session, kind: str, values: Iterable[str]) -> set[str]:
    """Which of ``values`` (as given) are on the suppression list, compared normalised."""
    keys: dict[str, str] = {}
    for value in values:
        if isinstance(value, str) and value.strip():
            keys[value] = _suppression_key(kind, value) or value.strip().lower()
    s = SUPPRESSION_T.c
    hits: set[str] = set()
    for part in chunks(sorted(set(keys.values()))):
        stmt = select(s.value).where(s.kind == kind, s.value.in_(part))
        hits.update(session.execute(stmt).scalars())
    return {value for value, key in keys.items() if key in hits}


def suppress(session: Session, kind: str, value: str, reason: str | None, now: datetime) -> str:
    """Put an address or number on the suppression list (idempotent); the stored form."""
    key = _suppression_key(kind, value)
    if key is None:
        what = "email address" if kind == "email" else "phone number (E.164, +…)"
        raise ValueError(f"{value!r} is not a valid {what}")
    row = {"kind": kind, "value": key, "reason": (reason or None), "created_at": now}
    insert_missing(session, SUPPRESSION_T, [row])
    return cast(str, key)
