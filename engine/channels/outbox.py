"""The embedded outbox: the default channel when no real one is configured.

Messages are stored in the database in the same transaction that marks their traces
processed, so a message is in the outbox exactly when its trace says it was sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..models import OutboxMessage
from .base import SENT, Channel, Delivery, OutboundEmail, OutboundSms


class OutboxChannel(Channel):
    name = "outbox"
    transactional = True

    def __init__(self, now: datetime) -> None:
        self.now = now

    def _store(self, session: Session, rows: list[dict[str, object]]) -> list[Delivery]:
        if rows:
            session.execute(insert(OutboxMessage), rows)
        return [SENT] * len(rows)

    def _row(self, m: OutboundEmail | OutboundSms, channel: str) -> dict[str, object]:
        return {
            "channel": channel,
            "trace_id": m.trace_id,
            "campaign_id": m.campaign_id,
            "activity_key": m.activity_key,
            "record_id": m.record_id,
            "record_name": m.record_name,
            "to": m.to,
            "is_test": m.is_test,
            "sent_at": self.now,
        }

    def send_emails(self, session: Session, messages: list[OutboundEmail]) -> list[Delivery]:
        return self._store(
            session,
            [
                {
                    **self._row(m, "email"),
                    "subject": m.subject,
                    "body": m.html,
                    "text_body": m.text,
                    "headers": m.headers,
                }
                for m in messages
            ],
        )

    def send_sms(self, session: Session, messages: list[OutboundSms]) -> list[Delivery]:
        return self._store(
            session,
            [
                {
                    **self._row(m, "sms"),
                    "subject": None,
                    "body": m.body,
                    "text_body": None,
                    "headers": {},
                }
                for m in messages
            ],
        )
