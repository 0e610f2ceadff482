"""E1 start/stop, E2 sync, E3 begin traces, E12 one clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from engine.errors import UserError, ValidationError
from engine.models import Contact
from tests.conftest import T0

from .world import World, action, tag


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def test_e1_start_refuses_empty_and_invalid_campaigns(w: World) -> None:
    cid = w.campaign(action("a", tag("X")), start=False)
    with w.db.session() as s:
        from engine.models import Activity

        s.execute(delete(Activity))
    with pytest.raises(ValidationError, match="no activit"):
        w.start(cid)
    cid2 = w.campaign(action("a", tag("X")), start=False)
    with w.db.session() as s:
        from engine.models import Campaign

        s.execute(update(Campaign).where(Campaign.id == cid2).values(filter=[["nope", "=", 1]]))
    with pytest.raises(ValidationError, match="nope"):
        w.start(cid2)
    assert w.participants(cid2) == {}
    w.people("Ann")
    cid3 = w.campaign(action("a", tag("X")), start=False)
    with w.db.session() as s:
        from engine.models import Campaign

        s.execute(update(Campaign).where(Campaign.id == cid3).values(archived=True))
    with pytest.raises(UserError, match="archived: restore it"):
        w.start(cid3)
    assert w.participants(cid3) == {}


def test_e1_start_syncs_at_once_and_stop_freezes(w: World) -> None:
    w.people("Ann", "Bob")
    cid = w.campaign(action("a", tag("X"), delay=1))
    assert w.participants(cid) == {"Ann": "running", "Bob": "running"}
    assert {t["due"] for t in w.traces(cid, "a").values()} == {T0 + timedelta(hours=1)}
    w.stop(cid)
    with pytest.raises(UserError, match="not running"):
        w.stop(cid)
    w.run(hours=2)
    assert w.states(cid, "a") == {"Ann": "scheduled", "Bob": "scheduled"}
    w.start(cid)  # restart: scheduled traces resume
    w.run()
    assert w.states(cid, "a") == {"Ann": "processed", "Bob": "processed"}
    with pytest.raises(UserError, match="already running"):
        w.start(cid)


def test_e2_unique_field_skips_duplicates_and_reconsiders_later(w: World) -> None:
    ann, ann2, _ = w.contacts(
        {"name": "Ann", "email": "ann@example.com"},
        {"name": "Ann again", "email": " ANN@example.com "},
        {"name": "Nobody", "email": None},
    )
    cid = w.campaign(action("a", tag("X")), unique_field="email")
    assert w.participants(cid) == {"Ann": "running"}
    # The first Ann changes address: her old one is still taken by her participant.
    with w.db.session() as s:
        s.execute(update(Contact).where(Contact.id == ann2).values(email="ann2@example.com"))
    w.run()
    assert w.participants(cid) == {"Ann": "completed", "Ann again": "completed"}
    del ann


def test_e2_leavers_are_removed_and_never_rejoin(w: World) -> None:
    ids = w.people("Ann", "Bob", "Cid", "Dee")
    cid = w.campaign(action("a", tag("X"), delay=2), filter=[["country", "=", "BE"]])
    assert w.participants(cid) == {}
    with w.db.session() as s:
        s.execute(update(Contact).values(country="BE"))
    w.run()
    assert len(w.participants(cid)) == 4
    with w.db.session() as s:
        s.execute(update(Contact).where(Contact.id == ids[0]).values(active=False))  # archived
        s.execute(delete(Contact).where(Contact.id == ids[1]))  # deleted
        s.execute(update(Contact).where(Contact.id == ids[2]).values(country="FR"))  # leaves
    stats = w.run(hours=1)
    assert stats.removed == 3
    assert w.participants(cid) == {"Ann": "removed", "Cid": "removed", "Dee": "running"}
    assert w.messages(cid, "a") == {
        "Ann": "Removed from audience",
        "Cid": "Removed from audience",
        "Dee": None,
    }
    with w.db.session() as s:
        s.execute(update(Contact).values(country="BE", active=True))
    w.run(hours=2)
    assert w.participants(cid) == {"Ann": "removed", "Cid": "removed", "Dee": "completed"}


def test_e3_begin_traces_due_at_join_plus_delay(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(
        action("now", tag("A")), action("later", tag("B"), delay=2, unit="days"), start=False
    )
    w.clock.set(T0 + timedelta(hours=5))
    w.start(cid)
    t = w.traces(cid)
    assert t["now/Ann"]["due"] == T0 + timedelta(hours=5)
    assert t["later/Ann"]["due"] == T0 + timedelta(days=2, hours=5)
    # joining later: a new contact joins at the next sync with its own join time
    w.clock.advance(hours=1)
    w.people("Bob")
    w.run()
    assert w.traces(cid)["later/Bob"]["due"] == T0 + timedelta(days=2, hours=6)


def test_e3_months_are_calendar_months(w: World) -> None:
    w.people("Ann")
    w.clock.set(T0.replace(month=1, day=31))
    cid = w.campaign(action("m", tag("A"), delay=1, unit="months"))
    assert w.traces(cid, "m")["Ann"]["due"] == T0.replace(month=2, day=28)


def test_e12_every_decision_reads_the_injected_clock(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(action("a", tag("A"), delay=3))
    w.run(hours=2, minutes=59)
    assert w.states(cid, "a") == {"Ann": "scheduled"}
    w.run(minutes=1)
    assert w.states(cid, "a") == {"Ann": "processed"}
    assert w.traces(cid, "a")["Ann"]["done"] == T0 + timedelta(hours=3)
