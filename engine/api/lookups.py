"""Small read-only questions the designer's forms and the command line ask.

Each opens its own read-only unit of work (on SQLite it takes no write lock) and returns
plain values: the callers never see a session or an ORM row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import campaigns
from ..db import Database
from ..errors import JourneysError
from ..fields import MODELS
from ..filters import audience_condition
from ..models import Activity, Campaign, OutboxMessage, SavedAction, Trace, User


def traces_due(db: Database, now: datetime | None) -> int:
    """Scheduled steps whose time has come (what the next engine pass will run)."""
    if now is None:
        return 0
    query = select(func.count()).where(Trace.state == "scheduled", Trace.due_at <= now)
    with db.read() as s:
        return int(s.scalar(query) or 0)


def matching_count(db: Database, campaign_id: int, now: datetime) -> int | None:
    """How many records the campaign's audience filter matches now; None when there is
    no such campaign or its filter is invalid (the problems panel says why)."""
    with db.read() as s:
        return matching_in(s, campaign_id, now)


def matching_in(s: Session, campaign_id: int, now: datetime) -> int | None:
    """:func:`matching_count` inside a read already open (the canvas reads it with the
    figures, in one unit of work: it is asked again whenever they change)."""
    campaign = s.get(Campaign, campaign_id)
    if campaign is None:
        return None
    try:
        return campaigns.count_matching(s, campaign, now)
    except JourneysError:
        return None


def domain_count(db: Database, domain: list[Any], model: str, now: datetime) -> int:
    """How many ``model`` records a filter domain matches now (the filter builder's live
    count); an invalid domain raises :class:`engine.filters.FilterError`."""
    condition = audience_condition(domain, model, now)
    query = select(func.count()).select_from(MODELS[model].table).where(condition)
    with db.read() as s:
        return int(s.scalar(query) or 0)


def saved_actions(db: Database, campaign_id: int) -> dict[str, str]:
    """The campaign's saved actions: name → kind, by name."""
    with db.read() as s:
        rows = s.execute(
            select(SavedAction.name, SavedAction.action)
            .where(SavedAction.campaign_id == campaign_id)
            .order_by(SavedAction.name)
        ).all()
    return {name: str((action or {}).get("kind", "?")) for name, action in rows}


def user_emails(db: Database, limit: int = 500) -> list[str]:
    """The users' emails (assignees, followers), by email."""
    with db.read() as s:
        return list(s.scalars(select(User.email).order_by(User.email).limit(limit)))


def untrusted_actions(db: Database, campaign_id: int) -> int:
    """The campaign's code and webhook actions (steps and saved ones) not yet trusted:
    they stay disabled until someone re-imports the file with trust."""
    with db.read() as s:
        steps = s.scalar(
            select(func.count()).where(
                Activity.campaign_id == campaign_id, Activity.trusted.is_(False)
            )
        )
        saved = s.scalar(
            select(func.count()).where(
                SavedAction.campaign_id == campaign_id, SavedAction.trusted.is_(False)
            )
        )
    return int((steps or 0) + (saved or 0))


def outbox(db: Database, campaign: str | None = None) -> list[dict[str, Any]]:
    """The embedded outbox's messages, oldest first; only ``campaign``'s (a name or id)
    when given."""
    with db.read() as s:
        q = (
            select(OutboxMessage, Campaign.name)
            .outerjoin(Campaign, Campaign.id == OutboxMessage.campaign_id)
            .order_by(OutboxMessage.id)
        )
        if campaign:
            q = q.where(OutboxMessage.campaign_id == campaigns.find_campaign(s, campaign).id)
        return [
            {
                "id": m.id,
                "channel": m.channel,
                "to": m.to,
                "subject": m.subject,
                "body": m.body,
                "text": m.text_body,
                "headers": m.headers,
                "campaign": cname,
                "activity": m.activity_key,
                "record": m.record_name,
                "record_id": m.record_id,
                "test": m.is_test,
                "sent_at": m.sent_at.isoformat(),
            }
            for m, cname in s.execute(q)
        ]
