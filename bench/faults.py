"""The send path under faults: answers during a send, and two SIGKILLs mid-send.

    python bench/faults.py [--json] [--quick] [--people 300]

Real processes on one SQLite file and a real SMTP server (aiosmtpd, in this process) that
acknowledges each message after 50 ms, as a remote relay does:

1. ``journeys worker --no-tracking`` sends one email to every participant while
   ``journeys serve`` answers tracking links. Once the send is under way a tracked link
   taken from a received message is clicked (``click_ms``: until the redirect is
   answered) and ``journeys list`` is run (``list_ms``: start to exit, a fresh Python
   process included; ``list_idle_ms`` is the same command with nothing running, for the
   ratio).
2. On a fresh database, the worker is SIGKILLed twice mid-send and restarted each time;
   after the last worker settles: ``duplicates`` (recipients the server got twice),
   ``stuck`` (traces still scheduled), ``unknown`` ("Interrupted: delivery unknown",
   at most the messages in flight at each kill), ``received`` (distinct recipients the
   server got) and ``people``.

Prints one JSON object with ``--json`` (figures only, no pass/fail: machines are noisy).
"""

from __future__ import annotations

import sys
from pathlib import Path

# The repository root replaces this script's folder on the path before anything imports
# the standard ``email`` package: bench/email.py would shadow it.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import json
import re
import signal
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable

from bench.processes import journeys, one_email_database, spawn
from tests.smtp_sink import Handler, free_port, smtp_sink

LINK = re.compile(rb"http://127\.0\.0\.1:\d+/t/[A-Za-z0-9_.=-]+/c/\d+")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def wait_for(what: str, cond: Callable[[], bool], seconds: float = 120) -> None:
    end = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > end:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.02)


def prepare(folder: Path, people: int, smtp_port: int, tracking_port: int) -> str:
    return one_email_database(
        folder,
        "Faults",
        people,
        smtp__url=f"smtp://127.0.0.1:{smtp_port}?tls=none",
        engine__handoff_group="5",
        tracking__base_url=f"http://127.0.0.1:{tracking_port}",
    )


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def answers_during_send(folder: Path, people: int) -> dict[str, float]:
    handler = Handler(delay=0.05)
    tracking_port = free_port()
    with smtp_sink(handler) as (sink, port):
        db = prepare(folder, people, port, tracking_port)
        list_idle = timed(lambda: journeys(db, "list"))
        server = spawn(db, "serve", "--port", str(tracking_port))
        worker = spawn(db, "worker", "--no-tracking")
        try:
            wait_for("the first messages", lambda: len(sink.received) >= 10)
            found = LINK.search(sink.received[0].data.replace(b"=\r\n", b""))
            if found is None:
                raise SystemExit("no tracked link in the sent message")
            url = found.group().decode()
            opener = urllib.request.build_opener(NoRedirect)

            def click() -> None:
                try:
                    opener.open(url, timeout=30)
                except urllib.error.HTTPError as exc:  # the 302, not followed
                    if exc.code != 302:
                        raise SystemExit(f"the click answered {exc.code}") from None

            wait_for("the tracking server", lambda: _listening(tracking_port))
            click_ms = timed(click)
            list_ms = timed(lambda: journeys(db, "list"))
            still_sending = len(sink.received) < people
        finally:
            stop(worker)
            stop(server)
    return {
        "click_ms": round(click_ms, 1),
        "list_ms": round(list_ms, 1),
        "list_idle_ms": round(list_idle, 1),
        "measured_during_send": still_sending,
    }


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def two_kills(folder: Path, people: int) -> dict[str, int]:
    handler = Handler(delay=0.05)
    with smtp_sink(handler) as (sink, port):
        db = prepare(folder, people, port, free_port())
        for kill_at in (people // 6, people // 2):
            proc = spawn(db, "worker", "--no-tracking")
            wait_for(f"{kill_at} messages", lambda n=kill_at: len(sink.received) >= n)  # type: ignore[misc]
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        proc = spawn(db, "worker", "--no-tracking")
        try:
            wait_for("every trace settled", lambda: _scheduled(db) == 0, seconds=180)
        except SystemExit:
            pass  # reported as stuck
        finally:
            stop(proc)
        received = Counter(r.rcpt[0] for r in sink.received)
        with sqlite3.connect(db) as conn:
            unknown = conn.execute(
                "SELECT count(*) FROM trace WHERE state = 'error' "
                "AND message LIKE 'Interrupted: delivery unknown%'"
            ).fetchone()[0]
    return {
        "people": people,
        "received": len(received),
        "duplicates": sum(1 for n in received.values() if n > 1),
        "stuck": _scheduled(db),
        "unknown": unknown,
    }


def _scheduled(db: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(
            conn.execute("SELECT count(*) FROM trace WHERE state = 'scheduled'").fetchone()[0]
        )
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="a small run (the test suite's)")
    parser.add_argument("--people", type=int, default=300)
    args = parser.parse_args()
    people = 60 if args.quick else max(60, args.people)
    with tempfile.TemporaryDirectory(prefix="journeys-faults-") as tmp:
        first, second = Path(tmp, "answers"), Path(tmp, "kills")
        first.mkdir()
        second.mkdir()
        result = {**answers_during_send(first, people), **two_kills(second, people)}
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
