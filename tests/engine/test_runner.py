"""The embedded runner: APScheduler-driven passes, early wake-up, events, clean stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from engine import campaigns
from engine.clock import SystemClock
from engine.models import Campaign
from engine.runner import EngineRunner

from .world import World, action, tag


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_runner_executes_wakes_early_publishes_and_stops_cleanly(db) -> None:  # type: ignore[no-untyped-def]
    clock = SystemClock()
    w = World(db, clock)  # type: ignore[arg-type]
    ann, _ = w.people("Ann", "Bob")
    cid = w.campaign(action("a", tag("A")))
    threads_before = set(threading.enumerate())

    runner = EngineRunner(db, clock)
    finished: list[object] = []
    changed: list[set[int]] = []
    runner.events.pass_finished.connect(finished.append)
    runner.events.counters_changed.connect(changed.append)
    runner.start()
    try:
        assert wait_for(lambda: w.states(cid, "a") == {"Ann": "processed", "Bob": "processed"})
        assert wait_for(lambda: {cid} in changed)
        passes = runner.passes
        # Nothing is due: the runner sleeps for the poll interval (30 s)...
        time.sleep(0.5)
        assert runner.passes == passes
        # ...but new work wakes it at once.
        with db.session() as s:
            campaigns.launch_test(s, s.get(Campaign, cid), ann, clock.now())
        runner.wake()
        assert wait_for(lambda: w.states(cid, "a").get("Ann (test)") == "processed", 5)
        runner.pause()
        assert runner.paused
        runner.resume()
    finally:
        runner.stop()
    assert not runner.running
    assert finished, "pass_finished was never published"
    leftover = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
    assert leftover == []


def test_runner_survives_a_failing_pass(db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    runner = EngineRunner(db, SystemClock())
    failures: list[str] = []
    runner.events.failed.connect(failures.append)

    def boom(**_: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner.executor, "run_pass", boom)
    runner.start()
    try:
        assert wait_for(lambda: bool(failures))
    finally:
        runner.stop()
    assert "disk on fire" in failures[0]


def test_runner_serves_tracking_and_wakes_on_clicks(db) -> None:  # type: ignore[no-untyped-def]
    import re
    import urllib.request

    from sqlalchemy import select

    from engine import settings as settings_mod
    from engine.models import OutboxMessage

    from .world import email

    clock = SystemClock()
    with db.session() as s:
        settings_mod.set_value(s, "tracking.port", str(_free_port()))
    w = World(db, clock)  # type: ignore[arg-type]
    w.people("Ann")
    cid = w.campaign(
        email("mail", body='<a href="https://example.com/x">x</a>'),
        action("clicked", tag("C"), parent="mail", trigger="mail_click"),
    )
    runner = EngineRunner(db, clock, tracking=True)
    runner.start()
    try:
        assert runner.tracking is not None, runner.tracking_error
        assert wait_for(lambda: w.states(cid, "mail") == {"Ann": "processed"})
        with db.read() as s:
            body = s.scalar(select(OutboxMessage.body))
        link = re.search(r'href="([^"]+/c/\d+)"', body or "")
        assert link and link.group(1).startswith(runner.tracking.url.rstrip("/"))

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(link.group(1), timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 302 and exc.headers["Location"] == "https://example.com/x"
        # The click woke the runner: the 0-delay child runs without waiting for the poll.
        assert wait_for(lambda: w.states(cid, "clicked") == {"Ann": "processed"}, 10)
    finally:
        runner.stop()
    assert runner.tracking is None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
