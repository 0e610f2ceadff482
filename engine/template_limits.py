"""The budget of one template render: time, loop steps and the size of every value.

Templates need no trust, so a template must not be able to hang or starve the engine.
Jinja's sandbox keeps templates away from Python internals but not from work: nested
loops, ``'a' * 10**9`` or ``9 ** 9 ** 9`` run in C or in plain loops no hook sees. The
environment in :mod:`engine.templating` therefore calls these checks *before* each
costly operation (repetition, powers, widths, joins), checks each result's size after
it, and counts loop steps against a deadline, so a render ends within about
``MAX_RENDER_SECONDS`` with memory bounded by a small multiple of ``MAX_TEXT``.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

MAX_RENDER_SECONDS = 2.0
MAX_TEXT = 1_000_000
"""Characters of any text a template makes, its output included."""
MAX_ITEMS = 100_000
"""Items of a list a template makes (also the longest ``range``)."""
MAX_DIGITS = 3_000
MAX_LOOP_STEPS = 1_000_000
"""Loop iterations of one render, all loops together (a loop body's output is buffered)."""
_MAX_BITS = int(MAX_DIGITS * 3.33)


class LimitExceeded(Exception):
    """A template went over its budget; the message is a sentence for the user."""


class TimeLimit(LimitExceeded):
    """Too slow: remembered per template, so its later renders fail at once."""


def text_error() -> LimitExceeded:
    return LimitExceeded(f"the template makes text longer than {MAX_TEXT:,} characters")


@dataclass
class _Budget:
    deadline: float
    steps: int = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


@contextmanager
def budget(seconds: float = MAX_RENDER_SECONDS) -> Iterator[None]:
    """Renders inside run under a deadline (per thread: a preview and a send can overlap)."""
    token = _BUDGET.set(_Budget(time.monotonic() + seconds))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def tick() -> None:
    b = _BUDGET.get()
    if b is not None and time.monotonic() > b.deadline:
        raise TimeLimit(
            f"the template takes too long to render (more than {MAX_RENDER_SECONDS:g} s)"
        )


def step() -> None:
    b = _BUDGET.get()
    if b is None:
        return
    b.steps += 1
    if b.steps > MAX_LOOP_STEPS:
        raise LimitExceeded(f"the template's loops repeat more than {MAX_LOOP_STEPS:,} times")
    if b.steps % 64 == 0:
        tick()


def bounded_loop(iterable: Any) -> Iterator[Any]:
    """What a ``{% for %}`` iterates: each step counted, the deadline checked."""
    for item in iterable:
        step()
        yield item


def bounded_range(*args: int) -> range:
    if not all(isinstance(a, int) for a in args):
        raise LimitExceeded("range() takes whole numbers")
    rng = range(*args)
    try:
        size = len(rng)
    except OverflowError:
        size = MAX_ITEMS + 1
    if size > MAX_ITEMS:
        raise LimitExceeded(f"the template makes a range longer than {MAX_ITEMS:,} numbers")
    return rng


def text_size(value: Any, limit: int = MAX_TEXT) -> int:
    """About how long ``str(value)`` is, stopping as soon as it is over ``limit``.

    Containers are walked (a list of one shared long string is cheap to hold and huge
    to print); each visit adds at least one, so the walk itself is bounded by ``limit``.
    """
    total, stack = 0, [value]
    while stack and total <= limit:
        v = stack.pop()
        if isinstance(v, str):
            total += len(v) + 2
        elif isinstance(v, bytes | bytearray):
            total += 4 * len(v) + 3
        elif isinstance(v, bool) or v is None:
            total += 5
        elif isinstance(v, int):
            total += v.bit_length() * 30103 // 100000 + 2
        elif isinstance(v, float):
            total += 25
        elif isinstance(v, dict):
            total += 2 + 4 * len(v)
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list | tuple | set | frozenset):
            total += 2 + 2 * len(v)
            stack.extend(v)
        else:
            attrs = getattr(v, "_Namespace__attrs", None)  # jinja's namespace() object
            if isinstance(attrs, dict):
                stack.append(attrs)
            total += 100
    return total


def check_text(size: int) -> None:
    if size > MAX_TEXT:
        raise text_error()


def check_value(value: Any) -> Any:
    """``value`` unchanged when its own size is within the bounds (O(1))."""
    if isinstance(value, str | bytes | bytearray):
        check_text(len(value))
    elif isinstance(value, list | tuple | dict | set | frozenset) and len(value) > MAX_ITEMS:
        raise LimitExceeded(f"the template makes a list longer than {MAX_ITEMS:,} items")
    elif isinstance(value, int) and not isinstance(value, bool):
        _check_bits(value.bit_length())
    return value


def _check_bits(bits: int) -> None:
    if bits > _MAX_BITS:
        raise LimitExceeded(f"the template computes a number with more than {MAX_DIGITS:,} digits")


def _is_seq(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


def _check_len(n: int, like: Any) -> None:
    if isinstance(like, str | bytes):
        check_text(n)
    elif n > MAX_ITEMS:
        raise LimitExceeded(f"the template makes a list longer than {MAX_ITEMS:,} items")


def check_binop(op: str, left: Any, right: Any) -> None:
    """Refuse ``*``, ``**``, ``+`` and ``%`` whose result would be over a bound."""
    tick()
    ints = isinstance(left, int) and isinstance(right, int)
    if op == "**" and ints and abs(left) > 1 and right > 0:
        _check_bits(right * left.bit_length())
    elif op == "*" and ints:
        _check_bits(left.bit_length() + right.bit_length())
    elif op == "*" and (_is_seq(left) or _is_seq(right)):
        seq, times = (left, right) if _is_seq(left) else (right, left)
        if isinstance(times, int):
            _check_len(len(seq) * max(times, 0), seq)
    elif op == "+" and _is_seq(left) and _is_seq(right):
        _check_len(len(left) + len(right), left)
    elif op == "%" and isinstance(left, str):
        check_text(printf_size(left, right))


_PRINTF = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d*))?[hlL]?(?P<conv>.)",
    re.DOTALL,
)


def printf_size(fmt: str, args: Any) -> int:
    """An upper estimate of ``len(fmt % args)``: widths (``'%999999999s'``) count."""
    size, n = len(fmt), 0
    items = args if isinstance(args, tuple) else (args,)
    for m in _PRINTF.finditer(fmt):
        if m["width"] == "*" or m["prec"] == "*":
            raise LimitExceeded("a '*' width is not allowed in a template's % format")
        if m["conv"] == "%":
            continue
        if m["key"] is not None and isinstance(args, dict):
            arg = args.get(m["key"])
        else:
            arg = items[n] if n < len(items) else ""
            n += 1
        extra = 330 if isinstance(arg, float) else 0
        size += int(m["width"] or 0) + int(m["prec"] or 0) + text_size(arg) + extra
        if size > MAX_TEXT:
            break
    return size


def format_size(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """An upper estimate of ``fmt.format(*args, **kwargs)``; nested widths are refused."""
    size, auto = len(fmt), 0
    for _, field, spec, _conv in string.Formatter().parse(fmt):
        if field is None:
            continue
        spec = spec or ""
        if "{" in spec:
            raise LimitExceeded("a width given by another field is not allowed in a template")
        root = re.split(r"[.\[]", field, maxsplit=1)[0]
        if root == "":
            arg = args[auto] if auto < len(args) else ""
            auto += 1
        elif root.isdigit():
            arg = args[int(root)] if int(root) < len(args) else ""
        else:
            arg = kwargs.get(root, "")
        widths = sum(int(d) for d in re.findall(r"\d+", spec))
        extra = 330 if isinstance(arg, float) else 0
        size += widths + text_size(arg) * (2 if ("," in spec or "_" in spec) else 1) + extra
        if size > MAX_TEXT:
            break
    return size


def replace_size(s: str, old: str, new: str, count: Any = None) -> int:
    hits = len(s) + 1 if old == "" else s.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(0, len(new) - len(old))


def join_items(items: Any) -> list[Any]:
    """``items`` as a list, counted while it is read (it may be a lazy map)."""
    out = []
    for item in items:
        out.append(item)
        if len(out) > MAX_TEXT:
            raise text_error()
    return out


def join_size(items: list[Any], sep: Any) -> int:
    size = len(str(sep)) * max(0, len(items) - 1) if isinstance(sep, str) else 0
    for item in items:
        size += text_size(item)
        if size > MAX_TEXT:
            break
    return size


def check_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> None:
    if not (isinstance(n, int) and isinstance(max, int)) or n * max > MAX_ITEMS or n > 1000:
        raise LimitExceeded(f"lipsum() makes at most {MAX_ITEMS:,} words (n × max)")
