"""``--db`` and ``JOURNEYS_DB`` take what people type: a path, ``~``, a URL.

Each form is given to the real ``journeys`` command in a subprocess; the campaign it
creates must land in the very file the person named (read back by plain ``sqlite3``),
never in a folder named ``~`` or in the default database.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from engine.db import normalize_url

REPO = Path(__file__).parents[2]


def journeys(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "JOURNEYS_DB"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(REPO), **(env or {})},
        timeout=120,
    )


def campaign_names(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT name FROM campaign ORDER BY id")]
    finally:
        conn.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    ("given", "where"),
    [
        ("{tmp}/plain.db", "plain.db"),  # an absolute path
        ("~/tilde.db", "home/tilde.db"),  # ~ is the user's home
        ("relative.db", "work/relative.db"),  # relative to where the command runs
        ("sqlite:///~/in-url.db", "home/in-url.db"),  # ~ inside a SQLite URL too
        ("sqlite:///{tmp}/url.db", "url.db"),  # the URL form keeps working
    ],
)
@pytest.mark.parametrize("how", ["--db", "JOURNEYS_DB"])
def test_a_path_means_the_sqlite_file_there(
    tmp_path: Path, home: Path, given: str, where: str, how: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    value = given.format(tmp=tmp_path)
    env = {"HOME": str(home)}
    if how == "--db":
        args: tuple[str, ...] = ("--db", value)
    else:
        args, env = (), {**env, "JOURNEYS_DB": value}
    created = journeys(*args, "new", "--template", "welcome_flow", cwd=work, env=env)
    assert created.returncode == 0, created.stderr
    listed = journeys(*args, "list", cwd=work, env=env)
    assert listed.returncode == 0 and "Welcome Flow" in listed.stdout, listed.stderr
    assert campaign_names(tmp_path / where) == ["Welcome Flow"]
    assert not (work / "~").exists() and not (home / "~").exists()


def test_an_unknown_scheme_exits_2_with_the_accepted_forms(tmp_path: Path) -> None:
    for given in ("mysql://me@db/journeys", "sqlite2:///x.db"):
        done = journeys("--db", given, "list", cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        message = done.stderr.strip()
        assert message.count("\n") == 0, message  # one line
        for form in ("/path/to/file.db", "~/file.db", "sqlite:///", "postgresql://"):
            assert form in message, (form, message)
        assert "Traceback" not in done.stderr and "Error" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was created


def test_what_a_libpq_user_types_means_psycopg() -> None:
    assert normalize_url("postgresql://me@db/j") == "postgresql+psycopg://me@db/j"
    assert normalize_url("postgres://me@db/j") == "postgresql+psycopg://me@db/j"
    assert normalize_url("postgresql+psycopg://me@db/j") == "postgresql+psycopg://me@db/j"
