"""Which real channel the settings configure, if any (None: the outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .base import Channel


def email_channel(session: Session, now: datetime) -> Channel | None:
    """The SMTP channel when ``smtp.url`` is set (filled in by the SMTP channel's module)."""
    return None


def sms_channel(session: Session, now: datetime) -> Channel | None:
    """The SMS gateway channel when ``sms.url`` is set."""
    return None
