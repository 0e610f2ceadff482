"""Inbound mail that has been counted, so that it is never counted again (SPEC §5, E13).

The mailbox is marked too (an IMAP keyword), but marking happens after the database
commit: a crash in between leaves the message unmarked, and this table is what stops the
next poll from counting it a second time. Only messages that recorded something are
kept; ignored mail needs no memory (re-reading it records nothing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime, intpk


class InboundMessage(Base):
    __tablename__ = "inbound_message"
    id: Mapped[intpk]
    # SHA-256 (hex) of the message's Message-ID, or of its bytes when it has none: a
    # fixed-size key that two workers polling the same mailbox cannot both insert.
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # reply | bounce
    trace_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("trace.id", ondelete="SET NULL"), index=True
    )
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime())
