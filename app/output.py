"""Plain-text tables and JSON for the command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def print_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str = "(nothing)"
) -> None:
    if not rows:
        print(empty)
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def print_listing(
    rows: Sequence[dict[str, Any]], as_json: bool, columns: Sequence[str], empty: str = "(nothing)"
) -> None:
    """A listing as JSON (every key) or as a table of ``columns`` (the ``--json`` convention)."""
    if as_json:
        print_json(list(rows))
    else:
        print_table(rows, columns, empty=empty)
