"""Audience sync (SPEC E2, E3): set-based, a handful of statements per campaign.

New matching records join with one ``INSERT … SELECT``; their begin traces are one more
``INSERT … SELECT`` per begin activity; leavers are one ``UPDATE`` and their traces one
more. No Python loop runs over records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    String,
    and_,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from . import filters
from .fields import MODELS, model_info
from .models import Campaign, Participant, Trace, table
from .plan import CampaignPlan
from .sqlutil import affected
from .traces import TRACE_COLUMNS, insert_traces

P = table(Participant)
T = table(Trace)


@dataclass
class SyncResult:
    joined: int = 0
    removed: int = 0


def unique_expression(target: str, field_name: str) -> ColumnElement[str]:
    """How a record's unique value compares: trimmed and case-folded text."""
    info = model_info(target)
    col = info.table.c[info.fields[field_name].column or field_name]
    as_text = col if isinstance(col.type, String) else cast(col, String)
    return func.lower(func.trim(as_text))


def sync_campaign(session: Session, plan: CampaignPlan, now: datetime) -> SyncResult:
    """Add newly matching records, remove leavers; the caller owns the transaction."""
    info = MODELS[plan.target]
    rec = info.table
    result = SyncResult()
    condition = filters.audience_condition(plan.filter, plan.target, now)
    real = and_(P.c.campaign_id == plan.id, P.c.is_test == false())

    # --- leavers first, so a record that left is not counted as joining ---------------
    still_matching = exists(
        select(literal(1)).select_from(rec).where(rec.c.id == P.c.record_id, condition)
    )
    removed = session.execute(
        update(P)
        .where(real, P.c.state == "running", ~still_matching)
        .values(state="removed", removed_at=now)
        .execution_options(synchronize_session=False)
    )
    result.removed = affected(removed)
    if result.removed:
        gone = select(P.c.id).where(real, P.c.state == "removed")
        session.execute(
            update(T)
            .where(T.c.state == "scheduled", T.c.participant_id.in_(gone))
            .values(
                state="canceled",
                message="Removed from audience",
                done_at=now,
                claimed_by=None,
                claimed_at=None,
            )
            .execution_options(synchronize_session=False)
        )

    # --- joiners -----------------------------------------------------------------------
    already = exists(
        select(literal(1)).where(
            P.c.campaign_id == plan.id, P.c.is_test == false(), P.c.record_id == rec.c.id
        )
    )
    unique_col: ColumnElement[str] | None = None
    if plan.unique_field:
        unique_col = unique_expression(plan.target, plan.unique_field)
        taken = exists(
            select(literal(1)).where(
                P.c.campaign_id == plan.id, P.c.is_test == false(), P.c.unique_value == unique_col
            )
        )
        # The earliest record of each unique value joins; the others wait for later syncs.
        source = (
            select(func.min(rec.c.id).label("rid"), unique_col.label("uv"))
            .where(condition, ~already, unique_col.is_not(None), unique_col != "", ~taken)
            .group_by(unique_col)
        ).subquery()
        joiners = select(
            literal(plan.id),
            source.c.rid,
            literal(False),
            literal("running"),
            source.c.uv,
            literal(now, type_=P.c.joined_at.type),
        )
    else:
        joiners = select(
            literal(plan.id),
            rec.c.id,
            literal(False),
            literal("running"),
            literal(None, type_=P.c.unique_value.type),
            literal(now, type_=P.c.joined_at.type),
        ).where(condition, ~already)

    before = session.scalar(select(func.coalesce(func.max(P.c.id), 0))) or 0
    inserted = session.execute(
        insert(P).from_select(
            ["campaign_id", "record_id", "is_test", "state", "unique_value", "joined_at"], joiners
        ),
        execution_options={"preserve_rowcount": True},
    )
    result.joined = affected(inserted)
    if result.joined:
        for act in plan.roots():
            create_root_traces(
                session,
                plan,
                act.id,
                now,
                and_(P.c.campaign_id == plan.id, P.c.id > before, P.c.is_test == false()),
            )
    session.execute(
        update(table(Campaign)).where(table(Campaign).c.id == plan.id).values(last_sync_at=now)
    )
    return result


def create_root_traces(
    session: Session,
    plan: CampaignPlan,
    activity_id: int,
    anchor: datetime,
    participants: ColumnElement[bool],
) -> int:
    """One trace of a begin activity per selected participant, due at anchor + delay."""
    act = plan.activities[activity_id]
    due = act.due_from(anchor)
    rows = select(
        P.c.campaign_id,
        literal(act.id),
        P.c.id,
        P.c.record_id,
        P.c.is_test,
        literal("scheduled"),
        literal(due, type_=T.c.due_at.type),
        literal(anchor, type_=T.c.anchor_at.type),
        literal(anchor, type_=T.c.created_at.type),
        literal(0),
        literal(False),
    ).where(participants)
    columns = [c for c in TRACE_COLUMNS if c != "parent_id"]
    return insert_traces(session, rows, columns)
