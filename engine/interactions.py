"""What recipients do with sent messages, and how it moves their journeys (SPEC E7).

Recording is set-based over any number of traces of one interaction type: the first
occurrence per trace is stamped on the trace (statistics count it once), every occurrence
is logged, waiting children become due, and "not" siblings are canceled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, false, insert, or_, select, true, update
from sqlalchemy.orm import Session

from . import delays
from .catalog import (
    EVENT_TRIGGERS,
    INTERACTION_CHANNEL,
    INTERACTION_COLUMN,
    INTERACTION_WORD,
    INTERACTIONS,
    NOT_TRIGGERS,
)
from .errors import UserError
from .models import Activity, Campaign, Interaction, Participant, Trace, table
from .sqlutil import affected
from .traces import chunks, complete_participants

T = table(Trace)
A = table(Activity)
C = table(Campaign)
P = table(Participant)
IX = table(Interaction)  # inserted through Core: the ORM bulk path costs a click its time

# Interactions that imply another one first (a click or a reply means it was opened).
IMPLIES = {"click": "open", "reply": "open"}
TRIGGER_OF = {v: k for k, v in EVENT_TRIGGERS.items()}
NOT_TRIGGER_OF = {v: k for k, v in NOT_TRIGGERS.items()}


@dataclass
class InteractionResult:
    recorded: int = 0
    first_time: int = 0
    triggered: int = 0
    canceled: int = 0
    campaigns: set[int] = field(default_factory=set)


def record(
    session: Session,
    trace_ids: Sequence[int],
    kind: str,
    at: datetime,
    *,
    link_id: int | None = None,
    detail: str | None = None,
) -> InteractionResult:
    """Record ``kind`` on each trace (processed messages of the right channel only)."""
    if kind not in INTERACTIONS:
        raise UserError(f"unknown interaction {kind!r} (expected one of {', '.join(INTERACTIONS)})")
    result = InteractionResult()
    implied = IMPLIES.get(kind)
    for part in chunks(sorted(set(trace_ids))):
        if implied:
            _record_one(session, part, implied, at, None, None, result, log_repeat=False)
        _record_one(session, part, kind, at, link_id, detail, result, log_repeat=True)
    return result


def _record_one(
    session: Session,
    ids: Sequence[int],
    kind: str,
    at: datetime,
    link_id: int | None,
    detail: str | None,
    result: InteractionResult,
    *,
    log_repeat: bool,
) -> None:
    channel = INTERACTION_CHANNEL[kind]
    col = T.c[INTERACTION_COLUMN[kind]]
    rows = session.execute(
        select(T.c.id, T.c.campaign_id, T.c.is_test, col.is_(None).label("first"), C.c.state)
        .join(A, A.c.id == T.c.activity_id)
        .join(C, C.c.id == T.c.campaign_id)
        .where(T.c.id.in_(ids), T.c.state == "processed", A.c.type == channel)
    ).all()
    # An implied open is logged only when it is new: a click on an opened mail adds a
    # click, not another open.
    logged = [r for r in rows if log_repeat or r.first]
    if logged:
        session.execute(
            insert(IX),
            [
                {"trace_id": r.id, "type": kind, "at": at, "link_id": link_id, "detail": detail}
                for r in logged
            ],
        )
        result.recorded += len(logged) if log_repeat else 0
    first = [r.id for r in rows if r.first]
    if first:
        session.execute(update(T).where(T.c.id.in_(first), col.is_(None)).values({col: at}))
        result.first_time += len(first)
    # A stopped campaign records but triggers nothing; tests also run in draft.
    live = [r.id for r in rows if r.state == "running" or (r.is_test and r.state == "draft")]
    result.campaigns.update(r.campaign_id for r in rows)
    if live:
        _move_children(session, live, kind, at, result)


def _move_children(
    session: Session, parents: Sequence[int], kind: str, at: datetime, result: InteractionResult
) -> None:
    waiting = and_(T.c.parent_id.in_(parents), T.c.state == "scheduled")
    trigger = TRIGGER_OF[kind]
    children = session.execute(
        select(A.c.id, A.c.delay_amount, A.c.delay_unit).where(
            A.c.trigger == trigger, A.c.id.in_(select(T.c.activity_id).where(waiting).distinct())
        )
    ).all()
    for child_id, amount, unit in children:
        res = session.execute(
            update(T)
            .where(waiting, T.c.activity_id == child_id, T.c.due_at.is_(None))
            .values(due_at=delays.add(at, amount, unit), anchor_at=at)
        )
        result.triggered += affected(res)

    if kind in ("bounce", "sms_bounce"):
        not_bounce = select(A.c.id).where(A.c.trigger != trigger)
        message = "Parent activity bounced"
        cancel_where = and_(waiting, T.c.activity_id.in_(not_bounce))
    elif kind in NOT_TRIGGER_OF:
        not_children = select(A.c.id).where(A.c.trigger == NOT_TRIGGER_OF[kind])
        word = INTERACTION_WORD[kind]
        message = f"Parent activity {'SMS' if kind.startswith('sms') else 'mail'} {word}"
        cancel_where = and_(waiting, T.c.activity_id.in_(not_children))
    else:
        return
    touched = list(session.scalars(select(T.c.participant_id).where(cancel_where).distinct()))
    res = session.execute(
        update(T)
        .where(cancel_where)
        .values(state="canceled", message=message, done_at=at, claimed_by=None, claimed_at=None)
    )
    result.canceled += affected(res)
    if touched:
        complete_participants(session, P.c.id.in_(touched), at)


def find_message_trace(
    session: Session, campaign_id: int, activity_key: str, record_id: int, *, test: bool = False
) -> int:
    """The trace of ``activity_key`` sent to ``record_id`` (the latest, when several)."""
    act = session.execute(
        select(A.c.id, A.c.type).where(A.c.campaign_id == campaign_id, A.c.key == activity_key)
    ).first()
    if act is None:
        raise UserError(f"campaign {campaign_id} has no activity with key {activity_key!r}")
    row = session.execute(
        select(T.c.id, T.c.state)
        .where(
            T.c.activity_id == act.id,
            T.c.record_id == record_id,
            T.c.is_test == (true() if test else false()),
        )
        .order_by(or_(T.c.state == "processed", false()).desc(), T.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise UserError(
            f"record {record_id} has no trace of activity {activity_key!r} in this campaign"
        )
    if row.state != "processed":
        raise UserError(
            f"the trace of activity {activity_key!r} for record {record_id} is {row.state}; "
            "only a sent message can be opened, clicked, replied to or bounce"
        )
    return int(row.id)


@dataclass(frozen=True)
class Occurrence:
    """One interaction on one trace, at its own moment (a click the tracking server got)."""

    trace_id: int
    kind: str
    at: datetime
    link_id: int | None = None
    detail: str | None = None


def record_batch(session: Session, items: Sequence[Occurrence]) -> list[InteractionResult]:
    """:func:`record` for many occurrences at once, in their order; one result each.

    The tracking server's group commit: a few statements for the whole group instead of
    about ten per click. The same rules as :func:`record` — implied opens first and only
    when new, every occurrence of the kind itself logged, the first per trace stamped —
    and the children step (E7) runs, as in :func:`record`, for the live traces that have
    scheduled children at all (usually none on a repeated click).
    """
    for item in items:
        if item.kind not in INTERACTIONS:
            raise UserError(f"unknown interaction {item.kind!r}")
    kinds = {k for item in items for k in (item.kind, IMPLIES.get(item.kind)) if k}
    cols = sorted({INTERACTION_COLUMN[k] for k in kinds})
    ids = sorted({item.trace_id for item in items})
    found: dict[int, Any] = {}
    for part in chunks(ids):
        found.update(
            (r.id, r)
            for r in session.execute(
                select(
                    T.c.id,
                    T.c.campaign_id,
                    T.c.is_test,
                    A.c.type,
                    C.c.state,
                    *(T.c[c] for c in cols),
                )
                .join(A, A.c.id == T.c.activity_id)
                .join(C, C.c.id == T.c.campaign_id)
                .where(T.c.id.in_(part), T.c.state == "processed")
            )
        )
    stamped: dict[tuple[int, str], bool] = {}  # (trace, column) -> already set
    logs: list[dict[str, Any]] = []
    stamps: dict[str, list[dict[str, Any]]] = {}
    moves: list[tuple[int, str, datetime, InteractionResult]] = []
    results: list[InteractionResult] = []
    for item in items:
        result = InteractionResult()
        results.append(result)
        row = found.get(item.trace_id)
        for kind in (IMPLIES.get(item.kind), item.kind):
            if kind is None or row is None or row.type != INTERACTION_CHANNEL[kind]:
                continue
            col = INTERACTION_COLUMN[kind]
            key = (row.id, col)
            first = not stamped.get(key, getattr(row, col) is not None)
            repeat_log = kind == item.kind
            if repeat_log or first:
                logs.append(
                    {
                        "trace_id": row.id,
                        "type": kind,
                        "at": item.at,
                        "link_id": item.link_id if repeat_log else None,
                        "detail": item.detail if repeat_log else None,
                    }
                )
                result.recorded += 1 if repeat_log else 0
            if first:
                stamped[key] = True
                stamps.setdefault(col, []).append({"tid": row.id, "at": item.at})
                result.first_time += 1
            result.campaigns.add(row.campaign_id)
            if row.state == "running" or (row.is_test and row.state == "draft"):
                moves.append((row.id, kind, item.at, result))
    if logs:
        session.execute(insert(IX), logs)
    for col, values in stamps.items():
        session.execute(
            update(T)
            .where(T.c.id == bindparam("tid"), T.c[col].is_(None))
            .values({col: bindparam("at")})
            .execution_options(synchronize_session=False),
            values,
        )
    parents = sorted({tid for tid, *_ in moves})
    with_children: set[int] = set()
    for part in chunks(parents):
        with_children.update(
            session.scalars(
                select(T.c.parent_id)
                .where(T.c.parent_id.in_(part), T.c.state == "scheduled")
                .distinct()
            )
        )
    for tid, kind, at, result in moves:
        if tid in with_children:
            _move_children(session, [tid], kind, at, result)
    return results
