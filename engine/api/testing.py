"""The Test dock's engine work: a test participant launched, its steps run, canceled or
answered by hand, and what it has done so far — each call one short unit of work (then an
engine pass for what it made due), so the dock can run them off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from .. import campaigns, reporting
from ..clock import Clock
from ..db import Database
from ..errors import UserError
from ..executor import Executor
from ..models import Activity, Campaign, OutboxMessage, Participant
from ..records.read import list_records


@dataclass(frozen=True)
class StepKinds:
    """A campaign's activities by key: their type (which buttons apply) and name."""

    types: dict[str, str]
    names: dict[str, str]


@dataclass(frozen=True)
class SentMessage:
    """The last message a step sent, as the outbox stored it."""

    to: str
    subject: str | None
    body: str
    channel: str


def records(db: Database, model: str, limit: int) -> list[dict[str, Any]]:
    """The records one can test with (``records list --json`` rows)."""
    with db.read() as s:
        return list_records(s, model, limit=limit)


def step_kinds(db: Database, campaign_id: int) -> StepKinds:
    query = select(Activity.key, Activity.type, Activity.name).where(
        Activity.campaign_id == campaign_id
    )
    with db.read() as s:
        found = s.execute(query).all()
    return StepKinds({k: t for k, t, _ in found}, {k: n for k, _, n in found})


def launch(db: Database, clock: Clock, campaign_id: int, record_id: int) -> int:
    """A new test participant for ``record_id``; its first steps run at once (their
    delay skipped, as tests do). Returns the participant's id."""
    now = clock.now()
    with db.session() as s:
        campaign = s.get(Campaign, campaign_id)
        if campaign is None:
            raise UserError(f"no campaign with id {campaign_id}")
        participant_id = campaigns.launch_test(s, campaign, record_id, now)
    Executor(db, clock).execute_due(now)
    return participant_id


def run_now(db: Database, clock: Clock, trace_id: int) -> None:
    """Run a test participant's scheduled step now (its wait skipped)."""
    _move(db, clock, campaigns.run_trace_now, trace_id)


def cancel(db: Database, clock: Clock, trace_id: int) -> None:
    """Cancel a test participant's scheduled step (what it made due runs too)."""
    _move(db, clock, campaigns.cancel_trace, trace_id)


def _move(db: Database, clock: Clock, move: Callable[..., None], trace_id: int) -> None:
    now = clock.now()
    with db.session() as s:
        move(s, trace_id, now)
    Executor(db, clock).execute_due(now)


def steps(db: Database, campaign_id: int, participant_id: int) -> list[dict[str, Any]] | None:
    """The participant's steps as ``traces --json`` rows, oldest first; None when the
    participant is gone (its campaign was reset or deleted meanwhile)."""
    with db.read() as s:
        if s.get(Participant, participant_id) is None:
            return None
        return reporting.traces(s, campaign_id, include_test=True, participant_id=participant_id)


def sent_message(db: Database, trace_id: int) -> SentMessage | None:
    query = (
        select(OutboxMessage.to, OutboxMessage.subject, OutboxMessage.body, OutboxMessage.channel)
        .where(OutboxMessage.trace_id == trace_id)
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    with db.read() as s:
        row = s.execute(query).first()
    return None if row is None else SentMessage(*row)
