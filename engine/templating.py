"""Sandboxed Jinja2 templates for subjects, bodies and action values (SPEC §3, §8).

A template can read the record and campaign it is given and nothing else: Jinja2's
sandbox blocks attribute access to Python internals, and undefined names render empty
rather than failing a whole batch for a missing optional field.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateProblem(ValueError):
    """A template that does not compile or render; ``line`` when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(autoescape=autoescape, keep_trailing_newline=True)
    return env


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


def render_compiled(template: Any, context: dict[str, Any]) -> str:
    try:
        return str(template.render(context))
    except SecurityError as exc:
        raise TemplateProblem(f"not allowed in a template: {exc}") from None
    except UndefinedError as exc:
        raise TemplateProblem(str(exc)) from None
    except TemplateError as exc:
        raise TemplateProblem(str(exc)) from None
    except Exception as exc:  # errors raised by template expressions, e.g. 1/0
        raise TemplateProblem(f"{type(exc).__name__}: {exc}") from None


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
