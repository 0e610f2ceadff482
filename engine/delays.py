"""Calendar arithmetic for delays and validities ("2 days", "1 month")."""

from __future__ import annotations

from datetime import datetime

from dateutil.relativedelta import relativedelta

UNITS = ("hours", "days", "weeks", "months")


def offset(amount: int, unit: str) -> relativedelta:
    if unit not in UNITS:
        raise ValueError(f"unknown delay unit {unit!r} (expected one of {', '.join(UNITS)})")
    return relativedelta(**{unit: amount})  # type: ignore[arg-type]


def add(at: datetime, amount: int, unit: str) -> datetime:
    """``at`` + delay; a month is a calendar month (Jan 31 + 1 month = Feb 28/29)."""
    return at + offset(amount, unit)


def describe(amount: int, unit: str) -> str:
    """Human words for a delay: "2 hours", "1 day", "immediately"."""
    if amount == 0:
        return "immediately"
    singular = unit[:-1]
    return f"{amount} {singular if amount == 1 else unit}"
