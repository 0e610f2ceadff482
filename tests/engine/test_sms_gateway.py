"""SMS gateways end to end: campaigns sent through the loopback provider servers of
:mod:`tests.engine.sms_servers`, so these tests see exactly what would go over the wire.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from engine import settings
from engine.channels import Channels, OutboundSms, OutboxChannel
from engine.channels.config import sms_channel
from engine.channels.sms_channel import SmsGatewayChannel
from engine.channels.sms_gateway import check_url
from engine.clock import FixedClock
from engine.db import Database
from engine.errors import UserError
from engine.models import Interaction, OutboxMessage
from engine.tracking import verify_token
from engine.tracking_server import TrackingServer
from tests.conftest import T0

from .sms_servers import BASE, JSON_TOKEN, SENDER, SID, TWILIO_TOKEN, FakeJsonGateway, FakeTwilio
from .world import World, action, sms, tag


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    server = FakeTwilio()
    yield server
    server.close()


@pytest.fixture
def json_gateway() -> Iterator[FakeJsonGateway]:
    server = FakeJsonGateway()
    yield server
    server.close()


@pytest.fixture
def w(db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("JOURNEYS_SMS_TOKEN", TWILIO_TOKEN)
    monkeypatch.delenv("JOURNEYS_SMS_URL", raising=False)
    monkeypatch.delenv("JOURNEYS_TRACKING_BASE_URL", raising=False)
    world = World(db, clock)
    configure(world, "tracking.base_url", BASE)
    return world


def configure(w: World, key: str, value: str) -> None:
    with w.db.session() as s:
        settings.set_value(s, key, value)


def trace_of_token(w: World, token: str) -> int | None:
    with w.db.session() as s:
        return verify_token(settings.tracking_secret(s), token)


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- Twilio -------------------------------------------------------------------------------
def test_twilio_sends_e164_numbers_short_links_and_a_status_callback(
    w: World, twilio: FakeTwilio
) -> None:
    configure(w, "sms.url", twilio.url)
    w.contacts(
        {"name": "Ann", "phone": "0470 12 34 56", "country": "BE"},
        {"name": "Bob", "phone": "+32 470 12 34 57"},
    )
    cid = w.campaign(sms("promo", body="Hi {{ record.name }}, sale: https://shop.example.com/s"))
    w.run()

    assert w.states(cid, "promo") == {"Ann": "processed", "Bob": "processed"}
    assert sorted(twilio.sent_to()) == ["+32470123456", "+32470123457"]
    assert twilio.connections == 1  # one keep-alive connection for the batch
    traces = w.traces(cid, "promo")
    for req in twilio.requests:
        assert req["From"] == SENDER
        name = "Ann" if req["To"] == "+32470123456" else "Bob"
        match = re.fullmatch(rf"Hi {name}, sale: {BASE}/s/(\S+)/(\d+)", req["Body"])
        assert match, req["Body"]
        token = match.group(1)
        assert trace_of_token(w, token) == traces[name]["id"]
        assert req["StatusCallback"] == f"{BASE}/sms/status/{token}"
    assert w.report(cid)["activities"]["promo"]["sent"] == 2
    with w.db.session() as s:
        assert s.scalars(select(OutboxMessage)).all() == []  # the gateway, not the outbox


def test_twilio_invalid_number_is_processed_as_an_sms_bounce(w: World, twilio: FakeTwilio) -> None:
    configure(w, "sms.url", twilio.url)
    w.people("Ann", "Bob")
    twilio.invalid.add("+32470000001")  # Bob
    cid = w.campaign(
        sms("promo"),
        action("bad_number", tag("Bad number"), parent="promo", trigger="sms_bounce"),
        action("clicked", tag("Clicked"), parent="promo", trigger="sms_click"),
    )
    w.run()

    assert w.states(cid, "promo") == {"Ann": "processed", "Bob": "processed"}
    message = w.messages(cid, "promo")["Bob"] or ""
    assert message.startswith("Bounced:") and "21211" in message and "not a valid" in message
    assert w.states(cid, "bad_number") == {"Ann": "scheduled", "Bob": "processed"}
    assert w.messages(cid, "clicked")["Bob"] == "Parent activity bounced"
    counts = w.report(cid)["activities"]["promo"]
    assert (counts["sent"], counts["bounced"]) == (2, 1)


def test_twilio_outage_retries_with_back_off_then_errors(w: World, twilio: FakeTwilio) -> None:
    configure(w, "sms.url", twilio.url)
    w.people("Ann", "Bob")
    twilio.busy.add("+32470000000")  # Ann
    cid = w.campaign(sms("promo"))
    w.run()

    ann = w.traces(cid, "promo")["Ann"]
    assert (ann["state"], ann["attempts"]) == ("scheduled", 1)
    assert ann["due"] == T0 + timedelta(minutes=5)
    assert "HTTP 503" in ann["message"]
    assert w.states(cid, "promo")["Bob"] == "processed"  # a 5xx does not hold up the rest
    for _ in range(6):
        w.run(hours=6)
    ann = w.traces(cid, "promo")["Ann"]
    assert ann["state"] == "error"
    assert ann["message"].startswith("Gave up after 5 attempts") and "503" in ann["message"]
    assert twilio.sent_to().count("+32470000000") == 5
    assert twilio.sent_to().count("+32470000001") == 1  # Bob: sent once, never again


def test_dead_gateway_is_retried_later_and_the_engine_keeps_running(
    w: World, twilio: FakeTwilio
) -> None:
    configure(w, "sms.url", f"twilio://{SID}@127.0.0.1:{dead_port()}?scheme=http&from={SENDER}")
    w.people("Ann", "Bob", "Cid")
    cid = w.campaign(sms("promo"), action("act", tag("Done")))
    stats = w.run()

    assert stats.executed == 6
    assert w.states(cid, "act") == {"Ann": "processed", "Bob": "processed", "Cid": "processed"}
    promo = w.traces(cid, "promo")
    assert {t["state"] for t in promo.values()} == {"scheduled"}
    assert {t["attempts"] for t in promo.values()} == {1}
    messages = sorted(t["message"] for t in promo.values())
    assert all("cannot reach" in m for m in messages)
    assert sum("not tried" in m for m in messages) == 2  # one connection attempt, not three

    configure(w, "sms.url", twilio.url)  # the gateway is back
    w.run(minutes=5)
    assert set(w.states(cid, "promo").values()) == {"processed"}
    assert sorted(twilio.sent_to()) == ["+32470000000", "+32470000001", "+32470000002"]


@pytest.mark.parametrize("behaviour", ["silent", "drop"])
def test_no_answer_is_delivery_unknown_and_never_resent(
    db: Database,
    clock: FixedClock,
    twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
    behaviour: str,
) -> None:
    monkeypatch.setenv("JOURNEYS_SMS_TOKEN", TWILIO_TOKEN)
    url = twilio.url
    w = World(
        db,
        clock,
        channels=lambda s, now: Channels(OutboxChannel(now), SmsGatewayChannel(url, timeout=0.5)),
    )
    w.people("Ann", "Bob")
    getattr(twilio, behaviour).add("+32470000000")  # Ann's message goes in, nothing comes out
    cid = w.campaign(sms("promo"))
    w.run()

    ann, bob = w.traces(cid, "promo")["Ann"], w.traces(cid, "promo")["Bob"]
    assert ann["state"] == "error"
    assert ann["message"].startswith("Delivery unknown") and "check the provider" in ann["message"]
    assert (bob["state"], bob["attempts"]) == ("scheduled", 1)
    assert (
        f"not tried: the Twilio-compatible gateway at 127.0.0.1:{twilio.port} stopped"
        in bob["message"]
    )
    for _ in range(3):
        w.run(hours=1)
    assert w.states(cid, "promo") == {"Ann": "error", "Bob": "processed"}
    assert twilio.sent_to() == ["+32470000000", "+32470000001"]  # each exactly once


def test_missing_token_and_bad_environment_url_are_clear_and_lose_nothing(
    w: World, twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(w, "sms.url", twilio.url)
    w.people("Ann", "Bob")
    cid = w.campaign(sms("promo"))
    tokenless = SmsGatewayChannel(twilio.url, token=lambda: None)
    no_token = World(w.db, w.clock, channels=lambda s, now: Channels(OutboxChannel(now), tokenless))
    no_token.run()
    messages = set(w.messages(cid, "promo").values())
    assert all("JOURNEYS_SMS_TOKEN" in (m or "") for m in messages)
    assert set(w.states(cid, "promo").values()) == {"scheduled"}
    assert twilio.requests == []

    monkeypatch.setenv("JOURNEYS_SMS_URL", "twilio://api.twilio.com")  # only env can be bad
    w.run(minutes=5)
    t = w.traces(cid, "promo")["Ann"]
    assert (t["state"], t["attempts"]) == ("scheduled", 2)
    assert "JOURNEYS_SMS_URL" in t["message"] and "account SID" in t["message"]
    monkeypatch.delenv("JOURNEYS_SMS_URL")
    w.run(minutes=10)
    assert set(w.states(cid, "promo").values()) == {"processed"}
    assert len(twilio.requests) == 2


def test_provider_status_callback_reaches_the_tracking_server_and_bounces(
    w: World, twilio: FakeTwilio
) -> None:
    """The provider reports delivery on the StatusCallback URL we gave it, as Twilio does."""
    server = TrackingServer(w.db, w.clock, port=0)
    server.start()
    try:
        configure(w, "tracking.base_url", server.url)
        configure(w, "sms.url", twilio.url)
        w.people("Ann")
        cid = w.campaign(
            sms("promo"),
            action("bad_number", tag("Bad number"), parent="promo", trigger="sms_bounce"),
            action("later", tag("Later"), parent="promo", trigger="activity", delay=1, unit="days"),
        )
        w.run()
        callback = twilio.requests[0]["StatusCallback"]
        assert callback.startswith(f"{server.url}/sms/status/")
        token = callback.rsplit("/", 1)[1]
        assert trace_of_token(w, token) == w.traces(cid, "promo")["Ann"]["id"]

        def provider_reports(url: str, status: str) -> httpx.Response:
            form = {"MessageSid": "SM1", "MessageStatus": status, "ErrorCode": "30003"}
            return httpx.post(url, data=form, timeout=10)

        assert provider_reports(callback + "x", "undelivered").status_code == 404  # forged
        assert provider_reports(callback, "sent").status_code == 200
        assert w.states(cid, "bad_number") == {"Ann": "scheduled"}
        w.clock.advance(minutes=3)
        assert provider_reports(callback, "undelivered").json()["bounce_recorded"] is True
        assert w.states(cid, "bad_number") == {"Ann": "processed"}  # 0 delay: at once
        assert w.messages(cid, "later") == {"Ann": "Parent activity bounced"}
        assert w.report(cid)["activities"]["promo"]["bounced"] == 1
        with w.db.session() as s:
            assert s.scalars(select(Interaction.type)).all() == ["sms_bounce"]
    finally:
        server.stop()


# --- the generic JSON gateway ----------------------------------------------------------
def test_json_gateway_posts_json_with_a_bearer_token(
    w: World, json_gateway: FakeJsonGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEYS_SMS_TOKEN", JSON_TOKEN)
    configure(w, "sms.url", json_gateway.url)
    w.people("Ann", "Bob")
    json_gateway.invalid.add("+32470000001")
    cid = w.campaign(
        sms("promo", body="Hi {{ record.name }}: https://shop.example.com/x"),
        action("bad_number", tag("Bad number"), parent="promo", trigger="sms_bounce"),
    )
    w.run()

    assert w.states(cid, "promo") == {"Ann": "processed", "Bob": "processed"}
    assert w.states(cid, "bad_number") == {"Ann": "scheduled", "Bob": "processed"}
    assert "HTTP 422" in (w.messages(cid, "promo")["Bob"] or "")
    ann = next(r for r in json_gateway.requests if r["to"] == "+32470000000")
    assert set(json.loads(ann["raw"])) == {"to", "body", "status_callback", "reference"}
    token = ann["reference"]
    assert trace_of_token(w, token) == w.traces(cid, "promo")["Ann"]["id"]
    assert ann["idempotency"] == token
    assert ann["status_callback"] == f"{BASE}/sms/status/{token}"
    assert re.fullmatch(rf"Hi Ann: {BASE}/s/{re.escape(token)}/\d+", ann["body"])


def test_json_gateway_refusing_our_token_stops_the_batch_with_a_clear_message(
    w: World, json_gateway: FakeJsonGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEYS_SMS_TOKEN", "wrong")
    configure(w, "sms.url", json_gateway.url)
    w.people("Ann", "Bob")
    cid = w.campaign(sms("promo"))
    w.run()
    assert set(w.states(cid, "promo").values()) == {"scheduled"}
    assert all("sms.token" in (m or "") for m in w.messages(cid, "promo").values())
    assert len(json_gateway.requests) == 1  # no point trying the others with that token


# --- segments ------------------------------------------------------------------------------
def test_segments_are_counted_and_overlong_bodies_refused(w: World, twilio: FakeTwilio) -> None:
    channel = SmsGatewayChannel(twilio.url)
    to = "+32470123456"
    with w.db.session() as s:
        out = channel.send_sms(
            s,
            [
                OutboundSms(to=to, body="Привет! " * 12, trace_id=1),  # 96 UCS-2 characters
                OutboundSms(to=to, body="x" * 161, trace_id=2),
                OutboundSms(to=to, body="€" * 80, trace_id=3),  # 160 septets: still one
                OutboundSms(to=to, body="Ж" * 671, trace_id=4),  # 11 UCS-2 segments
            ],
        )
    channel.close()
    assert [d.status for d in out] == ["sent", "sent", "sent", "failed"]
    assert out[0].detail.startswith("2 UCS-2 segments, provider id SM")
    assert out[1].detail.startswith("2 GSM-7 segments")
    assert out[2].detail.startswith("1 GSM-7 segment,")
    assert out[3].detail == "SMS too long: 671 UCS-2 characters make 11 segments; the limit is 10"
    assert [r["Body"] for r in twilio.requests] == ["Привет! " * 12, "x" * 161, "€" * 80]

    configure(w, "sms.url", twilio.url)
    w.people("Ann")
    cid = w.campaign(sms("long", body="Ж" * 700))
    w.run()
    assert w.states(cid, "long") == {"Ann": "error"}
    assert (w.messages(cid, "long")["Ann"] or "").startswith("SMS too long")
    assert len(twilio.requests) == 3


# --- settings ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("twilio://ACx@api.twilio.com", "exactly one sender"),
        ("twilio://ACx:tok@api.twilio.com?from=+15005550006", "password"),
        ("twilio://api.twilio.com?from=+15005550006", "account SID"),
        ("twilio://ACx@api.twilio.com?from=+15005550006&scheme=http", "plain http only"),
        ("twilio://ACx@api.twilio.com?from=12", "international form"),
        ("twilio://ACx@api.twilio.com?form=+15005550006", "unknown option form"),
        ("http://sms.example.com/send", "plain http only"),
        ("ftp://sms.example.com", "must start with https://"),
    ],
)
def test_unusable_sms_urls_are_refused_when_set(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_url(url)


def test_sms_url_setting_chooses_the_channel(w: World) -> None:
    for good in (
        "twilio://ACx@api.twilio.com?from=+15005550006",  # a literal plus stays a plus
        "twilio://ACx@api.twilio.com?messaging_service=MG123",
        "twilio://ACx@api.twilio.com?from=MyShop",
        "https://sms.example.com/send?account=7",
        "http://localhost:9000/send",
    ):
        assert check_url(good) == good
    with w.db.session() as s:
        assert sms_channel(s, T0) is None
        with pytest.raises(UserError, match=r"sms\.url needs exactly one sender"):
            settings.set_value(s, "sms.url", "twilio://ACx@api.twilio.com")
        settings.set_value(s, "sms.url", "twilio://ACx@api.twilio.com?from=+15005550006")
        channel = sms_channel(s, T0)
    assert isinstance(channel, SmsGatewayChannel) and not channel.transactional


def test_callbacks_are_not_given_to_a_provider_that_cannot_reach_them(
    w: World, twilio: FakeTwilio
) -> None:
    configure(w, "tracking.base_url", "http://127.0.0.1:8787")
    channel = SmsGatewayChannel(f"twilio://{SID}@api.twilio.com?from={SENDER}")
    with w.db.session() as s:
        assert channel._callback_base(s, channel._get_gateway()) is None
        local = SmsGatewayChannel(twilio.url)
        assert local._callback_base(s, local._get_gateway()) == "http://127.0.0.1:8787"
