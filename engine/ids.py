"""Reading an id a person typed: ASCII digits only, within what the database can store.

``str.isdigit`` and ``int`` accept far more than a person means by "campaign 1": ``'１'``
(a full-width digit), ``'٣'`` (Arabic-Indic), ``' 1'``, ``'1_000'`` — so ``start '１'``
used to start campaign 1 — and ``int`` takes numbers no database column holds, which
then failed deep inside SQLite with an overflow. Every id from the command line, a
campaign file or a CSV cell is read here, so all of them agree.
"""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1
"""The greatest id a SQLite or PostgreSQL BIGINT column holds."""

_ASCII_DIGITS = re.compile(r"[0-9]+")


def parse_id(text: str) -> int | None:
    """The id ``text`` spells (ASCII digits, nothing around them), or None if it spells none.

    A number of digits too large for a database id is not an id either: the caller then
    says "no such campaign/record", as it would for any unknown id.
    """
    if not _ASCII_DIGITS.fullmatch(text) or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if value <= MAX_ID else None
