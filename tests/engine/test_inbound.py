"""The reply and bounce mailbox, read from a real IMAP server (tests/imapserver.py).

Every test sends a real campaign email to the outbox, takes the addresses and Message-ID
the sending side wrote into it, and delivers realistic replies and bounces to a dovecot
mailbox. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import socket
import threading
from email.utils import parseaddr
from typing import Any

import pytest
from sqlalchemy import func, select

from app.cli import main as cli
from engine import imap, inbound, settings
from engine.clock import FixedClock
from engine.db import Database
from engine.imap import KEYWORD
from engine.inbound import poll_mailbox
from engine.models import Interaction, OutboxMessage
from engine.tracking import make_token
from tests.imapserver import ImapAccount

from .mail_samples import ADDRESS, sample
from .test_dsn import MALFORMED
from .world import World, action, email, tag


@pytest.fixture
def mailbox(
    db: Database, imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> ImapAccount:
    monkeypatch.setenv("JOURNEYS_IMAP_PASSWORD", imap_account.password)
    configure(db, imap_account.url())
    return imap_account


def configure(db: Database, url: str) -> None:
    with db.session() as s:
        settings.set_value(s, "imap.url", url)
        settings.set_value(s, "imap.address", ADDRESS)


@pytest.fixture
def w(db: Database, clock: FixedClock, mailbox: ImapAccount) -> World:
    return World(db, clock)


@pytest.fixture
def cid(w: World) -> int:
    """Ann and Bob were sent "mail"; its reply, no-reply and bounce children wait."""
    w.people("Ann", "Bob")
    cid = w.campaign(
        email("mail"),
        action("replied", tag("Replied"), parent="mail", trigger="mail_reply"),
        action(
            "not_replied",
            tag("NoReply"),
            parent="mail",
            trigger="mail_not_reply",
            delay=4,
            unit="days",
        ),
        action("bounced", tag("Bounced"), parent="mail", trigger="mail_bounce"),
    )
    w.run()
    assert w.states(cid, "mail") == {"Ann": "processed", "Bob": "processed"}
    return cid


def sent(w: World, cid: int, name: str) -> dict[str, Any]:
    """What the sending side wrote into the email it sent to ``name``."""
    trace_id = w.traces(cid, "mail")[name]["id"]
    with w.db.session() as s:
        headers = s.scalar(select(OutboxMessage.headers).where(OutboxMessage.trace_id == trace_id))
        assert headers is not None
        token = make_token(settings.tracking_secret(s), trace_id)
    return {
        "token": token,
        "message_id": headers["Message-ID"],
        "reply_to": parseaddr(headers["Reply-To"])[1],
        "return_path": headers["Return-Path"].strip("<>"),
    }


def poll(w: World, **kw: Any) -> inbound.PollResult:
    return poll_mailbox(w.db, w.clock, **kw)


def interactions(db: Database, kind: str) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(Interaction.type == kind)) or 0)


# --- replies and bounces drive the journey -----------------------------------------------


def test_the_sending_side_routes_replies_and_bounces_here(w: World, cid: int) -> None:
    ann = sent(w, cid, "Ann")
    assert ann["reply_to"] == f"replies+r.{ann['token']}@example.com"
    assert ann["return_path"] == f"replies+b.{ann['token']}@example.com"
    assert ann["message_id"].startswith(f"<{ann['token']}.")


def test_reply_to_the_tokenised_address_runs_reply_children(
    w: World, cid: int, mailbox: ImapAccount
) -> None:
    ann = sent(w, cid, "Ann")
    (uid,) = mailbox.append(
        sample("thunderbird_reply", ann["token"], to=ann["reply_to"], msgid="<other@example.org>")
    )
    result = poll(w)
    assert (result.replies, result.bounces, result.ignored, result.error) == (1, 0, 0, None)
    t = w.traces(cid)
    assert t["replied/Ann"]["state"] == "processed"  # delay 0: in the same pass
    assert t["not_replied/Ann"]["message"] == "Parent activity mail replied"
    assert t["replied/Bob"]["state"] == "scheduled" and t["replied/Bob"]["due"] is None
    counters = w.report(cid)["activities"]["mail"]
    assert (counters["replied"], counters["opened"], counters["bounced"]) == (1, 1, 0)
    # Marked handled with our keyword, yet still unread for a person sharing the mailbox.
    assert mailbox.flags()[uid] == {KEYWORD}


def test_outlook_reply_found_by_references(w: World, cid: int, mailbox: ImapAccount) -> None:
    bob = sent(w, cid, "Bob")
    mailbox.append(sample("outlook_references", bob["token"], msgid=bob["message_id"]))
    assert poll(w).replies == 1
    assert w.states(cid, "replied") == {"Ann": "scheduled", "Bob": "processed"}


def test_dsn_bounce_runs_bounce_children_and_cancels_the_others(
    w: World, cid: int, mailbox: ImapAccount
) -> None:
    ann = sent(w, cid, "Ann")
    mailbox.append(sample("postfix_failed", ann["token"], msgid=ann["message_id"]))
    result = poll(w)
    assert (result.bounces, result.replies) == (1, 0)
    t = w.traces(cid)
    assert t["bounced/Ann"]["state"] == "processed"
    assert t["replied/Ann"]["message"] == "Parent activity bounced"
    assert t["not_replied/Ann"]["message"] == "Parent activity bounced"
    assert t["not_replied/Bob"]["state"] == "scheduled"
    assert w.report(cid)["activities"]["mail"]["bounced"] == 1
    with w.db.session() as s:
        detail = s.scalar(select(Interaction.detail).where(Interaction.type == "bounce"))
    assert detail is not None and detail.startswith("5.1.1 failed ann@example.org")


def test_verp_bounce(w: World, cid: int, mailbox: ImapAccount) -> None:
    bob = sent(w, cid, "Bob")
    assert bob["return_path"].startswith("replies+b.")
    mailbox.append(sample("exim_failed", bob["token"]), sample("qmail_verp", bob["token"]))
    result = poll(w)
    assert (result.bounces, result.duplicates) == (2, 0)  # two notices about one message:
    assert interactions(w.db, "bounce") == 2  # both logged...
    assert w.report(cid)["activities"]["mail"]["bounced"] == 1  # ...counted once (E7)
    assert w.states(cid, "bounced") == {"Ann": "scheduled", "Bob": "processed"}
    assert w.messages(cid, "not_replied")["Bob"] == "Parent activity bounced"


def test_forged_auto_and_delayed_mail_changes_nothing(
    w: World, cid: int, mailbox: ImapAccount
) -> None:
    ann = sent(w, cid, "Ann")
    forged = ann["reply_to"].replace(ann["token"], ann["token"].split(".")[0] + ".AAAAAAAAAAAA")
    mailbox.append(
        sample("thunderbird_reply", ann["token"], to=forged, msgid="<other@example.org>"),
        sample("outlook_auto_reply", ann["token"], to=ann["reply_to"], msgid=ann["message_id"]),
        sample("vacation_to_verp", ann["token"], msgid=ann["message_id"]),
        sample("postfix_delayed", ann["token"], msgid=ann["message_id"]),
        sample("read_receipt", ann["token"], to=ann["reply_to"], msgid=ann["message_id"]),
    )
    before = w.traces(cid)
    result = poll(w)
    assert (result.fetched, result.ignored, result.recorded, result.error) == (5, 5, 0, None)
    assert w.traces(cid) == before
    assert all(flags == {KEYWORD} for flags in mailbox.flags().values())
    assert poll(w).fetched == 0  # ignored mail is not read again


def test_malformed_mail_never_stops_the_others(w: World, cid: int, mailbox: ImapAccount) -> None:
    ann = sent(w, cid, "Ann")
    junk = [raw for name, raw in MALFORMED.items() if raw and b"\x00" not in raw]
    reply = sample("thunderbird_reply", ann["token"], msgid=ann["message_id"])
    mailbox.append(*junk[:5], reply, *junk[5:])
    result = poll(w)
    assert (result.replies, result.ignored, result.failed, result.error) == (1, len(junk), [], None)
    assert w.states(cid, "replied")["Ann"] == "processed"
    assert poll(w).fetched == 0


# --- nothing counts twice, nothing is lost ---------------------------------------------


def test_polling_twice_and_copies_count_once(w: World, cid: int, mailbox: ImapAccount) -> None:
    ann = sent(w, cid, "Ann")
    reply = sample("thunderbird_reply", ann["token"], msgid=ann["message_id"])
    mailbox.append(reply, reply)  # the same message delivered twice
    first = poll(w)
    assert (first.replies, first.duplicates) == (1, 1)
    mailbox.append(reply)
    second = poll(w)
    assert (second.fetched, second.replies, second.duplicates) == (1, 0, 1)
    assert poll(w).fetched == 0
    assert interactions(w.db, "reply") == 1


def test_a_crash_between_recording_and_marking_does_not_count_twice(
    w: World, cid: int, mailbox: ImapAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = sent(w, cid, "Ann")
    (uid,) = mailbox.append(sample("thunderbird_reply", ann["token"], msgid=ann["message_id"]))

    def power_cut(self: imap.Mailbox, uids: list[int]) -> None:
        raise SystemExit("power cut")

    with monkeypatch.context() as m:
        m.setattr(imap.Mailbox, "mark", power_cut)
        with pytest.raises(SystemExit):
            poll(w)
    assert interactions(w.db, "reply") == 1  # committed...
    assert mailbox.flags()[uid] == set()  # ...but not marked
    again = poll(w)
    assert (again.fetched, again.replies, again.duplicates) == (1, 0, 1)
    assert interactions(w.db, "reply") == 1
    assert mailbox.flags()[uid] == {KEYWORD}
    assert w.states(cid, "replied")["Ann"] == "scheduled"  # due since the first poll:
    w.run()
    assert w.states(cid, "replied")["Ann"] == "processed"  # the engine's next pass runs it


def test_two_workers_polling_at_once_count_once(w: World, cid: int, mailbox: ImapAccount) -> None:
    ann, bob = sent(w, cid, "Ann"), sent(w, cid, "Bob")
    mailbox.append(
        sample("thunderbird_reply", ann["token"], msgid=ann["message_id"]),
        sample("postfix_failed", bob["token"], msgid=bob["message_id"]),
    )
    results: list[inbound.PollResult] = []
    workers = [threading.Thread(target=lambda: results.append(poll(w))) for _ in range(2)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(60)
    assert [r.error for r in results] == [None, None]
    assert sum(r.replies for r in results) == 1 and sum(r.bounces for r in results) == 1
    assert (interactions(w.db, "reply"), interactions(w.db, "bounce")) == (1, 1)


def test_a_large_backlog_is_spread_over_polls(w: World, cid: int, mailbox: ImapAccount) -> None:
    mailbox.append(*(f"Subject: n{i}\r\n\r\nx\r\n".encode() for i in range(3)))
    first = poll(w, max_messages=2)
    assert (first.fetched, first.remaining) == (2, 1)
    assert (poll(w, max_messages=2).fetched, poll(w).fetched) == (1, 0)


# --- servers that do not cooperate -----------------------------------------------------


def test_a_dead_server_is_reported_and_nothing_is_recorded(
    w: World, cid: int, db: Database, mailbox: ImapAccount
) -> None:
    from tests.imapserver import _free_port

    configure(db, f"imap://{mailbox.user}@127.0.0.1:{_free_port()}/INBOX?tls=none")
    result = poll(w)
    assert result.error is not None and "connection refused" in result.error
    assert "connecting failed" in result.error and not result.ok
    assert (result.fetched, interactions(db, "reply")) == (0, 0)


@pytest.mark.parametrize(
    ("behaviour", "expected"), [("hang up", "closed the connection"), ("say nothing", "timed out")]
)
def test_a_server_that_hangs_up_or_says_nothing(
    w: World, db: Database, mailbox: ImapAccount, behaviour: str, expected: str
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        conn, _ = listener.accept()
        if behaviour == "hang up":
            conn.close()
        else:
            accepted.append(conn)  # keep it open, silent

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    configure(db, f"imap://{mailbox.user}@127.0.0.1:{port}/INBOX?tls=none")
    try:
        result = poll(w, timeout=0.5)
    finally:
        thread.join(5)
        for conn in accepted:
            conn.close()
        listener.close()
    assert result.error is not None and expected in result.error
    assert result.fetched == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("password", "logging in as"),
        ("mailbox", "opening mailbox 'Nope'"),
        ("no password", "no IMAP password"),
        ("non-ascii password", "written in ASCII"),
    ],
)
def test_misconfiguration_is_said_plainly(
    w: World,
    db: Database,
    mailbox: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
    change: str,
    expected: str,
) -> None:
    if change == "password":
        monkeypatch.setenv("JOURNEYS_IMAP_PASSWORD", "wrong")
    elif change == "mailbox":
        configure(db, mailbox.url(mailbox="Nope"))
    elif change == "non-ascii password":
        monkeypatch.setenv("JOURNEYS_IMAP_PASSWORD", "wrong-pässword")
    else:
        monkeypatch.setattr(inbound, "get_secret", lambda name: None)
    result = poll(w)
    assert result.error is not None and expected in result.error
    assert "wrong" not in result.error


def test_not_configured_is_not_an_error(db: Database, clock: FixedClock) -> None:
    result = poll_mailbox(db, clock)
    assert (result.configured, result.error, result.fetched) == (False, None, 0)


def test_tls_and_starttls(w: World, cid: int, db: Database, mailbox: ImapAccount) -> None:
    ann = sent(w, cid, "Ann")
    mailbox.append(sample("thunderbird_reply", ann["token"], msgid=ann["message_id"]))
    configure(db, mailbox.url(tls="ssl"))  # a self-signed certificate is refused...
    refused = poll(w)
    assert refused.error is not None and "certificate is not trusted" in refused.error
    assert "verify=false" in refused.error
    configure(db, mailbox.url(tls="starttls", cafile=str(mailbox.server.cafile)))
    assert poll(w).replies == 1  # ...unless its CA is given
    mailbox.append(sample("outlook_references", ann["token"], msgid=ann["message_id"]))
    configure(db, mailbox.url(tls="ssl", verify="false"))
    assert poll(w).fetched == 1


def test_imap_url_setting_is_checked(db: Database) -> None:
    from engine.errors import UserError

    with db.session() as s:
        for bad, why in [
            ("imaps://u:secret@host/INBOX", "password"),
            ("imaps://host/INBOX", "user"),
            ("imap://u@host/INBOX?tls=maybe", "tls=maybe"),
            ("imap://u@host/INBOX?folder=x", "unknown option"),
            ("pop3://u@host", "imaps://"),
        ]:
            with pytest.raises(UserError, match=why):
                settings.set_value(s, "imap.url", bad)
    url = imap.parse_imap_url("imap://me%40corp@mail.example.com/Journeys%20replies")
    assert (url.user, url.port, url.tls, url.mailbox) == (
        "me@corp",
        143,
        "starttls",
        "Journeys replies",
    )
    assert imap._mailbox_name("Réponses & co") == '"R&AOk-ponses &- co"'


# --- the command line ------------------------------------------------------------------


def test_poll_mailbox_command(
    w: World, cid: int, db: Database, mailbox: ImapAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    ann = sent(w, cid, "Ann")
    mailbox.append(sample("thunderbird_reply", ann["token"], msgid=ann["message_id"]))
    url = db.engine.url.render_as_string(hide_password=False)
    assert cli(["--db", url, "poll-mailbox"]) == 0
    assert "1 message(s) read: 1 reply(ies)" in capsys.readouterr().out
    from tests.imapserver import _free_port

    configure(db, f"imap://{mailbox.user}@127.0.0.1:{_free_port()}/INBOX?tls=none")
    assert cli(["--db", url, "poll-mailbox"]) == 1
    assert "connection refused" in capsys.readouterr().err
    with db.session() as s:
        settings.set_value(s, "imap.url", "")
    assert cli(["--db", url, "poll-mailbox"]) == 2


def test_the_embedded_runner_polls_the_mailbox(
    w: World, cid: int, mailbox: ImapAccount, db: Database
) -> None:
    """The runner's own mailbox job records a reply and runs its children."""
    import time

    from engine.runner import EngineRunner

    ann = sent(w, cid, "Ann")
    mailbox.append(
        sample("thunderbird_reply", ann["token"], to=ann["reply_to"], msgid="<r@example.org>")
    )
    runner = EngineRunner(db, w.clock)
    changed: list[set[int]] = []
    runner.events.counters_changed.connect(changed.append)
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and w.states(cid, "replied")["Ann"] != "processed":
            time.sleep(0.1)
    finally:
        runner.stop()
    assert w.states(cid, "replied")["Ann"] == "processed"
    assert any(cid in ids for ids in changed)
    assert runner.mailbox_error is None
