"""Tracking server throughput: clicks answered and recorded while slow clients hang on.

    python bench/tracking.py [--json] [--quick] [--clients 200] [--slow 500] [--seconds 10]
                             [--processes 2]

``journeys serve --processes N`` (default: one per core) runs on its own, on a fresh
SQLite file whose campaign has sent one email (to the embedded outbox) to each of 200
people. This process then holds ``--slow`` connections open that trickle a header byte
every 3 s (reopened when the server drops them, as a slowloris does) and runs
``--clients`` concurrent clients, each clicking tracked links from those emails over a
kept-alive connection for ``--seconds``.

Reported: ``clicks_per_s`` (redirects answered per second), ``p50_ms`` and ``p99_ms``
(time from sending a click to its answer), ``answered``, ``recorded`` (click rows in the
database once the server has stopped and drained its spool), ``lost`` (answered but not
recorded: must be 0), ``errors`` (answers other than the redirect, or failed
connections) and ``slow_held`` (slow connections open at the end). One JSON object with
``--json``; no pass/fail (machines here are shared and noisy).
"""

from __future__ import annotations

import sys
from pathlib import Path

# The repository root replaces this script's folder on the path before anything imports
# the standard ``email`` package: bench/email.py would shadow it.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import asyncio
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import tempfile
import time

from bench.processes import journeys, one_email_database, spawn

PEOPLE = 200
LINK = re.compile(r"/t/[A-Za-z0-9_.=-]+/c/\d+")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(folder: Path, port: int) -> tuple[str, list[str]]:
    db = one_email_database(
        folder, "Tracking bench", PEOPLE, tracking__base_url=f"http://127.0.0.1:{port}"
    )
    journeys(db, "run", "--until-idle")
    sent = json.loads(journeys(db, "outbox", "--json"))
    paths = [m.group() for msg in sent for m in [LINK.search(msg["body"])] if m]
    if len(paths) != PEOPLE:
        raise SystemExit(f"expected {PEOPLE} tracked links, found {len(paths)}")
    return db, paths


class Figures:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status code and whether the server keeps the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "connection" and "close" in value.lower():
            close = True
    if length:
        await reader.readexactly(length)
    return status, not close


async def clicker(port: int, paths: list[str], until: float, fig: Figures) -> None:
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    rnd = random.Random()
    while time.perf_counter() < until:
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
            reader, writer = conn
            path = rnd.choice(paths)
            start = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            status, keep = await _answer(reader)
            if status == 302:
                fig.latencies.append((time.perf_counter() - start) * 1000)
            else:
                fig.errors += 1
            if not keep:
                writer.close()
                conn = None
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            fig.errors += 1
            conn = None
            await asyncio.sleep(0.01)
    if conn is not None:
        conn[1].close()


async def slowloris(port: int, until: float, held: list[int]) -> None:
    """One connection that never finishes its request; reopened when dropped."""
    while time.perf_counter() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /t/x/c/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            held[0] += 1
            try:
                while time.perf_counter() < until:
                    await asyncio.sleep(3)
                    writer.write(b"X-a: b\r\n")
                    await writer.drain()
                    if reader.at_eof():
                        break
            finally:
                held[0] -= 1
                writer.close()
        except OSError:
            await asyncio.sleep(0.2)


async def load(port: int, paths: list[str], clients: int, slow: int, seconds: float) -> dict:
    fig = Figures()
    held = [0]
    warm = time.perf_counter() + seconds + 8
    slow_tasks = [asyncio.create_task(slowloris(port, warm, held)) for _ in range(slow)]
    await asyncio.sleep(2 if slow else 0)  # the slow clients are in before the clicks start
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(*(clicker(port, paths, until, fig) for _ in range(clients)))
    took = time.perf_counter() - start
    slow_held = held[0]
    for t in slow_tasks:
        t.cancel()
    await asyncio.gather(*slow_tasks, return_exceptions=True)
    lat = sorted(fig.latencies)

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else 0.0

    return {
        "clicks_per_s": round(len(lat) / took, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "answered": len(lat),
        "errors": fig.errors,
        "slow_held": slow_held,
        "clients": clients,
        "slow": slow,
        "seconds": seconds,
    }


def wait_listening(port: int, proc: subprocess.Popen[str]) -> None:
    import socket

    end = time.monotonic() + 30
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit("journeys serve ended at start-up")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("journeys serve never listened")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="a small run (the test suite's)")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--slow", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    clients, slow, seconds = (
        (20, 50, 2.0) if args.quick else (max(1, args.clients), max(0, args.slow), args.seconds)
    )
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="journeys-tracking-") as tmp:
        db, paths = prepare(Path(tmp), port)
        server = spawn(db, "serve", "--port", str(port), "--processes", str(args.processes))
        try:
            wait_listening(port, server)
            result = asyncio.run(load(port, paths, clients, slow, seconds))
        finally:
            server.send_signal(signal.SIGTERM)  # drains its spool into the database
            server.wait(timeout=120)
        with sqlite3.connect(db) as conn:
            recorded = conn.execute(
                "SELECT count(*) FROM interaction WHERE type = 'click'"
            ).fetchone()[0]
    result["processes"] = args.processes
    result["recorded"] = recorded
    result["lost"] = max(0, result["answered"] - recorded)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>14}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
