"""E4 execution, E5 outcomes, E6 children, E9 completion, E13 durability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from engine.channels import Channel, Channels, Delivery, OutboundEmail, OutboundSms
from engine.models import Contact, Interaction, OutboxMessage, Suppression, Tag, Trace
from engine.models.audience import contact_tag
from tests.conftest import T0

from .world import World, action, email, sms, tag


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def test_e4_validity_filter_then_action(w: World) -> None:
    w.people("Ann", "Bob")
    w.contacts({"name": "Cid", "email": "cid@example.com", "country": "FR"})
    cid = w.campaign(
        action(
            "a",
            tag("Done"),
            delay=1,
            validity={"amount": 2, "unit": "hours"},
            filter=[["country", "!=", "FR"]],
        )
    )
    w.run(hours=1)
    assert w.states(cid, "a") == {"Ann": "processed", "Bob": "processed", "Cid": "rejected"}
    assert w.messages(cid, "a")["Cid"] == "Rejected by activity filter"
    cid2 = w.campaign(action("b", tag("Late"), delay=1, validity={"amount": 2, "unit": "hours"}))
    w.run(hours=4)  # due at +2h, executed at +5h: more than 2 hours late
    assert set(w.messages(cid2, "b").values()) == {"Expired"}
    assert set(w.states(cid2, "b").values()) == {"canceled"}


def test_e4_one_failing_trace_does_not_abort_the_batch(w: World) -> None:
    w.contacts(
        *({"name": f"P{i}", "email": f"p{i}@example.com", "extra": {"n": i}} for i in range(5))
    )
    cid = w.campaign(
        action(
            "div",
            {"kind": "update_record", "values": {"description": "{{ 10 // record.extra.n }}"}},
        )
    )
    w.run()
    states = w.states(cid, "div")
    assert states.pop("P0") == "error"
    assert set(states.values()) == {"processed"}
    assert "division" in (w.messages(cid, "div")["P0"] or "")
    with w.db.session() as s:
        assert s.scalar(select(Contact.description).where(Contact.name == "P4")) == "2"


def test_e4_nothing_runs_before_due_or_for_stopped_campaigns(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(action("a", tag("X"), delay=1))
    assert w.run().executed == 0
    w.stop(cid)
    assert w.run(hours=1).executed == 0
    w.start(cid)
    assert w.run().executed == 1


def test_e5_email_outcomes(w: World) -> None:
    w.contacts(
        {"name": "Ok", "email": "ok@example.com"},
        {"name": "NoMail", "email": None},
        {"name": "Bad", "email": "not-an-address"},
        {"name": "OptOut", "email": "optout@example.com", "opt_out_email": True},
        {"name": "Suppressed", "email": "blocked@example.com"},
        {"name": "Dup", "email": "OK@example.com"},
    )
    with w.db.session() as s:
        s.add(Suppression(kind="email", value="blocked@example.com", created_at=T0))
    cid = w.campaign(email("mail"))
    w.run()
    assert w.traces(cid, "mail")["Ok"]["state"] == "processed"
    assert w.messages(cid, "mail") == {
        "Ok": None,
        "NoMail": "No valid email address",
        "Bad": "No valid email address",
        "OptOut": "Opted out",
        "Suppressed": "Opted out",
        "Dup": "Duplicate",
    }
    # Each is canceled, not rejected or errored: the counters report them as such.
    assert w.states(cid, "mail") == {
        "Ok": "processed",
        **dict.fromkeys(("NoMail", "Bad", "OptOut", "Suppressed", "Dup"), "canceled"),
    }
    with w.db.session() as s:
        assert s.scalars(select(OutboxMessage.to)).all() == ["ok@example.com"]


def test_e5_sms_outcomes_and_template_errors(w: World) -> None:
    w.contacts(
        {"name": "Ok", "phone": "+32470123456"},
        {"name": "Local", "phone": "0470 12 34 57", "country": "BE"},
        {"name": "NoPhone", "phone": None},
        {"name": "OptOut", "phone": "+32470123458", "opt_out_sms": True},
    )
    cid = w.campaign(sms("text"), sms("broken", body="{{ record.name.nope() }}"))
    w.run()
    assert w.messages(cid, "text") == {
        "Ok": None,
        "Local": None,
        "NoPhone": "No valid phone number",
        "OptOut": "Opted out",
    }
    assert w.states(cid, "text") == {
        "Ok": "processed",
        "Local": "processed",
        "NoPhone": "canceled",
        "OptOut": "canceled",
    }
    broken = w.traces(cid, "broken")
    assert broken["Ok"]["state"] == "error"
    assert broken["Ok"]["message"].startswith("Template error")
    with w.db.session() as s:
        assert sorted(
            s.scalars(select(OutboxMessage.to).where(OutboxMessage.channel == "sms"))
        ) == ["+32470123456", "+32470123457"]


class FlakyChannel(Channel):
    """An outside channel: refuses ``fail`` times, then rejects or accepts."""

    name = "flaky"
    transactional = False

    def __init__(self, fail: int, reject: set[str] | None = None) -> None:
        self.fail = fail
        self.reject = reject or set()
        self.sent: list[str] = []

    def send_emails(self, session: Any, messages: list[OutboundEmail]) -> list[Delivery]:
        out = []
        for m in messages:
            if self.fail > 0:
                out.append(Delivery("transient", "connection refused"))
            elif m.to in self.reject:
                out.append(Delivery("rejected", "550 no such user"))
            else:
                self.sent.append(m.to)
                out.append(Delivery("sent"))
        if self.fail > 0:
            self.fail -= 1
        return out

    def send_sms(self, session: Any, messages: list[OutboundSms]) -> list[Delivery]:
        return [Delivery("sent") for _ in messages]


def test_e5_transient_failures_retry_with_backoff_then_error(db, clock) -> None:  # type: ignore[no-untyped-def]
    flaky = FlakyChannel(fail=2)
    w = World(db, clock, channels=lambda s, now: Channels(flaky, flaky))
    w.people("Ann")
    cid = w.campaign(email("mail"))
    w.run()
    t = w.traces(cid, "mail")["Ann"]
    assert (t["state"], t["attempts"]) == ("scheduled", 1)
    assert t["due"] == T0 + timedelta(minutes=5)
    assert "connection refused" in t["message"]
    w.run(minutes=5)
    t = w.traces(cid, "mail")["Ann"]
    assert (t["attempts"], t["due"]) == (2, T0 + timedelta(minutes=15))  # 5 then 10 minutes
    w.run(minutes=10)
    assert w.states(cid, "mail") == {"Ann": "processed"}
    assert flaky.sent == ["ann@example.com"]

    never = FlakyChannel(fail=100)
    w2 = World(db, clock, channels=lambda s, now: Channels(never, never))
    w2.people("Bob")
    cid2 = w2.campaign(email("mail"))
    for _ in range(6):
        w2.run(hours=6)
    bob = w2.traces(cid2, "mail")["Bob"]
    assert bob["state"] == "error" and bob["message"].startswith("Gave up after 5 attempts")


def test_e5_permanent_rejection_is_processed_and_bounced(db, clock) -> None:  # type: ignore[no-untyped-def]
    ch = FlakyChannel(fail=0, reject={"bob@example.com"})
    w = World(db, clock, channels=lambda s, now: Channels(ch, ch))
    w.people("Ann", "Bob")
    cid = w.campaign(
        email("mail"),
        action("on_bounce", tag("Bounced"), parent="mail", trigger="mail_bounce"),
        action("on_open", tag("Opened"), parent="mail", trigger="mail_open"),
    )
    w.run()
    assert w.states(cid, "mail") == {"Ann": "processed", "Bob": "processed"}
    assert w.states(cid, "on_bounce") == {"Ann": "scheduled", "Bob": "processed"}
    assert w.messages(cid, "on_open")["Bob"] == "Parent activity bounced"
    assert w.report(cid)["activities"]["mail"]["bounced"] == 1


def test_e6_children_only_of_processed_traces(w: World) -> None:
    w.contacts({"name": "Ann", "email": "ann@example.com"}, {"name": "NoMail", "email": None})
    cid = w.campaign(
        email("mail"),
        action("next", tag("N"), parent="mail", trigger="activity", delay=2),
        action(
            "no_open", tag("Cold"), parent="mail", trigger="mail_not_open", delay=1, unit="days"
        ),
        action("open", tag("Warm"), parent="mail", trigger="mail_open"),
    )
    w.run()
    t = w.traces(cid)
    assert t["next/Ann"]["due"] == T0 + timedelta(hours=2)
    assert t["no_open/Ann"]["due"] == T0 + timedelta(days=1)
    assert t["open/Ann"]["due"] is None and t["open/Ann"]["state"] == "scheduled"
    assert not any(k.endswith("/NoMail") for k in t if not k.startswith("mail/"))


def test_e6_rejected_and_errored_traces_create_no_children(w: World) -> None:
    """Only ``processed`` opens the way on: a filtered-out or failing trace ends its branch."""
    w.contacts(
        {"name": "Ann", "email": "ann@example.com", "extra": {"n": 1}},
        {"name": "Fr", "email": "fr@example.com", "country": "FR", "extra": {"n": 1}},
        {"name": "Zero", "email": "zero@example.com", "extra": {"n": 0}},
    )
    cid = w.campaign(
        action(
            "a",
            {"kind": "update_record", "values": {"description": "{{ 10 // record.extra.n }}"}},
            filter=[["country", "!=", "FR"]],
        ),
        action("next", tag("N"), parent="a", trigger="activity"),
        action("later", tag("L"), parent="a", trigger="activity", delay=1, unit="days"),
    )
    w.run()
    assert w.states(cid, "a") == {"Ann": "processed", "Fr": "rejected", "Zero": "error"}
    assert w.states(cid, "next") == {"Ann": "processed"}
    assert set(w.traces(cid, "later")) == {"Ann"}
    w.run(days=2)
    assert w.participants(cid) == {"Ann": "completed", "Fr": "completed", "Zero": "completed"}


def test_e5_duplicate_address_from_an_earlier_pass(w: World) -> None:
    """The same address already sent this activity's message in an earlier pass, by
    another participant of the campaign, is a duplicate; another activity is not."""
    w.contacts({"name": "Ann", "email": "ann@example.com"})
    cid = w.campaign(email("mail"), email("other", delay=2))
    w.run()
    assert w.states(cid, "mail") == {"Ann": "processed"}
    w.contacts({"name": "Ann2", "email": "ANN@example.com"}, {"name": "Bob", "email": "bob@x.org"})
    w.run(hours=3)  # the new contacts join this pass
    assert w.messages(cid, "mail") == {"Ann": None, "Ann2": "Duplicate", "Bob": None}
    assert w.states(cid, "mail")["Ann2"] == "canceled"
    w.run(hours=3)
    assert w.messages(cid, "other") == {"Ann": None, "Ann2": "Duplicate", "Bob": None}
    with w.db.session() as s:
        sent = s.scalars(select(OutboxMessage.to)).all()
    assert sorted(sent) == sorted(["ann@example.com"] * 2 + ["bob@x.org"] * 2)


def test_e9_participants_complete_when_nothing_is_scheduled(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(
        action("a", tag("A")), action("b", tag("B"), parent="a", trigger="activity", delay=1)
    )
    w.run()
    assert w.participants(cid) == {"Ann": "running"}
    w.run(hours=1)
    assert w.participants(cid) == {"Ann": "completed"}


def test_zero_delay_children_run_in_the_same_pass(w: World) -> None:
    w.people("Ann")
    cid = w.campaign(
        action("a", tag("A")),
        action("b", tag("B"), parent="a", trigger="activity"),
        action("c", tag("C"), parent="b", trigger="activity"),
    )
    stats = w.run()
    assert stats.executed == 3
    assert w.states(cid, "c") == {"Ann": "processed"}


def test_e13_interrupted_delivery_is_an_error_never_resent(db, clock) -> None:  # type: ignore[no-untyped-def]
    ch = FlakyChannel(fail=0)
    w = World(db, clock, channels=lambda s, now: Channels(ch, ch))
    w.people("Ann", "Bob")
    cid = w.campaign(email("mail"), action("act", tag("A")))
    # A worker claims the batch and dies (its pid does not exist on this host).
    dead = "{}:999999:dead:1".format(__import__("socket").gethostname())
    ann_mail = w.traces(cid, "mail")["Ann"]["id"]
    with db.session() as s:
        s.execute(update(Trace).values(claimed_by=dead, claimed_at=datetime.now(UTC)))
        s.execute(
            update(Trace)
            .where(Trace.activity_id.in_(select(Trace.activity_id).where(Trace.id == ann_mail)))
            .values(handoff=True)
        )
    stats = w.run()
    assert stats.recovered == 4
    assert w.messages(cid, "mail") == {
        "Ann": "Interrupted: delivery unknown",
        "Bob": "Interrupted: delivery unknown",
    }
    assert w.states(cid, "act") == {"Ann": "processed", "Bob": "processed"}  # actions retried
    assert ch.sent == []


def test_e13_crash_mid_batch_loses_nothing(db, clock) -> None:  # type: ignore[no-untyped-def]
    class Crash(FlakyChannel):
        def send_emails(self, session: Any, messages: list[OutboundEmail]) -> list[Delivery]:
            raise KeyboardInterrupt  # the process is killed mid-hand-off

    w = World(db, clock, channels=lambda s, now: Channels(Crash(0), Crash(0)))
    w.people("Ann")
    cid = w.campaign(email("mail"))
    with pytest.raises(KeyboardInterrupt):
        w.run()
    with db.session() as s:
        t = s.scalars(select(Trace)).one()
        assert (t.state, t.handoff, t.claimed_by is not None) == ("scheduled", True, True)
    # a new worker later finds the claim stale (timeout 0 here) and marks it for a person
    ok = FlakyChannel(0)
    w2 = World(db, clock, channels=lambda s, now: Channels(ok, ok))
    w2.executor._claim_timeout = timedelta(0)
    w2.run()
    assert w2.messages(cid, "mail") == {"Ann": "Interrupted: delivery unknown"}
    assert ok.sent == []
    with db.session() as s:
        assert s.scalars(select(Interaction)).all() == []


@pytest.mark.parametrize("outside", [False, True], ids=["one-transaction", "claimed"])
def test_an_unexpected_failure_errs_only_its_own_trace(
    db: Any, clock: Any, monkeypatch: pytest.MonkeyPatch, outside: bool
) -> None:
    """A bug met by one participant's step (here, an action raising for Bob) rolls the
    batch back, then the batch is redone one trace at a time: the others are processed
    once and go on to their children, only Bob's trace ends in error, with the cause.
    Both ways a batch runs: in one transaction (the outbox), or claimed first (an
    outside channel, E13), where no claim may be left behind."""
    from engine import actions

    if outside:
        mail = FlakyChannel(0)
        w = World(db, clock, channels=lambda s, now: Channels(mail, mail))
    else:
        w = World(db, clock)

    real = actions.run_server_action
    w.people("Ann", "Bob")  # a batch of two: the smallest one to split
    with w.db.read() as s:
        bob = s.scalar(select(Contact.id).where(Contact.name == "Bob"))
    calls: list[int] = []

    def flaky(ctx, plan, act, content, rows):  # type: ignore[no-untyped-def]
        calls.append(len(rows))
        if act.key == "a" and any(r.record_id == bob for r in rows):
            raise RuntimeError("boom")
        return real(ctx, plan, act, content, rows)

    monkeypatch.setattr(actions, "run_server_action", flaky)
    cid = w.campaign(
        action("a", tag("Done")), action("b", tag("Next"), parent="a", trigger="activity")
    )
    stats = w.run()
    assert w.states(cid, "a") == {"Ann": "processed", "Bob": "error"}
    assert w.messages(cid, "a")["Bob"] == "RuntimeError: boom"
    assert w.traces(cid, "a")["Bob"]["done"] == clock.now()  # when it failed, shown as done
    assert calls[:3] == [2, 1, 1]  # the batch, then each trace alone
    # Ann's child (due at once) ran in the same pass
    assert stats.executed == 3 and dict(stats.by_state) == {"processed": 2, "error": 1}
    assert stats.campaigns == {cid}
    assert w.states(cid, "b") == {"Ann": "processed"}
    with w.db.read() as s:
        rows = s.execute(
            select(Contact.name, Tag.name)
            .join(contact_tag, contact_tag.c.contact_id == Contact.id)
            .join(Tag, Tag.id == contact_tag.c.tag_id)
        ).all()
        claimed = s.scalar(select(func.count()).where(Trace.claimed_by.is_not(None)))
    assert claimed == 0
    # each processed step tagged once; the rolled-back batch left nothing, Bob no tag
    assert sorted(rows) == [("Ann", "Done"), ("Ann", "Next")]
