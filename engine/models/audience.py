"""Audience records (SPEC §2): the small CRM Journeys owns so it is useful on its own.

Relations that filters follow by name (tags, lists) are plain association tables so that
filters compile to ``EXISTS`` sub-queries and bulk tag changes are single statements.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, UTCDateTime, intpk


class User(Base):
    """A salesperson or colleague: assignee of tasks, follower of records."""

    __tablename__ = "user"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(255), unique=True)


class MailingList(Base):
    __tablename__ = "mailing_list"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(255), unique=True)


def _link_table(name: str, owner: str, other: str) -> Table:
    return Table(
        name,
        Base.metadata,
        Column(
            f"{owner}_id", BigId, ForeignKey(f"{owner}.id", ondelete="CASCADE"), primary_key=True
        ),
        Column(
            f"{other}_id", BigId, ForeignKey(f"{other}.id", ondelete="CASCADE"), primary_key=True
        ),
        Index(f"ix_{name}_{other}_id", f"{other}_id"),
    )


contact_tag = _link_table("contact_tag", "contact", "tag")
contact_list = _link_table("contact_list", "contact", "mailing_list")
lead_tag = _link_table("lead_tag", "lead", "tag")


class Contact(Base):
    __tablename__ = "contact"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(255), default="", server_default="")
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str | None] = mapped_column(String(16))
    opt_out_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    opt_out_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    salesperson_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Lead(Base):
    __tablename__ = "lead"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(255), default="", server_default="")
    contact_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    stage: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    salesperson_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    expected_revenue: Mapped[float | None] = mapped_column(Float)
    probability: Mapped[float | None] = mapped_column(Float)
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EventRegistration(Base):
    __tablename__ = "event_registration"
    id: Mapped[intpk]
    event: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255), default="", server_default="")
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Task(Base):
    """A to-do for a user about a record (what ``create_activity`` makes)."""

    __tablename__ = "task"
    __table_args__ = (Index("ix_task_res", "res_model", "res_id"),)
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(512))
    note: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[date | None] = mapped_column(Date)
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    res_model: Mapped[str] = mapped_column(String(32))
    res_id: Mapped[int] = mapped_column(BigId)
    done: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trace_id: Mapped[int | None] = mapped_column(BigId)


class Follower(Base):
    __tablename__ = "follower"
    __table_args__ = (UniqueConstraint("res_model", "res_id", "user_id"),)
    id: Mapped[intpk]
    res_model: Mapped[str] = mapped_column(String(32))
    res_id: Mapped[int] = mapped_column(BigId)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("user.id", ondelete="CASCADE"))


class Suppression(Base):
    """Addresses and numbers that must never be contacted, whatever record holds them."""

    __tablename__ = "suppression"
    __table_args__ = (UniqueConstraint("kind", "value"),)
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(8))  # "email" | "phone"
    value: Mapped[str] = mapped_column(String(320))  # lower-cased email or E.164
    reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
