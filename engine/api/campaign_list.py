"""The campaign list's rows: each campaign with its number of participants, in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, false, func, or_, select

from ..db import Database
from ..models import Campaign, Participant


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    target: str
    state: str
    participants: int
    archived: bool = False
    updated_at: datetime | None = None
    engine_error: str | None = None  # set aside by the engine (engine.campaign_faults)
    engine_retry_at: datetime | None = None


def load_campaigns(db: Database, *, archived: bool = False) -> list[CampaignRow]:
    """The campaigns with their number of (non-test) participants, in one query.

    Archived campaigns come only with ``archived=True`` — except running ones, always.
    """
    count = func.count(Participant.id)
    cols = (Campaign.id, Campaign.name, Campaign.target, Campaign.state)
    extra = (
        Campaign.archived,
        Campaign.updated_at,
        Campaign.engine_error,
        Campaign.engine_retry_at,
    )
    query = (
        select(*cols, count, *extra)
        .outerjoin(
            Participant,
            and_(Participant.campaign_id == Campaign.id, Participant.is_test == false()),
        )
        .group_by(*cols, *extra)
        .order_by(Campaign.id)
    )
    if not archived:
        query = query.where(or_(Campaign.archived == false(), Campaign.state == "running"))
    with db.read() as session:
        return [CampaignRow(*row) for row in session.execute(query).all()]
