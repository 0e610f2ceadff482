"""The tracking server over real HTTP (SPEC §5, E7): opens, clicks, opt-outs, callbacks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, select

from engine import campaigns
from engine.api import figures
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Campaign, Suppression
from engine.tracking_server import TrackingServer
from engine.tracking_server.pages import OptOut, confirm_page, done_page
from tests.conftest import T0

from .tracking_site import MAIL_BODY, SALE, Site, campaign, running_site
from .world import World, email


@pytest.fixture
def site(db: Database, clock: FixedClock) -> Iterator[Site]:
    yield from running_site(db, clock)


# --- opens and clicks --------------------------------------------------------------------


def test_pixel_records_an_open_and_moves_the_journey(site: Site) -> None:
    status, headers, body = site.request("HEAD", site.path("mail", "Ann", "pixel"))
    assert status == 200 and site.interactions("open") == 0  # link checkers record nothing

    status, headers, body = site.request("GET", site.path("mail", "Ann", "pixel"))
    assert status == 200
    assert headers["content-type"] == "image/gif" and body.startswith(b"GIF89a")
    assert "no-store" in headers["cache-control"]
    assert site.interactions("open") == 1
    assert site.trace("opened", "Ann")["due"] == site.w.clock.now() + timedelta(hours=1)
    assert site.trace("not_opened", "Ann")["message"] == "Parent activity mail opened"
    assert site.trace("not_opened", "Bob")["state"] == "scheduled"


def test_click_redirects_to_the_stored_url_and_runs_zero_delay_children(site: Site) -> None:
    status, headers, _ = site.request("GET", site.path("mail", "Ann", "click"))
    assert status == 302
    assert headers["location"] == SALE
    # The click implies the open, the 0-delay child ran before the answer, "not" canceled.
    assert site.trace("clicked", "Ann")["state"] == "processed"
    assert site.trace("opened", "Ann")["due"] is not None
    assert site.trace("not_opened", "Ann")["state"] == "canceled"

    for _ in range(2):
        assert site.request("GET", site.path("mail", "Ann", "click"))[0] == 302
    assert site.interactions("click") == 3  # every click is logged against its link…
    assert site.interactions("open") == 1  # …the implied open only once
    report = site.w.report(site.cid)["activities"]["mail"]
    assert (report["clicked"], report["opened"]) == (1, 1)  # counted once per trace


def test_redirects_never_go_anywhere_but_the_stored_link(site: Site) -> None:
    click = site.path("mail", "Ann", "click")
    status, headers, _ = site.request(
        "GET", click + "?url=https://evil.example/&next=//evil.example&redirect=evil"
    )
    assert status == 302 and headers["location"] == SALE

    before = site.snapshot()
    token = site.token("mail", "Ann")
    other_link = site.path("other", "Ann", "click").rsplit("/", 1)[1]
    for path in (
        f"/t/{token}/c/{other_link}",  # a link of another activity
        f"/t/{token}/c/999999",  # no such link
        f"/t/{token}/c/{other_link}@evil.example",
        f"//evil.example/t/{token}/c/{other_link}",
        f"/t/{token}/c/https://evil.example/",
        f"/t/{token}/c/%2F%2Fevil.example",
        f"/s/{token}/{other_link}",
    ):
        status, headers, body = site.request("GET", path)
        assert status == 404, path
        assert "location" not in headers
        assert b"This link is not valid" in body
    assert site.snapshot() == before


def test_a_hot_link_is_looked_up_once(site: Site) -> None:
    """A newsletter's link clicked again and again asks the database where it goes once:
    the trace's activity and the link's URL never change."""
    lookups: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM link" in statement:
            lookups.append(statement)

    event.listen(site.db.engine, "before_cursor_execute", seen)
    try:
        for _ in range(3):
            assert site.request("GET", site.path("mail", "Ann", "click"))[0] == 302
        token = site.token("mail", "Ann")
        assert site.request("GET", f"/t/{token}/c/0")[0] == 404  # no link has id 0
    finally:
        event.remove(site.db.engine, "before_cursor_execute", seen)
    assert len(lookups) == 1
    assert site.interactions("click") == 3  # each click still recorded


# --- unsubscribe ---------------------------------------------------------------------------


def unsubscribed(site: Site) -> tuple[int, int]:
    mail = figures.campaign_figures(site.db, site.cid).activity("mail")
    days = figures.series(site.db, site.cid, site.w.clock.now()).of("mail")
    assert mail is not None
    return mail.unsubscribed, sum(days.unsubscribed)


def test_unsubscribe_asks_on_get_and_opts_out_on_post(site: Site) -> None:
    path = site.path("mail", "Ann", "unsub")
    before = site.snapshot()
    status, headers, body = site.request("GET", path)
    assert status == 200 and headers["content-type"].startswith("text/html")
    page = body.decode()
    assert '<form method="post"' in page and "Unsubscribe" in page
    assert "a•••@example.com" in page and "ann@example.com" not in page
    assert "Shop" in page
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert site.snapshot() == before  # a GET (a mail scanner) changes nothing

    status, _, body = site.request(
        "POST", path, "", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200 and "You are unsubscribed" in body.decode()
    assert site.contact("Ann").opt_out_email is True
    assert site.snapshot()["suppressed"] == ["ann@example.com"]
    assert unsubscribed(site) == (1, 1)  # the message's figure and its sending day's

    after = site.snapshot()
    status, _, body = site.request("POST", path, "")
    assert status == 200 and "You are unsubscribed" in body.decode()
    assert site.snapshot() == after  # idempotent
    assert unsubscribed(site) == (1, 1)
    status, _, body = site.request("GET", path)
    assert "You are unsubscribed" in body.decode() and "<form" not in body.decode()

    # Opted out means opted out: the next email to Ann is canceled.
    assert site.contact("Bob").opt_out_email is False


def test_rfc8058_one_click_post(site: Site) -> None:
    header = site.outbox("mail", "Bob").headers["List-Unsubscribe"]
    path = urlsplit(header.strip("<>")).path
    status, _, _ = site.request(
        "POST",
        path,
        "List-Unsubscribe=One-Click",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert site.contact("Bob").opt_out_email is True
    assert "bob@example.com" in site.snapshot()["suppressed"]


def test_unsubscribe_pages_escape_what_they_print() -> None:
    hostile = OptOut(
        "email",
        '"><script>alert(1)</script>@x.org',
        "<img src=x onerror=alert(1)>",
        already=False,
        test=True,
    )
    for page in (confirm_page(hostile), done_page(hostile)):
        text = page.decode()
        assert "<script>" not in text and "<img" not in text
        assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_sms_unsubscribe_opts_out_of_sms_only(site: Site) -> None:
    token = site.path("text", "Ann", "short").split("/")[2]
    status, _, body = site.request("GET", f"/t/{token}/unsubscribe")
    assert status == 200 and "text messages" in body.decode() and "+32•••00" in body.decode()
    status, _, body = site.request("POST", f"/t/{token}/unsubscribe", "")
    assert status == 200 and "You are unsubscribed" in body.decode()
    ann = site.contact("Ann")
    assert (ann.opt_out_sms, ann.opt_out_email) == (True, False)
    with site.db.session() as s:
        rows = s.execute(select(Suppression.kind, Suppression.value)).all()
    assert [tuple(r) for r in rows] == [("phone", "+32470000000")]


def test_unsubscribing_from_a_test_message_changes_nothing(db: Database, clock: FixedClock) -> None:
    w = World(db, clock)
    [ann] = w.people("Ann")
    cid = w.campaign(email("mail", body=MAIL_BODY), start=False)
    with db.session() as s:
        campaigns.launch_test(s, s.get_one(Campaign, cid), ann, clock.now())
    w.run(hours=1)
    server = TrackingServer(db, clock, "127.0.0.1", 0)
    server.start()
    try:
        site = Site(w, server, cid)
        path = site.path("mail", "Ann", "unsub")
        before = site.snapshot()
        assert "test message" in site.request("GET", path)[2].decode()
        status, _, body = site.request("POST", path, "List-Unsubscribe=One-Click")
        assert status == 200 and "nothing was changed" in body.decode()
        assert site.snapshot() == before
    finally:
        server.stop()


def test_view_online_shows_the_stored_email(site: Site) -> None:
    token = site.token("mail", "Ann")
    status, headers, body = site.request("GET", f"/t/{token}/view")
    assert status == 200 and body.decode() == site.outbox("mail", "Ann").body
    assert "script-src" not in headers["content-security-policy"]  # default-src 'none'
    assert "default-src 'none'" in headers["content-security-policy"]
    sms_token = site.path("text", "Ann", "short").split("/")[2]
    assert site.request("GET", f"/t/{sms_token}/view")[0] == 404  # an SMS has no page


def test_view_online_renders_again_when_nothing_was_stored(site: Site) -> None:
    """Mail sent over SMTP is not kept: the page is rendered again for the same trace."""
    from sqlalchemy import delete

    from engine.models import OutboxMessage

    stored = site.outbox("mail", "Ann").body
    token = site.token("mail", "Ann")
    with site.db.session() as s:
        s.execute(delete(OutboxMessage))
    status, _, body = site.request("GET", f"/t/{token}/view")
    page = body.decode()
    assert status == 200 and "Ann" in page
    assert page.split("<img")[0] == stored.split("<img")[0]  # same links, same text


# --- SMS ----------------------------------------------------------------------------------


def test_sms_short_link_and_status_callbacks(site: Site) -> None:
    status, headers, _ = site.request("GET", site.path("text", "Ann", "short"))
    assert status == 302 and headers["location"] == "https://shop.example.com/s"
    assert site.trace("sms_clicked", "Ann")["state"] == "processed"
    assert site.trace("sms_not_clicked", "Ann")["message"] == "Parent activity SMS clicked"

    bob = f"/sms/status/{site.path('text', 'Bob', 'short').split('/')[2]}"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = site.request("POST", bob, "MessageStatus=delivered&MessageSid=SM1", form)
    assert status == 200 and json.loads(body)["bounce_recorded"] is False
    assert site.trace("sms_not_clicked", "Bob")["state"] == "scheduled"

    status, _, body = site.request("POST", bob, "MessageStatus=undelivered&ErrorCode=30003", form)
    assert status == 200 and json.loads(body)["bounce_recorded"] is True
    assert site.trace("sms_not_clicked", "Bob")["message"] == "Parent activity bounced"
    assert site.trace("sms_bounced", "Bob")["state"] == "processed"  # 0 delay: same pass

    cat = f"/sms/status/{site.path('text', 'Cat', 'short').split('/')[2]}"
    json_type = {"Content-Type": "application/json"}
    status, _, body = site.request("POST", cat, '{"status": "failed"}', json_type)
    assert status == 200 and json.loads(body)["bounce_recorded"] is True

    before = site.snapshot()
    for bad_body, ctype in (("", form), ("Foo=bar", form), ("[1]", json_type), ("{", json_type)):
        status, headers, body = site.request("POST", cat, bad_body, ctype)
        assert status == 400 and "error" in json.loads(body)
    assert site.snapshot() == before


# --- ESP webhooks -------------------------------------------------------------------------


def test_esp_sendgrid_events(site: Site) -> None:
    ann_mid = site.outbox("mail", "Ann").headers["Message-ID"]
    bob_token = site.token("mail", "Bob")
    forged = bob_token[:-1] + ("A" if bob_token[-1] != "A" else "B")
    events = [
        {"event": "bounce", "email": "ann@example.com", "smtp-id": ann_mid, "reason": "550 no"},
        {"event": "bounce", "email": "bob@example.com", "journeys_token": forged},
        {"event": "delivered", "email": "cat@example.com", "journeys_token": bob_token},
        {"event": "spamreport", "email": "someone@else.org", "journeys_token": bob_token},
        {"event": "dropped", "email": "x@example.com"},
        "not an object",
    ]
    status, _, body = site.request(
        "POST", "/esp/events", json.dumps(events), {"Content-Type": "application/json"}
    )
    assert status == 200
    assert json.loads(body) == {
        "received": 6,
        "bounced": 1,
        "complaints": 1,
        "unsubscribed": 0,
        "ignored": 2,
        "unmatched": 2,
    }
    assert site.trace("not_opened", "Ann")["message"] == "Parent activity bounced"
    assert site.trace("bounced", "Ann")["state"] == "processed"
    assert site.trace("not_opened", "Bob")["state"] == "scheduled"  # the forged bounce
    # The complaint opts out the trace's own recipient, never the address the body names.
    snap = site.snapshot()
    assert snap["opted_out"] == ["Bob"] and snap["suppressed"] == ["bob@example.com"]


@pytest.mark.parametrize(
    "shape",
    [
        lambda mid, tok: {
            "signature": {},
            "event-data": {
                "event": "failed",
                "severity": "permanent",
                "message": {"headers": {"message-id": mid.strip("<>")}},
            },
        },
        lambda mid, tok: {
            "RecordType": "Bounce",
            "Type": "HardBounce",
            "MessageID": "b7bc2f4a-e38e-4336-af7d-e6c392c2f817",
            "Metadata": {"journeys_token": tok},
        },
    ],
    ids=["mailgun", "postmark"],
)
def test_esp_mailgun_and_postmark_bounces(site: Site, shape: Any) -> None:
    msg = site.outbox("mail", "Cat")
    payload = shape(msg.headers["Message-ID"], site.token("mail", "Cat"))
    status, _, body = site.request("POST", "/esp/events", json.dumps(payload))
    assert status == 200 and json.loads(body)["bounced"] == 1
    assert site.trace("not_opened", "Cat")["message"] == "Parent activity bounced"


def test_esp_rejects_what_is_not_an_event_list(site: Site) -> None:
    before = site.snapshot()
    for body in ("{", "42", '"x"', "\xff", "[" * 100_000):
        status, headers, answer = site.request("POST", "/esp/events", body.encode("latin-1"))
        assert status == 400, body[:10]
        assert headers["content-type"] == "application/json" and "error" in json.loads(answer)
    assert site.snapshot() == before


def test_embedded_mode_announces_instead_of_executing(db: Database, clock: FixedClock) -> None:
    w = World(db, clock)
    w.people("Ann")
    cid = campaign(w)
    w.run(hours=1)
    seen: list[Any] = []
    server = TrackingServer(db, clock, "127.0.0.1", 0, on_interaction=seen.append)
    server.start()
    try:
        site = Site(w, server, cid)
        assert site.request("GET", site.path("mail", "Ann", "click"))[0] == 302
    finally:
        server.stop()
    assert [r.campaigns for r in seen] == [{cid}]
    # The runner (woken by the callback) executes the 0-delay child, not the server.
    assert w.traces(cid, "clicked")["Ann"]["state"] == "scheduled"
    assert w.traces(cid, "clicked")["Ann"]["due"] == T0 + timedelta(hours=1)
