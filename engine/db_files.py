"""Which files on disk belong to an open SQLite database, so nothing else opens them.

Why this exists: SQLite's locks are POSIX advisory locks, and those belong to the
*process*. Opening and closing any other descriptor of the database file or of its
``-wal`` / ``-shm`` / ``-journal`` files silently drops every lock the process holds on it;
another process (the command line, a worker) then believes it is the last connection
and deletes the WAL we are still writing to — our edits are lost and later reads fail
with "database disk image is malformed" (sqlite.org/howtocorrupt.html, §2.2).

So a program that holds the database must refuse to read it as an import or to write an
export over it. These checks look only at path names and ``stat()`` (which opens
nothing); they never open the files they compare.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from .errors import UserError

SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


def database_path(url: URL | str) -> Path | None:
    """The SQLite file ``url`` names, absolute; None for a server or in-memory database."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite":
        return None
    name = parsed.database or ""
    if name.startswith("file:"):  # a URI filename (``?uri=true``): drop scheme and query
        if "mode=memory" in name:
            return None
        name = name[len("file:") :].split("?", 1)[0]
    if not name or name == ":memory:":
        return None
    return Path(os.path.abspath(name))


def database_files(url: URL | str) -> list[Path]:
    """The database file and its side files, as named and with symbolic links resolved."""
    db = database_path(url)
    if db is None:
        return []
    files: list[Path] = []
    for base in dict.fromkeys([db, Path(os.path.realpath(db))]):
        files += [base, *(base.with_name(base.name + s) for s in SIDE_SUFFIXES)]
    return files


def is_database_file(candidate: str | os.PathLike[str], url: URL | str) -> bool:
    """Whether ``candidate`` is (a link to, another name of) the database or a side file."""
    files = database_files(url)
    if not files:
        return False
    real = os.path.normcase(os.path.realpath(candidate))
    if any(real == os.path.normcase(str(f)) for f in files):
        return True
    for f in files:  # hard links, and names that differ only in case on such file systems
        try:
            if os.path.samefile(real, f):
                return True
        except OSError:
            continue
    return False


def refuse_database_file(
    candidate: str | os.PathLike[str], url: URL | str, *, action: str, hint: str = ""
) -> None:
    """Raise a UserError when ``candidate`` is one of the database's own files.

    ``action`` says what was refused ("imported", "overwritten by the export"); ``hint``
    what to choose instead.
    """
    if not is_database_file(candidate, url):
        return
    name = Path(candidate).name
    message = (
        f"{name} is part of the database Journeys is working on: it cannot be {action}. "
        "Opening it while it is in use could lose the edits you make from now on."
    )
    raise UserError(f"{message} {hint}".strip())
