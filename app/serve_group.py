"""``journeys serve --processes N``: helper tracking servers that share this one's port.

One Python process answers on one core at a time; the clicks of a large send arrive all
at once. So ``serve`` can start N-1 more ``journeys serve`` processes on the same port
(``SO_REUSEPORT``: the kernel spreads new connections over the listeners). Each is a
whole tracking server — its own spool file, its own recorder — on the shared database,
so any one of them may die without losing what it answered: the spool folder's adoption
hands its pending interactions to the next server that starts, and this one starts a
replacement at once (then after 1 s, 2 s, … at most a minute, if it keeps dying).

The helpers get the database URL through ``$JOURNEYS_DB`` (never on a command line that
``ps`` shows), and stop when this process stops — SIGTERM, then SIGKILL after the grace.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import UserError

MAX_PROCESSES = 64
START_WITHIN = 60.0  # a helper that has not listened by then is reported and stopped
MAX_BACKOFF = 60.0
PARENT_ENV = "JOURNEYS_SERVE_PARENT"  # a helper stops once this process is gone


@dataclass
class _Helper:
    proc: subprocess.Popen[str]
    started: float = field(default_factory=time.monotonic)
    failures: int = 0  # quick deaths in a row: how long to wait before the next start
    restart_at: float | None = None


def check_count(count: int) -> int:
    if not 1 <= count <= MAX_PROCESSES:
        raise UserError(f"--processes {count}: must be from 1 to {MAX_PROCESSES}")
    return count


class ServeGroup:
    """The helpers of one ``journeys serve``; :meth:`start` once this one listens."""

    def __init__(
        self, db_url: str, host: str, port: int, helpers: int, now: str | None = None
    ) -> None:
        self.host, self.port, self.count = host, port, helpers
        self._env = {**os.environ, "JOURNEYS_DB": db_url, PARENT_ENV: str(os.getpid())}
        self._parent = os.environ.get(PARENT_ENV)
        self._now = now
        self._helpers: list[_Helper] = []

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "app.cli"]
        if self._now is not None:
            cmd += ["--now", self._now]
        return [*cmd, "serve", "--host", self.host, "--port", str(self.port), "--share-port"]

    def _spawn(self, *, watched: bool = True) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self._command(),
            stdin=subprocess.DEVNULL,
            # Its "listening on" line says it is up; a replacement is not waited for.
            stdout=subprocess.PIPE if watched else subprocess.DEVNULL,
            text=True,
            env=self._env,
            cwd=Path(__file__).resolve().parents[1],
            start_new_session=True,  # a Ctrl+C reaches this process, which stops them
        )

    def start(self) -> None:
        """Start the helpers and return once each listens; UserError if one cannot."""
        procs = [self._spawn() for _ in range(self.count)]
        self._helpers = [_Helper(p) for p in procs]
        problem = self._await_listening(procs)
        if problem:
            self.stop()
            raise UserError(f"a helper tracking server did not start: {problem}")

    @staticmethod
    def _await_listening(procs: list[subprocess.Popen[str]]) -> str | None:
        deadline = time.monotonic() + START_WITHIN
        waiting = {p.stdout: p for p in procs if p.stdout is not None}
        with selectors.DefaultSelector() as sel:
            for stream in waiting:
                sel.register(stream, selectors.EVENT_READ)
            while waiting:
                left = deadline - time.monotonic()
                if left <= 0:
                    return f"not listening after {START_WITHIN:.0f} s"
                for key, _ in sel.select(left):
                    line = key.fileobj.readline()  # type: ignore[union-attr]
                    proc = waiting.pop(key.fileobj)  # type: ignore[arg-type]
                    sel.unregister(key.fileobj)
                    if "listening on" not in line:
                        proc.wait(10)
                        return f"it ended with exit status {proc.returncode}"
        return None

    def watch(self) -> list[str]:
        """Replace helpers that ended; what happened, to report."""
        said: list[str] = []
        now = time.monotonic()
        for helper in self._helpers:
            if helper.restart_at is None:
                code = helper.proc.poll()
                if code is None:
                    if now - helper.started > MAX_BACKOFF:
                        helper.failures = 0
                    continue
                if helper.proc.stdout is not None:
                    helper.proc.stdout.close()
                delay = min(MAX_BACKOFF, float(2**helper.failures) - 1)
                helper.failures += 1
                helper.restart_at = now + delay
                said.append(
                    f"helper {helper.proc.pid} ended ({_status(code)}); "
                    f"starting another{f' in {delay:.0f} s' if delay else ''}"
                )
            if helper.restart_at is not None and now >= helper.restart_at:
                helper.proc = self._spawn(watched=False)
                helper.started, helper.restart_at = now, None
        return said

    def orphaned(self) -> str | None:
        """For a helper: why to stop when the ``serve`` that started it is gone (killed
        outright, so it could not stop its helpers)."""
        if self._parent and str(os.getppid()) != self._parent:
            return "its parent serve process ended"
        return None

    @property
    def pids(self) -> list[int]:
        return [h.proc.pid for h in self._helpers if h.proc.poll() is None]

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM every helper (each drains its recorder), SIGKILL what outlives
        ``grace`` — a killed helper's spool waits for the next start."""
        running = [h.proc for h in self._helpers if h.proc.poll() is None]
        for proc in running:
            with contextlib.suppress(OSError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in running:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        for helper in self._helpers:
            with contextlib.suppress(OSError):
                if helper.proc.stdout is not None:
                    helper.proc.stdout.close()
        self._helpers = []


def _status(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-code).name
    return f"exit status {code}"
