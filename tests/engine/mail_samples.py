"""Realistic inbound mail (tests/data/mail/*.eml) addressed to one of our messages.

The samples carry placeholders where the sending side would have put its addresses:
``@@MSGID@@`` (our Message-ID), ``@@VERP@@`` (the bounce address ``+b.TOKEN``) and
``@@TO@@`` (whatever the person replied to).
"""

from __future__ import annotations

from pathlib import Path

from engine.dsn import plus_address

MAIL = Path(__file__).resolve().parent.parent / "data" / "mail"
ADDRESS = "replies@example.com"


def message_id(token: str) -> str:
    """What the sending side writes: ``<TOKEN.hex@domain>``."""
    return f"<{token}.5f1e2d3c4b5a@example.com>"


def sample(name: str, token: str, *, to: str | None = None, msgid: str | None = None) -> bytes:
    text = (MAIL / f"{name}.eml").read_text(encoding="utf-8")
    text = (
        text.replace("@@MSGID@@", msgid or message_id(token))
        .replace("@@VERP@@", plus_address(ADDRESS, "b", token))
        .replace("@@TO@@", to or ADDRESS)
    )
    return text.replace("\n", "\r\n").encode("utf-8")
