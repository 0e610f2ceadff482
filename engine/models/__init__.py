"""The data model. Import from here; the schema itself is made only by migrations."""

from typing import cast

from sqlalchemy import Table

from .audience import (
    Contact,
    EventRegistration,
    Follower,
    Lead,
    MailingList,
    Suppression,
    Tag,
    Task,
    User,
    contact_list,
    contact_tag,
    lead_tag,
)
from .base import Base, UTCDateTime
from .campaign import (
    Activity,
    Campaign,
    Interaction,
    Link,
    OutboxMessage,
    Participant,
    SavedAction,
    Setting,
    Trace,
)
from .figures import ActivityHourStat, ActivityStat, LinkStat, ParticipantStat
from .inbound import InboundMessage

__all__ = [
    "Activity",
    "ActivityHourStat",
    "ActivityStat",
    "Base",
    "Campaign",
    "Contact",
    "EventRegistration",
    "Follower",
    "InboundMessage",
    "Interaction",
    "Lead",
    "Link",
    "LinkStat",
    "MailingList",
    "OutboxMessage",
    "Participant",
    "ParticipantStat",
    "SavedAction",
    "Setting",
    "Suppression",
    "Tag",
    "Task",
    "Trace",
    "UTCDateTime",
    "User",
    "contact_list",
    "contact_tag",
    "lead_tag",
    "table",
]


def table(model: type[Base]) -> Table:
    """A model's Core table, typed as a Table (``__table__`` is typed as a FromClause)."""
    return cast(Table, model.__table__)
