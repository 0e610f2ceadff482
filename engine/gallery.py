"""The bundled campaign templates (SPEC §9), shown as a gallery and by ``journeys templates``.

Templates are ordinary campaign files, so they pass the same checks as a shared file and
a user can read, copy or diff them; nothing about them is special-cased in the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .campaign_files import EXTENSION, load_file
from .errors import UserError

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
