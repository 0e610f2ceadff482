"""Calendar arithmetic for delays and validities ("2 days", "1 month")."""

from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta

from . import limits

UNITS = ("hours", "days", "weeks", "months")


def offset(amount: int, unit: str) -> relativedelta:
    if unit not in UNITS:
        raise ValueError(f"unknown delay unit {unit!r} (expected one of {', '.join(UNITS)})")
    # Every entry refuses more than limits.MAX_DELAY; a value stored by an older release
    # that bounded nothing is read as the bound, so that no date overflows.
    return relativedelta(**{unit: min(amount, limits.max_delay(unit))})  # type: ignore[arg-type]


def add(at: datetime, amount: int, unit: str) -> datetime:
    """``at`` + delay; a month is a calendar month (Jan 31 + 1 month = Feb 28/29)."""
    return at + offset(amount, unit)


def window_start(now: datetime, days: int) -> datetime:
    """The instant an engagement window of ``days`` that ends ``now`` began.

    A window stored by an older release may lie outside the bounds: read as the nearest.
    """
    return now - timedelta(days=limits.within(days, limits.MIN_WINDOW_DAYS, limits.MAX_WINDOW_DAYS))


def describe(amount: int, unit: str) -> str:
    """Human words for a delay: "2 hours", "1 day", "immediately"."""
    if amount == 0:
        return "immediately"
    singular = unit[:-1]
    return f"{amount} {singular if amount == 1 else unit}"
