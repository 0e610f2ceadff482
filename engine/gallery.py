"""The bundled campaign templates (SPEC §9), shown as a gallery and by ``journeys templates``.

Templates are ordinary campaign files, so they pass the same checks as a shared file and
a user can read, copy or diff them; nothing about them is special-cased in the engine.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .campaign_files import EXTENSION, load_file
from .errors import UserError
from .models import Contact

# The gallery order of SPEC §9; templates added later follow alphabetically.
TEMPLATE_ORDER = (
    "tag_hot_contacts",
    "welcome_flow",
    "double_opt_in",
    "commercial_prospection",
    "schedule_calls",
    "prioritize_hot_leads",
)


def resources_dir() -> Path:
    """The ``resources/`` folder that ships beside the ``engine`` package."""
    return Path(__file__).resolve().parent.parent / "resources"


def templates_dir() -> Path:
    return resources_dir() / "templates"


def template_keys() -> list[str]:
    found = {p.name[: -len(EXTENSION)] for p in templates_dir().glob(f"*{EXTENSION}")}
    known = [k for k in TEMPLATE_ORDER if k in found]
    return known + sorted(found - set(known))


def load_template(key: str) -> dict[str, Any]:
    """The checked, default-filled document of template ``key``."""
    keys = template_keys()
    if key not in keys:
        raise UserError(f"unknown template {key!r}; templates: {', '.join(keys)}")
    return load_file(templates_dir() / f"{key}{EXTENSION}")


def list_templates() -> list[dict[str, Any]]:
    """What the gallery and ``journeys templates`` show, in gallery order."""
    out = []
    for key in template_keys():
        campaign = load_template(key)["campaign"]
        out.append(
            {
                "key": key,
                "name": campaign["name"],
                "target": campaign["target"],
                "description": campaign["description"],
            }
        )
    return out


def sample_audience_path() -> Path:
    """The sample contacts shipped in ``resources/sample`` for a first run."""
    return resources_dir() / "sample" / "contacts.csv"


@dataclass(frozen=True)
class Audience:
    """What the gallery says about contacts: none yet, some, and whether the sample is in."""

    contacts: int
    sample_size: int
    sample_imported: bool


@cache
def _sample_emails() -> frozenset[str]:
    """The shipped sample's addresses (a file that never changes: read once)."""
    with sample_audience_path().open(encoding="utf-8", newline="") as f:
        return frozenset(r["email"].strip().lower() for r in csv.DictReader(f) if r["email"])


def audience(session: Session) -> Audience:
    """Whether the sample audience is already in, judged by its addresses: importing it
    twice would double every contact (an email is not a unique key of contacts)."""
    emails = _sample_emails()
    contacts = int(session.scalar(select(func.count()).select_from(Contact)) or 0)
    present = session.scalar(
        select(func.count(func.distinct(func.lower(Contact.email)))).where(
            func.lower(Contact.email).in_(emails)
        )
    )
    return Audience(contacts, len(emails), bool(emails) and present == len(emails))
