"""The one clock every engine decision reads (SPEC E12).

All times are timezone-aware UTC in Python and naive UTC in the database (see
:mod:`engine.models.types`). Tests and ``--now`` inject a :class:`FixedClock`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move; what ``--now`` and tests use."""

    def __init__(self, at: datetime) -> None:
        self._at = as_utc(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = as_utc(at)

    def advance(self, **kwargs: float) -> datetime:
        from datetime import timedelta

        self._at = self._at + timedelta(**kwargs)
        return self._at


def as_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant (``Z`` accepted); raises ValueError with a clear message."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        return as_utc(datetime.fromisoformat(raw))
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO-8601 date and time (e.g. 2026-01-31T09:00:00Z)"
        ) from None
