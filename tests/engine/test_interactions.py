"""E7 interactions and E8 the engagement window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from engine.models import Contact, Interaction, Participant
from tests.conftest import T0

from .world import World, action, email, sms, tag


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def branches(parent: str = "mail") -> list[dict]:
    return [
        action("opened", tag("Opened"), parent=parent, trigger="mail_open", delay=1),
        action(
            "not_opened", tag("Cold"), parent=parent, trigger="mail_not_open", delay=2, unit="days"
        ),
        action("clicked", tag("Clicked"), parent=parent, trigger="mail_click"),
        action(
            "not_clicked",
            tag("NoClick"),
            parent=parent,
            trigger="mail_not_click",
            delay=3,
            unit="days",
        ),
        action("replied", tag("Replied"), parent=parent, trigger="mail_reply"),
        action(
            "not_replied",
            tag("NoReply"),
            parent=parent,
            trigger="mail_not_reply",
            delay=4,
            unit="days",
        ),
        action("bounced", tag("Bounced"), parent=parent, trigger="mail_bounce"),
    ]


def test_e7_click_implies_open_and_cancels_not_siblings(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(email("mail", body='<a href="https://example.com/x">x</a>'), *branches())
    w.run(hours=1)
    res = w.interact(cid, "mail", "Ann", "click")
    assert res.first_time == 2  # the click and its implied open
    t = w.traces(cid)
    assert t["clicked/Ann"]["state"] == "processed"  # delay 0: same pass
    assert t["opened/Ann"]["due"] == T0 + timedelta(hours=2)
    assert t["not_opened/Ann"]["message"] == "Parent activity mail opened"
    assert t["not_clicked/Ann"]["message"] == "Parent activity mail clicked"
    assert t["not_replied/Ann"]["state"] == "scheduled"
    assert t["replied/Ann"]["due"] is None and t["bounced/Ann"]["due"] is None
    counters = w.report(cid)["activities"]["mail"]
    assert (counters["opened"], counters["clicked"], counters["replied"]) == (1, 1, 0)


def test_e7_reply_implies_open(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(email("mail"), *branches())
    w.run()
    w.interact(cid, "mail", "Ann", "reply")
    t = w.traces(cid)
    assert t["replied/Ann"]["state"] == "processed"
    assert t["not_replied/Ann"]["message"] == "Parent activity mail replied"
    assert t["not_opened/Ann"]["message"] == "Parent activity mail opened"
    assert t["not_clicked/Ann"]["state"] == "scheduled"


def test_e7_bounce_cancels_every_child_but_bounce_children(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(email("mail"), *branches())
    w.run()
    w.interact(cid, "mail", "Ann", "bounce")
    t = w.traces(cid)
    assert t["bounced/Ann"]["state"] == "processed"
    for key in ("opened", "not_opened", "clicked", "not_clicked", "replied", "not_replied"):
        assert t[f"{key}/Ann"]["message"] == "Parent activity bounced", key


def test_e7_interactions_count_once_but_every_click_is_logged(w: World) -> None:
    w.people("Ann", "Bob")
    cid = w.campaign(email("mail", body='<a href="https://example.com/x">x</a>'))
    w.run()
    from engine.models import Link

    with w.db.session() as s:
        link = s.scalar(select(Link.id))
    for _ in range(3):
        w.interact(cid, "mail", "Ann", "click", link_id=link)
    w.interact(cid, "mail", "Bob", "open")
    w.interact(cid, "mail", "Bob", "open")
    counters = w.report(cid)["activities"]["mail"]
    assert (counters["sent"], counters["opened"], counters["clicked"]) == (2, 2, 1)
    with w.db.session() as s:
        assert s.scalar(select(func.count()).where(Interaction.type == "click")) == 3
        assert s.scalar(select(func.count()).where(Interaction.type == "open")) == 3
    from engine.reporting import link_tracker

    with w.db.session() as s:
        [row] = link_tracker(s, cid)
    assert (row["url"], row["clicks"], row["unique_clicks"]) == ("https://example.com/x", 3, 1)


def test_e7_sms_click_and_bounce(w: World) -> None:
    w.people("Ann", "Bob")
    cid = w.campaign(
        sms("text", body="Go https://example.com/go"),
        action("clicked", tag("C"), parent="text", trigger="sms_click", delay=1),
        action(
            "not_clicked", tag("N"), parent="text", trigger="sms_not_click", delay=1, unit="days"
        ),
        action("bounced", tag("B"), parent="text", trigger="sms_bounce"),
    )
    w.run()
    w.interact(cid, "text", "Ann", "sms_click")
    w.interact(cid, "text", "Bob", "sms_bounce")
    t = w.traces(cid)
    assert t["clicked/Ann"]["due"] == T0 + timedelta(hours=1)
    assert t["not_clicked/Ann"]["message"] == "Parent activity SMS clicked"
    assert t["bounced/Bob"]["state"] == "processed"
    assert t["not_clicked/Bob"]["message"] == "Parent activity bounced"
    assert w.report(cid)["activities"]["text"]["clicked"] == 1


def test_e7_stopped_campaign_records_but_triggers_nothing(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(email("mail"), *branches())
    w.run()
    w.stop(cid)
    w.interact(cid, "mail", "Ann", "open")
    t = w.traces(cid)
    assert t["opened/Ann"]["due"] is None
    assert t["not_opened/Ann"]["state"] == "scheduled"
    assert w.report(cid)["activities"]["mail"]["opened"] == 1
    # after restart, the "not opened" branch knows the mail was opened meanwhile
    w.start(cid)
    w.run(days=2)
    assert w.traces(cid)["not_opened/Ann"]["message"] == "Parent activity mail opened"


def test_e7_interaction_on_unsent_message_is_ignored(w: World) -> None:
    w.contacts({"name": "NoMail", "email": None})
    cid = w.campaign(email("mail"), *branches())
    w.run()
    res = w.interact(cid, "mail", "NoMail", "open")
    assert res.recorded == 0 and res.first_time == 0


def test_e8_engagement_window_cancels_waiting_traces(w: World) -> None:
    w.people("Ann", "Bob")
    cid = w.campaign(email("mail"), *branches()[:1], engagement_window_days=10)
    w.run()
    w.run(days=9)
    w.interact(cid, "mail", "Bob", "open")
    w.run(days=1, minutes=1)
    t = w.traces(cid, "opened")
    assert (t["Ann"]["state"], t["Ann"]["message"]) == ("canceled", "No open within 10 days")
    assert t["Bob"]["state"] == "processed"
    assert w.participants(cid) == {"Ann": "completed", "Bob": "completed"}


def test_e8_the_window_lasts_its_full_length(w: World) -> None:
    """A wait is canceled only once the whole window has passed since its parent was
    processed: a minute before the end it still waits and can still be triggered."""
    w.people("Ann", "Bob", "Cid")
    cid = w.campaign(email("mail"), *branches()[:1], engagement_window_days=30)
    w.run()
    w.run(days=29, hours=23, minutes=59)
    assert w.states(cid, "opened") == {"Ann": "scheduled", "Bob": "scheduled", "Cid": "scheduled"}
    w.interact(cid, "mail", "Bob", "open")
    w.run(minutes=2)  # 30 days and a minute: Ann's and Cid's waits end, Bob's is due
    t = w.traces(cid, "opened")
    assert (t["Ann"]["state"], t["Ann"]["message"]) == ("canceled", "No open within 30 days")
    assert t["Cid"]["state"] == "canceled"
    assert t["Bob"]["state"] == "scheduled" and t["Bob"]["due"] is not None
    w.run(hours=1)
    assert w.states(cid, "opened")["Bob"] == "processed"


def test_e8_each_wait_is_judged_by_its_own_message(w: World) -> None:
    """The window runs from each participant's own message: a later joiner's waits stay;
    a processed step is never canceled; each branch says which event never came; the
    cancel and the completion are stamped with the moment the window closed."""
    w.people("Ann", "Cid", country="BE")
    cid = w.campaign(
        email("mail"),
        *(branches()[i] for i in (0, 2)),
        engagement_window_days=10,
        filter=[["country", "=", "BE"]],
    )
    w.run()
    w.run(days=2)
    w.interact(cid, "mail", "Ann", "open")  # her "opened" branch runs; "clicked" waits
    with w.db.session() as s:  # Cid leaves the audience: his waits end as removed
        s.execute(update(Contact).where(Contact.name == "Cid").values(country="FR"))
    w.run(days=3)
    w.people("Bob", country="BE")  # joins on day 5: his window ends on day 15
    w.run()
    assert w.states(cid, "mail") == {"Ann": "processed", "Bob": "processed", "Cid": "processed"}
    w.run(days=5, minutes=1)
    closed = w.clock.now()
    t = w.traces(cid)
    assert t["opened/Ann"]["state"] == "processed"  # done before: never canceled
    assert (t["clicked/Ann"]["state"], t["clicked/Ann"]["message"]) == (
        "canceled",
        "No click within 10 days",
    )
    assert t["clicked/Ann"]["done"] == closed
    assert (t["opened/Bob"]["state"], t["clicked/Bob"]["state"]) == ("scheduled", "scheduled")
    assert w.participants(cid) == {"Ann": "completed", "Bob": "running", "Cid": "removed"}
    assert w.messages(cid, "clicked")["Cid"] == "Removed from audience"  # not rewritten
    with w.db.read() as s:
        ended = s.execute(
            select(Participant.state, Participant.completed_at).where(
                Participant.campaign_id == cid
            )
        ).all()
    assert sorted(ended) == [("completed", closed), ("removed", None), ("running", None)]
    w.run(days=5)
    assert w.messages(cid, "opened")["Bob"] == "No open within 10 days"
    assert w.participants(cid) == {"Ann": "completed", "Bob": "completed", "Cid": "removed"}


def test_e8_a_late_interaction_does_not_revive_an_expired_wait(w: World) -> None:
    """Once the window canceled a wait, an open that comes later is recorded (it counts)
    but the canceled step stays canceled and never runs."""
    w.people("Ann")
    cid = w.campaign(email("mail"), *branches()[:1], engagement_window_days=10)
    w.run()
    w.run(days=10, minutes=1)
    assert w.states(cid, "opened") == {"Ann": "canceled"}
    res = w.interact(cid, "mail", "Ann", "open")
    assert res.first_time == 1
    w.run(days=1)
    t = w.traces(cid, "opened")["Ann"]
    assert (t["state"], t["message"]) == ("canceled", "No open within 10 days")
    assert w.report(cid)["activities"]["mail"]["opened"] == 1


def test_an_unknown_interaction_is_refused_by_name(w: World) -> None:
    from engine.errors import UserError

    w.people("Ann")
    cid = w.campaign(email("mail"))
    w.run()
    with pytest.raises(UserError, match="unknown interaction 'opne' \\(expected one of open, "):
        w.interact(cid, "mail", "Ann", "opne")


def test_a_canceled_last_step_completes_the_participant_at_once(w: World) -> None:
    """E7 + E9: the open cancels the only step left (the "not opened" one); the canceled
    trace is done at the open's time and the participant completes then, not later."""
    w.people("Ann", "Bob")
    cid = w.campaign(
        email("mail"),
        action("cold", tag("Cold"), parent="mail", trigger="mail_not_open", delay=2, unit="days"),
    )
    w.run()
    w.run(hours=5)
    opened_at = w.clock.now()
    res = w.interact(cid, "mail", "Ann", "open")
    assert res.canceled == 1
    t = w.traces(cid, "cold")
    assert (t["Ann"]["state"], t["Ann"]["message"]) == ("canceled", "Parent activity mail opened")
    assert t["Ann"]["done"].replace(tzinfo=None) == opened_at.replace(tzinfo=None)
    assert w.participants(cid) == {"Ann": "completed", "Bob": "running"}


def test_e11_a_test_participant_in_a_draft_campaign_is_triggered(w: World) -> None:
    """The test panel's journeys run in a draft campaign: an open on the test message
    triggers its "opened" step like a real one (E4: test participants run in draft)."""
    from engine import campaigns, settings
    from engine.models import Campaign

    (ann,) = w.people("Ann")
    cid = w.campaign(email("mail"), *branches()[:1], start=False)
    with w.db.session() as s:
        settings.set_value(s, "test.recipient_email", "qa@example.com")
        campaigns.launch_test(s, s.get(Campaign, cid), ann, T0)
    w.run()
    res = w.interact(cid, "mail", "Ann (test)", "open")
    assert res.triggered == 1
    assert w.traces(cid, "opened")["Ann (test)"]["due"] is not None
    w.run(hours=1)
    assert w.states(cid, "opened") == {"Ann (test)": "processed"}


def test_record_batch_is_record_occurrence_by_occurrence(w: World) -> None:
    """The tracking server's group commit changes nothing a person could see: the same
    occurrences, one by one through ``record`` or together through ``record_batch``,
    leave the same traces, the same log and the same results."""
    from engine.interactions import Occurrence, record, record_batch

    w.people("Ann", "Bob", "Cid", "Dee")
    body = '<a href="https://example.com/x">x</a>'
    one = w.campaign(email("mail", body=body), *branches(), sms("text"))
    other = w.campaign(email("mail", body=body), *branches(), sms("text"))
    w.run(hours=1)
    at = w.clock.now()
    script = [  # (activity, record, kind, minutes later)
        ("mail", "Ann", "click", 0),
        ("mail", "Ann", "click", 1),  # a repeat: logged, counted once, nothing moves
        ("mail", "Bob", "open", 2),
        ("mail", "Bob", "click", 3),  # the open is not implied again
        ("mail", "Cid", "reply", 4),
        ("mail", "Dee", "bounce", 5),
        ("mail", "Dee", "sms_click", 6),  # wrong channel: ignored
        ("text", "Ann", "sms_click", 7),
        ("opened", "Ann", "click", 8),  # not a processed message: ignored
    ]

    def occurrences(cid: int) -> list[Occurrence]:
        return [
            Occurrence(
                w.traces(cid, key)[name]["id"],
                kind,
                at + timedelta(minutes=m),
                link_id=None,
                detail=f"{kind} {m}",
            )
            for key, name, kind, m in script
        ]

    with w.db.session() as s:
        singly = [
            record(s, [o.trace_id], o.kind, o.at, link_id=o.link_id, detail=o.detail)
            for o in occurrences(one)
        ]
    with w.db.session() as s:
        together = record_batch(s, occurrences(other))

    def summary(r):  # type: ignore[no-untyped-def]
        return (r.recorded, r.first_time, r.triggered, r.canceled, len(r.campaigns))

    assert [summary(r) for r in singly] == [summary(r) for r in together]
    assert sum(r.triggered for r in together) > 0 and sum(r.canceled for r in together) > 0

    def state(cid: int) -> dict[str, tuple]:
        return {
            k: (t["state"], t["due"], t["message"], t["done"]) for k, t in w.traces(cid).items()
        }

    def log(cid: int) -> list[tuple]:
        ids = {t["id"]: k for k, t in w.traces(cid).items()}
        with w.db.read() as s:
            rows = s.execute(
                select(Interaction.trace_id, Interaction.type, Interaction.at, Interaction.detail)
                .where(Interaction.trace_id.in_(ids))
                .order_by(Interaction.at, Interaction.type)
            ).all()
        return [(ids[t], kind, when, detail) for t, kind, when, detail in rows]

    assert state(one) == state(other)
    assert log(one) == log(other)
    assert len(log(one)) == 9  # 7 kept occurrences and the 2 new opens they imply
    assert w.report(one)["activities"] == w.report(other)["activities"]
