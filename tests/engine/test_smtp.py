"""Email over SMTP against a real server on loopback (aiosmtpd): what arrives, and E5/E13."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import settings, tracking
from engine.channels.base import OutboundEmail
from engine.channels.smtp import SMTPChannel, parse_smtp_url
from engine.clock import FixedClock
from engine.db import Database
from tests.conftest import T0
from tests.engine.world import World, action, email, tag
from tests.memory_keyring import MemoryKeyring, use_keyring
from tests.smtp_sink import Cert, Handler, free_port, make_cert, smtp_sink

BODY = """<html><head><style>p { color: #123456 }</style></head><body>
<p>Hi {{ record.name }}, see <a href="https://shop.example.com/sale?a=1&amp;b=2">the sale</a>
and <a href='https://blog.example.com/post'>our blog</a>.</p>
.a line that starts with a dot
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>"""


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    return make_cert(tmp_path_factory.mktemp("cert"))


@pytest.fixture
def keyring_backend() -> Iterator[MemoryKeyring]:
    with use_keyring(MemoryKeyring()) as backend:
        assert isinstance(backend, MemoryKeyring)
        yield backend


def configure(db: Database, **values: str) -> None:
    with db.session() as s:
        for key, value in values.items():
            settings.set_value(s, key.replace("__", "."), value)


def secret(db: Database) -> bytes:
    with db.session() as s:
        return settings.tracking_secret(s)


def test_campaign_emails_arrive_complete_and_tracked(
    db: Database, clock: FixedClock, cert: Cert, keyring_backend: MemoryKeyring
) -> None:
    keyring_backend.set_password("journeys", "smtp.password", "s3cret")
    with smtp_sink(tls="starttls", cert=cert, login=("mailer", "s3cret")) as (sink, port):
        configure(db, smtp__url=f"smtp://mailer@127.0.0.1:{port}?tls=starttls&cafile={cert.cert}")
        w = World(db, clock)
        w.people("Ann", "Bob")
        cid = w.campaign(email("welcome", body=BODY))
        w.run()
    assert w.states(cid, "welcome") == {"Ann": "processed", "Bob": "processed"}
    assert sorted(r.rcpt[0] for r in sink.received) == ["ann@example.com", "bob@example.com"]
    assert sink.connections == 1  # one connection carried the whole batch
    traces = w.traces(cid, "welcome")
    base = "http://127.0.0.1:8787"
    for received in sink.received:
        msg = received.message
        name = "Ann" if received.rcpt == ["ann@example.com"] else "Bob"
        trace_id = traces[name]["id"]
        assert received.mail_from == "shop@example.com"
        assert msg["From"] == "Shop <shop@example.com>"
        assert msg["To"] == f"{name.lower()}@example.com"
        assert msg["Subject"] == f"welcome for {name}"
        assert msg["Date"].datetime == T0  # the engine's clock
        assert re.fullmatch(r"<\d+\.[\w-]+\.[0-9a-f]{12}@example\.com>", msg["Message-ID"])
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["Return-Path"] is None and msg["Reply-To"] is None
        assert msg.get_content_type() == "multipart/alternative"
        plain, html = msg.get_payload()  # type: ignore[misc]
        assert plain.get_content_type() == "text/plain"
        assert html.get_content_type() == "text/html"
        html_text, text = html.get_content(), plain.get_content()
        assert f"Hi {name}" in html_text and f"Hi {name}" in text
        assert "\n.a line that starts with a dot" in html_text  # dot-stuffing undone
        assert 'style="color: #123456;"' in html_text and "<style" not in html_text
        # Every link goes to the tracker, for this trace; the pixel is there.
        hrefs = re.findall(r'href="([^"]+)"', html_text)
        assert len(hrefs) == 3
        assert all(h.startswith(f"{base}/t/") for h in hrefs)
        assert "shop.example.com" not in html_text and "blog.example.com" not in html_text
        tokens = {h.split("/")[4] for h in hrefs}
        assert len(tokens) == 1
        token = tokens.pop()
        assert tracking.verify_token(secret(db), token) == trace_id
        assert f'<img src="{base}/t/{token}/o.gif"' in html_text
        assert f"{base}/t/{token}/c/" in text  # the plain text keeps tracked links too
        # The unsubscribe URL in the header and in the body is the trace's own.
        unsub = msg["List-Unsubscribe"].strip("<>")
        assert unsub == f"{base}/t/{token}/unsubscribe" and unsub in hrefs
        assert tracking.verify_token(secret(db), unsub.split("/")[4]) == trace_id
        forged = token[:-1] + ("B" if token.endswith("A") else "A")
        assert tracking.verify_token(secret(db), forged) is None
    assert w.report(cid)["activities"]["welcome"]["sent"] == 2


def test_inbound_mailbox_gets_tokenised_reply_to_and_verp_return_path(
    db: Database, clock: FixedClock
) -> None:
    with smtp_sink() as (sink, port):
        configure(
            db,
            smtp__url=f"smtp://127.0.0.1:{port}?tls=none",
            imap__url="imaps://inbox@mail.example.com",
            imap__address="inbox@example.com",
        )
        w = World(db, clock)
        w.people("Ann")
        cid = w.campaign(email("welcome"))
        w.run()
    (received,) = sink.received
    token = tracking.make_token(secret(db), w.traces(cid, "welcome")["Ann"]["id"])
    assert received.mail_from == f"inbox+b.{token}@example.com"  # VERP envelope sender
    assert received.message["Reply-To"] == f"Shop <inbox+r.{token}@example.com>"
    assert received.message["Return-Path"] is None  # the receiving server writes it


def test_permanent_rejection_bounces_and_temporary_failure_retries(
    db: Database, clock: FixedClock
) -> None:
    handler = Handler(
        refuse={
            "bob@example.com": "550 5.1.1 <bob@example.com>: no such user",
            "cid@example.com": "451 4.3.0 mailbox busy, try later",
        }
    )
    with smtp_sink(handler) as (sink, port):
        configure(db, smtp__url=f"smtp://127.0.0.1:{port}?tls=none")
        w = World(db, clock)
        w.people("Ann", "Bob", "Cid", "Dan")
        cid = w.campaign(
            email("mail"),
            action("on_bounce", tag("Bounced"), parent="mail", trigger="mail_bounce"),
        )
        w.run()
        t = w.traces(cid, "mail")
        assert {n: t[n]["state"] for n in t} == {
            "Ann": "processed",
            "Bob": "processed",
            "Cid": "scheduled",
            "Dan": "processed",
        }
        assert "no such user" in (t["Bob"]["message"] or "")
        assert t["Cid"]["attempts"] == 1 and "451 4.3.0 mailbox busy" in t["Cid"]["message"]
        assert w.states(cid, "on_bounce") == {
            "Ann": "scheduled",
            "Bob": "processed",
            "Dan": "scheduled",
        }
        assert w.report(cid)["activities"]["mail"]["bounced"] == 1
        handler.refuse.pop("cid@example.com")
        w.run(minutes=5)
    assert w.states(cid, "mail")["Cid"] == "processed"
    assert Counter(r.rcpt[0] for r in sink.received) == {
        "ann@example.com": 1,
        "cid@example.com": 1,
        "dan@example.com": 1,
    }


def test_dead_server_retries_then_errors_while_the_engine_keeps_running(
    db: Database, clock: FixedClock
) -> None:
    configure(db, smtp__url=f"smtp://127.0.0.1:{free_port()}?tls=none")
    w = World(db, clock)
    w.people("Ann", "Bob")
    cid = w.campaign(email("mail"), action("act", tag("A")))
    stats = w.run()
    assert w.states(cid, "act") == {"Ann": "processed", "Bob": "processed"}
    t = w.traces(cid, "mail")
    assert [t[n]["state"] for n in t] == ["scheduled", "scheduled"]
    assert all("connection refused" in (t[n]["message"] or "") for n in t)
    assert stats.by_state["retry"] == 2
    for _ in range(6):
        w.run(hours=6)
    t = w.traces(cid, "mail")
    assert [t[n]["state"] for n in t] == ["error", "error"]
    assert t["Ann"]["message"].startswith("Gave up after 5 attempts: ")
    assert "connection refused" in t["Ann"]["message"]


def test_connection_lost_after_the_message_is_never_resent(db: Database, clock: FixedClock) -> None:
    with smtp_sink(Handler(drop_after_data=True)) as (sink, port):
        configure(db, smtp__url=f"smtp://127.0.0.1:{port}?tls=none")
        w = World(db, clock)
        w.people("Ann")
        cid = w.campaign(email("mail"))
        w.run()
        w.run(hours=12)
    assert w.states(cid, "mail") == {"Ann": "error"}
    assert w.messages(cid, "mail")["Ann"].startswith("Interrupted: delivery unknown")
    assert len(sink.received) == 1


def test_a_server_closing_between_messages_is_reconnected_once_each_time(
    db: Database, clock: FixedClock
) -> None:
    with smtp_sink(Handler(close_after_each=True)) as (sink, port):
        configure(db, smtp__url=f"smtp://127.0.0.1:{port}?tls=none")
        w = World(db, clock)
        w.people("Ann", "Bob", "Cid")
        cid = w.campaign(email("mail"))
        w.run()
    assert set(w.states(cid, "mail").values()) == {"processed"}
    assert sorted(r.rcpt[0] for r in sink.received) == [
        "ann@example.com",
        "bob@example.com",
        "cid@example.com",
    ]
    assert sink.connections == 3


def test_an_unusable_url_from_the_environment_never_falls_back_to_the_outbox(
    db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEYS_SMTP_URL", "smtp://mail.example.com?tls=maybe")
    w = World(db, clock)
    w.people("Ann")
    cid = w.campaign(email("mail"))
    w.run()
    t = w.traces(cid, "mail")["Ann"]
    assert t["state"] == "scheduled" and "tls=maybe is not one of" in t["message"]
    assert w.report(cid)["activities"]["mail"]["sent"] == 0


# --- the channel on its own -------------------------------------------------------------


def _message(to: str = "ann@example.com") -> OutboundEmail:
    return OutboundEmail(
        to=to,
        subject="Hello",
        html="<p>Hello</p>",
        text="Hello\n",
        headers={"From": "Shop <shop@example.com>", "Message-ID": "<1.a@example.com>"},
    )


@pytest.mark.parametrize("tls", ["none", "starttls", "ssl"])
def test_each_tls_mode_logs_in_and_delivers(tls: str, cert: Cert) -> None:
    with smtp_sink(tls=tls, cert=cert, login=("mailer", "pw")) as (sink, port):
        url = parse_smtp_url(f"smtp://mailer@127.0.0.1:{port}?tls={tls}&cafile={cert.cert}")
        channel = SMTPChannel(url, password=lambda: "pw")
        deliveries = channel.send_emails(None, [_message(), _message("bob@example.com")])  # type: ignore[arg-type]
        channel.close()
    assert [d.status for d in deliveries] == ["sent", "sent"]
    assert len(sink.received) == 2 and channel.connections == 1


def test_untrusted_certificate_and_wrong_password_are_said_plainly(cert: Cert) -> None:
    with smtp_sink(tls="ssl", cert=cert) as (sink, port):
        untrusted = SMTPChannel(parse_smtp_url(f"smtps://127.0.0.1:{port}"))
        (d,) = untrusted.send_emails(None, [_message()])  # type: ignore[arg-type]
        assert d.status == "transient" and "certificate is not trusted" in d.detail
        assert "cafile" in d.detail
    with smtp_sink(tls="ssl", cert=cert, login=("mailer", "pw")) as (sink, port):
        unverified = SMTPChannel(
            parse_smtp_url(f"smtps://mailer@127.0.0.1:{port}?verify=false"), lambda: "wrong"
        )
        first, second = unverified.send_emails(None, [_message(), _message("b@example.com")])  # type: ignore[arg-type]
        assert first.status == "transient" and "refused the login of mailer" in first.detail
        assert second == first  # the rest of the batch waits without hammering the server
        assert "wrong" not in first.detail
        nopass = SMTPChannel(parse_smtp_url(f"smtps://mailer@127.0.0.1:{port}?verify=false"))
        (d,) = nopass.send_emails(None, [_message()])  # type: ignore[arg-type]
        assert "journeys settings smtp.password" in d.detail
    assert sink.received == []


def test_an_unusable_address_fails_alone() -> None:
    with smtp_sink() as (sink, port):
        channel = SMTPChannel(parse_smtp_url(f"smtp://127.0.0.1:{port}?tls=none"))
        bad, good = channel.send_emails(None, [_message("a b@example.com"), _message()])  # type: ignore[arg-type]
        channel.close()
    assert bad.status == "failed" and "not a usable address" in bad.detail
    assert good.status == "sent" and [r.rcpt for r in sink.received] == [["ann@example.com"]]


def test_rate_limit_spaces_messages() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    with smtp_sink() as (sink, port):
        channel = SMTPChannel(
            parse_smtp_url(f"smtp://127.0.0.1:{port}?tls=none"),
            rate_per_second=4,
            monotonic=lambda: now[0],
            sleep=sleep,
        )
        channel.send_emails(None, [_message(f"p{i}@example.com") for i in range(5)])  # type: ignore[arg-type]
        channel.close()
    assert slept == [0.25, 0.25, 0.25, 0.25]
    assert len(sink.received) == 5


def test_url_options(tmp_path: Path) -> None:
    assert parse_smtp_url("smtp://mail.example.com") == parse_smtp_url(
        "smtp://mail.example.com:587?tls=starttls"
    )
    u = parse_smtp_url("smtps://me%40example.com@mail.example.com")
    assert (u.tls, u.port, u.username, u.verify) == ("ssl", 465, "me@example.com", True)
    u = parse_smtp_url("smtp://[::1]?tls=none&verify=false")
    assert (u.host, u.port, u.verify) == ("::1", 25, False)
    for bad, says in [
        ("smtp://me:hunter2@mail.example.com", "keyring"),
        ("smtp://mail.example.com?tls=maybe", "tls=maybe"),
        ("smtp://mail.example.com?tsl=none", "unknown option 'tsl'"),
        ("smtp://mail.example.com?verify=perhaps", "verify=perhaps"),
        (f"smtp://mail.example.com?cafile={tmp_path}/missing.pem", "missing.pem"),
        ("http://mail.example.com", "smtp://"),
        ("smtp://mail.example.com:99999", "port"),
    ]:
        with pytest.raises(ValueError, match=re.escape(says)) as info:
            parse_smtp_url(bad)
        assert "hunter2" not in str(info.value)
