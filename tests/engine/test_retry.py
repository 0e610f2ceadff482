"""`journeys retry` (SPEC §13): errored traces back to scheduled, the right ones only."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from engine import retry
from engine.channels import Channels
from engine.errors import UserError
from engine.models import Activity, Campaign, Contact, OutboxMessage, Participant, Trace

from .test_execution import FlakyChannel
from .world import World, action, email, tag

DEAD = f"{socket.gethostname()}:999999:dead:1"  # a worker whose pid does not exist


def retry_now(w: World, cid: int, **kw: object) -> retry.RetryResult:
    with w.db.session() as s:
        return retry.retry_traces(s, s.get(Campaign, cid), w.clock.now(), **kw)  # type: ignore[arg-type]


def outbox(w: World) -> int:
    with w.db.read() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def interrupted_world(w: World) -> int:
    """Ann and Bob: 'mail' interrupted mid-hand-off, 'div' failed by its own fault."""
    w.people("Ann", "Bob")
    cid = w.campaign(
        email("mail"),
        action("after", tag("Mailed"), parent="mail", trigger="activity"),
        action("div", {"kind": "update_record", "values": {"description": "{{ 1 // 0 }}"}}),
    )
    with w.db.session() as s:
        s.execute(update(Trace).values(claimed_by=DEAD, claimed_at=datetime.now(UTC)))
        mail = select(Activity.id).where(Activity.campaign_id == cid, Activity.key == "mail")
        s.execute(update(Trace).where(Trace.activity_id.in_(mail)).values(handoff=True))
    w.run()
    assert set(w.messages(cid, "mail").values()) == {retry.INTERRUPTED}
    assert w.states(cid, "div") == {"Ann": "error", "Bob": "error"}
    assert w.participants(cid) == {"Ann": "completed", "Bob": "completed"}
    return cid


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def test_retry_sends_interrupted_once_and_reopens_participants(w: World) -> None:
    cid = interrupted_world(w)
    assert outbox(w) == 0
    w.clock.advance(hours=2)
    result = retry_now(w, cid)
    assert (result.retried, result.reopened, result.campaign_running) == (2, 2, True)
    mail = w.traces(cid, "mail")
    assert {t["state"] for t in mail.values()} == {"scheduled"}
    assert {t["due"] for t in mail.values()} == {w.clock.now()}
    assert {t["attempts"] for t in mail.values()} == {0}
    assert w.participants(cid) == {"Ann": "running", "Bob": "running"}
    w.run()
    assert w.states(cid, "mail") == {"Ann": "processed", "Bob": "processed"}
    assert w.states(cid, "after") == {"Ann": "processed", "Bob": "processed"}  # E6 children
    assert outbox(w) == 2
    assert w.participants(cid) == {"Ann": "completed", "Bob": "completed"}
    assert retry_now(w, cid).retried == 0  # nothing curable is left: a retry is idempotent
    assert outbox(w) == 2


def test_default_leaves_own_errors_alone_every_error_takes_them(w: World) -> None:
    cid = interrupted_world(w)
    assert retry_now(w, cid, activity_key="div").retried == 0
    assert w.states(cid, "mail") == {"Ann": "error", "Bob": "error"}  # other activity untouched
    assert retry_now(w, cid, activity_key="div", every_error=True).retried == 2
    assert w.states(cid, "mail") == {"Ann": "error", "Bob": "error"}
    w.run()
    assert w.states(cid, "div") == {"Ann": "error", "Bob": "error"}  # still 1 // 0
    assert "division" in (w.messages(cid, "div")["Ann"] or "")


def test_removed_participants_and_unknown_activity(w: World) -> None:
    cid = interrupted_world(w)
    bob = select(Contact.id).where(Contact.name == "Bob")
    with w.db.session() as s:  # Bob left the audience (as a sync does it)
        s.execute(
            update(Participant)
            .where(Participant.campaign_id == cid, Participant.record_id.in_(bob))
            .values(state="removed")
        )
    assert retry_now(w, cid).retried == 1
    assert w.states(cid, "mail") == {"Ann": "scheduled", "Bob": "error"}
    with pytest.raises(UserError, match="no activity 'nope'"):
        retry_now(w, cid, activity_key="nope")


def test_gave_up_after_transient_failures_is_retried(db, clock) -> None:  # type: ignore[no-untyped-def]
    never = FlakyChannel(fail=100)
    w = World(db, clock, channels=lambda s, now: Channels(never, never))
    w.people("Bob")
    cid = w.campaign(email("mail"))
    for _ in range(6):
        w.run(hours=6)
    assert (w.messages(cid, "mail")["Bob"] or "").startswith(retry.GAVE_UP)
    never.fail = 0
    assert retry_now(w, cid).retried == 1
    w.run()
    assert w.states(cid, "mail") == {"Bob": "processed"}
    assert never.sent == ["bob@example.com"]


def test_stopped_campaign_waits(w: World) -> None:
    cid = interrupted_world(w)
    w.stop(cid)
    result = retry_now(w, cid)
    assert (result.retried, result.campaign_running) == (2, False)
    w.run()
    assert {t["state"] for t in w.traces(cid, "mail").values()} == {"scheduled"}
    assert outbox(w) == 0
