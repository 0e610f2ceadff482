"""Settings, read and written one way by every front end.

The command line (``journeys config``, ``journeys serve``) and the designer's settings
dialog used to open their own sessions around :mod:`engine.settings`; here each call is
its own short unit of work. Reads take no write lock (showing a setting never waits for
another process's writes); :func:`save` stores all the values it is given or none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import settings
from ..db import Database
from ..errors import UserError
from ..models import Setting

SPECS = settings.SPECS


class SettingsRefused(UserError):
    """Some values were refused, so none was stored: ``failed`` says why, per key."""

    def __init__(self, failed: Mapping[str, str]) -> None:
        super().__init__("; ".join(failed.values()))
        self.failed = dict(failed)


def effective(db: Database) -> dict[str, Any]:
    """Every setting as the engine uses it (from ``$JOURNEYS_…`` where one is set, else
    stored, else its default), by key."""
    with db.read() as s:
        return settings.all_settings(s)


def value(db: Database, key: str) -> Any:
    """One setting as the engine uses it."""
    with db.read() as s:
        return settings.get(s, key)


def stored(db: Database) -> dict[str, Any]:
    """What the database holds, by key (defaults and environment left out): what a
    settings form shows for editing."""
    with db.read() as s:
        return {row.key: row.value for row in s.query(Setting)}


def tracking_base_url(db: Database) -> str:
    """Where links in messages point (the tracking server's public address)."""
    with db.read() as s:
        return settings.tracking_base_url(s)


def save(db: Database, texts: Mapping[str, str]) -> dict[str, Any]:
    """Parse and store each text (an empty one resets to the default); the values now in
    effect. Raises :class:`SettingsRefused` — storing nothing — if any is refused."""
    failed: dict[str, str] = {}
    values: dict[str, Any] = {}
    with db.session() as s:
        for key, text in texts.items():
            try:
                values[key] = settings.set_value(s, key, text)
            except UserError as exc:
                failed[key] = str(exc)
        if failed:
            raise SettingsRefused(failed)  # rolls every value back
    return values
