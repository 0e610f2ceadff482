"""What ``execute_code`` may do: the compile policy, the guards, ``record`` and the API.

Imported by the parent (to check code at import time) and by the child process
(:mod:`engine.sandbox.worker`, run as a script), so it needs only the standard library and
RestrictedPython — never the engine, a database driver or the keyring.

Defence in depth, because each layer has known gaps on its own:

1. RestrictedPython rewrites the code: no imports, no class statements, no names or
   attributes starting with ``_``, every attribute/item/write goes through our guards.
2. The guards refuse ``str.format``/``format_map`` (``"{0.__class__}".format(x)`` walks
   attributes behind the compiler's back), dunder names given to ``getattr``, and writes
   to anything but plain containers and ``record``. A violation fails the record even if
   the code catches the exception.
3. The builtins are a small allow-list; ``open``, ``type``, ``vars``… do not exist.
4. The process limits (CPU, memory, no files) are set by the worker.
"""

from __future__ import annotations

import builtins
import json
import operator
from collections.abc import Iterator
from typing import Any

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_exec, safe_builtins
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import INSPECT_ATTRIBUTES

FILENAME = "<execute_code>"
EXIT_CPU = 3  # the code ignored the CPU-limit signal: the process ended itself
EXIT_MEMORY = 4  # memory ran out outside the code (the parent reports the record)
MAX_CALLS = 20  # create_task/create_record calls per record
MAX_LOG_LINES = 20
MAX_LOG_CHARS = 500
TASK_KINDS = ("todo", "call", "email", "meeting")

# --- compiling ------------------------------------------------------------------------------


class Policy(RestrictingNodeTransformer):
    """RestrictedPython's rules, plus: no imports and no classes at all.

    RestrictedPython allows ``import`` (resolved at run time through a guarded
    ``__import__``) and rewrites classes with a metaclass hook; neither is needed by a
    short action script, so refusing them at compile time gives a clearer message.
    """

    def visit_Import(self, node: Any) -> Any:
        self.error(node, "imports are not allowed in execute_code")
        return node

    def visit_ImportFrom(self, node: Any) -> Any:
        self.error(node, "imports are not allowed in execute_code")
        return node

    def visit_ClassDef(self, node: Any) -> Any:
        self.error(node, "class definitions are not allowed in execute_code")
        return node


def compile_code(source: str) -> tuple[Any, list[str]]:
    """The code object, or None and the problems (``line 3: …``) that forbid it."""
    try:
        result = compile_restricted_exec(source, filename=FILENAME, policy=Policy)
    except (RecursionError, MemoryError, ValueError) as exc:
        return None, [f"the code cannot be compiled: {type(exc).__name__}"]
    errors = [_lower_line(e) for e in result.errors]
    return (None, errors) if errors else (result.code, [])


def _lower_line(message: str) -> str:
    return "line" + message[4:] if message.startswith("Line") else message


# --- what the code sees --------------------------------------------------------------------


class Violation(BaseException):
    """The code tried something forbidden (a BaseException so ``except Exception`` in the
    code does not swallow it; the record fails anyway, see :class:`Run`)."""


class CpuLimit(BaseException):
    """Raised in the code by the SIGXCPU handler."""


def _jsonable(value: Any, where: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: only text, numbers, booleans, None, lists and dicts") from None


class Record:
    """``record``: a dict-like view of one record; writes limited to writable fields.

    Reads return the stored values (lists and dicts may be changed in place); what
    changed is found at the end by comparing with the original, so
    ``record['extra']['score'] = 3`` works as a person would expect.
    """

    __slots__ = ("_data", "_model", "_writable")

    def __init__(self, data: dict[str, Any], model: str, writable: frozenset[str]) -> None:
        self._data, self._model, self._writable = data, model, writable

    def __getitem__(self, name: str) -> Any:
        if name not in self._data:
            raise KeyError(f"{self._model} has no field {name!r}")
        return self._data[name]

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in self._data:
            raise KeyError(f"{self._model} has no field {name!r}")
        if name not in self._writable:
            raise ValueError(f"{self._model}.{name} is read-only")
        _jsonable(value, f"record[{name!r}]")
        self._data[name] = value

    def get(self, name: str, default: Any = None) -> Any:
        return self._data.get(name, default)

    def keys(self) -> list[str]:
        return list(self._data)

    def values(self) -> list[Any]:
        return list(self._data.values())

    def items(self) -> list[tuple[str, Any]]:
        return list(self._data.items())

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)


class Run:
    """One record's run: its guards, its API calls and log lines."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.violation: str | None = None
        self.calls: list[dict[str, Any]] = []
        self.log: list[str] = []

    def forbid(self, message: str) -> Violation:
        self.violation = self.violation or message
        return Violation(message)

    # --- guards (RestrictedPython calls these for every access the code makes) ---
    def getattr(self, ob: Any, name: Any, *default: Any) -> Any:
        if not isinstance(name, str):
            raise TypeError("attribute name must be a string")
        if name.startswith("_") or name in INSPECT_ATTRIBUTES or name == "mro":
            raise self.forbid(f"access to the attribute {name!r} is not allowed")
        if name in ("format", "format_map") and (
            isinstance(ob, str) or (isinstance(ob, type) and issubclass(ob, str))
        ):
            raise self.forbid(
                f"str.{name}() is not allowed (it can reach object internals); use an f-string or %"
            )
        return getattr(ob, name, *default)

    def hasattr(self, ob: Any, name: Any) -> bool:
        try:
            self.getattr(ob, name)
        except AttributeError:
            return False
        return True

    def write(self, ob: Any) -> Any:
        if type(ob) in (dict, list, Record):
            return ob
        raise self.forbid(f"a {type(ob).__name__} cannot be modified")

    def unavailable(self, name: str, why: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise self.forbid(f"{name}() is not available in execute_code ({why})")

        return refuse

    # --- the API ---
    def log_line(self, *values: Any) -> None:
        line = " ".join(str(v) for v in values)[:MAX_LOG_CHARS]
        self.log = [*self.log, line][-MAX_LOG_LINES:]

    def _call(self, call: dict[str, Any]) -> None:
        if len(self.calls) >= MAX_CALLS:
            raise ValueError(f"at most {MAX_CALLS} create_task/create_record calls per record")
        _jsonable(call, call["call"])
        self.calls.append(call)

    def create_task(
        self,
        summary: str,
        kind: str = "todo",
        due_in_days: int = 0,
        assignee: str = "salesperson",
        note: str = "",
    ) -> None:
        if not isinstance(summary, str) or not summary.strip():
            raise ValueError("create_task: the summary must be non-empty text")
        if kind not in TASK_KINDS:
            raise ValueError(f"create_task: kind must be one of {', '.join(TASK_KINDS)}")
        if isinstance(due_in_days, bool) or not isinstance(due_in_days, int):
            raise ValueError("create_task: due_in_days must be a whole number")
        if not 0 <= due_in_days <= 3650:
            raise ValueError("create_task: due_in_days must be between 0 and 3650")
        if not isinstance(assignee, str) or not isinstance(note, str):
            raise ValueError("create_task: assignee and note must be text")
        self._call(
            {
                "call": "create_task",
                "summary": summary,
                "kind": kind,
                "due_in_days": due_in_days,
                "assignee": assignee,
                "note": note,
            }
        )

    def create_record(self, model: str, values: dict[str, Any]) -> None:
        if not isinstance(model, str) or not isinstance(values, dict):
            raise ValueError("create_record: expected a model name and a dict of values")
        self._call({"call": "create_record", "model": model, "values": values})

    def namespace(self, now: str) -> dict[str, Any]:
        builtins = {k: v for k, v in safe_builtins.items() if k not in _DROPPED}
        builtins.update(_EXTRA_BUILTINS)
        builtins["getattr"] = self.getattr
        builtins["hasattr"] = self.hasattr
        for name, why in _UNAVAILABLE.items():
            builtins[name] = self.unavailable(name, why)
        run = self

        class Printer:
            """``print(...)`` in the code is a log line."""

            def __init__(self, _getattr: Any = None) -> None:
                pass

            def _call_print(self, *values: Any, **kwargs: Any) -> None:
                run.log_line(*values)

        return {
            "__builtins__": builtins,
            "__name__": "execute_code",
            "_getattr_": self.getattr,
            "_getitem_": operator.getitem,
            "_getiter_": iter,
            "_write_": self.write,
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
            "_inplacevar_": _inplacevar,
            "_apply_": _apply,
            "_print_": Printer,
            "record": self.record,
            "log": self.log_line,
            "create_task": self.create_task,
            "create_record": self.create_record,
            "now": now,
        }


_DROPPED = {"__build_class__", "setattr", "delattr", "id"}
_EXTRA_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in "dict list tuple set frozenset sorted reversed enumerate zip map filter min max "  # noqa: SIM905
    "sum any all".split()
}
_UNAVAILABLE = {
    "open": "no file access",
    "type": "no introspection",
    "vars": "no introspection",
    "dir": "no introspection",
    "globals": "no introspection",
    "locals": "no introspection",
    "input": "no console",
    "breakpoint": "no debugger",
    "exit": "the code ends when it reaches its last line",
    "quit": "the code ends when it reaches its last line",
}
_INPLACE = {
    op + "=": getattr(operator, name)
    for op, name in zip(
        "+ - * / // % ** << >> & | ^".split(),  # noqa: SIM905
        "iadd isub imul itruediv ifloordiv imod ipow ilshift irshift iand ior ixor".split(),  # noqa: SIM905
        strict=True,
    )
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    return _INPLACE[op](target, value)


def _apply(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)
