"""What a batch does when it fails half-way (E13, issue 22): after a message left, when the
database itself fails, and the claims a worker makes and takes back.

Each test here was written against a mutant that survived the whole suite (see
docs/testing.md): the hand-off rule, the release after a database failure, the order of a
claimed batch, and whose claims are stale.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from engine import batch_work, settings
from engine.channels import Channels, Delivery, OutboundEmail
from engine.clock import FixedClock
from engine.db import Database
from engine.errors import EngineFailure
from engine.executor import _database_failed, _pid_alive
from engine.models import Participant, Trace
from tests.engine.test_execution import FlakyChannel
from tests.engine.world import World, action, email, tag


class BrokenFor(FlakyChannel):
    """Sends, but raises a bug of its own (not a delivery answer) for one address."""

    def __init__(self, address: str) -> None:
        super().__init__(0)
        self.address = address

    def send_emails(self, session: Any, messages: list[OutboundEmail]) -> list[Delivery]:
        if any(m.to == self.address for m in messages):
            raise RuntimeError("the SMTP library crashed")
        return super().send_emails(session, messages)


def outside(db: Database, clock: FixedClock, channel: FlakyChannel) -> World:
    return World(db, clock, channels=lambda s, now: Channels(channel, channel))


def set_value(db: Database, key: str, value: str) -> None:
    with db.session() as s:
        settings.set_value(s, key, value)


def claims(db: Database) -> list[str | None]:
    with db.read() as s:
        return list(s.scalars(select(Trace.claimed_by).order_by(Trace.id)))


def released(db: Database) -> bool:
    """Every claim column back to nothing: a stale hand-off flag would make a later
    crash call a message "delivery unknown" that never left."""
    with db.read() as s:
        rows = s.execute(select(Trace.claimed_by, Trace.claimed_at, Trace.handoff)).all()
    return all(tuple(r) == (None, None, False) for r in rows)


def completed_at(db: Database) -> dict[int, datetime | None]:
    with db.read() as s:
        return dict(s.execute(select(Participant.record_id, Participant.completed_at)).all())


def test_a_bug_after_hand_off_leaves_that_message_unknown_and_retries_the_rest(
    db: Database, clock: FixedClock
) -> None:
    """Groups of one: Ann's message is sent and settled, Bob's is with the server when the
    channel fails, Cid's was never handed off. Bob's is an error, never sent again; Ann's
    stays sent; Cid's is tried alone and sent; no claim is left."""
    mail = BrokenFor("bob@example.com")
    w = outside(db, clock, mail)
    set_value(db, "engine.handoff_group", "1")
    w.people("Ann", "Bob", "Cid")
    cid = w.campaign(email("mail"))
    stats = w.run()
    assert w.states(cid, "mail") == {"Ann": "processed", "Bob": "error", "Cid": "processed"}
    assert w.messages(cid, "mail")["Bob"] == "Interrupted: delivery unknown"
    assert w.traces(cid, "mail")["Bob"]["done"] == clock.now()
    assert mail.sent == ["ann@example.com", "cid@example.com"]
    assert released(db)
    assert stats.executed == 3 and dict(stats.by_state) == {"processed": 2, "error": 1}
    w.run(days=1)
    assert mail.sent == ["ann@example.com", "cid@example.com"]  # Bob's is never re-sent


def test_each_culprit_of_a_claimed_batch_is_counted(
    db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine import actions

    real = actions.run_server_action

    def flaky(ctx, plan, act, content, rows):  # type: ignore[no-untyped-def]
        if any(r.record_id in broken for r in rows):
            raise RuntimeError("boom")
        return real(ctx, plan, act, content, rows)

    monkeypatch.setattr(actions, "run_server_action", flaky)
    w = outside(db, clock, FlakyChannel(0))
    _, bob, cid_ = w.people("Ann", "Bob", "Cid")
    broken = {bob, cid_}
    cid = w.campaign(action("a", tag("Done")))
    stats = w.run()
    assert w.states(cid, "a") == {"Ann": "processed", "Bob": "error", "Cid": "error"}
    assert dict(stats.by_state) == {"processed": 1, "error": 2}
    assert stats.executed == 3


class Lock:
    """Another program holding SQLite's write lock (as a long import would)."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=0)
        self.held = False

    def take(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.held = True

    def release(self) -> None:
        if self.held:
            self.conn.execute("ROLLBACK")
            self.held = False


@pytest.fixture
def locked_world(sqlite_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An outside channel whose first send lets another program take the write lock; the
    engine waits 0.2 s for it, then the database has failed."""
    monkeypatch.setenv("JOURNEYS_BUSY_TIMEOUT_MS", "200")
    db = Database(sqlite_url)
    lock = Lock(sqlite_url.removeprefix("sqlite:///"))

    class TakesTheLock(FlakyChannel):
        def send_emails(self, session: Any, messages: list[OutboundEmail]) -> list[Delivery]:
            out = super().send_emails(session, messages)
            if not lock.held and len(self.sent) == 1:
                lock.take()
            return out

    mail = TakesTheLock(0)
    w = outside(db, clock, mail)
    set_value(db, "engine.handoff_group", "1")
    w.people("Ann", "Bob")
    cid = w.campaign(email("mail"))
    yield w, cid, mail, lock, monkeypatch
    lock.release()
    lock.conn.close()
    db.dispose()


def test_a_database_failure_mid_batch_releases_the_claims_and_says_so(locked_world: Any) -> None:
    """The lock goes once the batch has rolled back: the release then marks the message
    that left as unknown, gives Bob's back, and the pass fails with the database's words."""
    w, cid, mail, lock, monkeypatch = locked_world
    real = batch_work.BatchWork.rollback

    def rollback(self: batch_work.BatchWork) -> None:
        real(self)
        lock.release()

    monkeypatch.setattr(batch_work.BatchWork, "rollback", rollback)
    with pytest.raises(EngineFailure) as failure:
        w.run()
    assert str(failure.value).startswith("the database failed during a batch: ")
    assert "database is locked" in str(failure.value)
    assert w.states(cid, "mail") == {"Ann": "error", "Bob": "scheduled"}
    assert w.messages(cid, "mail")["Ann"] == "Interrupted: delivery unknown"
    assert w.traces(cid, "mail")["Ann"]["done"] == w.clock.now()
    assert released(w.db)
    w.run()
    assert w.states(cid, "mail") == {"Ann": "error", "Bob": "processed"}
    assert mail.sent == ["ann@example.com", "bob@example.com"]  # Ann's once
    assert w.participants(cid) == {"Ann": "completed", "Bob": "completed"}
    assert set(completed_at(w.db).values()) == {w.clock.now()}


def test_claims_a_failed_release_left_are_taken_back_by_the_next_pass(
    locked_world: Any,
) -> None:
    """The lock outlives the release too: the claims stay. The same worker's next pass
    takes its own leftovers back at once (no other worker, no 15-minute wait)."""
    w, cid, mail, lock, _ = locked_world
    with pytest.raises(EngineFailure):
        w.run()
    assert all(claims(w.db))  # both still claimed: nothing could be written
    lock.release()
    stats = w.run()
    assert stats.recovered >= 1
    assert w.states(cid, "mail") == {"Ann": "error", "Bob": "processed"}
    assert w.messages(cid, "mail")["Ann"] == "Interrupted: delivery unknown"
    assert w.traces(cid, "mail")["Ann"]["done"] == w.clock.now()
    assert mail.sent == ["ann@example.com", "bob@example.com"]
    assert released(w.db)
    assert w.participants(cid) == {"Ann": "completed", "Bob": "completed"}
    assert set(completed_at(w.db).values()) == {w.clock.now()}


def test_a_database_failure_in_a_one_transaction_batch_says_so(
    sqlite_url: str, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEYS_BUSY_TIMEOUT_MS", "200")
    db = Database(sqlite_url)
    lock = Lock(sqlite_url.removeprefix("sqlite:///"))
    try:
        w = World(db, clock)
        w.people("Ann")
        cid = w.campaign(email("mail"))
        w.executor.sync_all(clock.now(), _stats(clock))
        lock.take()
        with pytest.raises(EngineFailure) as failure:
            w.executor.execute_due(clock.now())
        assert str(failure.value) == "the database failed during a batch: database is locked"
        lock.release()
        assert w.states(cid, "mail") == {"Ann": "scheduled"}  # rolled back, due again
        w.run()
        assert w.states(cid, "mail") == {"Ann": "processed"}
    finally:
        lock.release()
        lock.conn.close()
        db.dispose()


def _stats(clock: FixedClock) -> Any:
    from engine.executor import PassStats

    return PassStats(started_at=clock.now())


def test_each_claim_is_its_own_batch_in_due_order(db: Database, clock: FixedClock) -> None:
    """Two claims in a row never return the same trace; a batch runs its earliest-due
    trace first, whatever order the traces were made in."""
    w = outside(db, clock, FlakyChannel(0))
    w.people("Ann", "Bob")
    cid = w.campaign(email("mail"))
    w.executor.sync_all(clock.now(), _stats(clock))
    ann, bob = (w.traces(cid, "mail")[n]["id"] for n in ("Ann", "Bob"))
    with db.session() as s:  # Bob's was made later but is due earlier
        s.execute(update(Trace).where(Trace.id == bob).values(due_at=clock.now() - timedelta(1)))
    w.executor._batch_size = 1
    first = w.executor.claim(clock.now())
    second = w.executor.claim(clock.now())
    assert [r.id for r in first] == [bob] and [r.id for r in second] == [ann]
    assert first[0].claimed_by != second[0].claimed_by
    w.executor._batch_size = 2
    with db.session() as s:
        s.execute(update(Trace).values(claimed_by=None, claimed_at=None))
    both = w.executor.claim(clock.now())
    assert [r.id for r in both] == [bob, ann]


def test_a_live_workers_claims_are_left_alone_and_it_is_not_signalled(
    db: Database, clock: FixedClock
) -> None:
    """A claim by a process alive on this host is in flight: not stale, however long it
    takes (until the claim timeout), and asking whether it lives must not disturb it."""
    w = outside(db, clock, FlakyChannel(0))
    w.people("Ann")
    w.campaign(email("mail"))
    w.executor.sync_all(clock.now(), _stats(clock))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        token = f"{socket.gethostname()}:{sleeper.pid}:other:1"
        with db.session() as s:
            s.execute(update(Trace).values(claimed_by=token, claimed_at=datetime.now(UTC)))
        assert w.executor.recover_interrupted() == 0
        assert claims(db) == [token]
        assert sleeper.poll() is None  # still running: no signal was sent to it
        assert _pid_alive(sleeper.pid) and _pid_alive(os.getpid())
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not _pid_alive(sleeper.pid)
    assert w.executor.recover_interrupted() == 1  # now its worker is gone
    assert claims(db) == [None]


def test_recovery_ends_only_the_dead_workers_messages(db: Database, clock: FixedClock) -> None:
    """Two workers had messages with the server: the one whose process is gone loses
    its (delivery unknown), the live one's stay in flight; two dead workers' claims are
    all counted."""
    w = outside(db, clock, FlakyChannel(0))
    w.people("Ann", "Bob", "Cid")
    cid = w.campaign(email("mail"))
    ids = w.traces(cid, "mail")
    here = socket.gethostname()
    owners = {"Ann": f"{here}:999998:gone:1", "Bob": f"{here}:{os.getpid()}:live:1"}
    owners["Cid"] = f"{here}:999997:gone:2"
    with db.session() as s:
        for name, owner in owners.items():
            s.execute(
                update(Trace)
                .where(Trace.id == ids[name]["id"])
                .values(claimed_by=owner, claimed_at=datetime.now(UTC), handoff=True)
            )
    assert w.executor.recover_interrupted() == 2  # both dead workers' messages
    assert w.states(cid, "mail") == {"Ann": "error", "Bob": "scheduled", "Cid": "error"}
    assert claims(db)[1] == owners["Bob"]


def test_a_workers_own_claims_are_stale_only_after_the_timeout(
    db: Database, clock: FixedClock
) -> None:
    """A worker never takes back a batch it may still be running (another thread of its
    own), until the claim timeout says nobody runs a batch that long."""
    w = outside(db, clock, FlakyChannel(0))
    w.people("Ann")
    w.campaign(email("mail"))
    w.executor.sync_all(clock.now(), _stats(clock))
    mine = f"{w.executor.worker_id}:7"
    with db.session() as s:
        s.execute(update(Trace).values(claimed_by=mine, claimed_at=datetime.now(UTC)))
    assert w.executor.recover_interrupted() == 0
    assert claims(db) == [mine]
    other = World(db, clock).executor  # another worker on this host, whose owner lives
    assert other.recover_interrupted() == 0
    with db.session() as s:
        s.execute(update(Trace).values(claimed_at=datetime.now(UTC) - timedelta(hours=1)))
    assert w.executor.recover_interrupted() == 1
    assert claims(db) == [None]


def test_statement_limits_are_one_campaigns_fault_not_the_databases() -> None:
    """SQLite reports both as OperationalError: a statement too large concerns the
    campaign that built it (set aside), a locked or vanished database concerns all."""

    def failure(message: str) -> OperationalError:
        return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))

    assert _database_failed(failure("database is locked"))
    assert _database_failed(failure("disk I/O error"))
    assert not _database_failed(failure("too many SQL variables"))
    assert not _database_failed(failure("Expression tree is too large (maximum depth 1000)"))
    assert not _database_failed(ValueError("too many SQL variables"))
