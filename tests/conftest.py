"""Shared fixtures: a migrated database (SQLite by default) and a fixed clock."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from engine.channels.breaker import BREAKERS
from engine.clock import FixedClock
from engine.db import Database
from tests.ci_plugin import (  # noqa: F401  (hooks: under CI a skip is a failure)
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
from tests.imapserver import imap_account, imap_server  # noqa: F401
from tests.pgserver import pg_migrated_url, pg_server, pg_template, pg_url  # noqa: F401

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_breakers() -> Iterator[None]:
    """Servers are per test: no test inherits another's open circuit breaker."""
    BREAKERS.clear()
    yield
    BREAKERS.clear()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journeys.db'}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "journeys.db"
    Database(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Every database test runs on both supported databases, already migrated."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_migrated_url"))
    path = tmp_path / "journeys.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()
