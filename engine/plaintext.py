"""The plain-text alternative of an email, made from its HTML.

html2text is pure Python and costs one to two milliseconds per message here — more than
everything else the engine does for a message, SMTP included on a fast relay. But the
messages of one activity differ only in the values Jinja inserts, so the *template* is
converted once per batch: its Jinja tags are swapped for inert placeholders, the HTML is
converted, the tags are put back, and the result is rendered per recipient as a text
template (values unescaped, as plain text wants them). A template that would not survive
this — a block tag lost with an attribute or a <style>, ``|safe`` output that carries
markup of its own, markup repeated by a loop — is converted message by message instead,
exactly as before.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import html2text

from . import templating

_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
# Output that carries its own markup, and markup repeated by loops or macros, only
# converts faithfully once rendered.
_PER_MESSAGE = re.compile(r"\|\s*safe\b|autoescape|\{%-?\s*(?:for|macro|call)\b")
_HOLE = "jrnyhole{}q"  # letters and digits: html2text neither escapes nor splits them
_HOLES = re.compile(r"jrnyhole(\d+)q")
_BLANK_RUNS = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")


def _converter() -> html2text.HTML2Text:
    conv = html2text.HTML2Text()
    conv.body_width = 0
    conv.ignore_images = True
    conv.protect_links = True
    conv.ignore_tables = True  # layout tables would come out as Markdown tables
    return conv


def html_to_text(html: str) -> str:
    return _converter().handle(html).strip() + "\n"


@lru_cache(maxsize=256)
def text_template(body_source: str) -> Any | None:
    """The body as a compiled text template, or None when it must be converted per message."""
    if _PER_MESSAGE.search(body_source) or "jrnyhole" in body_source:
        return None
    tags: list[str] = []

    def hold(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        return _HOLE.format(len(tags) - 1)

    text = html_to_text(_JINJA_TAG.sub(hold, body_source))
    for i, tag in enumerate(tags):
        # An expression may vanish (an image source) or repeat (a link's text and URL);
        # a statement must stay exactly once or the template's structure would change.
        if tag.startswith("{%") and text.count(_HOLE.format(i)) != 1:
            return None
    source = _HOLES.sub(lambda m: tags[int(m.group(1))], text)
    try:
        return templating.compile_template(source)
    except templating.TemplateProblem:
        return None


def render_text(template: Any, context: dict[str, Any]) -> str:
    """Render a :func:`text_template`; block tags on lines of their own leave no gaps."""
    text = templating.render_compiled(template, context)
    return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"
