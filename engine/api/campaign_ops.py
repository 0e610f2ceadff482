"""What the main window does to whole campaigns, one short unit of work each, no widgets.

Each function returns plain data; refusals are :class:`engine.errors.UserError` (or its
``ValidationError``) for the window to show.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from .. import campaign_files, campaigns, catalog, db_files
from ..db import Database
from ..errors import UserError
from ..models import Campaign
from ..retry import RetryResult, count_retryable, retry_traces


def new_draft(db: Database, now: datetime, name: str = "New campaign") -> int:
    with db.session() as s:
        campaign = Campaign(
            name=name, target="contact", filter=[], state="draft", created_at=now, updated_at=now
        )
        s.add(campaign)
        s.flush()
        return campaign.id


def duplicate(db: Database, campaign_id: int, now: datetime) -> int:
    """A draft copy made by exporting and importing (trust carries over: the user's own)."""
    with db.session() as s:
        doc = campaign_files.export_document(s, campaign_id)
        name = f"{doc['campaign']['name']} (copy)"
        return campaign_files.import_document(s, doc, trust=True, now=now, name=name).id


def rename(db: Database, campaign_id: int, name: str, now: datetime) -> None:
    if not name.strip():
        raise UserError("the campaign name cannot be empty")
    with db.session() as s:
        campaign = campaigns.find_campaign(s, campaign_id)
        campaign.name = name.strip()
        campaign.updated_at = now


def delete(db: Database, campaign_id: int) -> None:
    with db.session() as s:
        campaign = campaigns.find_campaign(s, campaign_id)
        if campaign.state == "running":
            raise UserError(f"stop {campaign.name!r} before deleting it")
        campaigns.delete_campaign(s, campaign)


def archive(db: Database, campaign_id: int, now: datetime) -> None:
    """Put a campaign away (hidden from the list); a running one must be stopped first."""
    with db.session() as s:
        campaign = campaigns.find_campaign(s, campaign_id)
        if campaign.state == "running":
            raise UserError(f"stop {campaign.name!r} before archiving it")
        campaign.archived = True
        campaign.updated_at = now


def unarchive(db: Database, campaign_id: int, now: datetime) -> None:
    """Bring an archived campaign back to the list, in the state it was archived in."""
    with db.session() as s:
        campaign = campaigns.find_campaign(s, campaign_id)
        if not campaign.archived:
            raise UserError(f"{campaign.name!r} is not archived")
        campaign.archived = False
        campaign.updated_at = now


def untrusted_kinds(doc: dict[str, Any]) -> list[str]:
    """The code/webhook actions a file would bring (they need the user's trust)."""
    kinds = [(a.get("action") or {}).get("kind") for a in doc.get("activities", [])]
    kinds += [a.get("kind") for a in (doc.get("saved_actions") or {}).values()]
    return sorted({k for k in kinds if k in catalog.UNTRUSTED_KINDS})


def import_doc(db: Database, doc: dict[str, Any], *, trust: bool, now: datetime) -> tuple[int, str]:
    """The new campaign's id and name: a taken name comes back as ``name (2)``."""
    with db.session() as s:
        campaign = campaign_files.import_document(s, doc, trust=trust, now=now)
        return campaign.id, campaign.name


def export_file(db: Database, campaign_id: int, path: str | Path) -> None:
    """Write the campaign file; never over the database's own files (they are open)."""
    db_files.refuse_database_file(
        path, db.engine.url, action="overwritten by an export", hint="Choose another name."
    )
    with db.read() as s:
        text = campaign_files.dumps(campaign_files.export_document(s, campaign_id))
    Path(path).write_text(text, encoding="utf-8")


def matching(db: Database, campaign_id: int, now: datetime) -> tuple[str, int]:
    """The campaign's name and how many records its audience filter matches now."""
    with db.read() as s:
        campaign = campaigns.find_campaign(s, campaign_id)
        return campaign.name, campaigns.count_matching(s, campaign, now)


def start(db: Database, campaign_id: int, now: datetime) -> int:
    """Start (E1); ValidationError lists the problems when the campaign is invalid."""
    with db.session() as s:
        return campaigns.start(s, campaigns.find_campaign(s, campaign_id), now)


def stop(db: Database, campaign_id: int, now: datetime) -> None:
    with db.session() as s:
        campaigns.stop(s, campaigns.find_campaign(s, campaign_id), now)


def apply_update(db: Database, campaign_id: int, now: datetime, *, update: bool) -> None:
    with db.session() as s:
        campaign = campaigns.find_campaign(s, campaign_id)
        campaigns.apply_update(s, campaign, now, update_participants=update)


def is_modified(db: Database, campaign_id: int) -> bool:
    with db.read() as s:
        return campaigns.is_modified(s, campaign_id)


def retryable_count(db: Database, campaign_id: int) -> int:
    with db.read() as s:
        c = s.get(Campaign, campaign_id)
        return 0 if c is None else count_retryable(s, c)


def retry(db: Database, campaign_id: int, now: datetime, ids: list[int] | None) -> RetryResult:
    """Selected errored traces (any error), or else the curable ones, back to scheduled."""
    with db.session() as s:
        c = s.get(Campaign, campaign_id)
        if c is None:
            raise UserError("this campaign no longer exists (another window or process deleted it)")
        return retry_traces(s, c, now, trace_ids=ids, every_error=ids is not None)
