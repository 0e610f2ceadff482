"""E10 editing a running campaign and E11 test mode."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import campaigns, settings
from engine.models import Activity, Campaign, OutboxMessage
from tests.conftest import T0

from .world import World, action, email, tag


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def _add(w: World, cid: int, parent_key: str | None, **values) -> None:  # type: ignore[no-untyped-def]
    with w.db.session() as s:
        c = s.get(Campaign, cid)
        parent = campaigns.find_activity(s, cid, parent_key).id if parent_key else None
        campaigns.add_activity(s, c, {"parent_id": parent, "filter": [], **values}, w.clock.now())


def test_e10_update_participants(w: World) -> None:
    w.people("Ann", "Bob", "Cid")
    cid = w.campaign(email("mail"), action("later", tag("L"), delay=5))
    w.run()
    w.interact(cid, "mail", "Ann", "open")
    w.run(hours=5)
    assert w.participants(cid) == {"Ann": "completed", "Bob": "completed", "Cid": "completed"}
    w.clock.advance(hours=1)
    _add(
        w,
        cid,
        None,
        key="new_root",
        name="New root",
        type="server_action",
        trigger="begin",
        delay_amount=1,
        delay_unit="hours",
        content={"kind": "update_record", "values": {"tags": {"add": ["R"]}}},
    )
    _add(
        w,
        cid,
        "mail",
        key="no_open",
        name="No open",
        type="server_action",
        trigger="mail_not_open",
        delay_amount=1,
        delay_unit="days",
        content={"kind": "update_record", "values": {"tags": {"add": ["N"]}}},
    )
    with w.db.session() as s:
        assert campaigns.is_modified(s, cid)
        counts = campaigns.apply_update(
            s, s.get(Campaign, cid), w.clock.now(), update_participants=True
        )
        assert not campaigns.is_modified(s, cid)
    t = w.traces(cid)
    # new begin activity: only running participants (all completed here -> none)
    assert not any(k.startswith("new_root/") for k in t)
    # new child: under every processed parent, skipped where the mail was opened
    assert {k for k in t if k.startswith("no_open/")} == {"no_open/Bob", "no_open/Cid"}
    assert t["no_open/Bob"]["due"] == T0 + timedelta(days=1)  # parent time + delay
    assert counts["created"] == 2
    assert w.participants(cid)["Bob"] == "running"  # completed participants run again


def test_e10_new_root_and_redating(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(action("slow", tag("S"), delay=10))
    _add(
        w,
        cid,
        None,
        key="extra",
        name="Extra",
        type="server_action",
        trigger="begin",
        delay_amount=2,
        delay_unit="hours",
        content={"kind": "update_record", "values": {"tags": {"add": ["E"]}}},
    )
    with w.db.session() as s:
        act = campaigns.find_activity(s, cid, "slow")
        campaigns.set_delay(s, act, 3, "hours", w.clock.now())
    w.clock.advance(hours=1)
    with w.db.session() as s:
        campaigns.apply_update(s, s.get(Campaign, cid), w.clock.now(), update_participants=True)
    t = w.traces(cid)
    assert t["slow/Ann"]["due"] == T0 + timedelta(hours=3)  # re-dated from its anchor
    assert t["extra/Ann"]["due"] == T0 + timedelta(hours=3)  # now + delay


def test_e10_dont_update_leaves_participants_alone(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(action("slow", tag("S"), delay=10))
    with w.db.session() as s:
        campaigns.set_delay(s, campaigns.find_activity(s, cid, "slow"), 3, "hours", T0)
        assert campaigns.is_modified(s, cid)
        campaigns.apply_update(s, s.get(Campaign, cid), T0, update_participants=False)
        assert not campaigns.is_modified(s, cid)
    assert w.traces(cid, "slow")["Ann"]["due"] == T0 + timedelta(hours=10)
    w.people("Bob")
    w.run()
    assert w.traces(cid, "slow")["Bob"]["due"] == T0 + timedelta(hours=3)


def test_e11_test_participants(w: World) -> None:
    ann, _ = w.people("Ann", "Bob")
    cid = w.campaign(email("mail"), start=False)
    with w.db.session() as s:
        settings.set_value(s, "test.recipient_email", "qa@example.com")
        pid = campaigns.launch_test(s, s.get(Campaign, cid), ann, T0)
    assert pid
    w.run()  # draft campaign: only the test participant runs
    assert w.states(cid, "mail") == {"Ann (test)": "processed"}
    with w.db.session() as s:
        assert s.scalars(select(OutboxMessage.to)).all() == ["qa@example.com"]
    w.start(cid)  # the test never blocks real enrolment
    w.run()
    assert w.states(cid, "mail") == {
        "Ann (test)": "processed",
        "Ann": "processed",
        "Bob": "processed",
    }
    report = w.report(cid)
    assert report["participants"] == {"running": 0, "completed": 2, "removed": 0, "test": 1}
    assert report["activities"]["mail"]["sent"] == 2
    # a second test of the same record is not a duplicate
    with w.db.session() as s:
        campaigns.launch_test(s, s.get(Campaign, cid), ann, T0)
    w.run()
    with w.db.session() as s:
        assert s.scalars(select(OutboxMessage.to).order_by(OutboxMessage.id)).all() == [
            "qa@example.com",
            "ann@example.com",
            "bob@example.com",
            "qa@example.com",
        ]


def test_e11_run_or_cancel_steps_one_by_one(w: World) -> None:
    (ann,) = w.people("Ann")
    cid = w.campaign(action("a", tag("A"), delay=3), action("b", tag("B"), delay=5), start=False)
    with w.db.session() as s:
        campaigns.launch_test(s, s.get(Campaign, cid), ann, T0)
    t = w.traces(cid)
    with w.db.session() as s:
        campaigns.run_trace_now(s, t["a/Ann (test)"]["id"], T0)
        campaigns.cancel_trace(s, t["b/Ann (test)"]["id"], T0)
    w.run()
    t = w.traces(cid)
    assert t["a/Ann (test)"]["state"] == "processed"
    assert t["b/Ann (test)"]["message"] == "Canceled by the tester"
    assert w.participants(cid) == {"Ann (test)": "completed"}
    _ = Activity
