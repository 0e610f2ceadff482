"""A message as its recipient would get it, built for the designer's preview.

The preview goes through the sending path itself (:class:`~engine.messages.MessageBuilder`
and :func:`engine.mime.build`): CSS inlined, links rewritten to tracked redirects, the
preheader, the open pixel, the ``List-Unsubscribe`` headers and the plain-text part are
exactly those of a real send. Two things differ, and only because nothing may be written
or sent: links not registered yet get provisional ids (the first send registers the real
ones), and the message is rendered for no trace (trace id 0), so its tracking URLs lead
nowhere. :func:`read_preview_settings` only reads the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import mime, settings, templating
from .channels import OutboundEmail, OutboundSms
from .messages import MemoryLinks, MessageBuilder, Recipient, inbound_address
from .models import Activity, Link, Setting
from .tracking import TrackedUrls

PREVIEW_TRACE_ID = 0
# Used only until the database has its own key (created on the first real send).
_PLACEHOLDER_SECRET = b"journeys-preview-key"
_HIDDEN = re.compile(
    r"<(div|span)\b[^>]*\bstyle\s*=\s*([\"'])[^\"']*display\s*:\s*none[^\"']*\2[^>]*>"
    r"(?P<inner>.*?)</\1>",
    re.IGNORECASE | re.DOTALL,
)
_PIXEL = re.compile(r"<img\b[^>]*\bsrc=\"[^\"]*/t/[^\"/]+/o\.gif\"[^>]*>")  # the tracker's own


@dataclass(frozen=True)
class PreviewSettings:
    """What the builder reads from the database, read once (see :func:`read_preview_settings`)."""

    base_url: str = "http://127.0.0.1:8025"
    secret: bytes = _PLACEHOLDER_SECRET
    inbound: str | None = None
    activity_id: int = 0
    link_ids: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EmailPreview:
    subject: str
    html: str  # the HTML part exactly as sent
    text: str  # the plain-text alternative
    headers: dict[str, str]
    preheader: str
    source: str  # the whole message as the SMTP server receives it
    tracked_links: dict[str, str]  # link target -> tracked redirect


def read_preview_settings(
    session: Session, campaign_id: int, activity_key: str | None
) -> PreviewSettings:
    """Base URL, tracking key, inbound mailbox and known links: reads only, never writes."""
    value = session.scalar(select(Setting.value).where(Setting.key == settings.TRACKING_SECRET_KEY))
    activity_id = 0
    links: dict[str, int] = {}
    if activity_key is not None:
        activity_id = (
            session.scalar(
                select(Activity.id).where(
                    Activity.campaign_id == campaign_id, Activity.key == activity_key
                )
            )
            or 0
        )
        if activity_id:
            rows = session.execute(select(Link.url, Link.id).where(Link.activity_id == activity_id))
            links = {url: link_id for url, link_id in rows}
    return PreviewSettings(
        base_url=settings.tracking_base_url(session),
        secret=bytes.fromhex(str(value)) if value else _PLACEHOLDER_SECRET,
        inbound=inbound_address(session),
        activity_id=activity_id,
        link_ids=links,
    )


def _recipient(record: dict[str, Any], to: str, record_name: str) -> Recipient:
    return Recipient(
        trace_id=PREVIEW_TRACE_ID,
        record_id=int(record.get("id") or 0),
        record=record,
        record_name=record_name,
        to=to,
    )


def _builder(
    campaign: dict[str, Any], activity: dict[str, Any], ps: PreviewSettings, now: datetime
) -> MessageBuilder:
    """The sending path's own builder, in its dry mode: it reads nothing and writes nothing."""
    return MessageBuilder(
        None,
        campaign={"id": campaign.get("id", 0), "name": campaign.get("name", "")},
        activity={
            "id": ps.activity_id,
            "key": activity.get("key", ""),
            "name": activity.get("name", ""),
        },
        base_url=ps.base_url,
        secret=ps.secret,
        now=now,
        dry_links=MemoryLinks(dict(ps.link_ids)),
        dry_inbound=ps.inbound,
    )


def preview_email(
    content: dict[str, Any],
    record: dict[str, Any],
    *,
    to: str,
    campaign: dict[str, Any],
    activity: dict[str, Any],
    preview_settings: PreviewSettings,
    now: datetime,
    record_name: str = "",
) -> EmailPreview:
    """The email ``content`` renders to for ``record``; raises TemplateProblem or
    :class:`engine.mime.MessageError` (a header the sender would refuse)."""
    builder = _builder(campaign, activity, preview_settings, now)
    (built,) = builder.emails(content, [_recipient(record, to, record_name)])
    if isinstance(built, templating.TemplateProblem):
        raise built
    assert isinstance(built, OutboundEmail)
    wire = mime.build(built)
    urls = TrackedUrls(builder.base_url, builder.secret, PREVIEW_TRACE_ID)
    tracked = {url: urls.click(link_id) for url, link_id in builder.links.ids.items()}
    hidden = _HIDDEN.search(built.html) if content.get("preheader") else None
    return EmailPreview(
        subject=built.subject,
        html=built.html,
        text=built.text,
        headers=dict(built.headers),
        preheader=hidden.group("inner") if hidden else "",
        source=wire.data.decode("utf-8", "replace"),
        tracked_links={u: t for u, t in tracked.items() if t in built.html},
    )


def preview_sms(
    content: dict[str, Any],
    record: dict[str, Any],
    *,
    to: str,
    campaign: dict[str, Any],
    activity: dict[str, Any],
    preview_settings: PreviewSettings,
    now: datetime,
    record_name: str = "",
) -> str:
    """The SMS text as sent (links shortened to tracked ones); raises TemplateProblem."""
    builder = _builder(campaign, activity, preview_settings, now)
    (built,) = builder.sms(content, [_recipient(record, to, record_name)])
    if isinstance(built, templating.TemplateProblem):
        raise built
    assert isinstance(built, OutboundSms)
    return built.body


def visible_html(html: str) -> str:
    """What a mail client shows: hidden blocks (the preheader) and the open pixel left out.

    Qt's rich-text widgets ignore ``display:none``; a mail client does not.
    """
    return _PIXEL.sub("", _HIDDEN.sub("", html))
