"""CSV import of audience records (``journeys records import MODEL FILE``).

All or nothing: every row is checked first and every problem is reported at once, located
as a spreadsheet shows it ("row 7, column email", the header being row 1), so a user fixes
the file in one go instead of discovering errors one import at a time.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy.orm import Session

from ..errors import Problem, ValidationError
from ..fields import JSONK, ModelInfo
from .values import PreparedRow, get_model, is_required, json_object, prepare_row
from .write import insert_prepared, resolve_row_users

MAX_PROBLEMS = 100
# Caps that keep an import's memory bounded whatever the file (a device, a log, a dump):
MAX_FILE_CHARS = 200_000_000  # characters read in all (about 200 MB of text)
MAX_ROWS = 1_000_000
MAX_LINE_CHARS = 1_000_000  # one physical line
MAX_CELL_CHARS = 100_000  # one cell (the csv module's own limit is 131,072)
_LONG_CELL = f"has a cell longer than {MAX_CELL_CHARS:,} characters"
CHECK_EVERY = 1000  # rows between two ``checking`` calls (about 0.1 s of checking)
_NOT_UTF8 = re.compile("[\udc80-\udcff]+")


@dataclass(frozen=True)
class _Column:
    index: int
    title: str  # as written in the header, for messages
    field: str | None  # field name, or None for an ignored blank column
    extra_key: str | None = None  # for ``extra.KEY`` columns


def import_csv(
    session: Session,
    model: str,
    source: str | os.PathLike[str] | TextIO,
    *,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
    checking: Callable[[int, int], None] | None = None,
    region: str | None = None,
) -> int:
    """Import the records of a CSV file; the number imported.

    The header names fields; ``tags``/``lists`` cells hold ``;``-separated names
    (created as needed), ``salesperson`` a user's email or name, ``extra`` a JSON object
    and ``extra.KEY`` columns single keys of it (as text). Empty cells are "not set".
    ``region`` is the default country for phone numbers written without ``+prefix``
    when the row has no ``country``. Any problem raises :class:`ValidationError` and
    nothing is imported.

    ``checking(rows checked, rows)`` is called every ``CHECK_EVERY`` rows while the file
    is checked, before anything is written (most of the time of a big import);
    ``progress(records inserted, records)`` after each batch of inserts. An exception
    raised by either callback stops the import and propagates: the caller's session then
    rolls back, so nothing is imported.
    """
    info = get_model(model)
    label, records, bad_bytes = _read(source)
    title = f"{label}: nothing imported"

    def fail(problems: list[Problem]) -> ValidationError:
        if len(problems) > MAX_PROBLEMS:
            more = len(problems) - MAX_PROBLEMS
            problems = [*problems[:MAX_PROBLEMS], Problem("…", f"and {more} more problems")]
        return ValidationError(problems, title=title)

    while records and not any(c.strip() for c in records[-1]):
        records.pop()
    if not records:
        raise fail([Problem("row 1", "the file is empty: the first row must name the fields")])

    header = records[0]
    problems = _undecodable(1, header, [f"column {i + 1}" for i in range(len(header))])
    if problems:
        raise fail(problems)
    columns, problems = _columns(info, header, records[1:])
    if problems:
        raise fail(problems)
    width = len(header)
    titles = {c.field: c.title for c in columns if c.field and not c.extra_key}
    extra_title = next((c.title for c in columns if c.extra_key), "extra")

    prepared: list[PreparedRow] = []
    row_numbers: list[int] = []
    body = records[1:]
    for number, cells in enumerate(body, start=2):
        if checking and (number - 2) % CHECK_EVERY == 0:
            checking(number - 2, len(body))
        if not any(c.strip() for c in cells):
            continue
        where = f"row {number}"
        if len(cells) < width or any(c.strip() for c in cells[width:]):
            problems.append(
                Problem(where, f"has {len(cells)} cells but the header has {width} columns")
            )
            continue
        if bad_bytes:
            bad = _undecodable(number, cells[:width], [c.title for c in columns])
            if bad:
                problems += bad
                continue
        raw: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for column in columns:
            cell = cells[column.index].strip()
            if column.field is None or not cell:
                continue
            if column.extra_key:
                extra[column.extra_key] = cell
            elif info.fields[column.field].kind == JSONK:
                try:
                    extra = json_object(cell) | extra
                except ValueError as exc:
                    problems.append(Problem(f"{where}, column {column.title}", str(exc)))
            else:
                raw[column.field] = cell
        if extra:
            raw["extra"] = extra
        row, row_problems = prepare_row(info, raw, region=region)
        for name, message in row_problems:
            column_title = titles.get(name, extra_title if name == "extra" else name)
            problems.append(Problem(f"{where}, column {column_title}", message))
        prepared.append(row)
        row_numbers.append(number)

    if checking:
        checking(len(body), len(body))

    def label_of(index: int) -> str:
        return f"row {row_numbers[index]}"

    for index, row_problems in resolve_row_users(session, info, prepared, label_of).items():
        for name, message in row_problems:
            problems.append(Problem(f"{label_of(index)}, column {titles[name]}", message))
    if problems:
        problems.sort(key=lambda p: _row_key(p.path))
        raise fail(problems)
    return len(insert_prepared(session, info, prepared, now=now, progress=progress))


def _read(source: str | os.PathLike[str] | TextIO) -> tuple[str, list[list[str]], bool]:
    """``(label, rows, has_undecodable_bytes)``, read line by line within the size caps.

    The file is never read whole: ``records import contact /dev/zero`` once grew to 23 GB
    before the kernel killed it. Bytes that are not UTF-8 are kept as surrogates
    (``surrogateescape``) so they can be reported in the cell that holds them rather than
    as a byte offset.
    """
    if not isinstance(source, (str, os.PathLike)):
        label = str(getattr(source, "name", "<input>"))
        try:
            return (label, *_parse(source, label))
        except UnicodeDecodeError as exc:
            raise _file_problem(
                label, f"is not UTF-8 text ({exc.reason}); save it as CSV UTF-8"
            ) from None
    label = str(source)
    try:
        binary = open(source, "rb")  # noqa: SIM115 - closed below, after the last line
    except OSError as exc:
        raise _file_problem(label, f"cannot be read: {exc.strerror or exc}") from None
    with (
        binary,
        io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="surrogateescape", newline=""
        ) as text,
    ):
        try:
            return (label, *_parse(text, label))
        except OSError as exc:
            raise _file_problem(label, f"cannot be read: {exc.strerror or exc}") from None


def _file_problem(label: str, message: str, where: str = "file") -> ValidationError:
    return ValidationError([Problem(where, message)], title=f"{label}: nothing imported")


def _lines(stream: TextIO, label: str, flags: dict[str, bool]) -> Iterator[str]:
    """The physical lines of ``stream``, refusing an over-long line or file as it comes."""
    total = 0
    number = 0
    while True:
        line = stream.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        number += 1
        total += len(line)
        if len(line) > MAX_LINE_CHARS:
            raise _file_problem(
                label,
                f"is longer than {MAX_LINE_CHARS:,} characters without a line break: "
                "this is not a CSV file of records",
                f"line {number}",
            )
        if total > MAX_FILE_CHARS:
            raise _file_problem(
                label,
                f"is larger than {MAX_FILE_CHARS // 1_000_000} MB; split it into smaller files",
            )
        if number == 1:
            line = line.removeprefix("\ufeff")
        if not flags["bad"] and _NOT_UTF8.search(line):
            flags["bad"] = True
        yield line


def _parse(stream: TextIO, label: str) -> tuple[list[list[str]], bool]:
    """Rows of the CSV text in ``stream`` and whether it holds bytes that are not UTF-8."""
    flags = {"bad": False}
    records: list[list[str]] = []
    reader = csv.reader(_lines(stream, label, flags))
    try:
        for cells in reader:
            where = f"row {len(records) + 1}"
            if len(records) >= MAX_ROWS:
                raise _file_problem(
                    label, f"has more than {MAX_ROWS:,} rows; split it into smaller files"
                )
            if any(len(c) > MAX_CELL_CHARS for c in cells):
                raise _file_problem(label, _LONG_CELL, where)
            if any("\x00" in c for c in cells):
                raise _file_problem(
                    label, "contains a NUL byte: this is not a CSV text file", where
                )
            records.append(cells)
    except csv.Error as exc:
        where = f"row {len(records) + 1}"
        if "field limit" in str(exc):
            raise _file_problem(label, _LONG_CELL, where) from None
        raise _file_problem(label, f"is not valid CSV: {exc}", where) from None
    return records, flags["bad"]


def _undecodable(number: int, cells: list[str], titles: list[str]) -> list[Problem]:
    problems = []
    for cell, title in zip(cells, titles, strict=False):
        match = _NOT_UTF8.search(cell)
        if match:
            raw = match.group().encode("utf-8", errors="surrogateescape")
            hexes = " ".join(f"0x{b:02X}" for b in raw[:4])
            problems.append(
                Problem(
                    f"row {number}, column {title}",
                    f"contains bytes that are not UTF-8 ({hexes}); "
                    "save the file as 'CSV UTF-8' and import it again",
                )
            )
    return problems


def _columns(
    info: ModelInfo, header: list[str], rows: list[list[str]]
) -> tuple[list[_Column], list[Problem]]:
    """Map header cells to fields; problems are located at row 1."""
    columns: list[_Column] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    writable = [n for n, f in info.fields.items() if not f.readonly]
    for index, cell in enumerate(header):
        title = cell.strip()
        where = f"row 1, column {title or index + 1}"
        if not title:
            if any(len(r) > index and r[index].strip() for r in rows):
                problems.append(Problem(where, "has values but no field name in the header"))
            columns.append(_Column(index, str(index + 1), None))
            continue
        key = title if title in info.fields else title.lower()
        if title.startswith("extra.") and "extra" in info.fields:
            if not title[6:]:
                problems.append(Problem(where, "'extra.' needs a key after the dot"))
            column = _Column(index, title, "extra", title[6:])
        elif key not in info.fields:
            problems.append(
                Problem(
                    where,
                    f"unknown field {title!r}; {info.name} fields are: {', '.join(writable)}",
                )
            )
            continue
        elif info.fields[key].readonly:
            problems.append(Problem(where, f"{title!r} is set by Journeys and cannot be imported"))
            continue
        else:
            column = _Column(index, title, key)
        ident = f"extra.{column.extra_key}" if column.extra_key else key
        if ident in seen:
            problems.append(Problem(where, "appears more than once in the header"))
            continue
        seen[ident] = title
        columns.append(column)
    present = {c.field for c in columns}
    for f in info.fields.values():
        if is_required(info, f) and f.name not in present:
            problems.append(Problem("row 1", f"a {f.name!r} column is required"))
    return columns, problems


def _row_key(path: str) -> int:
    match = re.match(r"row (\d+)", path)
    return int(match.group(1)) if match else 0
