"""The status bar's engine part: database, engine state and last pass, pause/resume."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMainWindow, QToolButton

from engine.api.lookups import traces_due
from engine.db import Database
from engine.runner import BUSY_RETRYING, EngineRunner

from .engine_bridge import EngineBridge


class EngineStatus:
    def __init__(
        self, window: QMainWindow, location: str, runner: EngineRunner | None, db: Database
    ) -> None:
        self.runner = runner
        self.db = db
        self.due = 0
        self.state = "not running" if runner is None else "starting"
        self.last_pass = ""
        self.database = QLabel(location)
        self.engine = QLabel()
        self.pause_action = QAction("&Pause Engine", window)
        self.pause_action.setCheckable(True)
        self.pause_action.setEnabled(runner is not None)
        self.pause_action.toggled.connect(self._on_pause)
        button = QToolButton()
        button.setDefaultAction(self.pause_action)
        bar = window.statusBar()
        bar.addWidget(self.database)
        bar.addPermanentWidget(self.engine)
        bar.addPermanentWidget(button)
        self._show()

    def follow(self, bridge: EngineBridge) -> None:
        bridge.passFinished.connect(self._on_pass)
        bridge.stateChanged.connect(self._on_state)
        bridge.failed.connect(self._on_failed)

    def text(self) -> str:
        return f"{self.database.text()} — {self.engine.text()}"

    def _show(self) -> None:
        last = f", last pass {self.last_pass}" if self.last_pass else ""
        due = f", {self.due} step{'s' if self.due != 1 else ''} due" if self.due else ""
        self.engine.setText(f"Engine {self.state}{last}{due}")

    def _on_pause(self, paused: bool) -> None:
        if self.runner is None:
            return
        if paused:
            self.runner.pause()
        else:
            self.runner.resume()

    def _on_pass(self, stats: Any) -> None:
        if self.state.startswith(("error:", "waiting:")):
            self.state = "running"  # the pass after a failure worked
        at = getattr(stats, "started_at", None)
        self.last_pass = f"{at:%H:%M:%S}" if at else "just now"
        self.due = traces_due(self.db, self.runner.clock.now() if self.runner else at)
        self._show()

    def _on_state(self, state: str) -> None:
        self.state = state
        self._show()

    def _on_failed(self, message: str) -> None:
        busy = message == BUSY_RETRYING  # not an error: another process writes
        self.state = f"{'waiting' if busy else 'error'}: {message}"
        self._show()
