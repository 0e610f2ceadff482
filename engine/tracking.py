"""Tracking tokens and tracked URLs (SPEC §5).

A token is ``<trace id>.<HMAC>``: the server learns which trace a request is about
without a lookup table, and nobody can forge one for another trace without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from html import escape, unescape

_SIG_BYTES = 16


def _sig(secret: bytes, trace_id: int) -> str:
    mac = hmac.new(secret, f"trace:{trace_id}".encode(), hashlib.sha256).digest()[:_SIG_BYTES]
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def make_token(secret: bytes, trace_id: int) -> str:
    return f"{trace_id}.{_sig(secret, trace_id)}"


def verify_token(secret: bytes, token: str) -> int | None:
    """The trace id of a genuine token; None for anything forged or malformed."""
    head, _, sig = token.partition(".")
    if not head.isdigit() or not sig or len(head) > 19:
        return None
    trace_id = int(head)
    return trace_id if hmac.compare_digest(sig, _sig(secret, trace_id)) else None


class TrackedUrls:
    """Builds the URLs of one trace's message."""

    def __init__(self, base_url: str, secret: bytes, trace_id: int) -> None:
        self.base = base_url.rstrip("/")
        self.token = make_token(secret, trace_id)

    @property
    def open_pixel(self) -> str:
        return f"{self.base}/t/{self.token}/o.gif"

    @property
    def unsubscribe(self) -> str:
        return f"{self.base}/t/{self.token}/unsubscribe"

    @property
    def view_online(self) -> str:
        return f"{self.base}/t/{self.token}/view"

    def click(self, link_id: int) -> str:
        return f"{self.base}/t/{self.token}/c/{link_id}"

    def short(self, link_id: int) -> str:
        return f"{self.base}/s/{self.token}/{link_id}"


_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_TEXT_URL = re.compile(r"""https?://[^\s<>"']+""")


def html_links(html: str) -> list[str]:
    """Every http(s) link target of an HTML body, unescaped, in order of appearance."""
    return [unescape(m.group(3)) for m in _HREF.finditer(html)]


def rewrite_html_links(html: str, tracked: Callable[[str], str | None]) -> str:
    """Replace each link target by ``tracked(url)`` (None keeps the link as it is)."""

    def sub(match: re.Match[str]) -> str:
        new = tracked(unescape(match.group(3)))
        if new is None:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{escape(new)}{match.group(2)}"

    return _HREF.sub(sub, html)


def text_links(text: str) -> list[str]:
    return [_strip_trailing(m.group(0)) for m in _TEXT_URL.finditer(text)]


def rewrite_text_links(text: str, tracked: Callable[[str], str | None]) -> str:
    def sub(match: re.Match[str]) -> str:
        url = _strip_trailing(match.group(0))
        tail = match.group(0)[len(url) :]
        new = tracked(url)
        return (new or url) + tail

    return _TEXT_URL.sub(sub, text)


def _strip_trailing(url: str) -> str:
    # "Visit https://x.com/a." — the final full stop belongs to the sentence.
    return url.rstrip(".,;:!?)")
