"""The bounds of every number and size a user can give, in one place.

A value outside these bounds is refused where it enters — the campaign-file schema
(``resources/schema/campaign.schema.json`` repeats the numbers; a test keeps both equal),
semantic validation, designer edits, settings and the designer's spin boxes — with a
message naming the bound, so a campaign that imports or starts can always be run: no
delay, window or count can overflow a date, a SQL statement or a batch later.
"""

from __future__ import annotations

import re
from typing import TypeVar

_N = TypeVar("_N", int, float)

# --- time spans -------------------------------------------------------------------------------
YEARS = 10
"""The longest delay, validity, task due date or engagement window: 10 years."""

MAX_DELAY = {"hours": 87_600, "days": 3_650, "weeks": 520, "months": 120}
"""Delays, validities and a task's "due in", per unit (0 is the least: at once)."""

MIN_WINDOW_DAYS, MAX_WINDOW_DAYS = 1, 3_650
"""``engagement_window_days``: how long "not opened/clicked/replied" children wait."""

MAX_WEBHOOK_TIMEOUT_S = 300
"""A webhook's ``timeout_s`` is more than 0 and at most this many seconds."""

# --- counts and sizes -------------------------------------------------------------------------
MAX_ACTIVITIES = 1_000
"""Activities in one campaign."""

MAX_SAVED_ACTIONS = 1_000
"""Saved actions in one campaign."""

MAX_LIST_ITEMS = 1_000
"""Items of the other lists of a campaign file: followers, webhook fields, run_actions."""

MAX_POSITION = 1_000_000
"""Canvas coordinates (x, y) lie within ± this."""

MAX_FILE_BYTES = 10 * 1024 * 1024
"""A campaign file is read up to this size (10 MiB) and refused beyond."""

MAX_JSON_DEPTH = 64
"""Arrays and objects nest at most this deep in a campaign file or a pasted filter."""

MAX_FILTER_TERMS = 500
"""Terms (conditions and the operators '&', '|', '!') of the filters that apply to one step:
the campaign's, its ancestors' and its own together, so each one alone has at most this."""

MAX_FILTER_NESTING = 12
"""Groups of conditions ('&' inside '|' inside '&'...) nest at most this deep in a filter."""

MAX_FILTER_VALUES = 10_000
"""Values compared in those filters together (each item of an 'in' list counts)."""

# --- settings ---------------------------------------------------------------------------------
SETTING_BOUNDS: dict[str, tuple[int | float, int | float]] = {
    "tracking.port": (1, 65_535),
    "engine.sync_interval_minutes": (1, 10_080),  # a week
    "engine.poll_seconds": (1, 3_600),
    "engine.batch_size": (1, 100_000),
    "engine.batch_seconds": (1, 3_600),
    "engine.handoff_group": (1, 1_000),
    "engine.max_attempts": (1, 100),
    "engine.claim_timeout_minutes": (1, 1_440),  # a day
    "sandbox.cpu_seconds": (1, 600),
    "sandbox.memory_mb": (64, 65_536),
    "smtp.rate_per_second": (0, 10_000),
    "smtp.timeout_seconds": (1, 600),
    "imap.poll_seconds": (1, 86_400),
}
"""Numeric settings: (least, greatest), both allowed."""


def within(value: _N, low: _N, high: _N) -> _N:
    """``value`` moved to the nearest bound (NaN to ``low``).

    For values stored by an older release that bounded nothing: read as the nearest bound,
    so one such value cannot make every engine pass fail.
    """
    return low if value != value else min(max(value, low), high)


def max_delay(unit: str) -> int:
    """The greatest amount of ``unit`` a delay may have (the hours bound for an unknown unit)."""
    return MAX_DELAY.get(unit, MAX_DELAY["hours"])


def delay_bound_words(unit: str) -> str:
    """'at most 3650 days (10 years)' — the words every delay error uses."""
    return f"at most {max_delay(unit)} {unit} ({YEARS} years)"


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def json_too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON ``text`` nests arrays/objects deeper than ``limit``.

    Checked on the text before parsing: the parser itself would recurse once per level
    and fail on a file nested 100,000 deep. Brackets inside strings do not count.
    """
    if not _BRACKET.search(text):
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match[0] in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
            if depth < 0:  # the parser stops at this unmatched bracket anyway
                return False
    return False


_SURROGATE = re.compile("[\ud800-\udfff]")


def surrogate_in(text: str) -> str | None:
    """The first lone UTF-16 surrogate in ``text`` (JSON can spell one, "\\ud800"), if any.

    Such a string cannot be written as UTF-8, so no database, file or message takes it.
    """
    match = _SURROGATE.search(text)
    return None if match is None else f"\\u{ord(match[0]):04x}"


def surrogate_words(found: str) -> str:
    """The message for :func:`surrogate_in`'s finding."""
    return f"holds an invalid character ({found}, a lone surrogate): it is not valid Unicode text"
