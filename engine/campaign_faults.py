"""One campaign's failure never stops the engine: it is recorded, backed off and shown.

A bug or a value no check foresaw (a date that overflows, a filter the database
refuses) used to fail the whole pass, every pass: other campaigns never ran and a worker
logged the same traceback hundreds of times a second. Now the engine's own work on a
campaign — syncing its audience, expiring its waiting traces, reading its plan — runs
isolated; a failure is written on the campaign (the designer shows it), logged once per
distinct message, and the campaign is left alone for a growing while (1 minute, doubling,
at most an hour) — or until someone edits it, which is how a user fixes it. The first
pass that works on it again without a failure clears the record.

Times are the engine's business clock, as ``updated_at`` is, so the two compare.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update

from .db import Database
from .models import Campaign, table

log = logging.getLogger(__name__)

C = table(Campaign)
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)


class CampaignFailed(Exception):
    """Raised inside a unit of work when one campaign's part of it cannot be done."""

    def __init__(self, campaign_id: int, what: str, cause: BaseException) -> None:
        super().__init__(f"campaign {campaign_id}: could not {what}: {cause}")
        self.campaign_id = campaign_id
        self.what = what
        self.cause = cause


def workable(now: datetime) -> ColumnElement[bool]:
    """Campaigns the engine may work on at ``now``: not backed off, or edited since."""
    return or_(
        C.c.engine_retry_at.is_(None),
        C.c.engine_retry_at <= now,
        C.c.updated_at > C.c.engine_error_at,
    )


def describe(what: str, cause: BaseException) -> str:
    """What a marketer reads on the campaign: no exception class, unless that is all."""
    text = str(cause).strip() or f"an internal error ({type(cause).__name__})"
    return f"The engine could not {what}: {text}"[:2000]


def backoff(failures: int) -> timedelta:
    return min(FIRST_BACKOFF * 2 ** min(max(failures - 1, 0), 16), MAX_BACKOFF)


def record(db: Database, failure: CampaignFailed, now: datetime) -> None:
    """Write the failure on its campaign (own transaction) and log it once."""
    message = describe(failure.what, failure.cause)
    with db.session() as s:
        row = s.execute(
            select(C.c.engine_error, C.c.engine_failures).where(C.c.id == failure.campaign_id)
        ).first()
        if row is None:
            return
        failures = (row.engine_failures or 0) + 1
        s.execute(
            update(C)
            .where(C.c.id == failure.campaign_id)
            .values(
                engine_error=message,
                engine_error_at=now,
                engine_failures=failures,
                engine_retry_at=now + backoff(failures),
            )
        )
    if row.engine_error != message:
        log.error(
            "campaign %s is set aside: %s", failure.campaign_id, message, exc_info=failure.cause
        )
    else:
        log.debug("campaign %s failed again: %s", failure.campaign_id, message)


def clear(db: Database, now: datetime, failed: set[int]) -> None:
    """Forget the failures of campaigns a pass worked on without failing again."""
    with db.read() as s:
        marked = s.scalars(
            select(C.c.id).where(
                C.c.engine_error.is_not(None), C.c.state == "running", workable(now)
            )
        ).all()
    ids = [cid for cid in marked if cid not in failed]
    if not ids:
        return
    with db.session() as s:
        s.execute(
            update(C)
            .where(and_(C.c.id.in_(ids), C.c.engine_error.is_not(None)))
            .values(
                engine_error=None, engine_error_at=None, engine_failures=0, engine_retry_at=None
            )
        )
    log.info("campaigns %s work again", ", ".join(map(str, ids)))
