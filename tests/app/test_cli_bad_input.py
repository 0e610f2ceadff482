"""Hostile or mistyped input to the real ``journeys`` command: exit 2 and a sentence.

Every case runs the installed command line in a subprocess, as a user would, and checks
that nothing internal leaks out (no traceback, no exception class name).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
LEAK = re.compile(r"Traceback|Error\b|Exception\b|\w+Error:")


def journeys(
    url: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "--db", url, *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        timeout=timeout,
        start_new_session=True,  # no controlling terminal: getpass cannot use /dev/tty
    )


def refused(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2 with every one of ``words`` in the message and no internal name."""
    text = proc.stderr + proc.stdout
    assert proc.returncode == 2, text
    for word in words:
        assert word in text, text
    assert not LEAK.search(text.replace("error:", "")), text
    return text


@pytest.fixture
def url(sqlite_url: str) -> str:
    done = journeys(sqlite_url, "new", "--template", "welcome_flow")
    assert done.returncode == 0, done.stderr
    return sqlite_url


def campaign_state(url: str) -> str:
    import json

    return str(json.loads(journeys(url, "list", "--json").stdout)[0]["state"])


@pytest.mark.parametrize("ref", ["99999999999999999999999", "１", " 1", "1 ", "-1", "1_0"])
def test_an_id_is_ascii_digits_only(url: str, ref: str) -> None:
    refused(journeys(url, "start", ref), "no campaign with id or name", repr(ref))
    assert campaign_state(url) == "draft"  # nothing started campaign 1


@pytest.mark.parametrize("ref", ["99999999999999999999999", "１"])
def test_a_record_id_is_ascii_digits_only(url: str, ref: str) -> None:
    refused(journeys(url, "test", "1", "--record", ref), "no contact with id", "0-9")


@pytest.mark.parametrize("limit", ["99999999999999999999", "-5", "0", "１"])
def test_a_listing_limit_is_a_bounded_number(url: str, limit: str) -> None:
    refused(journeys(url, "records", "list", "contact", "--limit", limit), "--limit", "0-9")


def test_an_unknown_database_url_is_named(tmp_path: Path) -> None:
    refused(
        journeys("foo://bar", "list"),
        "unknown database URL 'foo://bar'",
        "sqlite:///",
        "postgresql+psycopg://",
    )
    refused(journeys("", "list"), "--db", "empty")
    not_a_db = tmp_path / "notes.txt"
    not_a_db.write_text("hello, this is text and not a database\n" * 100)
    refused(journeys(f"sqlite:///{not_a_db}", "list"), "cannot be opened as a database")
    blocker = tmp_path / "file"
    blocker.write_text("")
    refused(journeys(f"sqlite:///{blocker}/sub/j.db", "list"), "cannot create the database")


def test_an_empty_now_is_refused_not_the_real_clock(url: str) -> None:
    refused(journeys(url, "--now", "", "start", "1"), "--now", "ISO-8601")
    assert campaign_state(url) == "draft"


def test_a_keyring_asking_for_its_password_without_a_terminal(url: str) -> None:
    backend = "tests.prompting_keyring.PromptingKeyring"
    proc = journeys(url, "settings", "--json", env={"PYTHON_KEYRING_BACKEND": backend})
    refused(proc, "keyring is locked", "terminal", "JOURNEYS_SMTP_PASSWORD")


def test_output_to_a_closed_pipe_ends_quietly(url: str) -> None:
    """`journeys outbox | head`: the reader left; no "BrokenPipeError", no complaint."""
    for args in (("templates", "--json"), ("list",), ("outbox",), ("settings",)):
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "--db", url, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the first byte is written
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 141, err
        assert err == "", err


def test_importing_dev_zero_ends_at_once_with_bounded_memory(url: str) -> None:
    start = time.monotonic()
    proc = journeys(url, "records", "import", "contact", "/dev/zero", timeout=60)
    elapsed = time.monotonic() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child
    refused(proc, "/dev/zero: nothing imported", "longer than 1,000,000 characters")
    assert elapsed < 20
    assert peak_kb < 400_000, f"{peak_kb} KB"
    print(f"/dev/zero import: {elapsed:.2f} s, peak RSS of children {peak_kb / 1024:.0f} MB")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("name,email\nAnn," + "a" * 100_001 + "\n", ("row 2", "cell longer than 100,000")),
        ('name,email\nAnn,"' + ("b" * 50_000 + "\n") * 3 + '"\n', ("row 2", "cell longer")),
        ("name,email\nA\x00nn,ann@example.com\n", ("row 2", "NUL byte")),
    ],
)
def test_csv_caps_name_the_row(url: str, tmp_path: Path, content: str, words: tuple[str]) -> None:
    path = tmp_path / "people.csv"
    path.write_text(content)
    refused(journeys(url, "records", "import", "contact", str(path)), *words)


def test_a_csv_with_too_many_rows_is_refused(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.db import Database
    from engine.errors import ValidationError
    from engine.records import csv_import

    monkeypatch.setattr(csv_import, "MAX_ROWS", 3)
    path = tmp_path / "people.csv"
    path.write_text("name,email\n" + "".join(f"P{i},p{i}@x.com\n" for i in range(3)))
    db = Database(url)
    try:
        with pytest.raises(ValidationError, match="more than 3 rows"), db.session() as s:
            csv_import.import_csv(s, "contact", path, now=_now())
        path.write_text("name,email\n" + "".join(f"P{i},p{i}@x.com\n" for i in range(2)))
        with db.session() as s:
            assert csv_import.import_csv(s, "contact", path, now=_now()) == 2
    finally:
        db.dispose()


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("count", ["0", "-2", "65", "99999999999999999999", "two"])
def test_serve_processes_is_a_bounded_number(url: str, count: str) -> None:
    refused(journeys(url, "serve", "--port", "0", "--processes", count), "--processes")
