"""Another process holds the SQLite write lock: readers go on, writers say "busy".

A real second process takes the write lock (``BEGIN IMMEDIATE``, as a worker's batch
does) and keeps it; real ``journeys`` commands and the app's engine meet it. Readers
must not need the lock at all; a writer waits the busy timeout (short here), then says
so in one line with its own exit code, and nothing of its change is written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.cli import EXIT_BUSY
from designer.main_window import MainWindow
from engine import settings
from engine.db import Database
from engine.errors import BUSY_MESSAGE
from engine.runner import EngineRunner

REPO = Path(__file__).resolve().parents[2]
SHORT_BUSY_MS = "400"  # how long a writer waits for the lock here (the default is 10 s)

HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL")
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()  # until the test closes our standard input
conn.execute("ROLLBACK")
"""


class WriteLock:
    """A second process holding the database's write lock until :meth:`release`."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "held"

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@pytest.fixture
def lock(sqlite_url: str) -> Iterator[WriteLock]:
    journeys(sqlite_url, "new", "--template", "welcome_flow", check=True)
    held = WriteLock(Path(sqlite_url.removeprefix("sqlite:///")))
    yield held
    held.release()


def journeys(
    db: str, *args: str, check: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--db", db, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "JOURNEYS_BUSY_TIMEOUT_MS": SHORT_BUSY_MS,
            **(env or {}),
        },
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_readers_answer_while_another_process_holds_the_write_lock(
    lock: WriteLock, sqlite_url: str
) -> None:
    for args in (
        ("list",),
        ("list", "--json"),
        ("report", "1"),
        ("settings",),
        ("traces", "1"),
        ("settings", "engine.batch_size"),
        ("records", "list", "contact"),
        ("export", "1"),
    ):
        done = journeys(sqlite_url, *args)
        assert done.returncode == 0, (args, done.stderr)
    assert "Welcome Flow" in journeys(sqlite_url, "list").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("start", "1"),
        ("settings", "engine.batch_size", "100"),
        ("new", "--template", "double_opt_in"),
    ],
)
def test_a_writer_says_busy_in_one_line_with_its_own_code_and_writes_nothing(
    lock: WriteLock, sqlite_url: str, args: tuple[str, ...]
) -> None:
    done = journeys(sqlite_url, *args)
    assert done.returncode == EXIT_BUSY == 75, done.stderr
    assert done.stderr.strip() == f"journeys: busy: {BUSY_MESSAGE}"
    assert done.stdout == ""
    lock.release()
    listed = journeys(sqlite_url, "list", "--json", check=True).stdout
    assert '"state": "draft"' in listed and "Double Opt-in" not in listed
    shown = journeys(sqlite_url, "settings", "engine.batch_size", check=True).stdout
    assert "2000" in shown
    assert journeys(sqlite_url, *args).returncode == 0  # and it works once the lock is gone


def test_the_app_says_busy_in_its_status_bar_and_its_engine_retries(
    qtbot: QtBot, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEYS_BUSY_TIMEOUT_MS", SHORT_BUSY_MS)
    journeys(sqlite_url, "new", "--template", "welcome_flow", check=True)
    journeys(sqlite_url, "start", "1", check=True)  # a running campaign: passes write
    db = Database(sqlite_url)
    runner = EngineRunner(db)
    window = MainWindow(db, runner)
    qtbot.addWidget(window)
    window.show()
    runner.start()
    try:
        qtbot.waitUntil(lambda: "last pass" in window.status.text(), timeout=20_000)
        held = WriteLock(Path(sqlite_url.removeprefix("sqlite:///")))
        try:
            runner.wake()
            qtbot.waitUntil(lambda: "database is busy" in window.status.text(), timeout=20_000)
            assert "Engine waiting" in window.status.text()
            assert "Error" not in window.status.text()
        finally:
            held.release()
        # The retry comes by itself (no wake): the pass runs and the message goes.
        qtbot.waitUntil(lambda: "is busy" not in window.status.text(), timeout=20_000)
        assert "Engine running, last pass" in window.status.text()
        with db.read() as s:
            assert settings.get(s, "engine.batch_size") == 2000
    finally:
        window.shutdown()
        db.dispose()
