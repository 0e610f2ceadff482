"""Set-based trace bookkeeping shared by the executor, interactions and edits:
children of processed traces (E6) and participant completion (E9).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, insert, literal, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from .catalog import EVENT_TRIGGERS
from .models import Participant, Trace, table
from .plan import ActivityPlan
from .sqlutil import affected

P = table(Participant)
T = table(Trace)

CHUNK = 5000


def chunks(ids: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def create_child_traces(
    session: Session,
    child: ActivityPlan,
    parents: ColumnElement[bool],
    processed_at: datetime | None,
    now: datetime,
) -> int:
    """One trace of ``child`` under each parent trace selected by ``parents``.

    Event children wait (no due time); the others are due at processed_at + delay. With
    ``processed_at`` None each parent's own processed time is the anchor (E10).
    """
    if child.trigger in EVENT_TRIGGERS:
        due_col, anchor_col = (
            literal(None, type_=T.c.due_at.type),
            literal(None, type_=T.c.anchor_at.type),
        )
        rows = _child_select(child, parents, due_col, anchor_col, now)
        return insert_traces(session, rows)
    if processed_at is not None:
        due_col = literal(child.due_from(processed_at), type_=T.c.due_at.type)
        anchor_col = literal(processed_at, type_=T.c.anchor_at.type)
        return insert_traces(session, _child_select(child, parents, due_col, anchor_col, now))
    # Anchors differ per parent: compute due times in Python, insert with executemany.
    parent_rows = session.execute(
        select(
            T.c.id, T.c.campaign_id, T.c.participant_id, T.c.record_id, T.c.is_test, T.c.done_at
        ).where(parents)
    ).all()
    if not parent_rows:
        return 0
    session.execute(
        insert(T),
        [
            {
                "campaign_id": r.campaign_id,
                "activity_id": child.id,
                "participant_id": r.participant_id,
                "parent_id": r.id,
                "record_id": r.record_id,
                "is_test": r.is_test,
                "state": "scheduled",
                "due_at": child.due_from(r.done_at),
                "anchor_at": r.done_at,
                "created_at": now,
                "attempts": 0,
                "handoff": False,
            }
            for r in parent_rows
        ],
    )
    return len(parent_rows)


def _child_select(child, parents, due_col, anchor_col, now):
    return select(
        T.c.campaign_id,
        literal(child.id),
        T.c.participant_id,
        T.c.id,
        T.c.record_id,
        T.c.is_test,
        literal("scheduled"),
        due_col,
        anchor_col,
        literal(now, type_=T.c.created_at.type),
        literal(0),
        literal(False),
    ).where(parents)


TRACE_COLUMNS = (
    "campaign_id",
    "activity_id",
    "participant_id",
    "parent_id",
    "record_id",
    "is_test",
    "state",
    "due_at",
    "anchor_at",
    "created_at",
    "attempts",
    "handoff",
)


def insert_traces(session: Session, rows: Any, columns: Sequence[str] = TRACE_COLUMNS) -> int:
    """``INSERT INTO trace (columns) SELECT …``; returns how many rows it made."""
    res = session.execute(
        insert(T).from_select(list(columns), rows),
        execution_options={"preserve_rowcount": True},
    )
    return affected(res)


def complete_participants(
    session: Session, participants: ColumnElement[bool], now: datetime
) -> int:
    """E9: running participants with no scheduled trace left become completed."""
    pending = exists(
        select(literal(1)).where(T.c.participant_id == P.c.id, T.c.state == "scheduled")
    )
    res = session.execute(
        update(P)
        .where(participants, P.c.state == "running", ~pending)
        .values(state="completed", completed_at=now)
        .execution_options(synchronize_session=False)
    )
    return affected(res)


def complete_ids(session: Session, participant_ids: Iterable[int], now: datetime) -> int:
    ids = sorted(set(participant_ids))
    return sum(complete_participants(session, P.c.id.in_(part), now) for part in chunks(ids))
