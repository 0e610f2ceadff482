"""Delivery channels. The outbox is the default; real ones come from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from .base import Channel, Delivery, OutboundEmail, OutboundSms
from .outbox import OutboxChannel


@dataclass
class Channels:
    email: Channel
    sms: Channel

    def close(self) -> None:
        self.email.close()
        if self.sms is not self.email:
            self.sms.close()


def configured_channels(session: Session, now: datetime) -> Channels:
    """The channels the settings ask for; the outbox for any that is not configured."""
    from .config import email_channel, sms_channel

    outbox = OutboxChannel(now)
    return Channels(
        email=email_channel(session, now) or outbox, sms=sms_channel(session, now) or outbox
    )


__all__ = [
    "Channel",
    "Channels",
    "Delivery",
    "OutboundEmail",
    "OutboundSms",
    "OutboxChannel",
    "configured_channels",
]
