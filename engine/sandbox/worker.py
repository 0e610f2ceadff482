"""The child process that runs ``execute_code`` actions (SPEC §8).

:mod:`engine.sandbox` starts this file as ``python -I worker.py`` with an empty
environment, so it sees no secrets and no ``PYTHONPATH``. It reads one JSON request on
stdin, sets its limits, compiles the code under :mod:`rules`, runs it once per record and
writes one JSON line per record on stdout. It never touches the database: the parent
applies the results.

Limits: ``RLIMIT_AS`` caps memory (a huge allocation is a MemoryError), ``RLIMIT_CPU`` is
re-armed before each record so every record gets the same CPU budget (SIGXCPU raises
:class:`CpuLimit` in the code; a second signal, if the code swallowed the first, ends the
process), ``RLIMIT_FSIZE=0`` forbids writing files, and the parent kills the process when
a record takes too long in wall-clock time.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # rules.py, nothing else

from rules import (
    EXIT_CPU,
    EXIT_MEMORY,
    FILENAME,
    CpuLimit,
    Record,
    Run,
    Violation,
    compile_code,
)

MAX_RESULT_BYTES = 1 << 20

# --- limits ---------------------------------------------------------------------------------

_cpu = {"armed": False, "fired": False}


def _on_sigxcpu(signum: int, frame: Any) -> None:
    if not _cpu["armed"]:
        return
    if _cpu["fired"]:  # the code caught CpuLimit and kept going: end the process
        os._exit(EXIT_CPU)
    _cpu["fired"] = True
    raise CpuLimit


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _arm_cpu(seconds: int) -> None:
    """Give the next record ``seconds`` of CPU (RLIMIT_CPU counts the whole process)."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(_cpu_used() + seconds)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    _cpu.update(armed=True, fired=False)


def _disarm_cpu() -> None:
    _cpu["armed"] = False
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))


def _limit_process(memory_bytes: int) -> None:
    """Limits that hold for the whole process; hard limits too, so they cannot be raised."""
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXCPU, _on_sigxcpu)


# --- running --------------------------------------------------------------------------------


def _line_of(exc: BaseException) -> int | None:
    tb, line = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _changes(original: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    def same(a: Any, b: Any) -> bool:
        return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)

    return {k: v for k, v in current.items() if not same(original.get(k), v)}


def run_record(code: Any, data: dict[str, Any], req: dict[str, Any]) -> dict[str, Any]:
    """Run the code for one record; the result line the parent reads."""
    original = json.loads(json.dumps(data))
    run = Run(Record(data, req["model"], frozenset(req["writable"])))
    namespace = run.namespace(req["now"])
    error, limit = None, None
    try:
        _arm_cpu(req["cpu_seconds"])
        try:
            exec(code, namespace)
        finally:
            _disarm_cpu()
    except CpuLimit:
        error, limit = f"CPU time limit exceeded ({req['cpu_seconds']} s)", "cpu"
    except MemoryError:
        error, limit = f"memory limit exceeded ({req['memory_bytes'] >> 20} MiB)", "memory"
    except Violation as exc:
        error = str(exc)
    except BaseException as exc:
        line = _line_of(exc)
        where = f"line {line}: " if line else ""
        error = f"{where}{type(exc).__name__}: {exc}"
    namespace.clear()
    if run.violation:  # even if the code caught it
        error, limit = run.violation, None
    if error is None:
        changes = _changes(original, data)
        bad = sorted(set(changes) - set(req["writable"]))
        if bad:
            error = f"{req['model']}.{bad[0]} is read-only"
    if error is not None:
        return {"ok": False, "error": error, "limit": limit, "log": run.log}
    return {"ok": True, "writes": changes, "calls": run.calls, "log": run.log}


def _emit(out: Any, message: dict[str, Any]) -> None:
    line = json.dumps(message).encode()
    if len(line) > MAX_RESULT_BYTES:
        line = json.dumps(
            {"ok": False, "error": "the record's changes are larger than 1 MiB", "log": []}
        ).encode()
    out.write(line + b"\n")
    out.flush()


def main() -> None:
    out = sys.stdout.buffer
    req = json.loads(sys.stdin.buffer.read())
    _limit_process(int(req["memory_bytes"]))
    code, errors = compile_code(req["code"])
    if code is None:
        _emit(out, {"compile_error": "; ".join(errors)})
        return
    _emit(out, {"compiled": True})
    hits_left = int(req["limit_hits"])
    for data in req["records"]:
        if hits_left <= 0:
            _emit(out, {"ok": False, "error": "not run", "limit": "breaker", "log": []})
            continue
        try:
            result = run_record(code, data, req)
        except MemoryError:
            os._exit(EXIT_MEMORY)
        if result.get("limit"):
            hits_left -= 1
        _emit(out, result)


if __name__ == "__main__":
    main()
