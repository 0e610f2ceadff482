"""Put errored traces back to work (SPEC §13, ``journeys retry``).

E13 never re-sends a message whose delivery is unknown: the trace ends in ``error``
("Interrupted: delivery unknown") and waits for a person who has checked the mail
server's log. This is what that person runs next. By default it picks only the errors a
retry can cure — interrupted hand-offs and transient failures that ran out of attempts;
a template error or a failing server action would only fail again, so those need
``every_error`` (``--state error``), normally after the campaign has been fixed.

A retried trace starts afresh: due now, attempts and hand-off cleared, so the executor
treats it exactly like a trace that was never tried. Its participant, if it had completed
for lack of scheduled traces, runs again (as E10 does for a trace added by an update).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from .errors import UserError
from .models import Activity, Campaign, Participant, Trace, table
from .sqlutil import affected
from .traces import chunks

T = table(Trace)
P = table(Participant)
A = table(Activity)

INTERRUPTED = "Interrupted: delivery unknown"
GAVE_UP = "Gave up after "

WARNING = (
    "“Interrupted: delivery unknown” means the engine stopped while the message was being "
    "handed to the mail or SMS server: it may have been delivered. Retrying sends it again, "
    "so check the server's log first and retry only messages it did not accept."
)


@dataclass(frozen=True)
class RetryResult:
    """What a retry did, for the command line's sentence and the designer's status."""

    retried: int
    reopened: int  # participants that had completed and run again
    campaign_running: bool


def retryable(every_error: bool = False) -> ColumnElement[bool]:
    """Which errored traces a retry picks (see the module docstring)."""
    cond = T.c.state == "error"
    if every_error:
        return cond
    return cond & or_(T.c.message.like(f"{INTERRUPTED}%"), T.c.message.like(f"{GAVE_UP}%"))


def retry_traces(
    session: Session,
    campaign: Campaign,
    now: datetime,
    *,
    activity_key: str | None = None,
    every_error: bool = False,
    trace_ids: list[int] | None = None,
    include_test: bool = True,
) -> RetryResult:
    """Errored traces of ``campaign`` back to ``scheduled``, due ``now``.

    A participant removed from the audience stays removed: its traces are not retried.
    """
    cond = _selection(session, campaign, activity_key, every_error, trace_ids, include_test)
    rows = session.execute(select(T.c.id, T.c.participant_id).where(cond)).all()
    if not rows:
        return RetryResult(0, 0, campaign.state == "running")
    ids = [r.id for r in rows]
    for part in chunks(ids):
        session.execute(
            update(T)
            .where(T.c.id.in_(part), T.c.state == "error")
            .values(
                state="scheduled",
                due_at=now,
                message=None,
                done_at=None,
                attempts=0,
                handoff=False,
                claimed_by=None,
                claimed_at=None,
            )
            .execution_options(synchronize_session=False)
        )
    reopened = 0
    participants = sorted({r.participant_id for r in rows})
    for part in chunks(participants):
        res = session.execute(
            update(P)
            .where(P.c.id.in_(part), P.c.state == "completed")
            .values(state="running", completed_at=None)
            .execution_options(synchronize_session=False)
        )
        reopened += affected(res)
    return RetryResult(len(ids), reopened, campaign.state == "running")


def count_retryable(session: Session, campaign: Campaign, *, every_error: bool = False) -> int:
    """How many traces :func:`retry_traces` would pick with the same arguments."""
    cond = _selection(session, campaign, None, every_error, None, True)
    return session.scalar(select(func.count()).select_from(T).where(cond)) or 0


def _selection(
    session: Session,
    campaign: Campaign,
    activity_key: str | None,
    every_error: bool,
    trace_ids: list[int] | None,
    include_test: bool,
) -> ColumnElement[bool]:
    cond = (T.c.campaign_id == campaign.id) & retryable(every_error)
    if activity_key is not None:
        act_id = session.scalar(
            select(A.c.id).where(A.c.campaign_id == campaign.id, A.c.key == activity_key)
        )
        if act_id is None:
            raise UserError(f"no activity {activity_key!r} in campaign {campaign.name!r}")
        cond = cond & (T.c.activity_id == act_id)
    if not include_test:
        cond = cond & ~T.c.is_test
    live = select(P.c.id).where(P.c.campaign_id == campaign.id, P.c.state != "removed")
    cond = cond & T.c.participant_id.in_(live)
    if trace_ids is not None:
        cond = cond & T.c.id.in_(trace_ids)
    return cond
