"""Database access: engine creation, SQLite tuning, migrations on open.

The schema is made only by Alembic migrations (``upgrade head``); every open migrates, and
a database stamped by a newer Journeys is refused rather than damaged.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from .errors import DatabaseBusy, EngineFailure, ReadOnly, UserError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SUPPORTED_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")


# What SQLite and PostgreSQL say when another connection holds a lock past our timeout.
_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")
_PG_BUSY_SQLSTATES = {"55P03", "40P01"}  # lock_not_available, deadlock_detected


# What a failure of the database layer raises (a refused statement, a lost connection): the
# front ends catch these at their edge without importing the database toolkit themselves.
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError,)


def database_message(exc: BaseException) -> str | None:
    """A person's line for the database driver's own error, else None."""
    if isinstance(exc, DBAPIError):
        return f"database error: {' '.join(str(exc.orig).split())}"
    return None


def is_busy(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what caused it) is another process holding the database.

    Front ends ask this at their edge, so the engine's own handlers keep seeing the
    driver's OperationalError (they release a batch on it) while a person reads one line.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, DatabaseBusy):
            return True
        if isinstance(exc, OperationalError):
            orig = exc.orig
            if getattr(orig, "sqlstate", None) in _PG_BUSY_SQLSTATES:
                return True
            if any(word in str(orig).lower() for word in _BUSY_WORDS):
                return True
        exc = exc.__cause__ or exc.__context__
    return False


def normalize_url(raw: str) -> str:
    """What people type for ``--db``/``JOURNEYS_DB`` as a database URL.

    A plain path (``/data/journeys.db``, ``~/j.db``, ``j.db``) means the SQLite file
    there; ``~`` is expanded in a SQLite URL too (the shell does not expand it inside a
    URL, and SQLite would create a folder named ``~``).
    """
    text = raw.strip()
    if not text:
        raise UserError(
            "the database is empty: give a file path, sqlite:///PATH/TO/FILE.db or "
            "postgresql+psycopg://USER@HOST/DATABASE"
        )
    if "://" not in text and not text.startswith(("sqlite:", "postgresql:", "postgresql+")):
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    for short in ("postgresql://", "postgres://"):  # what libpq users type
        if text.startswith(short):
            return "postgresql+psycopg://" + text[len(short) :]
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if text.startswith(prefix + "~"):
            return prefix + str(Path(text[len(prefix) :]).expanduser())
    return text


def default_url() -> str:
    """``JOURNEYS_DB`` or a SQLite file in the user's data directory."""
    env = os.environ.get("JOURNEYS_DB")
    if env:
        return env
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("journeys", appauthor=False))
    return f"sqlite:///{folder / 'journeys.db'}"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    _sqlite_setup(dbapi_connection, read_only=False)


def _sqlite_on_connect_read_only(dbapi_connection: Any, _record: Any) -> None:
    _sqlite_setup(dbapi_connection, read_only=True)


def _sqlite_setup(dbapi_connection: Any, *, read_only: bool) -> None:
    # pysqlite's own transaction handling would defer BEGIN; we emit it ourselves so
    # SAVEPOINTs and BEGIN IMMEDIATE behave (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    if read_only:  # choosing the journal is a write; the writers chose WAL already
        cur.execute("PRAGMA query_only=ON")
    else:
        cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # How long to wait for another program's write lock before giving up.
    cur.execute(f"PRAGMA busy_timeout={int(os.environ.get('JOURNEYS_BUSY_TIMEOUT_MS', '10000'))}")
    cur.execute("PRAGMA synchronous=NORMAL")
    # A statement on a table with triggers (the figure summaries) keeps a statement
    # journal; in a temporary file that tripled the cost of every trace write.
    cur.execute("PRAGMA temp_store=MEMORY")
    # Odoo's ``like`` is case-sensitive and ``ilike`` is not; SQLite's LIKE is not by default.
    cur.execute("PRAGMA case_sensitive_like=ON")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock up front: a deferred transaction that reads and then
    # writes while another writer is active fails at once with "database is locked"
    # instead of waiting (busy_timeout cannot help an upgrade that would deadlock).
    mode = conn.get_execution_options().get("journeys_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str | None = None, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """An Engine for ``url`` (default :func:`default_url`) with our per-connection setup.

    ``read_only`` opens a SQLite file with ``mode=ro``, so this process cannot write to it
    whatever it runs (the file must exist), and a PostgreSQL session with
    ``default_transaction_read_only``, so the server refuses any write."""
    raw = normalize_url(url or default_url())
    try:
        parsed = make_url(raw)
    except ArgumentError:
        raise UserError(f"{raw!r} is not a database URL (e.g. sqlite:///path/to/file.db)") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in SUPPORTED_DRIVERS:
        # Any other scheme fails inside SQLAlchemy's plugin loader with a class name.
        raise UserError(
            f"unknown database URL {parsed.render_as_string(hide_password=True)!r}; accepted: "
            "a file path (/path/to/file.db, ~/file.db), sqlite:///PATH/TO/FILE.db, "
            "postgresql://USER@HOST/DATABASE or postgresql+psycopg://USER@HOST/DATABASE"
        )
    if parsed.get_backend_name() == "sqlite" and read_only:
        engine = create_engine(_read_only_sqlite(parsed), **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect_read_only)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(
                    f"cannot create the database folder {folder}: {exc.strerror or exc}"
                ) from None
            # Room for every thread of a busy process (the tracking server's workers,
            # recorder and actor, the runner): beyond the pool a connection is opened and
            # set up for one transaction, then closed — a file connection is cheap to keep.
            kwargs.setdefault("pool_size", 16)
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        if read_only:
            options = "-c default_transaction_read_only=on"
            kwargs.setdefault("connect_args", {})["options"] = options
        engine = create_engine(parsed, **kwargs)
    return engine


def sqlite_file(engine: Engine) -> str | None:
    """The path of the SQLite file behind ``engine``; None for memory or PostgreSQL."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.query.get("uri") == "true" and url.database.startswith("file:"):
        return urllib.parse.unquote(url.database.removeprefix("file:").split("?", 1)[0])
    return url.database


def _read_only_sqlite(parsed: Any) -> Any:
    """The SQLite URL as a ``file:`` URI in ``mode=ro``: an existing file, never written."""
    if not parsed.database or parsed.database == ":memory:":
        raise UserError("a read-only database must be a file that exists")
    path = Path(parsed.database).expanduser().resolve()
    if not path.is_file():
        raise UserError(f"no database at {path}: read-only mode opens an existing file")
    uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
    return parsed.set(database=uri, query={"uri": "true"})


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolates "%": escape it (URL-encoded socket paths contain %2F).
    url = engine.url.render_as_string(hide_password=False).replace("%", "%%")
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["engine"] = engine
    return cfg


def schema_revision(engine: Engine) -> str | None:
    # Every command runs this on open: a read-only one must not queue for the write lock
    # behind a worker (BEGIN IMMEDIATE would), so this reads in a deferred transaction.
    with engine.execution_options(journeys_begin="DEFERRED").connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _opened_revision(engine: Engine, unopened: Callable[[object], Exception]) -> str | None:
    """The schema revision, or the error a person reads: busy, ``unopened`` (the
    database refused to open), or not a database at all (a wrong --db)."""
    try:
        return schema_revision(engine)
    except OperationalError as exc:
        if is_busy(exc):
            raise DatabaseBusy() from exc
        raise unopened(exc.orig) from None
    except DatabaseError as exc:  # e.g. "file is not a database": a wrong --db
        raise UserError(f"{engine.url!r} cannot be opened as a database: {exc.orig}") from None


def migrate(engine: Engine) -> None:
    """Bring the schema to head; refuse a database made by a newer Journeys."""
    cfg = alembic_config(engine)
    script = ScriptDirectory.from_config(cfg)
    current = _opened_revision(
        engine, lambda orig: EngineFailure(f"cannot open the database {engine.url!r}: {orig}")
    )
    if current is not None and not _known(script, current):
        raise UserError(
            f"the database schema (revision {current}) is newer than this version of "
            "Journeys understands; upgrade Journeys to open it"
        )
    if current != script.get_current_head():
        try:
            command.upgrade(cfg, "head")
        except OperationalError as exc:
            if is_busy(exc):
                raise DatabaseBusy() from exc
            raise EngineFailure(f"cannot migrate the database: {exc.orig}") from None


def check_schema(engine: Engine) -> None:
    """A database opened read-only cannot be migrated: it must be at this version's head."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    current = _opened_revision(
        engine, lambda orig: UserError(f"cannot open the database {engine.url!r} read-only: {orig}")
    )
    head = script.get_current_head()
    if current is None:
        raise UserError("the database is empty: there is nothing to look at read-only")
    if current != head:
        newer = not _known(script, current)
        raise UserError(
            f"the database schema (revision {current}) is "
            + (
                "newer than this version of Journeys understands; upgrade Journeys"
                if newer
                else f"older than this version's ({head}); open it once without --read-only "
                "to upgrade it"
            )
        )


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises ResolutionError/CommandError for unknown ids
        return False


class Database:
    """An Engine plus a session factory; sessions are short and never cross threads."""

    def __init__(
        self,
        url: str | None = None,
        *,
        migrate_schema: bool = True,
        read_only: bool = False,
        **kwargs: Any,
    ):
        self.read_only = read_only
        self.engine = make_engine(url, read_only=read_only, **kwargs)
        if read_only:
            check_schema(self.engine)
        elif migrate_schema:
            migrate(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Read-only work (listings, reports, the GUI) never blocks the engine's writers.
        self._read_engine = self.engine.execution_options(journeys_begin="DEFERRED")
        self.read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def sqlite_file(self) -> str | None:
        """The SQLite file's path (also when opened read-only, as a ``file:`` URI)."""
        return sqlite_file(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error.

        Every edit goes through here, so a read-only database refuses them all here,
        before the first statement (the file or server would refuse it too)."""
        if self.read_only:
            raise ReadOnly()
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (on SQLite it takes no write lock)."""
        with self.read_sessions() as session, session.begin():
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A read-only unit of work without an ORM session, for hot lookups (the tracking
        server's per-request reads): a Core connection costs a fraction of a Session."""
        with self._read_engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
