"""The managers' overview: every campaign side by side, with its headline KPIs over a
chosen period against the period before, and its daily sends as a trend (issue 24).

Each campaign's tiles are the campaign dashboard's own (:func:`dashboard.read_kpis`), so
the overview and a campaign's dashboard always agree; the trend is one grouped read of
the hourly summaries for every campaign at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import Database
from ..models import Activity, Campaign, table
from .dashboard import MESSAGE_TYPES, Kpis, check_days, read_kpis
from .figures import HS

A, C = table(Activity), table(Campaign)
HEADLINE = ("running", "joined", "completed", "sent", "opened", "clicked", "bounced")


@dataclass(frozen=True)
class CampaignOverview:
    id: int
    name: str
    state: str
    archived: bool
    kpis: Kpis
    daily_sent: tuple[int, ...]  # messages sent on each day of the period, oldest first

    def value(self, key: str) -> float | None:
        return self.kpis.tile(key).value

    def previous(self, key: str) -> float | None:
        return self.kpis.tile(key).previous


@dataclass(frozen=True)
class Overview:
    days: int
    start: datetime
    end: datetime
    campaigns: tuple[CampaignOverview, ...]

    def campaign(self, campaign_id: int) -> CampaignOverview | None:
        return next((c for c in self.campaigns if c.id == campaign_id), None)


def overview(db: Database, now: datetime, days: int = 7, *, archived: bool = False) -> Overview:
    """Every campaign (archived ones too with ``archived``), in id order."""
    days = check_days(days)
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(days=days)
    with db.read() as s:
        q = select(C.c.id, C.c.name, C.c.state, C.c.archived).order_by(C.c.id)
        if not archived:
            q = q.where(C.c.archived.is_(False))
        rows = s.execute(q).all()
        trend = _daily_sent(s, start, days)
        shown = tuple(
            CampaignOverview(
                cid,
                name,
                state,
                bool(is_archived),
                read_kpis(s, cid, now, days),
                tuple(trend.get(cid, [0] * days)),
            )
            for cid, name, state, is_archived in rows
        )
    return Overview(days, start, end, shown)


def _daily_sent(session: Session, start: datetime, days: int) -> dict[int, list[int]]:
    """Messages sent per campaign in each 24 hours from ``start`` (the hourly summaries)."""
    first = start.strftime("%Y-%m-%d %H")
    rows = session.execute(
        select(HS.c.campaign_id, HS.c.hour, HS.c.processed)
        .join(A, A.c.id == HS.c.activity_id)
        .where(HS.c.hour >= first, A.c.type.in_(MESSAGE_TYPES), HS.c.processed != 0)
    ).all()
    out: dict[int, list[int]] = {}
    for cid, hour, sent in rows:
        at = datetime.strptime(hour, "%Y-%m-%d %H").replace(tzinfo=UTC)
        day = int((at - start) // timedelta(days=1))
        if 0 <= day < days:
            out.setdefault(cid, [0] * days)[day] += int(sent)
    return out
