"""``journeys send-test``: one activity rendered for one record, through the real channel.

It answers "does my mail server accept this, and what does it look like?" without
touching the campaign: no participant, no trace, no statistics. With no trace there is
nothing for the tracker to find, so links go straight to their targets and there is no
open pixel (the template's own ``unsubscribe_url`` leads to the tracker's "not found").
It goes to the address given, else to the test recipient of the settings — never to the
record's own address, which belongs to a real person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy.orm import Session

from . import campaigns, records, settings, templating
from .channels import OutboundSms, configured_channels
from .db import Database
from .errors import UserError
from .messages import MessageBuilder, Recipient
from .plan import load_plan
from .records import normalize_phone

TEST_SMS_TEXT = "Journeys test SMS: your SMS settings work."


@dataclass(frozen=True)
class TestSend:
    kind: str  # email | sms
    channel: str
    to: str
    status: str
    detail: str
    subject: str | None


def _content(act: Any) -> tuple[str, dict[str, Any]]:
    if act.type in ("email", "sms"):
        return act.type, act.content
    kind = act.content.get("kind")
    if kind in ("send_email", "send_sms"):
        return ("email" if kind == "send_email" else "sms"), act.content
    raise UserError(
        f"activity {act.key!r} is a {kind or act.type} action: only email and SMS activities "
        "(and send_email/send_sms actions) send a message"
    )


def _recipient(session: Session, kind: str, to: str | None) -> str:
    key = "test.recipient_email" if kind == "email" else "test.recipient_phone"
    raw = to or settings.get(session, key)
    if not raw:
        raise UserError(f"no test recipient: pass --to, or set one with `journeys settings {key}`")
    if kind == "email":
        address = records.normalize_address(raw)
    else:
        address = records.normalize_phone(raw, region=settings.get(session, "sms.default_region"))
    if not address:
        what = "email address" if kind == "email" else "phone number"
        raise UserError(f"{raw!r} is not a valid {what}")
    return address


def send_test(
    session: Session,
    campaign_ref: str,
    activity_key: str,
    record_ref: str,
    now: datetime,
    *,
    to: str | None = None,
) -> TestSend:
    campaign = campaigns.find_campaign(session, campaign_ref)
    activity = campaigns.find_activity(session, campaign.id, activity_key)
    plan = load_plan(session, campaign.id)
    act = plan.activities[activity.id]
    kind, content = _content(act)
    record_id = records.resolve_record(session, campaign.target, record_ref)
    record = records.load_records(session, campaign.target, [record_id])[record_id]
    recipient = Recipient(
        trace_id=0,
        record_id=record_id,
        record=record,
        record_name=records.display_name(campaign.target, record),
        to=_recipient(session, kind, to),
        is_test=True,
    )
    builder = MessageBuilder(
        session,
        campaign=plan.info,
        activity=act.info,
        base_url=settings.tracking_base_url(session),
        secret=settings.tracking_secret(session),
        now=now,
        track=False,
    )
    built: list[Any] = (
        builder.emails(content, [recipient])
        if kind == "email"
        else builder.sms(content, [recipient])
    )
    message = built[0]
    if isinstance(message, templating.TemplateProblem):
        raise UserError(f"template error: {message}")
    message.trace_id = None  # rendered for no trace: the outbox must not point at one
    channels = configured_channels(session, now)
    channel = channels.email if kind == "email" else channels.sms
    try:
        if kind == "email":
            (delivery,) = channel.send_emails(session, [message])
        else:
            (delivery,) = channel.send_sms(session, [message])
    finally:
        channels.close()
    return TestSend(
        kind=kind,
        channel=channel.name,
        to=recipient.to,
        status=delivery.status,
        detail=delivery.detail,
        subject=getattr(message, "subject", None),
    )


def send_settings_test(session: Session, now: datetime, *, to: str | None = None) -> TestSend:
    """A fixed test email to ``to`` or the test recipient, through the configured channel.

    It checks the mail settings themselves (server, login, TLS) before any campaign exists;
    the Settings dialog's "Send test email" button calls it.
    """
    from .channels import OutboundEmail

    address = _recipient(session, "email", to)
    subject = "Journeys test email"
    text = "This test email shows that Journeys can send through your mail settings."
    # No campaign gives a sender here: the test recipient writes to itself, as mail
    # clients' "send a test" do, so the server's relaying rules are checked too.
    headers = {
        "From": f"Journeys <{address}>",
        "To": address,
        "Subject": subject,
        "Date": format_datetime(now, usegmt=True),
        "Message-ID": make_msgid(domain=address.rpartition("@")[2]),
    }
    message = OutboundEmail(
        to=address,
        subject=subject,
        html=f"<p>{text}</p>",
        text=text,
        headers=headers,
        is_test=True,
    )
    channel = configured_channels(session, now).email
    try:
        (delivery,) = channel.send_emails(session, [message])
    finally:
        channel.close()
    return TestSend("email", channel.name, address, delivery.status, delivery.detail, subject)


def send_settings_email_test(db: Database, now: datetime) -> TestSend:
    """The Settings test email; a mail server conversation holds no database write lock.

    Only the outbox writes (one row, quickly); a real server is asked while the session
    only reads, so the engine's writers are not kept waiting for a slow server.
    """
    with db.read() as s:
        channels = configured_channels(s, now)
        outbox = channels.email.transactional
        channels.close()
    with db.session() if outbox else db.read() as s:
        return send_settings_test(s, now)


def send_settings_sms_test(
    db: Database, now: datetime, *, timeout: float | None = None
) -> TestSend:
    """A fixed test SMS to the test phone (``test.recipient_phone``) through the SMS channel.

    Like :func:`send_settings_email_test`, the gateway is asked while the session only reads (the
    tracking key the channel reads is created first, in its own short write).
    """
    with db.session() as s:
        raw = settings.get(s, "test.recipient_phone")
        region = settings.get(s, "sms.default_region")
        channels = configured_channels(s, now)
        outbox = channels.sms.transactional
        channels.close()
        if not outbox:
            settings.tracking_secret(s)
    if not raw:
        raise UserError("no test recipient: set “Test SMS to” (test.recipient_phone) first")
    to = normalize_phone(raw, region=region)
    if not to:
        raise UserError(f"{raw!r} is not a valid phone number")
    message = OutboundSms(to=to, body=TEST_SMS_TEXT, is_test=True)
    with db.session() if outbox else db.read() as s:
        channel = configured_channels(s, now).sms
        if timeout is not None and hasattr(channel, "timeout"):
            channel.timeout = timeout
        try:
            (delivery,) = channel.send_sms(s, [message])
        finally:
            channel.close()
    return TestSend("sms", channel.name, to, delivery.status, delivery.detail, None)
