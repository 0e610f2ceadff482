"""Bad input on the command line: a clear message, exit 2 (1 at run time, 75 if busy)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import main

DATA = Path(__file__).parents[1] / "data"
REPO = Path(__file__).parents[2]


@pytest.fixture
def cli(sqlite_url: str, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*args: str, expect: int = 0) -> tuple[str, str]:
        code = main(["--db", sqlite_url, *args])
        out, err = capsys.readouterr()
        assert code == expect, f"exit {code}: {err}{out}"
        return out, err

    return run


def campaign_count(cli) -> int:  # type: ignore[no-untyped-def]
    return len(json.loads(cli("list", "--json")[0]))


def test_invalid_now_message(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", sqlite_url, "--now", "next tuesday", "run"]) == 2
    err = capsys.readouterr().err
    assert "--now" in err and "ISO-8601" in err


def test_unknown_campaign_activity_record(cli) -> None:  # type: ignore[no-untyped-def]
    _, err = cli("start", "Nope", expect=2)
    assert "no campaign with id or name 'Nope'" in err
    cli("new", "--template", "welcome_flow")
    _, err = cli("traces", "1", "--activity", "nope", expect=2)
    assert "no activity 'nope'" in err
    _, err = cli("test", "1", "--record", "ghost@example.com", expect=2)
    assert "ghost@example.com" in err
    _, err = cli("new", "--template", "nope", expect=2)
    assert "welcome_flow" in err  # lists the known keys
    _, err = cli("records", "list", "planet", expect=2)
    assert "unknown model 'planet'" in err


def test_invalid_campaign_file_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.journey.json"
    doc = json.loads((DATA / "odoo_flow.journey.json").read_text())
    doc["activities"][1]["trigger"] = "sms_click"  # its parent is an email
    doc["activities"][3]["filter"] = [["emial", "!=", None]]
    bad.write_text(json.dumps(doc))
    _, err = cli("import", str(bad), expect=2)
    assert "$.activities[1].trigger" in err and "emial" in err
    assert campaign_count(cli) == 0
    bad.write_text("{ not json")
    _, err = cli("import", str(bad), expect=2)
    assert "line 1" in err
    _, err = cli("import", str(tmp_path / "missing.json"), expect=2)
    assert "no such file" in err
    assert campaign_count(cli) == 0


def test_bad_csv_imports_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv = tmp_path / "people.csv"
    csv.write_text("name,email\nAnn,ann@example.com\nBob,not-an-email\n")
    _, err = cli("records", "import", "contact", str(csv), expect=2)
    assert "row 3" in err and "email" in err
    assert json.loads(cli("records", "list", "contact", "--json")[0]) == []


def test_bad_settings(cli) -> None:  # type: ignore[no-untyped-def]
    _, err = cli("settings", "nope", "1", expect=2)
    assert "unknown setting" in err
    _, err = cli("settings", "engine.batch_size", "-3", expect=2)
    assert "engine.batch_size" in err
    out, _ = cli("settings", "engine.batch_size", "500")
    assert "500" in out
    assert json.loads(cli("settings", "--json")[0])["engine.batch_size"] == 500


def test_newer_database_is_refused(cli, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    cli("init")
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff_future'")
    _, err = cli("list", expect=2)
    assert "newer" in err


def test_locked_database_is_busy_not_a_crash(cli, sqlite_url: str) -> None:  # type: ignore[no-untyped-def]
    """A writer held elsewhere is temporary: exit 75 (EX_TEMPFAIL), a sentence, no change."""
    cli("new", "--template", "welcome_flow")
    path = sqlite_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        os.environ["JOURNEYS_BUSY_TIMEOUT_MS"] = "200"
        _, err = cli("start", "1", expect=75)
    finally:
        os.environ.pop("JOURNEYS_BUSY_TIMEOUT_MS", None)
        holder.execute("ROLLBACK")
        holder.close()
    assert err.startswith("journeys: busy: ") and "Traceback" not in err
    out, _ = cli("list", "--json")
    assert json.loads(out)[0]["state"] == "draft"


def test_worker_stops_cleanly_on_sigterm(sqlite_url: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--db", sqlite_url, "worker", "--no-tracking"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()
    deadline = time.monotonic() + 20
    while "running" not in line and time.monotonic() < deadline:
        line = proc.stderr.readline()
    assert "running" in line
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped" in err
