"""CI runs every test for real: a skip there (a server missing or not started) fails."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ("-p", "tests.ci_plugin")

SKIPPING = """
import pytest

def test_runs():
    assert True

def test_needs_a_server():
    pytest.skip("PostgreSQL unavailable: pg_ctl not found")
"""


def run_pytest(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "JOURNEYS_REQUIRE_SERVERS")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *PLUGIN,
            "--rootdir",
            str(folder),
            str(folder),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
    )


def test_a_skip_is_a_failure_only_under_ci(tmp_path: Path) -> None:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    here = run_pytest(tmp_path)
    assert here.returncode == 0, here.stdout
    assert "1 passed, 1 skipped" in here.stdout
    for env in ({"JOURNEYS_REQUIRE_SERVERS": "1"}, {"CI": "true"}):
        ci = run_pytest(tmp_path, **env)
        assert ci.returncode == 1, ci.stdout
        assert "skipped under CI: each is a failure" in ci.stdout
        assert "test_needs_a_server: PostgreSQL unavailable: pg_ctl not found" in ci.stdout


def test_a_server_that_cannot_start_fails_under_ci(tmp_path: Path) -> None:
    """The real fixtures: PostgreSQL with no binaries found fails instead of skipping."""
    (tmp_path / "test_pg.py").write_text(
        "import tests.pgserver as pg\n"
        "from tests.pgserver import pg_server  # noqa: F401\n"
        "pg.find_binaries = lambda: None\n"
        "def test_db(pg_server):\n    assert pg_server\n"
    )
    here = run_pytest(tmp_path)
    assert "1 skipped" in here.stdout and here.returncode == 0, here.stdout
    ci = run_pytest(tmp_path, JOURNEYS_REQUIRE_SERVERS="1")
    assert ci.returncode == 1, ci.stdout
    assert "PostgreSQL tests cannot run under CI: pg_ctl/initdb not found" in ci.stdout


def test_ci_run_requires_the_servers() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    assert "export JOURNEYS_REQUIRE_SERVERS=1" in script
    assert script.rstrip().endswith("exec bash ./dev.sh test")
