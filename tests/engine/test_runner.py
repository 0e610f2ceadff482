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


def test_next_due_is_the_earliest_dated_step_the_engine_may_run(db, clock) -> None:  # type: ignore[no-untyped-def]
    """The runner sleeps until ``next_due``: it must be the earliest scheduled step with
    a date, of a running campaign or a draft's test participant, and nothing else."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from engine.executor import next_due
    from engine.models import Trace

    w = World(db, clock)
    ann, _bob = w.people("Ann", "Bob")
    assert next_due(db) is None
    running = w.campaign(action("a", tag("A"), delay=5))  # both due in 5 hours
    w.run()
    soon = clock.now() + timedelta(hours=5)
    assert next_due(db) == soon
    with db.session() as s:  # Bob's step: earlier, but waiting for an event (no date)…
        bob_trace = s.scalar(select(Trace.id).where(Trace.campaign_id == running).limit(1))
        s.execute(update(Trace).where(Trace.id == bob_trace).values(due_at=None))
    assert next_due(db) == soon
    with db.session() as s:  # …or already done: neither wakes the runner
        s.execute(
            update(Trace)
            .where(Trace.campaign_id == running, Trace.id != bob_trace)
            .values(state="processed")
        )
    assert next_due(db) is None
    # A stopped campaign's steps never run; a draft's only for its test participants.
    later = w.campaign(action("b", tag("B"), delay=2))
    w.run()
    assert next_due(db) == clock.now() + timedelta(hours=2)
    slow = w.campaign(action("s", tag("S"), delay=9))
    w.run()
    assert next_due(db) == clock.now() + timedelta(hours=2)  # the earliest, not the last
    w.stop(slow)
    w.stop(later)
    assert next_due(db) is None
    draft = w.campaign(action("c", tag("C"), delay=1), start=False)
    with db.session() as s:
        campaigns.launch_test(s, s.get(Campaign, draft), ann, clock.now())
    assert next_due(db) == clock.now() + timedelta(hours=1)
    with db.session() as s:  # a real participant's step in a draft does not count
        s.execute(update(Trace).where(Trace.campaign_id == draft).values(is_test=False))
    assert next_due(db) is None
