"""Figures follow the database while other processes write to it.

A worker, the command line or the tracking server commit through their own connections;
the embedded engine's events (:class:`designer.engine_bridge.EngineBridge`) never hear
of them. About once a second this asks :class:`engine.api.changes.ChangeWatcher` whether
anything was committed — a pragma or an empty query, nothing is reloaded when nothing
changed — and says which campaigns changed (``None``: any of them, as SQLite cannot
tell). The figures it leads to come from summary tables, so a refresh stays cheap while
the engine works through a hundred thousand traces a minute.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from engine.api.changes import ChangeWatcher
from engine.db import Database

INTERVAL_MS = 1000


class LiveFigures(QObject):
    changed = Signal(object)  # set[int] of campaign ids, or None for "any"

    def __init__(self, db: Database, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.watcher: ChangeWatcher | None = ChangeWatcher(db)
        self.timer = QTimer(self)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.poll)
        self.timer.start()

    def poll(self) -> None:
        if self.watcher is None:
            return
        try:
            seen = self.watcher.changed()
        except Exception:  # a database gone away: the status bar's engine says so
            return
        if seen:
            self.changed.emit(seen if isinstance(seen, set) else None)

    def stop(self) -> None:
        self.timer.stop()
        if self.watcher is not None:
            self.watcher.close()
            self.watcher = None
