"""The webhook action (SPEC §3, E13) against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine import campaign_files, campaigns, settings
from engine.errors import ValidationError
from engine.models import Campaign
from tests.conftest import T0

from .world import World, action


@dataclass
class Hook:
    """A webhook receiver: answers from ``script`` in order (then 200), records requests.

    A ``held`` answer waits until the test calls :meth:`release` (a time-out is then
    shown by the client returning while the answer is still held, not by a stopwatch).
    """

    url: str
    script: list[tuple[int, str, bool]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    answered: int = 0
    released: threading.Event = field(default_factory=threading.Event)

    def answer(self, status: int, body: str = "", held: bool = False) -> None:
        self.script.append((status, body, held))

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            status, text, held = state.script.pop(0) if state.script else (200, "ok", False)
            if held:
                state.released.wait(timeout=60)
            data = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                state.answered += 1
            except OSError:
                pass  # the client gave up (time-out tests)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/journeys"
    yield state
    state.release()
    server.shutdown()
    server.server_close()


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def webhook(url: str, **params: Any) -> dict[str, Any]:
    return action("hook", {"kind": "webhook", "url": url, **params})


def test_posts_signed_json_with_an_idempotency_key(
    w: World, hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNEYS_SECRET_CRM_HOOK", "s3cret-key")
    w.contacts({"name": "Ann", "email": "ann@example.com", "country": "BE"})
    cid = w.campaign(webhook(hook.url, fields=["name", "email", "tags"], secret="crm-hook"))
    w.run()
    trace = w.traces(cid, "hook")["Ann"]
    assert (trace["state"], trace["message"]) == ("processed", None)
    [req] = hook.requests
    assert req["path"] == "/hooks/journeys"
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == str(trace["id"])
    expected = "sha256=" + hmac.new(b"s3cret-key", req["body"], hashlib.sha256).hexdigest()
    assert headers["x-journeys-signature"] == expected
    payload = json.loads(req["body"])
    assert payload["trace_id"] == trace["id"]
    assert payload["campaign"] == {"id": cid, "name": "Test"}
    assert payload["activity"]["key"] == "hook"
    assert payload["record"] == {
        "id": payload["record"]["id"],
        "name": "Ann",
        "email": "ann@example.com",
        "tags": [],
    }
    assert "s3cret" not in req["body"].decode() and "country" not in payload["record"]


def test_unsigned_without_a_secret(w: World, hook: Hook) -> None:
    w.people("Ann")
    w.campaign(webhook(hook.url))
    w.run()
    headers = {k.lower() for k in hook.requests[0]["headers"]}
    assert "x-journeys-signature" not in headers
    assert json.loads(hook.requests[0]["body"])["record"].keys() == {"id"}


def test_a_missing_secret_is_an_error_and_nothing_is_sent(w: World, hook: Hook) -> None:
    w.people("Ann")
    cid = w.campaign(webhook(hook.url, secret="nowhere-to-be-found"))
    w.run()
    assert w.states(cid, "hook") == {"Ann": "error"}
    message = w.messages(cid, "hook")["Ann"] or ""
    assert message.startswith("webhook secret 'nowhere-to-be-found' is not set")
    assert "JOURNEYS_SECRET_NOWHERE_TO_BE_FOUND" in message
    assert hook.requests == []


def test_a_server_error_is_retried_with_the_same_key_then_processed(w: World, hook: Hook) -> None:
    hook.answer(500, "database is down")
    w.people("Ann")
    cid = w.campaign(
        webhook(hook.url),
        action(
            "next",
            {"kind": "update_record", "values": {"description": "hooked"}},
            parent="hook",
            trigger="activity",
        ),
    )
    w.run()
    t = w.traces(cid, "hook")["Ann"]
    assert (t["state"], t["attempts"], t["due"]) == ("scheduled", 1, T0 + timedelta(minutes=5))
    assert t["message"] == "Attempt 1 failed, retrying: HTTP 500: database is down"
    assert "next" not in {k.split("/")[0] for k in w.traces(cid)}  # no child yet
    w.run(minutes=5)
    assert w.states(cid, "hook") == {"Ann": "processed"}
    assert w.states(cid, "next") == {"Ann": "processed"}
    keys = [r["headers"]["Idempotency-Key"] for r in hook.requests]
    assert keys == [str(t["id"])] * 2


def test_a_client_error_fails_at_once_with_an_excerpt(w: World, hook: Hook) -> None:
    hook.answer(404, "no such hook\n" + "x" * 500)
    w.people("Ann")
    cid = w.campaign(webhook(hook.url))
    w.run()
    assert w.states(cid, "hook") == {"Ann": "error"}
    message = w.messages(cid, "hook")["Ann"] or ""
    assert message.startswith("HTTP 404: no such hook xxx")
    assert len(message) == len("HTTP 404: ") + 200
    assert len(hook.requests) == 1


def test_a_timeout_is_retried(w: World, hook: Hook) -> None:
    hook.answer(200, "too late", held=True)
    w.people("Ann")
    cid = w.campaign(webhook(hook.url, timeout_s=0.5))
    w.run()  # returns on its own time-out: the server has not answered yet
    assert len(hook.requests) == 1 and hook.answered == 0
    hook.release()
    t = w.traces(cid, "hook")["Ann"]
    assert (t["state"], t["attempts"]) == ("scheduled", 1)
    assert t["message"] == "Attempt 1 failed, retrying: timed out after 0.5 s"
    w.run(minutes=5)
    assert w.states(cid, "hook") == {"Ann": "processed"}


def test_retries_are_bounded(w: World, hook: Hook) -> None:
    with w.db.session() as s:
        settings.set_value(s, "engine.max_attempts", "2")
    for _ in range(3):
        hook.answer(503, "maintenance")
    w.people("Ann")
    cid = w.campaign(webhook(hook.url))
    w.run()
    w.run(minutes=5)
    assert w.states(cid, "hook") == {"Ann": "error"}
    assert w.messages(cid, "hook")["Ann"] == "Gave up after 2 attempts: HTTP 503: maintenance"
    assert len(hook.requests) == 2


def test_a_dead_endpoint_does_not_cost_a_timeout_per_trace(w: World) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    w.people("Ann", "Bob", "Cid", "Dan", "Eve")
    cid = w.campaign(webhook(f"http://127.0.0.1:{port}/"))
    w.run()
    traces = w.traces(cid, "hook")
    assert [t["state"] for t in traces.values()] == ["scheduled"] * 5
    assert [t["attempts"] for t in traces.values()] == [1, 1, 1, 0, 0]
    assert traces["Ann"]["message"].startswith("Attempt 1 failed, retrying: connection failed")
    assert traces["Eve"]["message"].startswith("Not sent, retrying later: the last 3 requests")


def test_untrusted_webhooks_stay_disabled(w: World, hook: Hook) -> None:
    doc = campaign_files.check_document(
        {
            "format": "journeys/campaign",
            "version": 1,
            "campaign": {"name": "Shared", "target": "contact"},
            "activities": [webhook(hook.url)],
        }
    )
    w.people("Ann")
    with w.db.session() as s:
        cid = campaign_files.import_document(s, doc, trust=False, now=w.clock.now()).id
        campaigns.start(s, s.get(Campaign, cid), w.clock.now())
    w.run()
    assert w.states(cid, "hook") == {"Ann": "error"}
    assert (w.messages(cid, "hook")["Ann"] or "").startswith("Action disabled")
    assert hook.requests == []


def test_the_import_refuses_a_url_without_a_host() -> None:
    doc = {
        "format": "journeys/campaign",
        "version": 1,
        "campaign": {"name": "Bad", "target": "contact"},
        "activities": [webhook("https:///no-host")],
    }
    with pytest.raises(ValidationError, match=r"action\.url: 'https:///no-host'"):
        campaign_files.check_document(doc)
