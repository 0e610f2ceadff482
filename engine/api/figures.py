"""Every figure a user reads (SPEC §6), as plain frozen data: one source for all views.

``journeys report``, the canvas cards and the campaign dashboard all read these, so they
always agree. They read the trigger-kept summary tables (:mod:`engine.models.figures`),
never traces into Python: a refresh over a million traces reads a few hundred rows.
Each public function opens its own short read-only unit of work.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ..db import Database
from ..errors import UserError
from ..models import (
    Activity,
    ActivityHourStat,
    ActivityStat,
    Campaign,
    Link,
    LinkStat,
    ParticipantStat,
    table,
)

A, C, L = table(Activity), table(Campaign), table(Link)
AS, HS, PS, LS = (
    table(ActivityStat),
    table(ActivityHourStat),
    table(ParticipantStat),
    table(LinkStat),
)

STATES = ("scheduled", "waiting", "processed", "rejected", "canceled", "error")
# The message figures of each channel; a rate is a percentage of ``sent``.
MESSAGE_FIGURES: dict[str, tuple[str, ...]] = {
    "email": ("sent", "opened", "clicked", "replied", "bounced"),
    "sms": ("sent", "clicked", "bounced"),
}
DAYS, HOURS = 15, 48
LED_TO = ("opened", "clicked", "replied", "bounced", "unsubscribed")
_SUMMED = (*STATES, *LED_TO)  # activity_stat columns
HOURLY = ("processed", "rejected", *LED_TO)  # activity_hour_stat columns


@dataclass(frozen=True)
class ActivityFigures:
    """One activity's traces by state and, for messages, what their recipients did."""

    key: str
    name: str
    type: str
    scheduled: int = 0  # of which ``waiting`` (no due time: waiting for an event)
    waiting: int = 0
    processed: int = 0
    rejected: int = 0
    canceled: int = 0
    error: int = 0
    opened: int = 0
    clicked: int = 0
    replied: int = 0
    bounced: int = 0
    unsubscribed: int = 0  # not in ``report --json`` (SPEC §6 lists the figures it has)

    @property
    def sent(self) -> int:
        return self.processed

    @property
    def message_figures(self) -> tuple[str, ...]:
        return MESSAGE_FIGURES.get(self.type, ())

    def rate(self, figure: str) -> float | None:
        """``figure`` as a percentage of messages sent; None when nothing was sent."""
        return 100.0 * getattr(self, figure) / self.sent if self.sent else None

    def as_report(self) -> dict[str, int]:
        """The SPEC's ``report --json`` object: states, then the channel's figures."""
        out = {s: getattr(self, s) for s in STATES}
        out.update({f: getattr(self, f) for f in self.message_figures})
        return out


@dataclass(frozen=True)
class ParticipantFigures:
    running: int = 0
    completed: int = 0
    removed: int = 0
    test: int = 0  # test participants, any state: shown apart, counted nowhere else


@dataclass(frozen=True)
class CampaignFigures:
    id: int
    name: str
    state: str
    participants: ParticipantFigures
    activities: tuple[ActivityFigures, ...]

    def activity(self, key: str) -> ActivityFigures | None:
        return next((a for a in self.activities if a.key == key), None)

    def as_report(self) -> dict[str, Any]:
        return {
            "campaign": {"id": self.id, "name": self.name, "state": self.state},
            "participants": asdict(self.participants),
            "activities": {a.key: a.as_report() for a in self.activities},
        }


@dataclass(frozen=True)
class ActivitySeries:
    """Per bucket (a UTC day or hour), oldest first: processed and rejected traces, and
    what the messages sent in that bucket led to (whenever it happened)."""

    buckets: tuple[datetime, ...]
    processed: tuple[int, ...]
    rejected: tuple[int, ...]
    hourly: bool = False
    opened: tuple[int, ...] = ()
    clicked: tuple[int, ...] = ()
    replied: tuple[int, ...] = ()
    bounced: tuple[int, ...] = ()
    unsubscribed: tuple[int, ...] = ()

    def total(self, figure: str, first: int = 0, end: int | None = None) -> int:
        """``figure`` summed over the buckets ``first`` to ``end`` (excluded)."""
        return sum(getattr(self, figure)[first:end])


@dataclass(frozen=True)
class LinkFigures:
    id: int
    activity: str
    url: str
    clicks: int
    unique_clicks: int


@dataclass(frozen=True)
class Series:
    """Every activity's series by key, over the same buckets."""

    hourly: bool
    buckets: tuple[datetime, ...]
    activities: dict[str, ActivitySeries] = field(default_factory=dict)

    def of(self, key: str) -> ActivitySeries:
        empty = (0,) * len(self.buckets)
        return self.activities.get(
            key, ActivitySeries(self.buckets, hourly=self.hourly, **dict.fromkeys(HOURLY, empty))
        )


# --- queries --------------------------------------------------------------------------------


def campaign_figures(db: Database, campaign_id: int) -> CampaignFigures:
    with db.read() as s:
        return read_campaign_figures(s, campaign_id)


def read_campaign_figures(session: Session, campaign_id: int) -> CampaignFigures:
    """The same, inside the caller's unit of work."""
    c = session.execute(select(C.c.name, C.c.state).where(C.c.id == campaign_id)).first()
    if c is None:
        raise UserError(f"no campaign with id {campaign_id}")
    return CampaignFigures(
        campaign_id,
        c.name,
        c.state,
        _participants(session, campaign_id),
        _activities(session, campaign_id),
    )


def _participants(session: Session, campaign_id: int) -> ParticipantFigures:
    counts: dict[str, int] = defaultdict(int)
    rows = session.execute(
        select(PS.c.is_test, PS.c.state, func.sum(PS.c.n))
        .where(PS.c.campaign_id == campaign_id)
        .group_by(PS.c.is_test, PS.c.state)
    )
    for is_test, state, n in rows:
        counts["test" if is_test else state] += int(n or 0)
    return ParticipantFigures(
        counts["running"], counts["completed"], counts["removed"], counts["test"]
    )


def _activities(session: Session, campaign_id: int) -> tuple[ActivityFigures, ...]:
    sums = (
        select(AS.c.activity_id, *(func.sum(AS.c[c]).label(c) for c in _SUMMED))
        .where(AS.c.campaign_id == campaign_id)
        .group_by(AS.c.activity_id)
        .subquery()
    )
    rows = session.execute(
        select(A.c.key, A.c.name, A.c.type, *(sums.c[c] for c in _SUMMED))
        .outerjoin(sums, sums.c.activity_id == A.c.id)
        .where(A.c.campaign_id == campaign_id)
        .order_by(A.c.sequence, A.c.id)
    )
    return tuple(
        ActivityFigures(r.key, r.name, r.type, **{c: int(r._mapping[c] or 0) for c in _SUMMED})
        for r in rows
    )


def _buckets(now: datetime, hourly: bool) -> tuple[datetime, ...]:
    now = now.astimezone(UTC)
    if hourly:
        last = now.replace(minute=0, second=0, microsecond=0)
        return tuple(last - timedelta(hours=HOURS - 1 - i) for i in range(HOURS))
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return tuple(today - timedelta(days=DAYS - 1 - i) for i in range(DAYS))


def series(db: Database, campaign_id: int, now: datetime, *, hourly: bool = False) -> Series:
    with db.read() as s:
        return read_series(s, campaign_id, now, hourly=hourly)


def read_series(
    session: Session, campaign_id: int, now: datetime, *, hourly: bool = False
) -> Series:
    """Daily over the last 15 days (today included) or hourly over the last 48 hours."""
    buckets = _buckets(now, hourly)
    first = buckets[0].strftime("%Y-%m-%d %H")
    width = 13 if hourly else 10
    bucket_of = func.substr(HS.c.hour, 1, width)
    rows = session.execute(
        select(HS.c.activity_id, bucket_of, *(func.sum(HS.c[c]) for c in HOURLY))
        .where(HS.c.campaign_id == campaign_id, HS.c.hour >= first)
        .group_by(HS.c.activity_id, bucket_of)
    ).all()
    index = {b.strftime("%Y-%m-%d %H" if hourly else "%Y-%m-%d"): i for i, b in enumerate(buckets)}
    keys = dict(
        session.execute(select(A.c.id, A.c.key).where(A.c.campaign_id == campaign_id)).all()
    )
    counts: dict[int, dict[str, list[int]]] = {}
    for aid, bucket, *sums in rows:
        i = index.get(bucket)
        if i is None or aid not in keys:
            continue  # a later bucket than now (a clock set back) or a deleted activity
        mine = counts.setdefault(aid, {c: [0] * len(buckets) for c in HOURLY})
        for c, n in zip(HOURLY, sums, strict=True):
            mine[c][i] += int(n or 0)
    return Series(
        hourly,
        buckets,
        {
            keys[aid]: ActivitySeries(
                buckets, hourly=hourly, **{c: tuple(v) for c, v in mine.items()}
            )
            for aid, mine in counts.items()
        },
    )


def links(db: Database, campaign_id: int) -> tuple[LinkFigures, ...]:
    with db.read() as s:
        return read_links(s, campaign_id)


def read_links(session: Session, campaign_id: int) -> tuple[LinkFigures, ...]:
    sums = (
        select(
            LS.c.link_id,
            func.sum(LS.c.clicks).label("clicks"),
            func.sum(LS.c.unique_clicks).label("unique_clicks"),
        )
        .group_by(LS.c.link_id)
        .subquery()
    )
    rows = session.execute(
        select(L.c.id, A.c.key, L.c.url, sums.c.clicks, sums.c.unique_clicks)
        .join(A, A.c.id == L.c.activity_id)
        .outerjoin(sums, sums.c.link_id == L.c.id)
        .where(L.c.campaign_id == campaign_id)
        .order_by(L.c.id)
    )
    return tuple(LinkFigures(r[0], r[1], r[2], int(r[3] or 0), int(r[4] or 0)) for r in rows)


# --- upkeep ---------------------------------------------------------------------------------

COMPACT_ABOVE = 2_000  # summary rows; below this, summing them costs nothing


def compact(session: Session) -> int:
    """Fold the difference rows PostgreSQL's triggers append into one row per key.

    Safe beside concurrent writers: the DELETE only takes rows this statement sees, and
    re-inserts their sums in the same statement; rows committed meanwhile stay as they are.
    Returns how many rows were folded (0 on SQLite, whose triggers keep one row per key).
    """
    if session.get_bind().dialect.name != "postgresql":
        return 0
    folded = 0
    for tab, keys, values in (
        (AS, ("activity_id", "campaign_id"), _SUMMED),
        (HS, ("activity_id", "campaign_id", "hour"), HOURLY),
        (PS, ("campaign_id", "is_test", "state"), ("n",)),
        (LS, ("link_id",), ("clicks", "unique_clicks")),
    ):
        rows = session.scalar(select(func.count()).select_from(tab)) or 0
        if rows <= COMPACT_ABOVE:
            continue
        gone = delete(tab).returning(*(tab.c[k] for k in (*keys, *values))).cte("gone")
        summed = select(
            *(gone.c[k] for k in keys), *(func.sum(gone.c[v]).label(v) for v in values)
        ).group_by(*(gone.c[k] for k in keys))
        session.execute(insert(tab).from_select([*keys, *values], summed))
        folded += rows
    return folded
