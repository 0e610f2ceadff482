"""The campaign dashboard's figures beyond the per-activity counts: KPI tiles against the
previous period, a funnel along a path, and a participant's timeline (SPEC §6, issue 23).

Message figures come from the trigger-kept hourly summaries (:mod:`engine.api.figures`),
so a period of any length reads a few hundred rows; the participant tiles are one
aggregate over the campaign's participants, by its index. Nothing loads traces into
Python. Test participants and their traces count nowhere here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, select
from sqlalchemy.orm import Session

from ..db import Database
from ..errors import UserError
from ..models import Activity, Participant, Trace, table
from .figures import HOURLY, HS, ParticipantFigures, read_campaign_figures

A, P, T = table(Activity), table(Participant), table(Trace)
MESSAGE_TYPES = ("email", "sms")
PERIODS = (1, 7, 14, 30, 90)  # days a user can pick; any positive number works
MAX_DAYS = 3660


@dataclass(frozen=True)
class Kpi:
    """One tile: a figure over the period and over the period of the same length before."""

    key: str
    label: str
    value: float | None
    previous: float | None
    percent: bool = False  # a rate (% of the messages sent), else a count
    help: str = ""

    @property
    def change(self) -> float | None:
        """Percentage points for a rate, percent for a count; None if either is unknown
        (or a count went from nothing to something: "+∞ %" helps nobody)."""
        if self.value is None or self.previous is None:
            return None
        if self.percent:
            return self.value - self.previous
        return None if not self.previous else 100.0 * (self.value - self.previous) / self.previous


@dataclass(frozen=True)
class Kpis:
    days: int
    start: datetime  # the period is [start, end); the previous one ends at ``start``
    end: datetime
    participants: ParticipantFigures  # now, for the running total
    tiles: tuple[Kpi, ...]

    def tile(self, key: str) -> Kpi:
        return next(t for t in self.tiles if t.key == key)


def check_days(days: object) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise UserError(f"a period is 1 to {MAX_DAYS} days, not {days!r}")
    return days


def kpis(db: Database, campaign_id: int, now: datetime, days: int = 7) -> Kpis:
    with db.read() as s:
        return read_kpis(s, campaign_id, now, days)


def read_kpis(session: Session, campaign_id: int, now: datetime, days: int = 7) -> Kpis:
    """The period is the ``days`` up to the end of the current hour (hourly summaries)."""
    days = check_days(days)
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(days=days)
    before = start - timedelta(days=days)
    current = read_campaign_figures(session, campaign_id).participants
    people = _moves_as_of(session, campaign_id, current, (before, start, end))
    now_msgs = _messages(session, campaign_id, start, end)
    then_msgs = _messages(session, campaign_id, before, start)
    tiles = [
        Kpi(
            "running",
            "Running",
            current.running,
            people["running_at_start"],
            help="Participants in the journey now, against the start of the period",
        ),
        Kpi("joined", "Joined", people["joined"], people["joined_before"]),
        Kpi("completed", "Completed", people["completed"], people["completed_before"]),
        Kpi("removed", "Removed", people["removed"], people["removed_before"]),
        Kpi(
            "sent",
            "Sent",
            now_msgs["sent"],
            then_msgs["sent"],
            help="Emails and text messages sent in the period",
        ),
    ]
    for figure, label, channels in RATES:
        tiles.append(
            Kpi(
                figure,
                label,
                _rate(now_msgs, figure, channels),
                _rate(then_msgs, figure, channels),
                percent=True,
                help=f"Of the {' and '.join(CHANNEL_WORDS[c] for c in channels)} sent in the "
                f"period, the share {VERBS[figure]} (whenever that happened)",
            )
        )
    return Kpis(days, start, end, current, tuple(tiles))


# A rate is a share of the messages sent on the channels that have the figure.
RATES = (
    ("opened", "Open rate", ("email",)),
    ("clicked", "Click rate", ("email", "sms")),
    ("replied", "Reply rate", ("email",)),
    ("bounced", "Bounce rate", ("email", "sms")),
    ("unsubscribed", "Unsubscribe rate", ("email", "sms")),
)
CHANNEL_WORDS = {"email": "emails", "sms": "text messages"}
VERBS = {
    "opened": "opened",
    "clicked": "clicked",
    "replied": "replied to",
    "bounced": "that bounced",
    "unsubscribed": "whose recipient unsubscribed",
}


def _rate(msgs: dict[str, int], figure: str, channels: tuple[str, ...]) -> float | None:
    sent = sum(msgs[f"sent_{c}"] for c in channels)
    led = sum(msgs[f"{figure}_{c}"] for c in channels)
    return 100.0 * led / sent if sent else None


def _hour(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H")


def _messages(session: Session, cid: int, start: datetime, end: datetime) -> dict[str, int]:
    rows = session.execute(
        select(A.c.type, *(func.sum(HS.c[c]) for c in HOURLY))
        .join(A, A.c.id == HS.c.activity_id)
        .where(HS.c.campaign_id == cid, A.c.type.in_(MESSAGE_TYPES))
        .where(HS.c.hour >= _hour(start), HS.c.hour < _hour(end))
        .group_by(A.c.type)
    ).all()
    out = {f"{f}_{t}": 0 for f in (*HOURLY, "sent") for t in MESSAGE_TYPES}
    for type_, *sums in rows:
        for figure, n in zip(HOURLY, sums, strict=True):
            out[f"{figure}_{type_}"] = int(n or 0)
        out[f"sent_{type_}"] = out[f"processed_{type_}"]
    out["sent"] = sum(out[f"sent_{t}"] for t in MESSAGE_TYPES)
    return out


_MOVES: OrderedDict[tuple[Any, ...], dict[str, int]] = OrderedDict()
_MOVES_KEPT = 64
_MOVES_LOCK = threading.Lock()


def _moves_as_of(
    session: Session, cid: int, now: ParticipantFigures, bounds: tuple[datetime, ...]
) -> dict[str, int]:
    """The participant tiles, read again only when the participants changed.

    A live dashboard refreshes on every change of the campaign's traces, while the
    participant tiles read every participant (100 ms at 200,000). Every change to a
    participant (a join, a completion, a removal, a deletion) changes the counts kept
    in participant_stat or the range of their ids (read off an index), so those and the
    period's bounds say when the last answer, kept per database engine, still holds.
    """
    ids = session.execute(
        select(func.min(P.c.id), func.max(P.c.id)).where(
            P.c.campaign_id == cid, P.c.is_test == false()
        )
    ).one()
    key = (session.get_bind().engine, cid, bounds, astuple(now), tuple(ids))
    with _MOVES_LOCK:
        if key in _MOVES:
            _MOVES.move_to_end(key)
            return _MOVES[key]
    moves = _participant_moves(session, cid, *bounds)
    with _MOVES_LOCK:
        _MOVES[key] = moves
        while len(_MOVES) > _MOVES_KEPT:
            _MOVES.popitem(last=False)
    return moves


def _participant_moves(
    session: Session, cid: int, before: datetime, start: datetime, end: datetime
) -> dict[str, int]:
    def within(col: Any, lo: datetime, hi: datetime) -> Any:
        return func.sum(case((and_(col >= lo, col < hi), 1), else_=0))

    def gone_by(col: Any, at: datetime) -> Any:
        return and_(col.is_not(None), col < at)

    running_at_start = func.sum(
        case(
            (
                and_(
                    P.c.joined_at < start,
                    ~gone_by(P.c.completed_at, start),
                    ~gone_by(P.c.removed_at, start),
                ),
                1,
            ),
            else_=0,
        )
    )
    row = session.execute(
        select(
            running_at_start,
            within(P.c.joined_at, start, end),
            within(P.c.joined_at, before, start),
            within(P.c.completed_at, start, end),
            within(P.c.completed_at, before, start),
            within(P.c.removed_at, start, end),
            within(P.c.removed_at, before, start),
        ).where(P.c.campaign_id == cid, P.c.is_test == false())
    ).one()
    names = (
        "running_at_start",
        "joined",
        "joined_before",
        "completed",
        "completed_before",
        "removed",
        "removed_before",
    )
    return {n: int(v or 0) for n, v in zip(names, row, strict=True)}


# --- funnel ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    key: str  # "" for the participants who entered
    name: str
    type: str
    reached: int  # participants whose trace of this step was processed
    of_first: float | None  # % of those who entered
    of_previous: float | None  # % of the step before


def _parents(session: Session, campaign_id: int) -> dict[str, str | None]:
    up = A.alias("up")
    return dict(
        session.execute(
            select(A.c.key, up.c.key)
            .outerjoin(up, up.c.id == A.c.parent_id)
            .where(A.c.campaign_id == campaign_id)
        ).all()
    )


def path_to(db: Database, campaign_id: int, key: str) -> tuple[str, ...]:
    """The keys from the journey's first step down to ``key``."""
    with db.read() as s:
        parents = _parents(s, campaign_id)
    if key not in parents:
        raise UserError(f"no step {key!r} in this campaign")
    path = [key]
    while (up := parents.get(path[-1])) and len(path) <= len(parents):
        path.append(up)
    return tuple(reversed(path))


def funnel(db: Database, campaign_id: int, keys: tuple[str, ...]) -> tuple[FunnelStep, ...]:
    """Who entered, then who reached each step of ``keys`` (a path: each step a child of
    the one before)."""
    with db.read() as s:
        fig = read_campaign_figures(s, campaign_id)
        parents = _parents(s, campaign_id)
    for i, key in enumerate(keys):
        if key not in parents:
            raise UserError(f"no step {key!r} in this campaign")
        if (parents[key] or None) != (keys[i - 1] if i else None):
            raise UserError(f"{key!r} does not follow {keys[i - 1] if i else 'the start'}")
    p = fig.participants
    entered = p.running + p.completed + p.removed
    steps = [FunnelStep("", "Entered", "", entered, 100.0 if entered else None, None)]
    for key in keys:
        act = fig.activity(key)
        assert act is not None
        prev = steps[-1].reached
        steps.append(
            FunnelStep(
                key,
                act.name,
                act.type,
                act.processed,
                100.0 * act.processed / entered if entered else None,
                100.0 * act.processed / prev if prev else None,
            )
        )
    return tuple(steps)


# --- a participant's timeline ---------------------------------------------------------------


@dataclass(frozen=True)
class TimelineStep:
    trace_id: int
    key: str
    name: str
    type: str
    state: str
    created_at: datetime
    due_at: datetime | None
    done_at: datetime | None
    message: str | None
    to_address: str | None
    events: tuple[tuple[str, datetime], ...]  # ("opened", at), … in time order


@dataclass(frozen=True)
class Timeline:
    participant_id: int
    record_id: int
    state: str
    joined_at: datetime
    ended_at: datetime | None  # completed or removed
    steps: tuple[TimelineStep, ...]


EVENT_COLUMNS = ("opened_at", "clicked_at", "replied_at", "bounced_at", "unsubscribed_at")


def timeline(db: Database, participant_id: int) -> Timeline:
    with db.read() as s:
        p = s.execute(select(P).where(P.c.id == participant_id)).first()
        if p is None:
            raise UserError(f"no participant with id {participant_id}")
        rows = s.execute(
            select(
                T.c.id,
                A.c.key,
                A.c.name,
                A.c.type,
                T.c.state,
                T.c.created_at,
                T.c.due_at,
                T.c.done_at,
                T.c.message,
                T.c.to_address,
                *(T.c[c] for c in EVENT_COLUMNS),
            )
            .join(A, A.c.id == T.c.activity_id)
            .where(T.c.participant_id == participant_id)
            .order_by(T.c.created_at, T.c.id)
        ).all()
    steps = []
    for r in rows:
        pairs = zip(EVENT_COLUMNS, r[10:], strict=True)
        events = sorted(((c.removesuffix("_at"), at) for c, at in pairs if at), key=lambda e: e[1])
        steps.append(TimelineStep(*r[:10], events=tuple(events)))
    return Timeline(
        p.id, p.record_id, p.state, p.joined_at, p.completed_at or p.removed_at, tuple(steps)
    )
