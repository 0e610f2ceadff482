"""Hostile requests to the tracking server (SPEC §5, §8): forged tokens, oversized or
malformed requests, wrong methods, slow and greedy clients. Each gets a clear answer and
changes nothing.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from engine import settings
from engine.clock import FixedClock
from engine.db import Database
from engine.tracking import make_token
from engine.tracking_server import Limits, TrackingServer
from engine.tracking_server.protocol import GRACE
from tests.waiting import eventually

from .tracking_site import Site, running_site


@pytest.fixture
def site(db: Database, clock: FixedClock) -> Iterator[Site]:
    yield from running_site(db, clock)


def test_forged_tampered_or_unknown_tokens_get_404_and_change_nothing(site: Site) -> None:
    token = site.token("mail", "Ann")
    trace_id, _, sig = token.partition(".")
    bob_id = site.trace("mail", "Bob")["id"]
    with site.db.session() as s:
        secret = settings.tracking_secret(s)
    link = site.path("mail", "Ann", "click").rsplit("/", 1)[1]
    forged = [
        f"{trace_id}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}",  # changed signature
        f"{bob_id}.{sig}",  # another trace with this signature
        f"{trace_id}.",
        f"{trace_id}",
        "garbage",
        f"-{trace_id}.{sig}",
        f"{trace_id}.{sig}x",
        make_token(secret, 987654),  # genuine signature, no such trace
        "9" * 30 + "." + sig,
    ]
    before = site.snapshot()
    for bad in forged:
        for method, path, body in (
            ("GET", f"/t/{bad}/o.gif", None),
            ("GET", f"/t/{bad}/c/{link}", None),
            ("GET", f"/t/{bad}/unsubscribe", None),
            ("POST", f"/t/{bad}/unsubscribe", "List-Unsubscribe=One-Click"),
            ("GET", f"/t/{bad}/view", None),
            ("GET", f"/s/{bad}/{link}", None),
            ("POST", f"/sms/status/{bad}", "MessageStatus=failed"),
        ):
            status, headers, _ = site.request(method, path, body)
            assert status == 404, (method, path)
            assert "location" not in headers
    assert site.snapshot() == before


# --- hostile HTTP -------------------------------------------------------------------------


def _raw(port: int, data: bytes, *, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_hostile_requests_get_clear_answers_and_change_nothing(site: Site) -> None:
    before = site.snapshot()
    unsub = site.path("mail", "Ann", "unsub")
    pixel = site.path("mail", "Ann", "pixel")
    port = site.server.port

    # Too large: refused on the declared size, before a byte of the body is read.
    answer = _raw(
        port, f"POST {unsub} HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n\r\n".encode()
    )
    assert answer.startswith(b"HTTP/1.1 413")
    answer = _raw(port, b"POST /esp/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413")

    # Wrong methods get 405 and say what is allowed.
    status, headers, _ = site.request("DELETE", pixel)
    assert status == 405 and headers["allow"] == "GET, HEAD"
    assert site.request("POST", pixel, "x")[0] == 405
    assert site.request("PUT", unsub, "x")[0] == 405
    assert site.request("GET", "/esp/events")[0] == 405
    assert site.request("GET", "/nothing/here")[0] == 404
    assert site.request("GET", "/t/" + "9" * 5000 + "/o.gif")[0] == 404

    for head in (
        b"Content-Length: abc\r\n",
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Content-Length: -1\r\n",
    ):
        answer = _raw(port, f"POST {unsub} HTTP/1.1\r\nHost: x\r\n".encode() + head + b"\r\n")
        assert answer.startswith(b"HTTP/1.1 400"), head
    answer = _raw(
        port,
        f"POST {unsub} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "1a\r\nList-Unsubscribe=One-Click\r\n0\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 411")
    assert _raw(port, b"GET / HTTP/x.y\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw(port, b"GARBAGE\r\n\r\n").startswith(b"HTTP/1.1 400")
    assert _raw(port, b"BREW /t/x/o.gif HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 501")
    answer = _raw(port, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 414")
    assert site.snapshot() == before


def test_slow_clients_are_cut_off(db: Database, clock: FixedClock) -> None:
    limits = Limits(read_timeout=0.5, request_deadline=1.5)
    server = TrackingServer(db, clock, "127.0.0.1", 0, limits=limits)
    server.start()
    try:
        # Silent after connecting: hung up after the read timeout.
        started = time.monotonic()
        _raw(server.port, b"GET /health HTTP/1.1\r\n", wait=10)
        assert time.monotonic() - started < 4

        # Slow loris: a header byte every 0.2 s keeps each read under the timeout, but the
        # whole request must arrive within the deadline.
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\n")
            with pytest.raises(OSError):
                for _ in range(50):
                    sock.sendall(b"X")
                    time.sleep(0.2)
        assert time.monotonic() - started < 5
        assert _raw(server.port, b"GET /health HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200")
    finally:
        server.stop()


def test_idle_connections_make_room_for_real_requests(db: Database, clock: FixedClock) -> None:
    """All slots taken by clients that send nothing: a new request takes the slot of the
    one waiting longest instead of being refused (they used to lock visitors out)."""
    server = TrackingServer(db, clock, "127.0.0.1", 0, limits=Limits(max_connections=2))
    server.start()
    try:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(2)]
        try:
            eventually(lambda: server.connections == 2, 10, "idle connections not accepted")
            time.sleep(GRACE + 0.1)  # old enough to be pushed out (a rule of the server)
            answer = _raw(server.port, b"GET /health HTTP/1.0\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 200")
            assert idle[0].recv(100) == b""  # the oldest idle one was hung up on…
            idle[1].sendall(b"GET /health HTTP/1.0\r\n\r\n")  # …the younger still served
            assert idle[1].recv(100).startswith(b"HTTP/1.1 200")
        finally:
            for sock in idle:
                sock.close()
    finally:
        server.stop()


def test_concurrent_clicks_are_all_recorded(site: Site) -> None:
    paths = [site.path("mail", n, "click") for n in ("Ann", "Bob", "Cat")] * 4
    results: list[int] = []

    def hit(path: str) -> None:
        results.append(site.request("GET", path)[0])

    threads = [threading.Thread(target=hit, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [302] * len(paths)
    assert site.interactions("click") == len(paths)
    assert all(site.trace("clicked", n)["state"] == "processed" for n in ("Ann", "Bob", "Cat"))


def test_logs_never_carry_a_token_signature(site: Site, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="engine.tracking_server")
    token = site.token("mail", "Ann")
    trace_id, _, signature = token.partition(".")
    site.request("GET", f"/t/{token}/o.gif")
    site.request("GET", f"/t/{token}/c/999")
    assert f"/t/{trace_id}.…/o.gif" in caplog.text
    assert signature not in caplog.text
