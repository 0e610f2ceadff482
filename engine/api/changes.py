"""Has another process written to the database since we last looked? Cheaply.

The designer's live figures poll this about once a second, so a look must cost next to
nothing and must not take a lock from the writers:

- SQLite: ``PRAGMA data_version`` on a read-only connection of our own, which changes
  whenever another connection commits (microseconds, no transaction held);
- PostgreSQL: ``LISTEN journeys_figures`` on a connection of our own; the summary
  triggers (migration 0004) ``NOTIFY`` the campaign ids whose figures changed, once per
  transaction and campaign.

``changed()`` answers True (SQLite: something was committed), a set of campaign ids
(PostgreSQL), or False. Writes made through this process's own connections are not
always seen: the embedded engine reports those itself (``EngineEvents``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from ..db import Database

CHANNEL = "journeys_figures"


class ChangeWatcher:
    def __init__(self, db: Database) -> None:
        self._sqlite: sqlite3.Connection | None = None
        self._pg: Any = None
        self._version: int | None = None
        self._pending: set[int] = set()
        url = db.engine.url
        if db.dialect == "sqlite":
            path = db.sqlite_file
            if path:
                self._sqlite = sqlite3.connect(
                    f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=1.0
                )
                self._version = self._data_version()
        elif db.dialect == "postgresql":
            import psycopg

            self._pg = psycopg.connect(
                url.set(drivername="postgresql").render_as_string(hide_password=False),
                autocommit=True,
            )
            self._pg.add_notify_handler(self._on_notify)
            self._pg.execute(f"LISTEN {CHANNEL}")

    def _data_version(self) -> int:
        assert self._sqlite is not None
        row = self._sqlite.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def _on_notify(self, notify: Any) -> None:
        with contextlib.suppress(ValueError):  # not one of ours
            self._pending.add(int(notify.payload))

    def changed(self) -> bool | set[int]:
        if self._sqlite is not None:
            version = self._data_version()
            if version != self._version:
                self._version = version
                return True
            return False
        if self._pg is not None:
            self._pg.execute("SELECT 1")  # delivers the notifications received meanwhile
            ids, self._pending = self._pending, set()
            return ids or False
        return False

    def close(self) -> None:
        for conn in (self._sqlite, self._pg):
            if conn is not None:
                conn.close()
        self._sqlite = self._pg = None
