"""Pages of a campaign's traces and participants for the dashboard's tables (SPEC §6):
filtered, searched and sorted in the database, one page at a time.

A view asks for the rows it shows (``offset``/``limit``), so a million traces cost what a
page costs. The total is exact from the summary tables when nothing is searched, and
unknown (None) while a search is on: counting every match would read every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, func, or_, select
from sqlalchemy.orm import Session

from ..db import Database
from ..errors import UserError
from ..fields import MODELS
from ..models import Activity, Campaign, Participant, Trace, table
from .figures import STATES, read_campaign_figures

A, C, P, T = table(Activity), table(Campaign), table(Participant), table(Trace)
PAGE = 200
MAX_PAGE = 5_000
MAX_SEARCH = 200
PARTICIPANT_STATES = ("running", "completed", "removed")


@dataclass(frozen=True)
class Query:
    """What a table shows: one state, one step (traces only), a search, an order."""

    state: str | None = None
    activity: str | None = None
    search: str = ""
    sort: str = "id"
    descending: bool = True


@dataclass(frozen=True)
class TraceRow:
    id: int
    participant_id: int
    activity: str
    activity_name: str
    record_id: int
    record: str
    state: str
    due_at: datetime | None
    done_at: datetime | None
    to_address: str | None
    message: str | None


@dataclass(frozen=True)
class ParticipantRow:
    id: int
    record_id: int
    record: str
    state: str
    joined_at: datetime
    ended_at: datetime | None  # completed or removed
    steps: int  # processed steps so far


TRACE_SORTS = ("id", "activity", "record", "state", "due_at", "done_at", "to_address")
PARTICIPANT_SORTS = ("id", "record", "state", "joined_at", "ended_at", "steps")


def indexed(query: Query, *, participants: bool = False) -> bool:
    """Whether a page of ``query`` is a short index walk (milliseconds at any size), or
    must read every matching row to sort or search it (a GUI runs those in the
    background): newest first or by done time for traces, newest first for participants."""
    quick = ("id",) if participants else ("id", "done_at")
    return not query.search and query.sort in quick


def _check(query: Query, sorts: tuple[str, ...], states: tuple[str, ...]) -> None:
    if query.sort not in sorts:
        raise UserError(f"cannot sort by {query.sort!r}; choose one of {', '.join(sorts)}")
    if query.state is not None and query.state not in states:
        raise UserError(f"no state {query.state!r}; choose one of {', '.join(states)}")
    if len(query.search) > MAX_SEARCH:
        raise UserError(f"a search is at most {MAX_SEARCH} characters")


def _bounds(offset: int, limit: int) -> None:
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise UserError(f"a page is 1 to {MAX_PAGE} rows from offset 0 or more")


def _record(session: Session, campaign_id: int) -> tuple[Any, Any]:
    target = session.scalar(select(C.c.target).where(C.c.id == campaign_id))
    if target is None:
        raise UserError(f"no campaign with id {campaign_id}")
    info = MODELS[target]
    return info.table, info.table.c[info.display_field]


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _ordered(q: Select[Any], column: Any, descending: bool, tie: Any) -> Select[Any]:
    if descending:
        return q.order_by(column.desc(), tie.desc())
    return q.order_by(column.asc(), tie.asc())


# --- traces ---------------------------------------------------------------------------------


def trace_page(
    db: Database, campaign_id: int, query: Query, offset: int = 0, limit: int = PAGE
) -> tuple[TraceRow, ...]:
    _check(query, TRACE_SORTS, STATES)
    _bounds(offset, limit)
    with db.read() as s:
        rec, name = _record(s, campaign_id)
        sort = {
            "id": T.c.id,
            "activity": A.c.sequence,
            "record": name,
            "state": T.c.state,
            "due_at": T.c.due_at,
            "done_at": T.c.done_at,
            "to_address": T.c.to_address,
        }[query.sort]
        # The page's ids first, from the trace table alone where the order allows (an
        # index walk for the usual orders), then its 200 rows with their names.
        ids = select(T.c.id).where(T.c.campaign_id == campaign_id, T.c.is_test == false())
        if query.sort == "activity":
            ids = ids.join(A, A.c.id == T.c.activity_id)
        if query.sort == "record" or query.search:
            ids = ids.outerjoin(rec, rec.c.id == T.c.record_id)
        if query.state == "waiting":
            ids = ids.where(T.c.state == "scheduled", T.c.due_at.is_(None))
        elif query.state:
            ids = ids.where(T.c.state == query.state)
        if query.activity:
            step = select(A.c.id).where(A.c.campaign_id == campaign_id, A.c.key == query.activity)
            ids = ids.where(T.c.activity_id == step.scalar_subquery())
        if query.search:
            like = _like(query.search)
            ids = ids.where(
                or_(name.ilike(like, escape="\\"), T.c.to_address.ilike(like, escape="\\"))
            )
        ids = _ordered(ids, sort, query.descending, T.c.id).offset(offset).limit(limit)
        q = (
            select(
                T.c.id,
                T.c.participant_id,
                A.c.key.label("activity_key"),
                A.c.name.label("activity_name"),
                T.c.record_id,
                name.label("record_name"),
                T.c.state,
                T.c.due_at,
                T.c.done_at,
                T.c.to_address,
                T.c.message,
            )
            .join(A, A.c.id == T.c.activity_id)
            .outerjoin(rec, rec.c.id == T.c.record_id)
            .where(T.c.id.in_(ids.correlate(None).scalar_subquery()))
        )
        rows = s.execute(_ordered(q, sort, query.descending, T.c.id)).all()
    return tuple(
        TraceRow(
            r.id,
            r.participant_id,
            r.activity_key,
            r.activity_name,
            r.record_id,
            r.record_name if r.record_name is not None else f"(deleted {r.record_id})",
            r.state,
            r.due_at,
            r.done_at,
            r.to_address,
            r.message,
        )
        for r in rows
    )


def trace_total(db: Database, campaign_id: int, query: Query) -> int | None:
    """How many traces the query shows: exact, from the summaries; None while searching."""
    _check(query, TRACE_SORTS, STATES)
    if query.search:
        return None
    with db.read() as s:
        acts = read_campaign_figures(s, campaign_id).activities
    chosen = [a for a in acts if query.activity in (None, a.key)]
    states = [query.state] if query.state else [st for st in STATES if st != "waiting"]
    return sum(getattr(a, st) for a in chosen for st in states)


# --- participants ---------------------------------------------------------------------------


def participant_page(
    db: Database, campaign_id: int, query: Query, offset: int = 0, limit: int = PAGE
) -> tuple[ParticipantRow, ...]:
    _check(query, PARTICIPANT_SORTS, PARTICIPANT_STATES)
    _bounds(offset, limit)
    if query.activity:
        raise UserError("participants are not filtered by step; filter their traces instead")
    with db.read() as s:
        rec, name = _record(s, campaign_id)
        steps = (
            select(func.count())
            .where(T.c.participant_id == P.c.id, T.c.state == "processed")
            .scalar_subquery()
        )
        ended = func.coalesce(P.c.completed_at, P.c.removed_at)
        sort = {
            "id": P.c.id,
            "record": name,
            "state": P.c.state,
            "joined_at": P.c.joined_at,
            "ended_at": ended,
            "steps": steps,
        }[query.sort]
        # The page's ids first (an index walk when listed newest first), so the steps
        # are counted for the page's participants only unless they are the order.
        ids = select(P.c.id).where(P.c.campaign_id == campaign_id, P.c.is_test == false())
        if query.sort == "record" or query.search:
            ids = ids.outerjoin(rec, rec.c.id == P.c.record_id)
        if query.state:
            ids = ids.where(P.c.state == query.state)
        if query.search:
            ids = ids.where(name.ilike(_like(query.search), escape="\\"))
        ids = _ordered(ids, sort, query.descending, P.c.id).offset(offset).limit(limit)
        q = (
            select(P.c.id, P.c.record_id, name, P.c.state, P.c.joined_at, ended, steps)
            .outerjoin(rec, rec.c.id == P.c.record_id)
            .where(P.c.id.in_(ids.correlate(None).scalar_subquery()))
        )
        q = _ordered(q, sort, query.descending, P.c.id)
        return tuple(
            ParticipantRow(
                r[0],
                r[1],
                r[2] if r[2] is not None else f"(deleted {r[1]})",
                r[3],
                r[4],
                r[5],
                int(r[6]),
            )
            for r in s.execute(q)
        )


def participant_total(db: Database, campaign_id: int, query: Query) -> int | None:
    _check(query, PARTICIPANT_SORTS, PARTICIPANT_STATES)
    if query.search:
        return None
    with db.read() as s:
        p = read_campaign_figures(s, campaign_id).participants
    states = [query.state] if query.state else list(PARTICIPANT_STATES)
    return sum(getattr(p, st) for st in states)
