"""Which real channel the settings configure, if any (None: the outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from .base import Channel


def email_channel(session: Session, now: datetime) -> Channel | None:
    """The SMTP channel when ``smtp.url`` is set.

    An unusable URL (only the environment can supply one: stored settings are checked
    when set) must not fall back to the outbox, which would count unsent mail as sent.
    """
    from .. import secret_store, settings
    from ..errors import UserError
    from .smtp import SMTPChannel, UnavailableChannel, parse_smtp_url

    try:
        url = settings.get(session, "smtp.url")
        if not url:
            return None
        parsed = parse_smtp_url(url)
    except UserError as exc:  # an unusable $JOURNEYS_SMTP_URL: the message names it
        return UnavailableChannel(str(exc))
    except ValueError as exc:
        return UnavailableChannel(f"smtp.url (or JOURNEYS_SMTP_URL) {exc}")
    return SMTPChannel(
        parsed,
        password=lambda: secret_store.get_secret("smtp.password"),
        rate_per_second=float(settings.get(session, "smtp.rate_per_second")),
        timeout=float(settings.get(session, "smtp.timeout_seconds")),
    )


def sms_channel(session: Session, now: datetime) -> Channel | None:
    """The SMS gateway channel when ``sms.url`` is set.

    Cheap by design: the engine builds channels just to ask whether they are
    transactional, so the secret is read and the connection opened only on first send.
    """
    import os

    from .. import settings
    from ..errors import UserError
    from .sms_channel import SmsGatewayChannel

    try:
        url = settings.get(session, "sms.url")
    except (ValueError, UserError):
        # Only the environment can supply an unusable URL (stored ones are checked when
        # set). The channel reports it on every message; the outbox would count unsent
        # SMS as sent.
        url = os.environ.get("JOURNEYS_SMS_URL", "").strip() or "(unusable)"
    if not url:
        return None

    return SmsGatewayChannel(url)
