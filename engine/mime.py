"""Serialising a rendered email into the bytes an SMTP server receives.

The standard library's ``EmailMessage`` parses every header into an object and folds it
back on output; measured here that costs about 5 ms per message — three times the SMTP
round trip itself, so a campaign would spend most of its sending time in the email
package. The shape of our messages is fixed (multipart/alternative, a plain-text and an
HTML part, a known set of headers), so we write them directly: headers that are short
ASCII — almost all of them — are written as they are; anything else (non-ASCII display
names or subjects, over-long values) is folded by ``email.policy.SMTP`` itself, so
encoded-words and folding stay the library's job. Bodies are sent as they are when
they are short-lined ASCII (7bit), else as quoted-printable UTF-8 from the C-implemented
``binascii`` encoder: 7-bit clean either way, so any server accepts them.
The tests parse every message back with the email package and check it.
"""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass
from email import policy
from email.utils import parseaddr
from functools import lru_cache

from .channels.base import OutboundEmail

# Written by the receiving MTA from the envelope sender (RFC 5321 §4.4), never by us:
# the builder puts the VERP address here and the channel turns it into MAIL FROM.
ENVELOPE_HEADER = "Return-Path"
_MAX_RAW = 78  # RFC 5322 §2.1.1: lines SHOULD stay within 78 characters
_LONG_LINE = re.compile(r"(?m)^[^\n]{999}")  # ... and MUST stay within 998
_HEADER_ORDER = (
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


class MessageError(ValueError):
    """A message that cannot be written safely (e.g. a line break inside a header)."""


@dataclass(frozen=True)
class WireMessage:
    """What one SMTP transaction needs: envelope sender, recipient and the data."""

    sender: str
    recipient: str
    data: bytes
    smtputf8: bool = False


def _header(name: str, value: str, utf8: bool) -> bytes:
    if "\r" in value or "\n" in value:
        # A rendered value with a line break could inject headers of its own.
        raise MessageError(f"the {name} header contains a line break")
    if value.isascii() and (len(name) + 2 + len(value) <= _MAX_RAW or " " not in value):
        # Short, or a single token such as a URL that folding could only push to a line
        # of its own: written as it is (the hard limit, 998, is far off).
        return f"{name}: {value}\r\n".encode("ascii")
    pol = policy.SMTPUTF8 if utf8 else policy.SMTP
    folded = pol.header_factory(name, value).fold(policy=pol)
    return folded.encode("utf-8" if utf8 else "ascii")


def _body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, the encoded body with CRLF line ends).

    ASCII within the 998-character line limit goes as it is (7bit), readable and the
    cheapest for both ends; anything else is quoted-printable, which every server takes.
    """
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    if body.isascii() and not _LONG_LINE.search(body):
        return "7bit", body.replace("\n", "\r\n").encode("ascii")
    encoded = binascii.b2a_qp(body.encode("utf-8"), quotetabs=False, istext=True)
    return "quoted-printable", encoded.replace(b"\n", b"\r\n")


@lru_cache(maxsize=1024)
def _addr_spec(header: str) -> str:
    # parseaddr is slow pure Python and a batch repeats the same From thousands of times.
    return parseaddr(header)[1]


def envelope_sender(headers: dict[str, str]) -> str:
    """The MAIL FROM address: the VERP return path when there is one, else From's."""
    verp = headers.get(ENVELOPE_HEADER)
    if verp and verp.startswith("<") and verp.endswith(">") and "," not in verp:
        return verp[1:-1]  # our own format, one per message: not worth a cache slot
    return _addr_spec(verp or headers.get("From") or "")


def build(message: OutboundEmail) -> WireMessage:
    """multipart/alternative (plain text, then HTML, as RFC 2046 orders preference)."""
    headers = dict(message.headers)
    sender = envelope_sender(headers)
    headers.pop(ENVELOPE_HEADER, None)
    headers.setdefault("To", message.to)
    headers.setdefault("Subject", message.subject)
    utf8 = not (sender.isascii() and message.to.isascii())
    bodies = [_body(message.text), _body(message.html)]
    boundary = "=_" + secrets.token_hex(12)  # "=_" never occurs in quoted-printable
    while any(boundary.encode() in body for _, body in bodies):  # nor, now, in 7bit
        boundary = "=_" + secrets.token_hex(12)
    ordered = [k for k in _HEADER_ORDER if k in headers]
    ordered += [k for k in headers if k not in _HEADER_ORDER]
    parts = [_header(k, headers[k], utf8) for k in ordered if headers[k]]
    parts.append(b"MIME-Version: 1.0\r\n")
    parts.append(f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode())
    for subtype, (cte, body) in zip(("plain", "html"), bodies, strict=True):
        parts.append(
            f"--{boundary}\r\n"
            f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {cte}\r\n\r\n".encode()
        )
        parts.append(body)
    parts.append(f"--{boundary}--\r\n".encode())
    return WireMessage(sender=sender, recipient=message.to, data=b"".join(parts), smtputf8=utf8)
