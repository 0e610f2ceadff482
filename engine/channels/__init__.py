"""Delivery channels. The outbox is the default; real channels arrive with settings."""

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
    """The channels the settings ask for; the outbox while none is configured."""
    outbox = OutboxChannel(now)
    return Channels(email=outbox, sms=outbox)


__all__ = [
    "Channel",
    "Channels",
    "Delivery",
    "OutboundEmail",
    "OutboundSms",
    "OutboxChannel",
    "configured_channels",
]
