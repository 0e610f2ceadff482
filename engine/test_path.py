"""Walk a test participant down the journey to one step ("Run Test to Here").

Testing a step deep in a journey by hand means, for each step above it: run it now,
then simulate what its branch waits for (an open, a click…) or skip the wait of a
"not opened" branch. This does those same moves, in order, through the same engine
calls the Test dock's buttons use, and stops with the reason at the first step that
does not go the way the path needs (rejected by its filter, canceled, an error).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import campaigns, interactions
from .api.dashboard import path_to
from .catalog import EVENT_TRIGGERS
from .clock import Clock
from .db import Database
from .errors import UserError
from .executor import Executor
from .models import Activity, Participant, Trace


@dataclass(frozen=True)
class Step:
    id: int
    key: str
    name: str
    trigger: str


def _steps(session: Session, campaign_id: int, keys: tuple[str, ...]) -> list[Step]:
    """The steps of ``keys`` (a path from :func:`engine.api.dashboard.path_to`), in order."""
    rows = session.execute(
        select(Activity.id, Activity.key, Activity.name, Activity.trigger).where(
            Activity.campaign_id == campaign_id, Activity.key.in_(keys)
        )
    ).all()
    by_key = {r.key: Step(r.id, r.key, r.name, r.trigger) for r in rows}
    return [by_key[k] for k in keys]


def _trace(session: Session, participant_id: int, activity_id: int) -> Trace | None:
    return session.scalars(
        select(Trace)
        .where(Trace.participant_id == participant_id, Trace.activity_id == activity_id)
        .order_by(Trace.id.desc())
        .limit(1)
    ).first()


def run_test_to(db: Database, clock: Clock, participant_id: int, key: str) -> int:
    """Bring test participant ``participant_id`` through every step down to ``key`` (that
    one included); the number of steps it ran. Refuses a real participant."""
    with db.read() as s:
        participant = s.get(Participant, participant_id)
        if participant is None or not participant.is_test:
            raise UserError("only a test participant can be walked down the journey")
        campaign_id = participant.campaign_id
    keys = path_to(db, campaign_id, key)
    with db.read() as s:
        path = _steps(s, campaign_id, keys)
    executor = Executor(db, clock)
    ran = 0
    for step in path:
        now = clock.now()
        with db.session() as s:
            trace = _trace(s, participant_id, step.id)
            if trace is None:
                raise UserError(f"the test never reached {step.name!r}")
            if trace.state == "processed":
                continue
            if trace.state != "scheduled":
                raise UserError(_stopped(step, trace))
            event = EVENT_TRIGGERS.get(step.trigger)
            if event is not None and trace.due_at is None and trace.parent_id is not None:
                interactions.record(s, [trace.parent_id], event, now)
            campaigns.run_trace_now(s, trace.id, now)
            trace_id = trace.id
        executor.execute_due(now)
        with db.read() as s:
            done = s.get(Trace, trace_id)
            if done is None or done.state != "processed":
                raise UserError(_stopped(step, done))
        ran += 1
    return ran


def _stopped(step: Step, trace: Trace | None) -> str:
    if trace is None:
        return f"the test's trace of {step.name!r} is gone"
    why = f": {trace.message}" if trace.message else ""
    return f"the test stopped at {step.name!r}, {trace.state}{why}"
