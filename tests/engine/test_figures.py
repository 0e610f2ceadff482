"""The trigger-kept figures equal a plain COUNT over the raw tables, whatever writes them.

The oracle is :mod:`engine.reporting`, which counts traces, participants and clicks
directly; :mod:`engine.api.figures` reads the summary tables. They must agree after
engine passes, interactions, leavers, test participants, random multi-row updates, a
deleted activity, PostgreSQL's compaction and the migration's count of existing rows.
"""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, func, select, update

from engine import campaigns, reporting
from engine.api import figures
from engine.db import Database, alembic_config
from engine.models import (
    Activity,
    ActivityHourStat,
    ActivityStat,
    Campaign,
    Contact,
    Link,
    LinkStat,
    Participant,
    ParticipantStat,
    Trace,
)

from .world import World, action, email, sms, tag

LINK = '<p><a href="https://shop.example/sale">Sale</a></p>'


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def agree(w: World, cid: int) -> dict[str, Any]:
    """Assert both ways give the same figures; return the report."""
    now = w.clock.now()
    with w.db.read() as s:
        counted = reporting.campaign_report(s, cid)
        daily = reporting.series(s, cid, now)
        hourly = reporting.series(s, cid, now, hourly=True)
        clicks = reporting.link_tracker(s, cid)
        listed = {c["id"]: c["participants"] for c in reporting.campaign_list(s)}
        joined = s.scalar(
            select(func.count()).where(Participant.campaign_id == cid, ~Participant.is_test)
        )
    assert listed[cid] == joined  # the campaign list's "Joined" column
    assert figures.campaign_figures(w.db, cid).as_report() == counted
    for oracle, hourly_flag in ((daily, False), (hourly, True)):
        got = figures.series(w.db, cid, now, hourly=hourly_flag)
        for key, by_state in oracle.items():
            assert got.of(key).processed == tuple(n for _b, n in by_state["processed"]), key
            assert got.of(key).rejected == tuple(n for _b, n in by_state["rejected"]), key
        assert_cohorts(w, cid, got)
    assert [asdict(f) for f in figures.links(w.db, cid)] == clicks
    return counted


def assert_cohorts(w: World, cid: int, got: figures.Series) -> None:
    """What each bucket's sent messages led to, counted from the traces in Python."""
    led_to = ("opened", "clicked", "replied", "bounced", "unsubscribed")
    with w.db.read() as s:
        rows = s.execute(
            select(Activity.key, Trace.done_at, *(getattr(Trace, f"{f}_at") for f in led_to))
            .join(Activity, Activity.id == Trace.activity_id)
            .where(Trace.campaign_id == cid, Trace.state == "processed", ~Trace.is_test)
            .where(Trace.done_at.is_not(None))
        ).all()
        keys = list(s.scalars(select(Activity.key).where(Activity.campaign_id == cid)))
    width = timedelta(hours=1) if got.hourly else timedelta(days=1)
    for key in keys:
        for f, figure in enumerate(led_to):
            want = [
                sum(1 for r in rows if r[0] == key and b <= r[1] < b + width and r[2 + f])
                for b in got.buckets
            ]
            assert list(getattr(got.of(key), figure)) == want, (key, figure, got.hourly)


def journey(w: World) -> int:
    w.contacts(
        *(
            {
                "name": n,
                "email": f"{n.lower()}@example.com",
                "phone": "+32470000001",
                "country": "BE",
            }
            for n in ("Ann", "Bob", "Cid", "Dee")
        ),
        {"name": "Nomail", "email": None, "phone": None, "country": "BE"},
        {"name": "Eve", "email": "eve@example.com", "country": "FR"},
    )
    return w.campaign(
        email("mail", body=LINK),
        email("opened", parent="mail", trigger="mail_open"),
        email("not_opened", parent="mail", trigger="mail_not_open", delay=2, unit="days"),
        sms("text", body="Sale https://shop.example/sms"),
        action("tag", tag("Seen"), delay=3),
        filter=[["country", "=", "BE"]],
    )


def test_figures_follow_a_journey_step_by_step(w: World) -> None:
    cid = journey(w)
    agree(w, cid)
    w.run()
    report = agree(w, cid)
    assert report["activities"]["mail"]["sent"] == 4
    assert report["activities"]["mail"]["canceled"] == 1  # no address
    with w.db.read() as s:
        link = s.scalar(select(Link.id).where(Link.campaign_id == cid, Link.url.like("%sale")))
    w.interact(cid, "mail", "Ann", "open")
    for _ in range(2):
        w.interact(cid, "mail", "Ann", "click", link_id=link)
    w.interact(cid, "mail", "Bob", "click", link_id=link)
    w.interact(cid, "mail", "Bob", "reply")
    w.interact(cid, "mail", "Cid", "bounce")
    report = agree(w, cid)
    assert report["activities"]["mail"]["opened"] == 2  # a click implies an open
    assert [(f.clicks, f.unique_clicks) for f in figures.links(w.db, cid) if f.id == link] == [
        (3, 2)
    ]
    eve = _record(w, "Eve")
    with w.db.session() as s:
        campaigns.launch_test(s, s.get(Campaign, cid), eve, w.clock.now())
    w.run()
    tid = w.traces(cid, "mail")["Eve (test)"]["id"]
    with w.db.session() as s:
        from engine import interactions

        interactions.record(s, [tid], "click", w.clock.now(), link_id=link)
    report = agree(w, cid)
    assert report["participants"]["test"] == 1
    assert report["activities"]["mail"]["sent"] == 4
    with w.db.session() as s:
        s.execute(update(Contact).where(Contact.name == "Dee").values(country="FR"))
    w.run(hours=1)
    report = agree(w, cid)
    assert report["participants"]["removed"] == 1
    for _ in range(3):
        w.run(days=1)
        agree(w, cid)
    assert agree(w, cid)["activities"]["tag"]["processed"] == 4


def _record(w: World, name: str) -> int:
    with w.db.read() as s:
        rid = s.scalar(select(Contact.id).where(Contact.name == name))
    assert rid is not None
    return rid


def test_figures_follow_random_multi_row_updates(w: World) -> None:
    cid = journey(w)
    w.run()
    rng = random.Random(3)
    now = w.clock.now()
    with w.db.read() as s:
        ids = list(s.scalars(select(Trace.id).where(Trace.campaign_id == cid)))
    states = ("scheduled", "processed", "rejected", "canceled", "error")
    for _ in range(25):
        chosen = rng.sample(ids, rng.randint(1, len(ids)))
        at = now - timedelta(hours=rng.randrange(0, 24 * 20))
        values: dict[str, Any] = {"state": rng.choice(states), "done_at": at}
        led_to = ("opened_at", "clicked_at", "replied_at", "bounced_at", "unsubscribed_at")
        values[rng.choice(led_to)] = at if rng.random() < 0.7 else None
        if rng.random() < 0.3:
            values["due_at"] = None if rng.random() < 0.5 else at
        with w.db.session() as s:
            s.execute(update(Trace).where(Trace.id.in_(chosen)).values(**values))
        agree(w, cid)


def test_a_deleted_activity_or_campaign_leaves_no_figures(w: World) -> None:
    cid = journey(w)
    other = journey(w)
    w.run()
    with w.db.session() as s:
        s.execute(delete(Activity).where(Activity.campaign_id == cid, Activity.key == "text"))
    agree(w, cid)
    with w.db.session() as s:
        campaigns.delete_campaign(s, s.get(Campaign, cid))
    with w.db.read() as s:
        for model in (ActivityStat, ActivityHourStat, ParticipantStat):
            assert s.scalar(select(func.count()).where(model.campaign_id == cid)) == 0
        assert (
            s.scalar(
                select(func.count())
                .select_from(LinkStat)
                .where(~LinkStat.link_id.in_(select(Link.id)))
            )
            == 0
        )
    agree(w, other)


def test_the_migration_counts_existing_rows(w: World, db: Database) -> None:
    cid = journey(w)
    w.run()
    w.interact(cid, "mail", "Ann", "open")
    before = agree(w, cid)
    cfg = alembic_config(db.engine)
    command.downgrade(cfg, "0003")
    with db.session() as s:  # written while no trigger exists
        s.execute(update(Trace).where(Trace.state == "processed").values(state="error"))
    command.upgrade(cfg, "head")
    after = agree(w, cid)
    assert after["activities"]["mail"]["error"] == before["activities"]["mail"]["processed"]


def test_compaction_keeps_every_figure(
    w: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = journey(w)
    w.run()
    for _ in range(3):
        w.run(days=1)
    before = agree(w, cid)
    monkeypatch.setattr(figures, "COMPACT_ABOVE", 0)
    with db.session() as s:
        rows = s.scalar(select(func.count()).select_from(ActivityStat))
        folded = figures.compact(s)
        after_rows = s.scalar(select(func.count()).select_from(ActivityStat))
    if db.dialect == "postgresql":
        assert folded > 0 and after_rows < rows  # differences appended, then folded
    else:
        assert folded == 0  # one row per key already
    assert agree(w, cid) == before


def test_a_syncing_pass_compacts_the_figures(
    w: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine folds PostgreSQL's appended difference rows at each sync, so figures
    read few rows however long a campaign runs; SQLite keeps one row per key anyway."""
    cid = journey(w)
    for _ in range(3):
        w.run(days=1)
    monkeypatch.setattr(figures, "COMPACT_ABOVE", 0)
    w.run(hours=1)  # a pass with a sync
    with db.read() as s:
        rows = s.scalar(select(func.count()).select_from(ActivityStat))
        keys = s.scalar(select(func.count(func.distinct(ActivityStat.activity_id))))
    assert rows == keys  # one row per activity left
    agree(w, cid)  # and every figure still equals the COUNT over the raw tables
