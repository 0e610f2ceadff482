"""``journeys serve``: the tracking server as its own process (SPEC §5, §10)."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from engine.clock import FixedClock
from engine.db import Database
from engine.models import OutboxMessage, Trace
from tests.engine.world import World, email

REPO = Path(__file__).parents[2]


def test_serve_answers_until_sigterm(db: Database, clock: FixedClock) -> None:
    w = World(db, clock)
    w.people("Ann")
    w.campaign(email("mail"))
    w.run(hours=1)
    with db.session() as s:
        body = s.scalars(select(OutboxMessage.body)).one()
    match = re.search(r'src="https?://[^/"]+(/t/[^"]+/o\.gif)"', body)
    assert match, body
    pixel = match.group(1)

    url = db.engine.url.render_as_string(hide_password=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--db", url, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        assert found, line + (proc.stderr.read() if proc.stderr and proc.poll() else "")
        conn = http.client.HTTPConnection("127.0.0.1", int(found.group(1)), timeout=10)
        conn.request("GET", pixel)
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read().startswith(b"GIF89a")
        conn.close()
        with db.session() as s:
            assert s.scalars(select(Trace.opened_at)).one() is not None
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "localhost.evil"], "must be an IP address"),
        (["--port", "70000"], "from 0 to 65,535"),
    ],
)
def test_serve_bad_arguments(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    try:
        code = main(["--db", sqlite_url, "serve", *args])
    except SystemExit as exit_:  # argparse refuses a bad --port before the command runs
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_serve_on_a_taken_port_says_so(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--db", sqlite_url, "serve", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err


def test_a_stop_signal_during_the_wait_ends_it() -> None:
    """SIGTERM arriving while the main thread waits ends the wait with the signal's name.
    (The handler once called ``Event.set()`` inside ``Event.wait()`` on the same thread
    and, one time in a few dozen, deadlocked on the event's lock: ``journeys serve``
    then never stopped.)"""
    import threading

    from app.commands import StopRequest

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    stop = StopRequest()
    stop.install()
    try:
        for _ in range(5):
            stop.signum = None
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
            assert stop.wait() == "SIGTERM"
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])
