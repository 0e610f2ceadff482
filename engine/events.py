"""The engine's Qt-free observer: the GUI adapts these to queued Qt signals."""

from __future__ import annotations

from psygnal import Signal


class EngineEvents:
    """Emitted from the engine's thread; subscribers must not block it."""

    pass_finished = Signal(object)  # PassStats
    counters_changed = Signal(object)  # set[int] of campaign ids
    state_changed = Signal(str)  # "running" | "paused" | "stopped"
    failed = Signal(str)  # a pass failed as a whole (the message)
