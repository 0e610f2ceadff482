"""Re-emits the embedded engine's Qt-free events as Qt signals on the GUI thread.

The engine publishes from its own thread; emitting a Qt signal of a QObject that lives in
the GUI thread makes every connection queued, so slots run on the GUI thread. Bursts of
"counters changed" are coalesced by a single-shot timer before anything repaints.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from engine.runner import EngineRunner


class EngineBridge(QObject):
    passFinished = Signal(object)  # PassStats
    countersChanged = Signal(object)  # set[int], coalesced
    stateChanged = Signal(str)
    failed = Signal(str)
    _countersRaw = Signal(object)

    def __init__(self, runner: EngineRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._pending: set[int] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._flush)
        self._countersRaw.connect(self._collect)
        runner.events.pass_finished.connect(self._on_pass)
        runner.events.counters_changed.connect(self._on_counters)
        runner.events.state_changed.connect(self._on_state)
        runner.events.failed.connect(self._on_failed)

    def disconnect_engine(self) -> None:
        events = self.runner.events
        events.pass_finished.disconnect(self._on_pass)
        events.counters_changed.disconnect(self._on_counters)
        events.state_changed.disconnect(self._on_state)
        events.failed.disconnect(self._on_failed)

    # engine thread -> queued Qt signals
    def _on_pass(self, stats: Any) -> None:
        self.passFinished.emit(stats)

    def _on_counters(self, ids: set[int]) -> None:
        self._countersRaw.emit(set(ids))

    def _on_state(self, state: str) -> None:
        self.stateChanged.emit(state)

    def _on_failed(self, message: str) -> None:
        self.failed.emit(message)

    # GUI thread
    def _collect(self, ids: set[int]) -> None:
        self._pending |= ids
        if not self._timer.isActive():
            self._timer.start()

    def _flush(self) -> None:
        ids, self._pending = self._pending, set()
        if ids:
            self.countersChanged.emit(ids)
