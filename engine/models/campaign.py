"""Campaigns, activities, participants, traces and what recipients did (SPEC §1, §3-§6).

The traces table is the engine's only timer store (E13): a scheduled trace with a due
time *is* the timer; one with no due time waits for an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime, intpk


class Campaign(Base):
    __tablename__ = "campaign"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    target: Mapped[str] = mapped_column(String(32))
    filter: Mapped[list[Any]] = mapped_column(JSON, default=list)
    unique_field: Mapped[str | None] = mapped_column(String(64))
    engagement_window_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    state: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Top-level ``x-`` keys of the file it came from, written back on export.
    file_extras: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Sticky notes on the canvas (engine.notes): people's words about the journey, never
    # read by the engine; NULL for a campaign that has none.
    notes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last failure of the engine's own work on this campaign (sync, expiry, its plan),
    # so one broken campaign is backed off and shown, while the others keep running.
    engine_error: Mapped[str | None] = mapped_column(Text)
    engine_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    engine_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    engine_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Activity(Base):
    __tablename__ = "activity"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))  # email | sms | server_action
    parent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("activity.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(24))
    delay_amount: Mapped[int] = mapped_column(Integer, default=0)
    delay_unit: Mapped[str] = mapped_column(String(8), default="hours")
    validity_amount: Mapped[int | None] = mapped_column(Integer)
    validity_unit: Mapped[str | None] = mapped_column(String(8))
    filter: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The type's content object exactly as in campaign files: email, sms or action.
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    position_x: Mapped[float | None] = mapped_column(Float)
    position_y: Mapped[float | None] = mapped_column(Float)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # execute_code / webhook actions from a file stay disabled until a person trusts them.
    trusted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # E10: "new" or "changed" while the running campaign awaits Update participants.
    pending_update: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SavedAction(Base):
    """A named server action that ``run_actions`` can call; travels with its campaign."""

    __tablename__ = "saved_action"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)
    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    action: Mapped[dict[str, Any]] = mapped_column(JSON)
    trusted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Participant(Base):
    __tablename__ = "participant"
    __table_args__ = (
        # One real participant per record and campaign; test participants never block.
        Index(
            "uq_participant_real_record",
            "campaign_id",
            "record_id",
            unique=True,
            sqlite_where=text("is_test = 0"),
            postgresql_where=text("NOT is_test"),
        ),
        Index("ix_participant_campaign_state", "campaign_id", "state"),
        Index("ix_participant_campaign_unique", "campaign_id", "unique_value"),
        # The dashboard's participants table, newest first (migration 0006).
        Index("ix_participant_campaign_list", "campaign_id", "is_test", "id"),
    )
    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaign.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(BigId)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    state: Mapped[str] = mapped_column(String(16), default="running")
    unique_value: Mapped[str | None] = mapped_column(String(320))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Trace(Base):
    __tablename__ = "trace"
    __table_args__ = (
        # The hot path: what is due. Partial, so finished traces cost nothing.
        Index(
            "ix_trace_due",
            "due_at",
            sqlite_where=text("state = 'scheduled'"),
            postgresql_where=text("state = 'scheduled'"),
        ),
        Index("ix_trace_activity_state", "activity_id", "state"),
        Index("ix_trace_participant_state", "participant_id", "state"),
        Index("ix_trace_campaign_state", "campaign_id", "state"),
        Index("ix_trace_activity_address", "activity_id", "to_address"),
        # The dashboard's traces table, newest or latest done first (migration 0006).
        Index("ix_trace_campaign_list", "campaign_id", "is_test", "id"),
        # Not by is_test: SQLite would then walk it for every campaign-wide sort and
        # fetch rows in done order, at random (four times slower than in id order).
        Index("ix_trace_campaign_done", "campaign_id", "done_at"),
        # Only claimed rows are indexed: tiny, and useless to a planner looking for
        # unclaimed rows (which must walk ix_trace_due in due order instead).
        Index(
            "ix_trace_claimed_by",
            "claimed_by",
            sqlite_where=text("claimed_by IS NOT NULL"),
            postgresql_where=text("claimed_by IS NOT NULL"),
        ),
    )
    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(BigId, ForeignKey("campaign.id", ondelete="CASCADE"))
    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("activity.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("participant.id", ondelete="CASCADE")
    )
    parent_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("trace.id", ondelete="SET NULL"), index=True
    )
    record_id: Mapped[int] = mapped_column(BigId)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    # Null while waiting for an event. anchor_at + delay == due_at, so E10 can re-date.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    anchor_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    message: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A worker's claim; ``handoff`` marks that a message may have left for an outside
    # channel, so an interrupted claim is an error instead of a retry (E13).
    claimed_by: Mapped[str | None] = mapped_column(String(96))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handoff: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    to_address: Mapped[str | None] = mapped_column(String(320))
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The first unsubscribe through this message's link or an ESP notice (not a test).
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Link(Base):
    """A URL found in an activity's message; clicks are logged against it."""

    __tablename__ = "link"
    __table_args__ = (UniqueConstraint("activity_id", "url"),)
    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    activity_id: Mapped[int] = mapped_column(BigId, ForeignKey("activity.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))


class Interaction(Base):
    """Every interaction as it happened; trace columns hold the first of each kind."""

    __tablename__ = "interaction"
    id: Mapped[intpk]
    trace_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("trace.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    link_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("link.id", ondelete="SET NULL"), index=True
    )
    detail: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """A message delivered to the embedded outbox channel (the default channel)."""

    __tablename__ = "outbox_message"
    id: Mapped[intpk]
    channel: Mapped[str] = mapped_column(String(8))
    trace_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("trace.id", ondelete="SET NULL"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("campaign.id", ondelete="SET NULL"), index=True
    )
    activity_key: Mapped[str | None] = mapped_column(String(64))
    record_id: Mapped[int | None] = mapped_column(BigId)
    record_name: Mapped[str | None] = mapped_column(String(255))
    to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(998))
    body: Mapped[str] = mapped_column(Text)
    text_body: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Setting(Base):
    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
