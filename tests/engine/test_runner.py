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
