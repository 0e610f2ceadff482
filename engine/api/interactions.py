"""Record an interaction by hand, then run what it made due: the one path for it.

The command line's ``journeys event`` and the designer's test panel both simulate what a
recipient did — an open, a click on a link, a reply — and a 0-delay child of that trigger
must run in the same pass that records it (E7). Composing it themselves (find the trace,
look the link up, record, build an executor) had drifted apart; this is the one call.
The tracking server and inbound mail record whole batches with their own spool and
dedupe rules, and then run the same executor pass (:meth:`Executor.execute_due`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import campaigns, interactions, records
from ..clock import Clock
from ..db import Database
from ..errors import UserError
from ..executor import Executor
from ..models import Link, Trace


@dataclass(frozen=True)
class Recorded:
    """What recording one interaction did, and how many steps ran right after it."""

    trace_id: int
    recorded: bool
    first_time: bool
    triggered: int
    canceled: int
    executed: int


def record_on_message(
    db: Database,
    clock: Clock,
    campaign: str,
    activity: str,
    record: str,
    kind: str,
    *,
    test: bool = False,
    url: str | None = None,
) -> Recorded:
    """``kind`` on the message that ``activity`` of ``campaign`` (a name or id) sent to
    ``record`` (an id or display name), then what became due. ``url`` names the link
    clicked; it must be one of that message's links."""
    with db.session() as s:
        c = campaigns.find_campaign(s, campaign)
        among = campaigns.participant_records(c.id, test=test)
        record_id = records.resolve_record(s, c.target, record, among=among)
        trace_id = interactions.find_message_trace(s, c.id, activity, record_id, test=test)
    return record_on_trace(db, clock, trace_id, kind, url=url)


def record_on_trace(
    db: Database, clock: Clock, trace_id: int, kind: str, *, url: str | None = None
) -> Recorded:
    """``kind`` on this trace now, then one executor pass for what it made due (E7)."""
    now = clock.now()
    with db.session() as s:
        link_id = _link_for(s, trace_id, url) if url else None
        res = interactions.record(s, [trace_id], kind, now, link_id=link_id, detail=url)
    stats = Executor(db, clock).execute_due(now)
    return Recorded(
        trace_id=trace_id,
        recorded=bool(res.recorded),
        first_time=bool(res.first_time),
        triggered=res.triggered,
        canceled=res.canceled,
        executed=stats.executed,
    )


def _link_for(s: Session, trace_id: int, url: str) -> int:
    activity_id = s.scalar(select(Trace.activity_id).where(Trace.id == trace_id))
    link = s.scalar(select(Link.id).where(Link.activity_id == activity_id, Link.url == url))
    if link is None:
        known = s.scalars(select(Link.url).where(Link.activity_id == activity_id)).all()
        raise UserError(
            f"{url!r} is not a link of that message"
            + (f" (links: {', '.join(known)})" if known else " (it has no link)")
        )
    return int(link)
