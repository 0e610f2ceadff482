"""Under CI a skipped test is a failure.

The database and mail tests start real PostgreSQL and Dovecot servers; on a developer's
machine without them those tests are skipped with the reason, but CI exists to run them,
so there a skip (a server that could not be installed or started, or any other) fails
the run, listed at the end. ``.ci/run`` sets ``JOURNEYS_REQUIRE_SERVERS=1``; a ``CI``
variable set by the CI service means the same.
"""

from __future__ import annotations

import os

import pytest

_UNSET = ("", "0", "false", "no")
_skipped: list[tuple[str, str]] = []


def servers_required() -> bool:
    """True when a test that cannot get its server must fail rather than be skipped."""
    return any(
        os.environ.get(name, "").strip().lower() not in _UNSET
        for name in ("JOURNEYS_REQUIRE_SERVERS", "CI")
    )


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        _skipped.append((report.nodeid, reason))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if servers_required() and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if servers_required() and _skipped:
        terminalreporter.section("skipped under CI: each is a failure", red=True)
        for nodeid, reason in _skipped:
            terminalreporter.line(f"{nodeid}: {reason}")
