"""Sandboxed Jinja2 templates for subjects, bodies and action values (SPEC §3, §8).

A template can read the record and campaign it is given and nothing else: Jinja2's
sandbox blocks attribute access to Python internals, and undefined names render empty
rather than failing a whole batch for a missing optional field.
"""

from __future__ import annotations

import inspect
import weakref
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from . import template_limits as limits


class TemplateProblem(ValueError):
    """A template that does not compile or render; ``line`` when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


_REFUSED = {
    nodes.Include: "include",
    nodes.Extends: "extends",
    nodes.Import: "import",
    nodes.FromImport: "from",
}
_LOOP, _TEXT = "_journeys_loop", "_journeys_text"
# Filters whose work grows with the size of the text they are given.
_STRINGIFY = {
    "string",
    "e",
    "escape",
    "forceescape",
    "tojson",
    "pprint",
    "urlencode",
    "urlize",
    "striptags",
    "title",
    "upper",
    "lower",
    "capitalize",
    "trim",
    "truncate",
    "wordcount",
    "wordwrap",
    "xmlattr",
    "safe",
}


def _guard_filter(name: str, a: dict[str, Any]) -> None:
    """Refuse a filter call whose result would be over a bound, before it runs."""
    value = next(iter(a.values()), None) if name not in ("join", "replace") else None
    if name in ("join",):
        a["value"] = limits.join_items(a["value"])
        limits.check_text(limits.join_size(a["value"], a.get("d", "")))
    elif name == "replace":
        s = str(a["s"])
        limits.check_text(limits.replace_size(s, str(a["old"]), str(a["new"]), a.get("count")))
    elif name == "center" and isinstance(a.get("width"), int):
        limits.check_text(a["width"])
    elif name == "indent":
        width = a.get("width")
        unit = width if isinstance(width, int) else len(str(width))
        limits.check_text(len(str(a["s"])) + (str(a["s"]).count("\n") + 1) * unit)
    elif name == "format":
        limits.check_text(limits.printf_size(str(a["value"]), a.get("kwargs") or a["args"]))
    elif name in ("batch", "slice"):
        count = a.get("linecount", a.get("slices"))
        if not isinstance(count, int) or count > limits.MAX_ITEMS:
            raise limits.LimitExceeded(f"{name} takes a count of at most {limits.MAX_ITEMS:,}")
    elif name == "sum" and not isinstance(a.get("start", 0), int | float):
        raise limits.LimitExceeded("sum adds numbers only in a template")
    elif name == "tojson" and isinstance(a.get("indent"), int) and a["indent"] > 16:
        raise limits.LimitExceeded("tojson indents by at most 16 spaces in a template")
    if name in _STRINGIFY:
        limits.check_text(limits.text_size(value))


def _bounded_filter(name: str, func: Any) -> Any:
    """``func`` with its budget checks; pass_context, so it never runs at compile time."""
    func = getattr(func, "__wrapped__", func)  # the sync function of an async variant
    kind = getattr(getattr(func, "jinja_pass_arg", None), "name", None)
    try:
        sig: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):
        sig = None

    @pass_context
    def bounded(context: Context, *args: Any, **kwargs: Any) -> Any:
        limits.tick()
        first = {
            "context": context,
            "eval_context": context.eval_ctx,
            "environment": context.environment,
        }.get(kind or "")
        full = (first, *args) if kind in ("context", "eval_context", "environment") else args
        if sig is None:
            if name in _STRINGIFY and args:
                limits.check_text(limits.text_size(args[0]))
            return limits.check_value(func(*full, **kwargs))
        bound = sig.bind(*full, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        if kind in ("context", "eval_context", "environment"):
            arguments.pop(next(iter(sig.parameters)))
        _guard_filter(name, arguments)
        for key, value in arguments.items():
            bound.arguments[key] = value
        return limits.check_value(func(*bound.args, **bound.kwargs))

    return bounded


def _guard_method(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a str/bytes/int method call whose result would be over a bound."""
    method = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner, name = getattr(method, "__self__", None), getattr(method, "__name__", "")

    def arg(i: int, key: str, default: Any = None) -> Any:
        return args[i] if len(args) > i else kwargs.get(key, default)

    if isinstance(owner, str | bytes):
        if name in ("center", "ljust", "rjust", "zfill") and isinstance(arg(0, "width"), int):
            limits.check_text(arg(0, "width"))
        elif name == "expandtabs" and isinstance(arg(0, "tabsize", 8), int):
            limits.check_text(
                len(owner)
                + (owner.count("\t") if isinstance(owner, str) else owner.count(b"\t"))
                * arg(0, "tabsize", 8)
            )
        elif name == "replace" and isinstance(owner, str):
            limits.check_text(
                limits.replace_size(owner, str(arg(0, "old")), str(arg(1, "new")), arg(2, "count"))
            )
        elif name == "join":
            items = limits.join_items(arg(0, "iterable", ()))
            limits.check_text(limits.join_size(items, owner))
            return (items,)
        elif name == "format" and isinstance(owner, str):
            limits.check_text(limits.format_size(owner, args, kwargs))
        elif name == "format_map" and isinstance(owner, str):
            limits.check_text(limits.format_size(owner, (), dict(arg(0, "mapping", {}))))
        elif name == "translate":
            table = arg(0, "table")
            values = table.values() if isinstance(table, dict) else ()
            longest = max((limits.text_size(v) for v in values), default=1)
            limits.check_text(len(owner) * longest)
    elif isinstance(owner, int) and name == "to_bytes":
        limits.check_text(arg(0, "length", 1))
    return args


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    limits.check_lipsum(n, html, min, max)
    return str(generate_lorem_ipsum(n, html, min, max))


@pass_context
def _text(context: Context, value: Any) -> Any:
    limits.check_text(limits.text_size(value))
    return value


@pass_context
def _loop(context: Context, value: Any) -> Any:
    return limits.bounded_loop(value)


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` passes here before it is turned into text."""
    limits.tick()
    limits.check_text(limits.text_size(value))
    return value


def _concat(parts: Any) -> str:
    """How Jinja joins a macro's, a ``{% set %}`` block's or a ``{% call %}``'s output."""
    items, size = [], 0
    for part in parts:
        size += len(part)
        if size > limits.MAX_TEXT:
            raise limits.text_error()
        items.append(part)
    return "".join(items)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with a budget: see :mod:`engine.template_limits`.

    The optimizer is off so nothing a template computes runs at compile time (outside
    any budget); loops and ``~`` are rewritten after parsing to count and check.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(_concat)

    def __init__(self, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape,
            keep_trailing_newline=True,
            optimized=False,
            finalize=_finalize,
        )
        self.filters = {n: _bounded_filter(n, f) for n, f in self.filters.items()}
        self.filters[_LOOP], self.filters[_TEXT] = _loop, _text
        self.globals["range"] = limits.bounded_range
        self.globals["lipsum"] = _bounded_lipsum

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for node in tree.find_all(tuple(_REFUSED)):
            tag = _REFUSED[type(node)]
            raise TemplateSyntaxError(
                f"{{% {tag} %}} is not allowed: a message's template cannot load other templates",
                node.lineno,
                name,
                filename,
            )
        for loop in list(tree.find_all(nodes.For)):
            loop.iter = nodes.Filter(loop.iter, _LOOP, [], [], None, None, lineno=loop.lineno)
        for cat in list(tree.find_all(nodes.Concat)):
            cat.nodes = [
                nodes.Filter(n, _TEXT, [], [], None, None, lineno=n.lineno) for n in cat.nodes
            ]
        return tree

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        limits.check_binop(operator, left, right)
        return limits.check_value(super().call_binop(context, operator, left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        limits.tick()
        args = _guard_method(obj, args, kwargs)
        return limits.check_value(super().call(context, obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        limits.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        limits.tick()
        return super().getitem(obj, argument)


def _environment(autoescape: bool) -> BoundedSandbox:
    return BoundedSandbox(autoescape)


_TEXT_ENV = _environment(autoescape=False)
_HTML_ENV = _environment(autoescape=True)


def check_syntax(source: str, *, html: bool = False) -> TemplateProblem | None:
    """The syntax error of ``source`` with its line number, or None when it compiles."""
    env = _HTML_ENV if html else _TEXT_ENV
    try:
        env.parse(source)
    except TemplateSyntaxError as exc:
        return TemplateProblem(exc.message or "syntax error", exc.lineno)
    return None


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Any:
    env = _HTML_ENV if html else _TEXT_ENV
    return env.from_string(source)


def compile_template(source: str, *, html: bool = False) -> Any:
    """A compiled template (cached: an activity's template compiles once per process)."""
    try:
        return _compiled(source, html)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "syntax error", exc.lineno) from None


def render(source: str, context: dict[str, Any], *, html: bool = False) -> str:
    """Render ``source``; any failure becomes a :class:`TemplateProblem`."""
    template = compile_template(source, html=html)
    return render_compiled(template, context)


_TIMED_OUT: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
"""Templates that ran out of time once: later renders fail at once with the same message
(a batch of a thousand recipients must not cost a thousand time-outs)."""


def _template_line(exc: BaseException) -> int | None:
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _stream(template: Any, context: dict[str, Any]) -> str:
    """The output, counted while it is made: too long ends the render at once."""
    parts, size = [], 0
    gen = template.generate(context)
    try:
        for chunk in gen:
            size += len(chunk)
            if size > limits.MAX_TEXT:
                raise limits.text_error()
            parts.append(chunk)
    finally:
        gen.close()
    return "".join(parts)


def render_compiled(template: Any, context: dict[str, Any]) -> str:
    known = _TIMED_OUT.get(template)
    if known is not None:
        raise TemplateProblem(known)
    try:
        with limits.budget():
            return _stream(template, context)
    except limits.TimeLimit as exc:
        _TIMED_OUT[template] = str(exc)
        raise TemplateProblem(str(exc), _template_line(exc)) from None
    except limits.LimitExceeded as exc:
        raise TemplateProblem(str(exc), _template_line(exc)) from None
    except TemplateProblem:
        raise
    except SecurityError as exc:
        raise TemplateProblem(f"not allowed in a template: {exc}") from None
    except UndefinedError as exc:
        raise TemplateProblem(str(exc)) from None
    except TemplateError as exc:
        raise TemplateProblem(str(exc)) from None
    except Exception as exc:  # errors raised by template expressions, e.g. 1/0
        raise TemplateProblem(_sentence(exc), _template_line(exc)) from None


def _sentence(exc: Exception) -> str:
    """A failure of the template's own arithmetic or calls, said without Python's names."""
    if isinstance(exc, ZeroDivisionError):
        return "the template makes a division by zero"
    if isinstance(exc, OverflowError):
        return "a number in the template is too large"
    if isinstance(exc, RecursionError):
        return "the template's macros call each other too deeply"
    if isinstance(exc, MemoryError):
        return "the template needs too much memory"
    return f"the template cannot compute a value: {exc}"


def is_template(value: str) -> bool:
    """Whether ``value`` contains Jinja2 markup (plain strings skip rendering)."""
    return "{{" in value or "{%" in value or "{#" in value


def referenced_names(source: str) -> set[str]:
    """Top-level names a template reads (for the designer's hints)."""
    try:
        ast = _TEXT_ENV.parse(source)
    except TemplateSyntaxError:
        return set()
    return {n.name for n in ast.find_all(nodes.Name)}


def has_line_break(value: object) -> bool:
    """Whether a header field's text (subject, sender, reply-to) spans lines: in a header
    a line break could start headers of its own, so it is refused when validating."""
    return isinstance(value, str) and len((value + "x").splitlines()) > 1
