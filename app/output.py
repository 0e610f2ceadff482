"""Plain-text tables and JSON for the command line."""

from __future__ import annotations

import contextlib
import json
import os
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


class OutputClosed(Exception):
    """The reader of standard output went away (``journeys outbox | head``)."""


class GuardedStream:
    """Standard output that turns the reader's going away into :class:`OutputClosed`.

    Python ignores SIGPIPE (sockets need that: the tracking server and SMTP channels must
    survive a peer that hangs up), so a closed pipe shows up as BrokenPipeError on any
    write. Only a failure of *this* stream means "stop quietly, as Unix tools do"; a
    BrokenPipeError from a socket stays a real failure. After the first one, stdout
    points at the null device so the interpreter's last flush cannot complain either.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.closed_by_reader = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _guard(self, call: Any, *args: Any) -> Any:
        if self.closed_by_reader:
            return None
        try:
            return call(*args)
        except BrokenPipeError:
            self.closed_by_reader = True
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._stream.fileno())
                os.close(devnull)
            raise OutputClosed from None

    def write(self, text: str) -> Any:
        return self._guard(self._stream.write, text)

    def writelines(self, lines: Any) -> Any:
        return self._guard(self._stream.writelines, lines)

    def flush(self) -> Any:
        return self._guard(self._stream.flush)
