"""The channel interface real delivery plugs into (SMTP, SMS gateways: next issue).

A channel receives a batch of fully rendered messages and says, per message, what
happened. ``transactional`` channels deliver inside the engine's database transaction
(the outbox), so an interrupted batch provably sent nothing; other channels hand messages
to the outside world, so the engine marks their traces before hand-off (E13).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.orm import Session


@dataclass
class OutboundEmail:
    to: str
    subject: str
    html: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    trace_id: int | None = None
    campaign_id: int | None = None
    activity_key: str | None = None
    record_id: int | None = None
    record_name: str | None = None
    is_test: bool = False


@dataclass
class OutboundSms:
    to: str
    body: str
    trace_id: int | None = None
    campaign_id: int | None = None
    activity_key: str | None = None
    record_id: int | None = None
    record_name: str | None = None
    is_test: bool = False


DeliveryStatus = Literal["sent", "rejected", "transient", "failed", "postponed"]


@dataclass(frozen=True)
class Delivery:
    """``rejected``: permanent recipient rejection (a bounce); ``transient``: retry later;
    ``postponed``: not tried at all (the server stalls), so no attempt is counted."""

    status: DeliveryStatus
    detail: str = ""


SENT = Delivery("sent")


class Channel(ABC):
    name: str = "channel"
    transactional: bool = False

    @abstractmethod
    def send_emails(self, session: Session, messages: list[OutboundEmail]) -> list[Delivery]:
        """Deliver ``messages``; one Delivery per message, in order."""

    @abstractmethod
    def send_sms(self, session: Session, messages: list[OutboundSms]) -> list[Delivery]:
        """Deliver ``messages``; one Delivery per message, in order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections kept across a batch."""
