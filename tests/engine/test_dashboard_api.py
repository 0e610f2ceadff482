"""The dashboard's engine API: KPIs against the previous period, the funnel along a
path, a participant's timeline, and paged traces and participants (issue 23).

The oracle for the pages is :func:`engine.reporting.traces` (every trace, by COUNT-free
plain SELECT); KPIs are checked against the campaign totals and a clock moved on.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, update

from engine import reporting
from engine.api import dashboard, figures, tables
from engine.api.tables import Query
from engine.errors import UserError
from engine.models import Contact, Participant, Trace

from .world import World, email, sms

LINK = '<p><a href="https://shop.example/sale">Sale</a></p>'


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def journey(w: World) -> int:
    w.people("Ann", "Bob", "Cid", "Dee", "Zed_%")
    cid = w.campaign(
        email("mail", body=LINK),
        sms("text", parent="mail", trigger="mail_click"),
        email("again", parent="mail", trigger="mail_open", delay=1, unit="days"),
    )
    w.run()
    w.interact(cid, "mail", "Ann", "open")
    w.interact(cid, "mail", "Bob", "click")
    w.interact(cid, "mail", "Cid", "bounce")
    return cid


def test_kpis_this_period_and_the_one_before(w: World) -> None:
    cid = journey(w)
    with w.db.session() as s:  # Dee unsubscribes through the first message
        dee = s.scalar(select(Contact.id).where(Contact.name == "Dee"))
        s.execute(
            update(Trace)
            .where(Trace.record_id == dee, Trace.state == "processed")
            .values(unsubscribed_at=w.clock.now())
        )
    mail = figures.campaign_figures(w.db, cid).activity("mail")
    text = figures.campaign_figures(w.db, cid).activity("text")
    assert mail is not None and text is not None and mail.sent == 5
    k = dashboard.kpis(w.db, cid, w.clock.now(), 7)
    sent = mail.sent + text.sent
    assert k.tile("sent").value == sent and k.tile("sent").previous == 0
    assert k.tile("opened").value == pytest.approx(100.0 * mail.opened / mail.sent)
    assert k.tile("clicked").value == pytest.approx(100.0 * (mail.clicked + text.clicked) / sent)
    assert k.tile("bounced").value == pytest.approx(100.0 / sent)
    assert k.tile("unsubscribed").value == pytest.approx(100.0 / sent)
    assert k.tile("opened").previous is None and k.tile("opened").change is None  # none sent
    assert (k.tile("joined").value, k.tile("joined").previous) == (5, 0)
    assert k.tile("running").value == figures.campaign_figures(w.db, cid).participants.running
    assert k.tile("running").previous == 0 == running_at(w, cid, k.start)

    # A week and a day later: that week is the previous period; "again" went out meanwhile.
    w.run(days=1)
    w.clock.advance(days=7)
    later = dashboard.kpis(w.db, cid, w.clock.now(), 7)
    assert later.tile("sent").previous == sent + 2  # Ann and Bob opened: "again" for both
    assert later.tile("sent").value == 0
    assert later.tile("opened").previous == pytest.approx(100.0 * mail.opened / (mail.sent + 2))
    assert later.tile("opened").value is None
    assert (later.tile("joined").value, later.tile("joined").previous) == (0, 5)
    assert later.tile("running").previous == running_at(w, cid, later.start)
    assert later.tile("completed").previous == len(ended(w, cid, later.start))
    # A longer period holds both weeks; the rates are over every message it sent.
    month = dashboard.kpis(w.db, cid, w.clock.now(), 30)
    assert month.tile("sent").value == sent + 2 and month.tile("sent").previous == 0


def ended(w: World, cid: int, before: datetime) -> list[str]:
    with w.db.read() as s:
        rows = s.execute(select(Participant.completed_at).where(Participant.campaign_id == cid))
        return [str(at) for (at,) in rows if at is not None and at < before]


def running_at(w: World, cid: int, at: datetime) -> int:
    """Participants who had joined and not yet left at ``at``, counted in Python."""
    with w.db.read() as s:
        rows = s.execute(
            select(Participant.joined_at, Participant.completed_at, Participant.removed_at).where(
                Participant.campaign_id == cid, ~Participant.is_test
            )
        ).all()
    return sum(
        1
        for joined, completed, removed in rows
        if joined < at and not (completed and completed < at) and not (removed and removed < at)
    )


def test_kpi_changes_are_points_for_rates_and_percent_for_counts() -> None:
    assert dashboard.Kpi("opened", "Open rate", 30.0, 20.0, percent=True).change == 10.0
    assert dashboard.Kpi("sent", "Sent", 150, 100).change == 50.0
    assert dashboard.Kpi("sent", "Sent", 5, 0).change is None


@pytest.mark.parametrize("days", [0, -1, 100_000, 1.5, True, "7"])
def test_absurd_periods_are_refused(w: World, days: object) -> None:
    cid = journey(w)
    with pytest.raises(UserError, match="a period is 1 to"):
        dashboard.kpis(w.db, cid, w.clock.now(), days)  # type: ignore[arg-type]


def test_the_funnel_follows_the_path_to_a_step(w: World) -> None:
    cid = journey(w)
    w.run(hours=1)
    assert dashboard.path_to(w.db, cid, "text") == ("mail", "text")
    steps = dashboard.funnel(w.db, cid, ("mail", "text"))
    assert [(s.key, s.reached) for s in steps] == [("", 5), ("mail", 5), ("text", 1)]
    assert steps[2].of_previous == pytest.approx(20.0) and steps[2].of_first == pytest.approx(20.0)
    with pytest.raises(UserError, match="does not follow"):
        dashboard.funnel(w.db, cid, ("text",))
    with pytest.raises(UserError, match="no step"):
        dashboard.path_to(w.db, cid, "nope")


def test_a_participants_timeline(w: World) -> None:
    cid = journey(w)
    w.run(hours=1)
    with w.db.read() as s:
        bob = s.scalar(
            select(Participant.id)
            .join(Contact, Contact.id == Participant.record_id)
            .where(Participant.campaign_id == cid, Contact.name == "Bob")
        )
    assert bob is not None
    t = dashboard.timeline(w.db, bob)
    by_key = {s.key: s for s in t.steps}
    assert by_key["mail"].state == "processed"
    assert [kind for kind, _ in by_key["mail"].events] == ["opened", "clicked"]
    assert by_key["text"].state == "processed"  # the click's SMS went at once
    assert by_key["again"].state == "scheduled" and by_key["again"].due_at is not None
    with pytest.raises(UserError):
        dashboard.timeline(w.db, 999_999)


def oracle(w: World, cid: int, **kw: object) -> list[dict]:
    with w.db.read() as s:
        return reporting.traces(s, cid, **kw)  # type: ignore[arg-type]


def test_trace_pages_filter_sort_search_and_page(w: World) -> None:
    cid = journey(w)
    w.run(hours=1)
    every = oracle(w, cid)
    q = Query()
    assert tables.trace_total(w.db, cid, q) == len(every)
    pages = [tables.trace_page(w.db, cid, q, off, 2) for off in range(0, len(every) + 2, 2)]
    got = [r.id for page in pages for r in page]
    assert got == sorted((r["id"] for r in every), reverse=True)  # newest first, no gaps
    for state in ("processed", "scheduled", "waiting", "canceled"):
        want = oracle(w, cid, state=state)
        rows = tables.trace_page(w.db, cid, Query(state=state))
        assert sorted(r.id for r in rows) == sorted(r["id"] for r in want), state
        assert tables.trace_total(w.db, cid, Query(state=state)) == len(want), state
    rows = tables.trace_page(w.db, cid, Query(activity="mail", sort="record", descending=False))
    assert [r.record for r in rows] == ["Ann", "Bob", "Cid", "Dee", "Zed_%"]
    assert {r.record for r in tables.trace_page(w.db, cid, Query(search="BO"))} == {"Bob"}
    assert {r.record for r in tables.trace_page(w.db, cid, Query(search="d_%"))} == {"Zed_%"}
    assert tables.trace_page(w.db, cid, Query(search="_")) != ()  # literal: Zed_% only
    assert {r.record for r in tables.trace_page(w.db, cid, Query(search="_"))} == {"Zed_%"}
    assert tables.trace_total(w.db, cid, Query(search="bo")) is None  # not counted
    assert tables.trace_page(w.db, cid, Query(search="dee@example"))[0].record == "Dee"


def test_participant_pages(w: World) -> None:
    cid = journey(w)
    w.run(hours=1)
    rows = tables.participant_page(w.db, cid, Query(sort="steps"))
    assert rows[0].record == "Bob" and rows[0].steps == 2  # the email and its SMS
    assert tables.participant_total(w.db, cid, Query()) == 5
    done = tables.participant_page(w.db, cid, Query(state="completed"))
    assert [r.record for r in done] == ["Cid"]  # bounced: nothing left to wait for
    assert tables.participant_total(w.db, cid, Query(state="completed")) == 1
    assert done[0].ended_at is not None
    assert [r.record for r in tables.participant_page(w.db, cid, Query(search="ann"))] == ["Ann"]


@pytest.mark.parametrize(
    "query, offset, limit, message",
    [
        (Query(sort="password"), 0, 10, "cannot sort by"),
        (Query(state="lost"), 0, 10, "no state"),
        (Query(search="x" * 500), 0, 10, "at most"),
        (Query(), -1, 10, "a page is"),
        (Query(), 0, 0, "a page is"),
        (Query(), 0, 10**9, "a page is"),
    ],
)
def test_bad_table_queries_are_refused(
    w: World, query: Query, offset: int, limit: int, message: str
) -> None:
    cid = journey(w)
    with pytest.raises(UserError, match=message):
        tables.trace_page(w.db, cid, query, offset, limit)
    with pytest.raises(UserError):
        tables.participant_page(w.db, 999_999, Query())


def test_pages_of_another_campaign_show_nothing_of_this_one(w: World) -> None:
    cid = journey(w)
    other = w.campaign(email("solo"))
    w.run(hours=1)
    assert all(r.activity == "solo" for r in tables.trace_page(w.db, other, Query()))
    assert tables.trace_total(w.db, other, Query()) == 5
    assert "solo" not in {r.activity for r in tables.trace_page(w.db, cid, Query(), 0, 100)}


def test_participant_tiles_follow_every_change_within_the_hour(w: World) -> None:
    """The participant tiles are kept between refreshes; a join, a completion or a
    removal at the same moment must still show."""
    cid = journey(w)
    now = w.clock.now()
    first = dashboard.kpis(w.db, cid, now, 7)
    assert dashboard.kpis(w.db, cid, now, 7) == first  # nothing changed: the same answer
    w.people("Eve")
    w.run()  # Eve joins, in the same hour
    joined = dashboard.kpis(w.db, cid, now, 7)
    assert joined.tile("joined").value == first.tile("joined").value + 1
    with w.db.session() as s:  # another process ends Ann's journey, and removes Bob
        for name, state, column in (
            ("Ann", "completed", "completed_at"),
            ("Bob", "removed", "removed_at"),
        ):
            rid = s.scalar(select(Contact.id).where(Contact.name == name))
            s.execute(
                update(Participant)
                .where(Participant.campaign_id == cid, Participant.record_id == rid)
                .values({"state": state, column: now})
            )
    moved = dashboard.kpis(w.db, cid, now, 7)
    assert moved.tile("completed").value == joined.tile("completed").value + 1
    assert moved.tile("removed").value == joined.tile("removed").value + 1
    assert moved.tile("running").value == joined.tile("running").value - 2
