"""E2 audience sync: what a sync may touch, and what a unique field means across passes.

Each test here pins a rule that a mutation of ``engine/sync.py`` once broke without any
other test noticing (issue 22): a sync that reaches into another campaign, a test
participant removed as a leaver, a leaver's finished steps rewritten, duplicates that
join on the next pass.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from engine import campaigns
from engine.models import Campaign, Contact, Participant, User

from .world import World, action, tag


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def test_a_sync_removes_leavers_of_its_own_campaign_only(w: World) -> None:
    w.contacts({"name": "Ann", "country": "BE"}, {"name": "Bob", "country": "FR"})
    be = w.campaign(action("a", tag("X"), delay=5), filter=[["country", "=", "BE"]])
    fr = w.campaign(action("a", tag("Y"), delay=5), filter=[["country", "=", "FR"]])
    w.run(hours=1)
    assert w.participants(be) == {"Ann": "running"}
    assert w.participants(fr) == {"Bob": "running"}
    assert w.states(fr, "a") == {"Bob": "scheduled"}


def test_a_leaver_keeps_its_finished_steps_and_its_waiting_ones_end_now(w: World) -> None:
    (ann,) = w.contacts({"name": "Ann", "country": "BE"})
    cid = w.campaign(
        action("first", tag("A")),
        action("later", tag("B"), delay=3),
        filter=[["country", "=", "BE"]],
    )
    w.run()
    assert w.states(cid, "first") == {"Ann": "processed"}
    with w.db.session() as s:
        s.execute(update(Contact).where(Contact.id == ann).values(country="FR"))
    w.run(hours=1)
    left_at = w.clock.now()
    first, later = w.traces(cid, "first")["Ann"], w.traces(cid, "later")["Ann"]
    assert (first["state"], first["message"]) == ("processed", None)
    assert first["done"] < left_at
    assert (later["state"], later["message"], later["done"]) == (
        "canceled",
        "Removed from audience",
        left_at,
    )
    with w.db.read() as s:
        removed_at = s.scalar(select(Participant.removed_at).where(Participant.record_id == ann))
    assert removed_at == left_at


def test_a_test_participant_outside_the_audience_is_not_removed(w: World) -> None:
    (ann,) = w.contacts({"name": "Ann", "country": "FR"})
    cid = w.campaign(action("a", tag("X"), delay=5), filter=[["country", "=", "BE"]])
    with w.db.session() as s:
        campaigns.launch_test(s, s.get(Campaign, cid), ann, w.clock.now())
    w.run(hours=1)
    assert w.participants(cid) == {"Ann (test)": "running"}
    assert w.states(cid, "a") == {"Ann (test)": "scheduled"}


def test_a_unique_field_still_applies_the_audience_filter(w: World) -> None:
    w.contacts(
        {"name": "Ann", "email": "ann@example.com", "country": "BE"},
        {"name": "Bob", "email": "bob@example.com", "country": "FR"},
    )
    cid = w.campaign(action("a", tag("X")), unique_field="email", filter=[["country", "=", "BE"]])
    assert w.participants(cid) == {"Ann": "running"}


def test_every_distinct_value_joins_in_the_same_pass(w: World) -> None:
    w.people("Ann", "Bob", "Cid")
    w.contacts({"name": "Ann twin", "email": "ANN@example.com"})
    cid = w.campaign(action("a", tag("X"), delay=1), unique_field="email")
    assert w.participants(cid) == {"Ann": "running", "Bob": "running", "Cid": "running"}


def test_a_duplicate_stays_out_on_later_passes(w: World) -> None:
    w.people("Ann")
    w.contacts({"name": "Ann twin", "email": " ann@EXAMPLE.com"})
    cid = w.campaign(action("a", tag("X"), delay=10), unique_field="email")
    for _ in range(3):
        w.run(hours=1)
    assert w.participants(cid) == {"Ann": "running"}


def test_a_participant_whose_address_changes_does_not_join_again(w: World) -> None:
    (ann,) = w.people("Ann")
    cid = w.campaign(action("a", tag("X"), delay=10), unique_field="email")
    with w.db.session() as s:
        s.execute(update(Contact).where(Contact.id == ann).values(email="ann.new@example.com"))
    w.run(hours=1)
    with w.db.read() as s:
        count = s.scalar(select(func.count()).where(Participant.campaign_id == cid))
        error = s.scalar(select(Campaign.engine_error).where(Campaign.id == cid))
    assert (count, error) == (1, None)
    assert w.participants(cid) == {"Ann": "running"}


def test_a_completed_participant_who_leaves_stays_completed(w: World) -> None:
    (ann,) = w.contacts({"name": "Ann", "country": "BE"})
    cid = w.campaign(action("a", tag("X")), filter=[["country", "=", "BE"]])
    w.run()
    assert w.participants(cid) == {"Ann": "completed"}
    with w.db.session() as s:
        s.execute(update(Contact).where(Contact.id == ann).values(country="FR"))
    assert w.run(hours=1).removed == 0
    assert w.participants(cid) == {"Ann": "completed"}


def test_an_empty_unique_value_means_skip(w: World) -> None:
    w.contacts(
        {"name": "Blank", "email": ""},
        {"name": "Spaces", "email": "   "},
        {"name": "None", "email": None},
        {"name": "Ann", "email": "ann@example.com"},
    )
    cid = w.campaign(action("a", tag("X"), delay=5), unique_field="email")
    w.run(hours=1)
    assert w.participants(cid) == {"Ann": "running"}


def test_a_unique_relation_field_compares_the_related_record(w: World) -> None:
    with w.db.session() as s:
        sam, kim = (
            s.execute(insert(User).values(name=n, email=f"{n}@shop.example")).inserted_primary_key[
                0
            ]
            for n in ("sam", "kim")
        )
    w.contacts(
        {"name": "Ann", "salesperson_id": sam},
        {"name": "Bob", "salesperson_id": sam},
        {"name": "Cid", "salesperson_id": kim},
        {"name": "Dee", "salesperson_id": None},
    )
    cid = w.campaign(action("a", tag("X"), delay=1), unique_field="salesperson")
    assert w.participants(cid) == {"Ann": "running", "Cid": "running"}


def test_a_unique_value_taken_in_another_campaign_does_not_block(w: World) -> None:
    w.people("Ann", "Bob")
    first = w.campaign(action("a", tag("X"), delay=10), unique_field="email")
    second = w.campaign(action("a", tag("Y"), delay=10), unique_field="email")
    assert w.participants(first) == w.participants(second) == {"Ann": "running", "Bob": "running"}


def test_a_relative_date_filter_is_read_at_the_pass_time(w: World) -> None:
    now = w.clock.now()
    w.contacts(
        {"name": "New", "created_at": now - timedelta(days=2)},
        {"name": "Old", "created_at": now - timedelta(days=30)},
    )
    cid = w.campaign(
        action("a", tag("X"), delay=100), filter=[["created_at", ">=", {"now": "-7 days"}]]
    )
    assert w.participants(cid) == {"New": "running"}
    w.run(days=6)  # "New" is now 8 days old: it leaves the audience
    assert w.participants(cid) == {"New": "removed"}
