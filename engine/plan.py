"""A campaign's tree as plain data, loaded once per batch for the executor.

The executor works on ids and plain dataclasses, never on ORM objects, so batches stay
cheap and nothing leaks across sessions or threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import delays
from .models import Activity, Campaign, SavedAction


@dataclass
class ActivityPlan:
    id: int
    key: str
    name: str
    type: str
    trigger: str
    parent_id: int | None
    delay_amount: int
    delay_unit: str
    validity_amount: int | None
    validity_unit: str | None
    filter: list[Any]
    content: dict[str, Any]
    trusted: bool
    children: list[int] = field(default_factory=list)
    # Campaign filter, every ancestor's filter and this one's: all must match (SPEC §3).
    filters: list[list[Any]] = field(default_factory=list)

    def due_from(self, anchor: datetime) -> datetime:
        return delays.add(anchor, self.delay_amount, self.delay_unit)

    def expired(self, due: datetime, now: datetime) -> bool:
        if self.validity_amount is None or self.validity_unit is None:
            return False
        return now > delays.add(due, self.validity_amount, self.validity_unit)

    @property
    def info(self) -> dict[str, Any]:
        return {"id": self.id, "key": self.key, "name": self.name}


@dataclass
class CampaignPlan:
    id: int
    name: str
    target: str
    filter: list[Any]
    unique_field: str | None
    window_days: int
    state: str
    activities: dict[int, ActivityPlan]
    saved_actions: dict[str, tuple[dict[str, Any], bool]]

    @property
    def info(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}

    def roots(self) -> list[ActivityPlan]:
        return [a for a in self.activities.values() if a.trigger == "begin"]

    def by_key(self, key: str) -> ActivityPlan | None:
        return next((a for a in self.activities.values() if a.key == key), None)


def load_plan(session: Session, campaign_id: int) -> CampaignPlan:
    c = session.execute(select(Campaign).where(Campaign.id == campaign_id)).scalar_one()
    rows = session.execute(
        select(Activity)
        .where(Activity.campaign_id == campaign_id)
        .order_by(Activity.sequence, Activity.id)
    ).scalars()
    acts = {
        a.id: ActivityPlan(
            id=a.id,
            key=a.key,
            name=a.name,
            type=a.type,
            trigger=a.trigger,
            parent_id=a.parent_id,
            delay_amount=a.delay_amount,
            delay_unit=a.delay_unit,
            validity_amount=a.validity_amount,
            validity_unit=a.validity_unit,
            filter=list(a.filter or []),
            content=dict(a.content or {}),
            trusted=a.trusted,
        )
        for a in rows
    }
    for a in acts.values():
        if a.parent_id in acts:
            acts[a.parent_id].children.append(a.id)
    for a in acts.values():
        chain: list[list[Any]] = []
        node: ActivityPlan | None = a
        seen: set[int] = set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            if node.filter:
                chain.append(node.filter)
            node = acts.get(node.parent_id) if node.parent_id is not None else None
        if c.filter:
            chain.append(list(c.filter))
        a.filters = chain
    saved = {
        s.name: (dict(s.action), s.trusted)
        for s in session.execute(
            select(SavedAction).where(SavedAction.campaign_id == campaign_id)
        ).scalars()
    }
    return CampaignPlan(
        id=c.id,
        name=c.name,
        target=c.target,
        filter=list(c.filter or []),
        unique_field=c.unique_field,
        window_days=c.engagement_window_days,
        state=c.state,
        activities=acts,
        saved_actions=saved,
    )
