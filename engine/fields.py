"""The audience models' fields, described once for filters, CSV import, templates,
record listings and the designer's field pickers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table

from .models import (
    Contact,
    EventRegistration,
    Lead,
    MailingList,
    Tag,
    User,
    contact_list,
    contact_tag,
    lead_tag,
)

# Field kinds.
CHAR, TEXT, EMAIL, PHONE, BOOL, INT, FLOAT, DATETIME, JSONK, SELECTION = (
    "char",
    "text",
    "email",
    "phone",
    "bool",
    "int",
    "float",
    "datetime",
    "json",
    "selection",
)
MANY2ONE, MANY2MANY = "many2one", "many2many"


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    label: str
    column: str | None = None  # column on the model's table (None for many2many)
    relation: Table | None = None  # related table (user, tag, mailing_list)
    link: Table | None = None  # association table for many2many
    link_owner: str | None = None  # association column pointing at the record
    link_other: str | None = None  # association column pointing at the related row
    selection: tuple[str, ...] = ()
    readonly: bool = False
    minimum: int | None = None
    maximum: int | None = None

    @property
    def is_relational(self) -> bool:
        return self.kind in (MANY2ONE, MANY2MANY)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    label: str
    table: Table
    fields: dict[str, Field]
    display_field: str = "name"
    has_active: bool = True
    email_field: str | None = "email"
    phone_field: str | None = "phone"
    opt_out_email_field: str | None = None
    opt_out_sms_field: str | None = None

    def field(self, name: str) -> Field | None:
        return self.fields.get(name)


def _f(name: str, kind: str, label: str | None = None, **kw: Any) -> Field:
    column = kw.pop("column", None if kind == MANY2MANY else name)
    return Field(name, kind, label or name.replace("_", " ").capitalize(), column, **kw)


_user_t = User.__table__
_tag_t = Tag.__table__
_list_t = MailingList.__table__

# Fields of related models reachable by dotted paths (``salesperson.email``).
RELATED_FIELDS: dict[str, dict[str, Field]] = {
    "user": {
        "id": _f("id", INT, "ID", readonly=True),
        "name": _f("name", CHAR),
        "email": _f("email", EMAIL),
    },
    "tag": {"id": _f("id", INT, "ID"), "name": _f("name", CHAR)},
    "mailing_list": {"id": _f("id", INT, "ID"), "name": _f("name", CHAR)},
}


def _salesperson() -> Field:
    return _f("salesperson", MANY2ONE, "Salesperson", column="salesperson_id", relation=_user_t)


def _tags(link: Table, owner: str) -> Field:
    return _f(
        "tags", MANY2MANY, "Tags", relation=_tag_t, link=link, link_owner=owner, link_other="tag_id"
    )


_common_tail = [
    _f("active", BOOL),
    _f("created_at", DATETIME, "Created on", readonly=True),
    _f("updated_at", DATETIME, "Last updated on", readonly=True),
    _f("extra", JSONK, "Extra data"),
]

MODELS: dict[str, ModelInfo] = {
    "contact": ModelInfo(
        "contact",
        "Contact",
        Contact.__table__,  # type: ignore[arg-type]
        {
            f.name: f
            for f in [
                _f("id", INT, "ID", readonly=True),
                _f("name", CHAR),
                _f("email", EMAIL),
                _f("phone", PHONE),
                _f("company", CHAR),
                _f("country", CHAR),
                _f("language", CHAR),
                _tags(contact_tag, "contact_id"),
                _f(
                    "lists",
                    MANY2MANY,
                    "Mailing lists",
                    relation=_list_t,
                    link=contact_list,
                    link_owner="contact_id",
                    link_other="mailing_list_id",
                ),
                _f("opt_out_email", BOOL, "Opted out of email"),
                _f("opt_out_sms", BOOL, "Opted out of SMS"),
                _salesperson(),
                _f("description", TEXT),
                *_common_tail,
            ]
        },
        opt_out_email_field="opt_out_email",
        opt_out_sms_field="opt_out_sms",
    ),
    "lead": ModelInfo(
        "lead",
        "Lead",
        Lead.__table__,  # type: ignore[arg-type]
        {
            f.name: f
            for f in [
                _f("id", INT, "ID", readonly=True),
                _f("name", CHAR, "Title"),
                _f("contact_name", CHAR, "Contact name"),
                _f("email", EMAIL),
                _f("phone", PHONE),
                _f("stage", CHAR),
                _f("priority", INT, minimum=0, maximum=3),
                _salesperson(),
                _tags(lead_tag, "lead_id"),
                _f("expected_revenue", FLOAT, "Expected revenue"),
                _f("probability", FLOAT),
                _f("description", TEXT),
                *_common_tail,
            ]
        },
    ),
    "event_registration": ModelInfo(
        "event_registration",
        "Event registration",
        EventRegistration.__table__,  # type: ignore[arg-type]
        {
            f.name: f
            for f in [
                _f("id", INT, "ID", readonly=True),
                _f("event", CHAR),
                _f("name", CHAR, "Attendee"),
                _f("email", EMAIL),
                _f("phone", PHONE),
                _f("state", SELECTION, selection=("draft", "open", "done", "cancel")),
                _f("created_at", DATETIME, "Created on", readonly=True),
                _f("extra", JSONK, "Extra data"),
            ]
        },
        has_active=False,
    ),
}
TARGET_MODELS = tuple(MODELS)


def model_info(name: str) -> ModelInfo:
    """The model called ``name``; raises KeyError with the known names."""
    try:
        return MODELS[name]
    except KeyError:
        raise KeyError(
            f"unknown model {name!r} (expected one of {', '.join(TARGET_MODELS)})"
        ) from None
