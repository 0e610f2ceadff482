"""A real PostgreSQL server, started by the tests themselves.

``pg_server`` (session scope) runs ``initdb`` into a temporary directory and starts the
server on a free loopback port, its unix socket in that directory; it is stopped and
removed at the end of the session. Under pytest-xdist every worker is its own session,
so each worker gets its own server and nothing is shared between processes.

``pg_url`` (function scope) creates a fresh, empty database on that server for one test
and drops it afterwards.

PostgreSQL refuses to run as root: as root, ``initdb`` and ``pg_ctl`` run as the
``postgres`` system user through ``runuser``. When the server binaries are missing the
tests that need them are skipped, except under CI (see tests/ci_plugin.py), where that is a failure.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci_plugin import servers_required

SUPERUSER = "postgres"
SYSTEM_USER = "postgres"  # who runs the server when the tests run as root
INSTALL_HINT = "install a PostgreSQL server (Debian: apt-get install postgresql)"


def find_binaries() -> tuple[str, str] | None:
    """``(initdb, pg_ctl)`` from PATH or Debian's /usr/lib/postgresql/*/bin, newest first."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return initdb, pg_ctl
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.name.split(".")],
        reverse=True,
    )
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return str(bindir / "initdb"), str(bindir / "pg_ctl")
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class PgServer:
    """One throw-away PostgreSQL cluster; ``start()`` then ``stop()`` (idempotent)."""

    def __init__(self, initdb: str, pg_ctl: str) -> None:
        self.initdb = initdb
        self.pg_ctl = pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="journeys-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.running = False
        self._as_root = os.geteuid() == 0
        if self._as_root:
            user = _system_user()
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.root.chmod(0o700)

    @property
    def base_url(self) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/"

    def _run(self, args: list[str], log_name: str) -> None:
        command = ["runuser", "-u", SYSTEM_USER, "--", *args] if self._as_root else args
        log_path = self.root / log_name
        with open(log_path, "ab") as out:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                timeout=120,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n{_tail(log_path)}\n"
                f"server log:\n{_tail(self.log)}"
            )

    def start(self) -> None:
        self._run(
            [
                self.initdb,
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            "initdb.log",
        )
        options = (
            f"-k '{self.root}' -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        last_error: Exception | None = None
        for _attempt in range(3):  # another process may grab the port between probe and bind
            self.port = _free_port()
            try:
                self._run(
                    [
                        self.pg_ctl,
                        "-D",
                        str(self.data),
                        "-l",
                        str(self.log),
                        "-w",
                        "-t",
                        "60",
                        "-o",
                        f"-p {self.port} {options}",
                        "start",
                    ],
                    "pg_ctl.log",
                )
            except RuntimeError as exc:
                last_error = exc
                continue
            self.running = True
            return
        raise RuntimeError(f"could not start PostgreSQL: {last_error}")

    def stop(self) -> None:
        if self.running:
            self.running = False
            with contextlib.suppress(Exception):
                self._run(
                    [self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                    "pg_ctl.log",
                )
        shutil.rmtree(self.root, ignore_errors=True)


def _system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        pass
    # Debian's postgresql package creates this user; a server built elsewhere may not.
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return pwd.getpwnam(SYSTEM_USER)


def _unavailable(reason: str) -> None:
    if servers_required():
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Base URL of a PostgreSQL server private to this test process (no database part)."""
    binaries = find_binaries()
    if binaries is None:
        _unavailable(
            f"pg_ctl/initdb not found in PATH or /usr/lib/postgresql/*/bin; {INSTALL_HINT}"
        )
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[postgres]')")
        return
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _unavailable("running as root and runuser (util-linux) is missing")
        return
    server = PgServer(*binaries)
    atexit.register(server.stop)  # in case the session dies before the fixture finalises
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    try:
        yield server.base_url
    finally:
        server.stop()
        atexit.unregister(server.stop)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database for this test; dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(pg_server)
    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = f"host={base.host} port={base.port} user={base.username} dbname=postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server + name
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            # FORCE ends connections a test left open (PostgreSQL 13+).
            force = " WITH (FORCE)" if conn.info.server_version >= 130000 else ""
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"{force}')


def _admin(pg_server: str) -> str:
    from sqlalchemy.engine import make_url

    base = make_url(pg_server)
    return f"host={base.host} port={base.port} user={base.username} dbname=postgres"


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> str:
    """A database migrated to head once per session, copied for each test (fast)."""
    from engine.db import Database

    name = "journeys_template"
    import psycopg

    with psycopg.connect(_admin(pg_server), autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    Database(pg_server + name).dispose()
    return name


@pytest.fixture
def pg_migrated_url(pg_server: str, pg_template: str) -> Iterator[str]:
    """URL of the session's migrated database, emptied for this test.

    Truncating every table is ten times faster than creating a database per test.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(pg_server)
    dsn = f"host={base.host} port={base.port} user={base.username} dbname={pg_template}"
    with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename != 'alembic_version'"
            )
        ]
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    yield pg_server + pg_template
