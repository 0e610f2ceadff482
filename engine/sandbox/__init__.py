"""Running ``execute_code`` in a separate, limited process (SPEC §8), from the parent side.

The child (:mod:`engine.sandbox.worker`) gets the code and a batch of records and answers
one line per record; it never sees the database, the environment or the keyring. Here we
start it, feed it, watch the clock, and turn whatever happened into one
:class:`CodeResult` per record:

- a record whose code raised, broke a rule or hit the CPU/memory limit gets an error and
  the child goes on with the next record;
- a child that dies or stops answering (killed after ``wall_seconds`` of silence) fails
  only the record it was running; a new child takes the records that remain;
- after ``MAX_LIMIT_HITS`` records of a batch hit a limit, the rest of the batch is not
  run: one runaway script must not hold a worker for hours (2,000 records × 2 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .rules import EXIT_CPU, EXIT_MEMORY, compile_code

MAX_LIMIT_HITS = 3
STARTUP_SECONDS = 10.0  # interpreter start, RestrictedPython import, compiling the code
MAX_OUTPUT_BYTES = 8 << 20  # the child caps each line at 1 MiB; anything more is broken


@dataclass(frozen=True)
class Limits:
    """Per-record CPU seconds and process memory; the wall clock follows from the CPU."""

    cpu_seconds: int = 2
    memory_mb: int = 256

    @property
    def wall_seconds(self) -> float:
        """Silence after which the child is killed: generous, because on a busy machine
        CPU seconds pass slower than wall-clock seconds and a record that ignores its
        CPU signal needs one more CPU second to be ended by the child itself."""
        return self.cpu_seconds * 4 + 5.0


@dataclass
class CodeResult:
    """What the code did for one record: changed fields and API calls, or an error."""

    error: str | None = None
    writes: dict[str, Any] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


def check_code(code: str) -> list[str]:
    """Problems that stop the code from compiling under the sandbox's rules (for import).

    Compiling runs nothing, so it is safe in this process.
    """
    return compile_code(code)[1]


def worker_command() -> list[str]:
    """How to start the child: this interpreter, isolated (-I: no env, no user site)."""
    return [sys.executable, "-I", str(Path(__file__).with_name("worker.py"))]


def run_code(
    code: str,
    records: list[dict[str, Any]],
    *,
    model: str,
    writable: list[str],
    now: str,
    limits: Limits | None = None,
) -> list[CodeResult]:
    """Run ``code`` once per record in child processes; one result per record, in order."""
    limits = limits or Limits()
    if os.name != "posix":
        return [CodeResult(error=_NO_LIMITS) for _ in records]
    request = {
        "code": code,
        "model": model,
        "writable": sorted(writable),
        "now": now,
        "cpu_seconds": limits.cpu_seconds,
        "memory_bytes": limits.memory_mb << 20,
    }
    results: list[CodeResult] = []
    hits = 0
    while len(results) < len(records):
        pending = records[len(results) :]
        allowed = MAX_LIMIT_HITS - hits
        lines, death = _run_child({**request, "records": pending, "limit_hits": allowed}, limits)
        if lines and "compile_error" in lines[0]:
            message = str(lines[0]["compile_error"])
            return results + [CodeResult(error=message) for _ in pending]
        for line in lines[1:]:
            if line.get("limit") == "breaker":
                results.append(CodeResult(error=_breaker(hits)))
                continue
            hits += bool(line.get("limit"))
            results.append(_result(line))
        if len(results) == len(records):
            break
        # The child died (or was killed) while running the next record: that one fails.
        results.append(CodeResult(error=death or "the sandbox process ended without an answer"))
        hits += 1
        if hits >= MAX_LIMIT_HITS:
            results += [CodeResult(error=_breaker(hits)) for _ in records[len(results) :]]
    return results


_NO_LIMITS = (
    "execute_code needs Linux or macOS: this system cannot limit the CPU time and memory "
    "of the code, so it is not run"
)


def _breaker(hits: int) -> str:
    return f"not run: the code hit its limits on {hits} other records of this batch"


def _result(line: dict[str, Any]) -> CodeResult:
    if not line.get("ok"):
        return CodeResult(error=str(line.get("error")), log=list(line.get("log") or []))
    return CodeResult(
        writes=dict(line.get("writes") or {}),
        calls=list(line.get("calls") or []),
        log=list(line.get("log") or []),
    )


def _run_child(request: dict[str, Any], limits: Limits) -> tuple[list[dict[str, Any]], str | None]:
    """The child's answer lines, and why it died early (None if it finished)."""
    proc = subprocess.Popen(
        worker_command(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={},
        cwd=tempfile.gettempdir(),
        start_new_session=True,  # our kill reaches it alone, a Ctrl-C in a terminal does not
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    with contextlib.suppress(BrokenPipeError):  # if it died at once, its status says why
        proc.stdin.write(json.dumps(request).encode())
    with contextlib.suppress(BrokenPipeError):
        proc.stdin.close()
    expected = len(request["records"]) + 1
    lines, stderr, killed = _read(proc, expected, limits.wall_seconds)
    if killed:
        return lines, f"killed after {limits.wall_seconds:g} s without finishing (time limit)"
    try:
        code = proc.wait(timeout=STARTUP_SECONDS)
    except subprocess.TimeoutExpired:  # answered everything but does not exit
        proc.kill()
        code = proc.wait()
    if len(lines) >= expected:
        return lines, None
    if code in (EXIT_CPU, -signal.SIGXCPU):
        return lines, f"CPU time limit exceeded ({limits.cpu_seconds} s)"
    if code == EXIT_MEMORY:
        return lines, f"memory limit exceeded ({limits.memory_mb} MiB)"
    if code == -signal.SIGKILL:
        return lines, "the sandbox process was killed by the system (out of memory?)"
    detail = stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {code}"]
    return lines, f"the sandbox process ended unexpectedly: {detail[0][:200]}"


def _read(
    proc: subprocess.Popen[bytes], expected: int, wall_seconds: float
) -> tuple[list[dict[str, Any]], bytes, bool]:
    """Read answer lines until ``expected`` arrive, the child exits, or it falls silent."""
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    sel.register(proc.stderr, selectors.EVENT_READ)
    lines: list[dict[str, Any]] = []
    buf, err = b"", b""
    deadline = time.monotonic() + STARTUP_SECONDS + wall_seconds
    open_pipes = 2
    try:
        while open_pipes and len(lines) < expected:
            left = deadline - time.monotonic()
            if left <= 0 or len(buf) > MAX_OUTPUT_BYTES:
                proc.kill()
                proc.wait()
                return lines, err, True
            for key, _ in sel.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_pipes -= 1
                elif key.fileobj is proc.stderr:
                    err = (err + chunk)[-4096:]
                else:
                    buf += chunk
                    while b"\n" in buf:
                        raw, buf = buf.split(b"\n", 1)
                        try:
                            lines.append(json.loads(raw))
                        except ValueError:  # not our protocol: treat the child as broken
                            proc.kill()
                            proc.wait()
                            return lines, b"unreadable answer", False
                        deadline = time.monotonic() + wall_seconds
    finally:
        sel.close()
        for pipe in (proc.stdout, proc.stderr):
            pipe.close()
    return lines, err, False
