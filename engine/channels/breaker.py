"""A circuit breaker per server, kept across batches in one process.

Within a batch a channel already stops talking to a server that stalls (two messages in
a row unanswered after DATA) or is down. Without memory between batches, every new batch
— the next pass, another campaign — would pay the same timeouts again and leave two more
messages "delivery unknown" each time. So a server that trips its channel is left alone
for a back-off that doubles on each trip (``BASE`` up to ``CEILING``); while it is open,
messages for it are postponed without an attempt being counted. After the back-off one
batch tries again (half-open): a message the server accepts closes the breaker; another
trip reopens it for twice as long.

Per process on purpose: each worker learns about the servers it talks to, and a breaker
never holds a database row or lock. Other servers, channels and campaigns carry on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

BASE = 60.0  # seconds a server is left alone after its first trip
CEILING = 1800.0


@dataclass
class _State:
    trips: int = 0
    open_until: float = 0.0
    reason: str = ""


class Breakers:
    """Breaker states by server key (``"smtp://host:port"``); thread-safe."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._states: dict[str, _State] = {}

    def blocked(self, key: str) -> str | None:
        """Why ``key`` must not be tried now, or None when it may be."""
        with self._lock:
            st = self._states.get(key)
            if st is None or self._monotonic() >= st.open_until:
                return None
            left = st.open_until - self._monotonic()
            return f"{st.reason}; left alone for another {left:.0f} s"

    def trip(self, key: str, reason: str) -> float:
        """Open the breaker; returns the back-off in seconds."""
        with self._lock:
            st = self._states.setdefault(key, _State())
            st.trips += 1
            backoff = min(CEILING, BASE * 2 ** (st.trips - 1))
            st.open_until = self._monotonic() + backoff
            st.reason = reason
            return backoff

    def succeeded(self, key: str) -> None:
        """The server accepted a message: it is healthy again."""
        with self._lock:
            self._states.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._states.clear()


BREAKERS = Breakers()
"""The process's breakers; the channels of every batch share them."""
