"""A batch against slow, stalling and broken things: short transactions, a time budget,
small hand-off groups, and one campaign's failure kept to that campaign (issue 8)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from engine import editing, settings
from engine.channels import Channels
from engine.channels.breaker import BREAKERS, Breakers
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Activity, Campaign, Contact, Trace
from tests.engine.world import World, action, email, tag
from tests.smtp_sink import Handler, smtp_sink


def configure(db: Database, **values: str) -> None:
    with db.session() as s:
        for key, value in values.items():
            settings.set_value(s, key.replace("__", "."), value)


def names(n: int) -> list[str]:
    return [f"P{i:02d}" for i in range(n)]


def test_while_a_group_is_with_the_server_only_it_is_flagged_and_the_rest_is_written(
    db: Database, clock: FixedClock
) -> None:
    seen: list[dict[str, Any]] = []
    handler = Handler(delay=0.2)
    with smtp_sink(handler) as (sink, port):
        configure(db, smtp__url=f"smtp://127.0.0.1:{port}?tls=none", engine__handoff_group="3")
        w = World(db, clock)
        w.people(*names(9))
        cid = w.campaign(email("mail"))
        runner = threading.Thread(target=w.run)
        runner.start()
        while runner.is_alive():
            if len(sink.received) in (4, 7):  # the second or third group is on the wire
                with db.session() as s:  # a write from elsewhere, mid-batch: not blocked
                    rows = s.execute(select(Trace.state, Trace.handoff)).all()
                seen.append(
                    {
                        "flagged": sum(1 for _, h in rows if h),
                        "processed": sum(1 for st, _ in rows if st == "processed"),
                    }
                )
                time.sleep(0.3)
            time.sleep(0.01)
        runner.join()
    assert seen, "never looked while a group was in flight"
    for look in seen:
        assert 1 <= look["flagged"] <= 3
        assert look["processed"] >= 3  # the groups before are written, not held to the end
    assert w.states(cid, "mail") == dict.fromkeys(names(9), "processed")
    with db.read() as s:
        assert not any(s.scalars(select(Trace.handoff)))


def test_a_server_that_stalls_after_data_is_left_alone_after_two_messages(
    db: Database, clock: FixedClock
) -> None:
    with smtp_sink(Handler(stall=True)) as (sink, port):
        configure(db, smtp__url=f"smtp://127.0.0.1:{port}?tls=none", smtp__timeout_seconds="1")
        w = World(db, clock)
        w.people(*names(8))
        cid = w.campaign(email("mail"))
        started = time.monotonic()
        w.run()
        took = time.monotonic() - started
    traces = w.traces(cid, "mail")
    unknown = [n for n, t in traces.items() if t["state"] == "error"]
    waiting = [n for n, t in traces.items() if t["state"] == "scheduled"]
    assert len(unknown) == 2 and len(sink.received) == 2
    assert all("Interrupted: delivery unknown" in traces[n]["message"] for n in unknown)
    assert len(waiting) == 6
    for n in waiting:  # not tried: no attempt counted, back after the first retry delay
        t = traces[n]
        assert t["attempts"] == 0
        assert t["message"].startswith("Not attempted, trying again later: 127.0.0.1 stalls")
        assert t["due"] == clock.now() + timedelta(minutes=5)
    assert took < 8, f"every message waited for the timeout ({took:.1f} s)"


def test_a_stalling_server_is_left_alone_by_later_batches_until_its_back_off_ends(
    db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The breaker: the next passes do not pay the timeouts again (nor mark two more
    messages 'delivery unknown' each); other campaigns carry on; after the back-off one
    batch tries again and a server that answers is used normally."""
    handler = Handler(stall=True)
    with smtp_sink(handler) as (sink, port):
        configure(db, smtp__url=f"smtp://127.0.0.1:{port}?tls=none", smtp__timeout_seconds="1")
        w = World(db, clock)
        w.people(*names(8))
        cid = w.campaign(email("mail"))
        w.run()
        assert len(sink.received) == 2
        other = w.campaign(action("tagging", tag("Seen")))  # no mail server involved
        for _ in range(3):  # three more passes, each with every mail due again
            w.run(minutes=5)
        assert len(sink.received) == 2  # nothing more was handed to it (nor timed out)
        traces = w.traces(cid, "mail")
        waiting = [t for t in traces.values() if t["state"] == "scheduled"]
        assert len(waiting) == 6 and {t["attempts"] for t in waiting} == {0}
        assert all("left alone for another" in t["message"] for t in waiting)
        assert set(w.states(other, "tagging").values()) == {"processed"}

        handler.stall = False  # the server is repaired; the back-off (60 s) passes
        later = time.monotonic() + 61
        monkeypatch.setattr(BREAKERS, "_monotonic", lambda: later)
        w.run(minutes=5)
    assert len(sink.received) == 8
    states = w.states(cid, "mail")
    assert sorted(states.values()) == ["error"] * 2 + ["processed"] * 6
    assert BREAKERS.blocked(f"smtp://127.0.0.1:{port}") is None  # closed again


def test_breaker_back_off_doubles_and_a_success_closes_it() -> None:
    now = [0.0]
    b = Breakers(lambda: now[0])
    assert b.blocked("k") is None
    assert b.trip("k", "stalls") == 60
    assert "stalls" in (b.blocked("k") or "")
    now[0] = 60.0
    assert b.blocked("k") is None  # half-open: one batch may try
    assert b.trip("k", "stalls") == 120
    now[0] = 179.0
    assert b.blocked("k") is not None and b.blocked("other") is None
    for _ in range(10):
        b.trip("k", "stalls")
    assert b.trip("k", "stalls") == 1800  # the ceiling
    b.succeeded("k")
    assert b.blocked("k") is None and b.trip("k", "again") == 60


def test_a_batch_past_its_time_budget_leaves_the_rest_for_the_next_batch(
    db: Database, clock: FixedClock
) -> None:
    with smtp_sink(Handler(delay=0.15)) as (sink, port):
        configure(
            db,
            smtp__url=f"smtp://127.0.0.1:{port}?tls=none",
            engine__handoff_group="2",
            engine__batch_seconds="1",
        )
        w = World(db, clock)
        w.people(*names(16))
        cid = w.campaign(email("mail"))
        stats = w.run()
    assert stats.batches >= 2  # the first batch stopped at its budget, the next went on
    assert sorted(r.rcpt[0] for r in sink.received) == sorted(
        f"{n.lower()}@example.com" for n in names(16)
    )
    assert w.states(cid, "mail") == dict.fromkeys(names(16), "processed")
    assert stats.by_state["processed"] == 16


def broken_filter(db: Database, cid: int) -> None:
    """A filter an older release let in (a field that no longer exists): no check today
    would let it in, so only the engine meets it."""
    with db.session() as s:
        s.execute(update(Campaign).where(Campaign.id == cid).values(filter=[["shoe_size", "=", 4]]))


def test_one_broken_campaign_is_set_aside_logged_once_and_the_others_run(
    db: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    w = World(db, clock)
    w.people("Ann", "Bob")
    broken = w.campaign(email("first"))
    healthy = w.campaign(email("hello"))
    broken_filter(db, broken)
    caplog.set_level(logging.DEBUG, logger="engine.campaign_faults")
    first = w.run()
    assert w.states(healthy, "hello") == {"Ann": "processed", "Bob": "processed"}
    assert first.failed == {broken}
    with db.read() as s:
        c = s.get(Campaign, broken)
        assert c is not None
        assert (
            c.engine_error is not None
            and "could not add this campaign's new participants" in c.engine_error
        )
        assert "Error" not in c.engine_error  # words for a person, no exception class
        assert c.engine_retry_at == clock.now() + timedelta(minutes=1)
    w.run(seconds=10)  # backed off: not even tried
    w.run(minutes=2)  # tried again, fails the same way: not logged again
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and f"campaign {broken} is set aside" in errors[0].getMessage()
    with db.read() as s:
        failures = s.scalar(select(Campaign.engine_failures).where(Campaign.id == broken))
    assert failures == 2

    clock.advance(seconds=5)
    with db.session() as s:  # the user fixes it: tried at once, and the record goes
        editing.update_campaign(s, broken, {"filter": []}, now=clock.now())
    after = w.run()
    assert after.failed == set()
    with db.read() as s:
        c = s.get(Campaign, broken)
        assert c is not None
        assert (c.engine_error, c.engine_failures, c.engine_retry_at) == (None, 0, None)


@pytest.mark.parametrize("alone", [False, True], ids=["with-another", "alone"])
@pytest.mark.parametrize("outside", [False, True], ids=["one-transaction", "claimed"])
def test_a_campaign_whose_plan_cannot_be_read_gives_its_traces_back_untouched(
    db: Database, clock: FixedClock, outside: bool, alone: bool
) -> None:
    """Both ways a batch runs: the broken campaign's traces are given back (unclaimed,
    unattempted), it is set aside, and the other campaign's traces in the same batch
    are sent once; alone in its batch, its traces are given back all the same."""
    from .test_execution import FlakyChannel

    mail = FlakyChannel(0)
    w = (
        World(db, clock, channels=lambda s, now: Channels(mail, mail))
        if outside
        else World(db, clock)
    )
    w.people("Ann")
    broken = w.campaign(email("first"))
    healthy = None if alone else w.campaign(email("hello"))
    with db.session() as s:  # content no release could have written
        s.execute(update(Activity).where(Activity.campaign_id == broken).values(content=[1, 2]))
    stats = w.executor.run_pass(sync=False)  # straight to the due traces
    assert stats.failed == {broken}
    if healthy is not None:
        assert w.states(healthy, "hello") == {"Ann": "processed"}
    with db.read() as s:
        c = s.get(Campaign, broken)
        assert c is not None and c.engine_error
        assert c.engine_error.startswith("The engine could not read this campaign's steps")
    with db.read() as s:  # (the world's lookups read the plan too)
        t = s.execute(select(Trace).where(Trace.campaign_id == broken)).scalar_one()
        assert (t.state, t.attempts, t.claimed_by, t.message) == ("scheduled", 0, None, None)
        assert t.due_at is not None and t.due_at <= clock.now()  # still due, for a later pass
    if outside:
        assert mail.sent == ([] if alone else ["ann@example.com"])  # the healthy one's, once


def test_a_campaign_whose_waits_cannot_be_ended_is_set_aside_and_the_others_expire(
    db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E8 per campaign: one campaign failing to end its waits is set aside with words
    saying so, and the other campaign's expired waits still end in the same pass."""
    from engine import delays

    opened = action("opened", tag("Opened"), parent="mail", trigger="mail_open")
    w = World(db, clock)
    w.people("Ann")
    healthy = w.campaign(email("mail"), opened, engagement_window_days=10)
    broken = w.campaign(email("mail"), opened, engagement_window_days=13)
    other = w.campaign(email("mail"), opened, engagement_window_days=12)
    w.run()
    real = delays.window_start

    def window_start(now, days):  # type: ignore[no-untyped-def]
        if days == 13:
            raise ValueError("a window no release could have stored")
        return real(now, days)

    monkeypatch.setattr(delays, "window_start", window_start)
    stats = w.run(days=20)
    assert stats.failed == {broken}
    assert stats.expired_waiting == 2  # both other campaigns' waits, counted together
    assert w.messages(healthy, "opened") == {"Ann": "No open within 10 days"}
    assert w.messages(other, "opened") == {"Ann": "No open within 12 days"}
    assert w.states(broken, "opened") == {"Ann": "scheduled"}
    with db.read() as s:
        error = s.scalar(select(Campaign.engine_error).where(Campaign.id == broken))
    assert error is not None and "could not end its expired waits" in error


def test_a_pass_counts_every_campaigns_joins_and_removals(db: Database, clock: FixedClock) -> None:
    """What the runner publishes (dashboards refresh the campaigns named): the pass's
    totals over every campaign, and each campaign that gained or lost someone."""
    w = World(db, clock)
    waiting = action("opened", tag("Opened"), parent="mail", trigger="mail_open")
    belgians = [["country", "=", "BE"]]
    w.people("Ann", "Bob", country="BE")
    first = w.campaign(email("mail"), waiting, filter=belgians)
    second = w.campaign(email("mail"), waiting, filter=belgians)
    w.run()
    w.people("Cid", country="BE")
    joined = w.run(minutes=1)
    assert (joined.joined, joined.removed) == (2, 0)
    assert joined.campaigns == {first, second}
    with db.session() as s:
        s.execute(update(Contact).where(Contact.name == "Ann").values(country="FR"))
    removed = w.run(minutes=1)
    assert (removed.joined, removed.removed) == (0, 2)
    assert removed.campaigns == {first, second}
    assert w.participants(first)["Ann"] == w.participants(second)["Ann"] == "removed"
