"""Summary tables behind every figure (SPEC §6), kept by database triggers.

Counting a campaign's traces for each refresh costs seconds at a million traces; these
tables hold the same counts, so a report or a dashboard refresh reads a few hundred rows.
They are maintained by triggers (migration 0004), not by Python, so every writer — the
embedded engine, a worker, the command line, the tracking server, another version's
code path — keeps them right without knowing about them.

A figure is the SUM of its rows. On SQLite (one writer at a time) a trigger updates one
row per key. On PostgreSQL, where several workers commit at once, a statement-level
trigger *appends* a row of differences per statement, so concurrent writers never wait
on one hot row; :func:`engine.figures.compact` folds them now and then.

There are no foreign keys: a trigger fired by a cascaded delete must not reference the
row being deleted. Rows of a deleted activity, campaign or link are removed by triggers
on those tables, and readers join the live rows anyway. Test traces and test
participants are counted apart (participants) or not at all (traces, clicks): SPEC §6
leaves them out of every figure but the test panel's.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, intpk


def _count() -> Mapped[int]:
    return mapped_column(Integer, default=0, server_default="0")


class ActivityStat(Base):
    """Trace states and first interactions of one activity's real traces."""

    __tablename__ = "activity_stat"
    __table_args__ = (Index("ix_activity_stat_campaign", "campaign_id", "activity_id"),)
    id: Mapped[intpk]
    activity_id: Mapped[int] = mapped_column(BigId, index=True)
    campaign_id: Mapped[int] = mapped_column(BigId)
    scheduled: Mapped[int] = _count()
    waiting: Mapped[int] = _count()
    processed: Mapped[int] = _count()
    rejected: Mapped[int] = _count()
    canceled: Mapped[int] = _count()
    error: Mapped[int] = _count()
    opened: Mapped[int] = _count()
    clicked: Mapped[int] = _count()
    replied: Mapped[int] = _count()
    bounced: Mapped[int] = _count()
    unsubscribed: Mapped[int] = _count()


class ActivityHourStat(Base):
    """Processed and rejected real traces per activity and UTC hour of ``done_at``, and
    what those messages led to (a cohort: a later open counts for the hour it was sent),
    so a period's rates are shares of the messages sent in it."""

    __tablename__ = "activity_hour_stat"
    __table_args__ = (
        Index("ix_activity_hour_stat_campaign", "campaign_id", "hour"),
        Index("ix_activity_hour_stat_activity", "activity_id", "hour"),
    )
    id: Mapped[intpk]
    activity_id: Mapped[int] = mapped_column(BigId)
    campaign_id: Mapped[int] = mapped_column(BigId)
    hour: Mapped[str] = mapped_column(String(13))  # "YYYY-MM-DD HH", UTC
    processed: Mapped[int] = _count()
    rejected: Mapped[int] = _count()
    opened: Mapped[int] = _count()
    clicked: Mapped[int] = _count()
    replied: Mapped[int] = _count()
    bounced: Mapped[int] = _count()
    unsubscribed: Mapped[int] = _count()


class ParticipantStat(Base):
    """Participants per campaign, test flag and state."""

    __tablename__ = "participant_stat"
    __table_args__ = (Index("ix_participant_stat_key", "campaign_id", "is_test", "state"),)
    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(BigId)
    is_test: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))
    n: Mapped[int] = _count()


class LinkStat(Base):
    """Clicks and unique clicks (distinct traces) of one tracked link, real traces only."""

    __tablename__ = "link_stat"
    id: Mapped[intpk]
    link_id: Mapped[int] = mapped_column(BigId, index=True)
    clicks: Mapped[int] = _count()
    unique_clicks: Mapped[int] = _count()
