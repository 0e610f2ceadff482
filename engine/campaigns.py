"""Campaign lifecycle and edits: find, start/stop (E1), test mode (E11), edits of a
running campaign and "Update participants" (E10).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from . import delays
from .catalog import INTERACTION_COLUMN, NOT_TRIGGERS
from .errors import UserError, ValidationError
from .ids import parse_id
from .models import Activity, Campaign, Participant, Trace, table
from .plan import load_plan
from .sync import create_root_traces, sync_campaign
from .traces import complete_ids, create_child_traces

T = table(Trace)
P = table(Participant)
A = table(Activity)


def find_campaign(session: Session, ref: str | int) -> Campaign:
    """A campaign by id or exact name; a clear error when unknown or ambiguous.

    Nothing is stripped and only ASCII digits are an id (:func:`engine.ids.parse_id`):
    ``' 1'`` or ``'１'`` must not silently pick campaign 1.
    """
    text = str(ref)
    campaign_id = parse_id(text)
    if campaign_id is not None:
        found = session.get(Campaign, campaign_id)
        if found is not None:
            return found
    matches = session.scalars(select(Campaign).where(Campaign.name == text)).all()
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        ids = ", ".join(str(c.id) for c in matches)
        raise UserError(f"several campaigns are named {text!r} (ids {ids}); use an id")
    raise UserError(f"no campaign with id or name {text!r} (see `journeys list`)")


def find_activity(session: Session, campaign_id: int, key: str) -> Activity:
    act = session.scalar(
        select(Activity).where(Activity.campaign_id == campaign_id, Activity.key == key)
    )
    if act is None:
        keys = session.scalars(
            select(Activity.key)
            .where(Activity.campaign_id == campaign_id)
            .order_by(Activity.sequence)
        ).all()
        raise UserError(f"no activity {key!r} in this campaign (activities: {', '.join(keys)})")
    return act


def start(session: Session, campaign: Campaign, now: datetime) -> int:
    """E1: refuse an empty or invalid campaign, then run it and sync at once."""
    from .validation import validate_campaign

    if campaign.state == "running":
        raise UserError(f"campaign {campaign.name!r} is already running")
    if campaign.archived:
        raise UserError(f"campaign {campaign.name!r} is archived: restore it before starting it")
    problems = [p for p in validate_campaign(session, campaign.id) if p.severity == "error"]
    if problems:
        raise ValidationError(problems, title=f"cannot start {campaign.name!r}")
    campaign.state = "running"
    campaign.started_at = campaign.started_at or now
    campaign.updated_at = now
    session.flush()
    return sync_campaign(session, load_plan(session, campaign.id), now).joined


def stop(session: Session, campaign: Campaign, now: datetime) -> None:
    if campaign.state != "running":
        raise UserError(f"campaign {campaign.name!r} is not running (it is {campaign.state})")
    campaign.state = "stopped"
    campaign.updated_at = now


def count_matching(session: Session, campaign: Campaign, now: datetime) -> int:
    """How many records the audience filter matches now (for confirmations)."""
    from . import filters
    from .fields import model_info

    table = model_info(campaign.target).table
    cond = filters.audience_condition(campaign.filter, campaign.target, now)
    return int(session.scalar(select(func.count()).select_from(table).where(cond)) or 0)


# --- E11 test mode ------------------------------------------------------------------------


def participant_records(campaign_id: int, *, test: bool = False) -> Any:
    """The record ids taking part in a campaign (its test participants with ``test``):
    what settles a reference to a record shared by several (``records.resolve_record``)."""
    return select(P.c.record_id).where(P.c.campaign_id == campaign_id, P.c.is_test == test)


def launch_test(session: Session, campaign: Campaign, record_id: int, now: datetime) -> int:
    """A test participant for ``record_id``; its begin traces are due at now + delay."""
    from .fields import model_info

    if campaign.state == "stopped":
        raise UserError("a stopped campaign cannot run a test; start it or test a draft")
    table = model_info(campaign.target).table
    if session.scalar(select(table.c.id).where(table.c.id == record_id)) is None:
        raise UserError(f"no {campaign.target} with id {record_id}")
    plan = load_plan(session, campaign.id)
    if not plan.roots():
        raise UserError("the campaign has no activity to test")
    part = Participant(
        campaign_id=campaign.id, record_id=record_id, is_test=True, state="running", joined_at=now
    )
    session.add(part)
    session.flush()
    for act in plan.roots():
        create_root_traces(session, plan, act.id, now, P.c.id == part.id)
    return part.id


def run_trace_now(session: Session, trace_id: int, now: datetime) -> None:
    """Make a scheduled test trace due now (the caller then executes it)."""
    trace = _test_trace(session, trace_id)
    if trace.due_at is None:
        trace.anchor_at = now
    trace.due_at = now


def cancel_trace(session: Session, trace_id: int, now: datetime) -> None:
    trace = _test_trace(session, trace_id)
    trace.state = "canceled"
    trace.message = "Canceled by the tester"
    trace.done_at = now
    session.flush()
    complete_ids(session, [trace.participant_id], now)


def _test_trace(session: Session, trace_id: int) -> Trace:
    trace = session.get(Trace, trace_id)
    if trace is None or not trace.is_test:
        raise UserError(f"no test trace with id {trace_id}")
    if trace.state != "scheduled":
        raise UserError(f"trace {trace_id} is already {trace.state}")
    return trace


# --- E10 edits of a running campaign -----------------------------------------------------


def _has_started(campaign: Campaign) -> bool:
    return campaign.state != "draft" or campaign.started_at is not None


def add_activity(
    session: Session, campaign: Campaign, values: dict[str, Any], now: datetime
) -> Activity:
    """Add an activity (content as in campaign files); marks a started campaign modified."""
    seq = (
        session.scalar(
            select(func.coalesce(func.max(Activity.sequence), -1)).where(
                Activity.campaign_id == campaign.id
            )
        )
        or 0
    )
    act = Activity(
        campaign_id=campaign.id, sequence=seq + 1, created_at=now, updated_at=now, **values
    )
    act.pending_update = "new" if _has_started(campaign) else None
    session.add(act)
    campaign.updated_at = now
    session.flush()
    return act


def set_delay(session: Session, act: Activity, amount: int, unit: str, now: datetime) -> None:
    delays.offset(amount, unit)  # validates the unit
    if (act.delay_amount, act.delay_unit) == (amount, unit):
        return
    act.delay_amount, act.delay_unit, act.updated_at = amount, unit, now
    campaign = session.get(Campaign, act.campaign_id)
    if campaign is not None and _has_started(campaign) and act.pending_update is None:
        act.pending_update = "changed"


def is_modified(session: Session, campaign_id: int) -> bool:
    return bool(
        session.scalar(
            select(func.count()).where(
                A.c.campaign_id == campaign_id, A.c.pending_update.is_not(None)
            )
        )
    )


def apply_update(
    session: Session, campaign: Campaign, now: datetime, *, update_participants: bool
) -> dict[str, int]:
    """E10: "Update participants" (True) or "Don't update" (False); clears the banner."""
    counts = {"created": 0, "redated": 0}
    pending = session.execute(
        select(A.c.id, A.c.pending_update).where(
            A.c.campaign_id == campaign.id, A.c.pending_update.is_not(None)
        )
    ).all()
    if update_participants and pending:
        plan = load_plan(session, campaign.id)
        touched: set[int] = set()
        for aid, kind in pending:
            act = plan.activities[aid]
            if kind == "new":
                counts["created"] += _traces_for_new(session, plan, act, now, touched)
            else:
                counts["redated"] += _redate(session, act)
        if touched:
            session.execute(
                update(P)
                .where(P.c.id.in_(touched), P.c.state == "completed")
                .values(state="running", completed_at=None)
            )
    session.execute(update(A).where(A.c.campaign_id == campaign.id).values(pending_update=None))
    return counts


def _traces_for_new(session, plan, act, now, touched) -> int:
    if act.trigger == "begin":
        running = and_(P.c.campaign_id == plan.id, P.c.state == "running")
        touched.update(session.scalars(select(P.c.id).where(running)))
        return create_root_traces(session, plan, act.id, now, running)
    parent = plan.activities[act.parent_id]
    live_participants = select(P.c.id).where(
        P.c.campaign_id == plan.id, P.c.state.in_(("running", "completed"))
    )
    where = [
        T.c.activity_id == parent.id,
        T.c.state == "processed",
        T.c.participant_id.in_(live_participants),
        # never twice: skip parents that already have a trace of this activity
        ~T.c.id.in_(
            select(T.c.parent_id).where(T.c.activity_id == act.id, T.c.parent_id.is_not(None))
        ),
    ]
    if act.trigger in NOT_TRIGGERS:
        where.append(T.c[INTERACTION_COLUMN[NOT_TRIGGERS[act.trigger]]].is_(None))
    if act.trigger not in ("mail_bounce", "sms_bounce"):
        where.append(T.c.bounced_at.is_(None))
    cond = and_(*where)
    touched.update(session.scalars(select(T.c.participant_id).where(cond)))
    # Anchored on each parent's own processed time (event children wait).
    return create_child_traces(session, act, cond, None, now)


def _redate(session: Session, act: Any) -> int:
    """Re-date scheduled, dated traces from their anchor (retries keep their back-off)."""
    rows = session.execute(
        select(T.c.id, T.c.anchor_at).where(
            T.c.activity_id == act.id,
            T.c.state == "scheduled",
            T.c.due_at.is_not(None),
            T.c.anchor_at.is_not(None),
            T.c.attempts == 0,
        )
    ).all()
    if rows:
        session.execute(
            update(T).where(T.c.id == bindparam("tid")).values(due_at=bindparam("due")),
            [{"tid": tid, "due": act.due_from(anchor)} for tid, anchor in rows],
            execution_options={"synchronize_session": False},
        )
    return len(rows)


def delete_campaign(session: Session, campaign: Campaign) -> None:
    session.execute(delete(table(Campaign)).where(table(Campaign).c.id == campaign.id))
