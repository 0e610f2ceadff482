"""Reading inbound mail: is it a reply, a bounce, or neither — and for which trace? (SPEC §5)

Pure functions over :class:`email.message.Message` objects, so every rule is unit-tested
on realistic samples without a mail server. :mod:`engine.inbound` fetches the mail and
records what :func:`classify` decides.

The rules (the contract with the sending side, which writes the addresses and IDs):

- our messages carry ``Message-ID: <TOKEN.hex@domain>``; with ``imap.address`` set to
  ``replies@example.com``, Reply-To is ``replies+r.TOKEN@example.com`` and the envelope
  sender (VERP) is ``replies+b.TOKEN@example.com``. TOKEN is ``<trace id>.<HMAC>``; a
  token counts only when it verifies, so a forged one changes nothing;
- a **bounce** is a permanent failure (``Action: failed``, ``Status: 5.x.x``) in an
  RFC 3464 delivery status notification, found by the VERP address it was sent to, else
  by our Message-ID in the returned headers; delays and 4.x.x failures are not bounces.
  Non-standard bounce notices sent to the VERP address count too (VERP exists for them);
- a **reply** is mail from a person to ``+r.TOKEN``, else one whose In-Reply-To or
  References names our Message-ID. Auto-replies (RFC 3834 ``Auto-Submitted``,
  ``X-Autoreply``, "Out of Office"...), reports of any kind and mail from mail systems
  are never replies: an out-of-office answer is not interest.

Only headers decide, never quoted body text, and raw header text is read with regular
expressions instead of the structured header parser: malformed mail must never raise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from typing import Literal

TOKEN = r"\d{1,19}\.[A-Za-z0-9_-]{4,64}"
# The local part of our Message-IDs starts with a token: <TOKEN.hex@domain>.
_MESSAGE_ID_TOKEN = re.compile(rf"<\s*({TOKEN})(?=[.@])")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,990}>")
_ORIGINAL_MESSAGE_ID = re.compile(r"^message-id:\s*(<[^<>\s]{1,990}>)", re.I | re.M)
_ENHANCED_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_BASIC_STATUS = re.compile(r"\b([245])\d\d\b")
_MAIL_SYSTEM = re.compile(r"\b(mailer-daemon|postmaster)\b", re.I)
_AUTO_SUBJECT = re.compile(
    r"out of (the )?office|automatic reply|auto[- ]?reply|auto[- ]?respon|"
    r"abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|"
    r"respuesta autom[aá]tica|risposta automatica|^\s*auto:|^\s*vacation\b",
    re.I,
)
_DELAY_SUBJECT = re.compile(r"delay|warning|will retry|still trying|not yet been delivered", re.I)

# Headers that can name the address a message was delivered to.
RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to")
DETAIL_LIMIT = 500

Kind = Literal["reply", "bounce", "ignore"]


@dataclass(frozen=True)
class Verdict:
    """What an inbound message is; ``reason`` says why, for logs and Interaction.detail."""

    kind: Kind
    trace_id: int | None
    reason: str


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a delivery status notification (RFC 3464 §2.3)."""

    recipient: str
    action: str
    status: str
    diagnostic: str

    @property
    def permanent(self) -> bool:
        return self.action == "failed" and self.status.startswith("5.")

    def describe(self) -> str:
        text = f"{self.status or '?'} {self.action or '?'} {self.recipient}".strip()
        return f"{text}: {self.diagnostic}" if self.diagnostic else text


@dataclass(frozen=True)
class DeliveryReport:
    recipients: tuple[RecipientStatus, ...]
    # Message-IDs of the returned original (message/rfc822 or text/rfc822-headers part).
    original_ids: tuple[str, ...]

    @property
    def failures(self) -> tuple[RecipientStatus, ...]:
        return tuple(r for r in self.recipients if r.permanent)


# --- addresses --------------------------------------------------------------------------


def plus_address(address: str, tag: str, token: str) -> str:
    """``replies@example.com`` + ``r`` + TOKEN -> ``replies+r.TOKEN@example.com``."""
    local, _, domain = address.rpartition("@")
    return f"{local}+{tag}.{token}@{domain}"


def plus_tokens(msg: Message, address: str | None, tag: str) -> list[str]:
    """Tokens of ``local+tag.TOKEN@domain`` addresses among the recipient headers."""
    if not address or "@" not in address:
        return []
    local, _, domain = address.rpartition("@")
    pattern = re.compile(
        rf"(?<![\w.+-]){re.escape(local)}\+{re.escape(tag)}\.({TOKEN})@{re.escape(domain)}"
        r"(?![\w-])",
        re.I,
    )
    found: list[str] = []
    for name in RECIPIENT_HEADERS:
        for value in header_values(msg, name):
            found += [m.group(1) for m in pattern.finditer(value)]
    return _unique(found)


def message_id_tokens(values: Iterable[str]) -> list[str]:
    """Tokens at the start of the local part of the Message-IDs in ``values``, in order."""
    return _unique(m.group(1) for v in values for m in _MESSAGE_ID_TOKEN.finditer(v))


def thread_tokens(msg: Message) -> list[str]:
    """Tokens of the messages this one answers: In-Reply-To, then References newest first."""
    refs: list[str] = []
    for value in header_values(msg, "references"):
        refs += _MESSAGE_ID.findall(value)
    return message_id_tokens([*header_values(msg, "in-reply-to"), *reversed(refs)])


# --- headers ---------------------------------------------------------------------------


def header_values(msg: Message, name: str) -> list[str]:
    """Raw, unfolded values of a header; never raises on malformed input."""
    name = name.lower()
    try:
        items = msg.raw_items()
        return [_unfold(_clean(str(v))) for k, v in items if str(k).lower() == name]
    except Exception:  # a broken message object: treat as absent
        return []


def decoded_header(msg: Message, name: str) -> str:
    """A header with RFC 2047 encoded-words decoded, or its raw text when they are broken."""
    values = header_values(msg, name)
    if not values:
        return ""
    try:
        return str(make_header(decode_header(values[0])))
    except Exception:
        return values[0]


def _clean(value: str) -> str:
    """Undo the parser's surrogate escapes: raw 8-bit header bytes read as UTF-8."""
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return value


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]*", " ", value).strip()


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --- delivery status notifications -----------------------------------------------------


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _walk(msg: Message) -> Iterator[Message]:
    try:
        yield from msg.walk()
    except Exception:
        return


def _part_text(part: Message) -> str:
    """The decoded text of a leaf part, whatever its declared charset and encoding."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        try:
            return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
        except Exception:  # an unknown or malformed charset
            return payload.decode("utf-8", errors="replace")
    raw = part.get_payload()
    return _clean(raw) if isinstance(raw, str) else ""


def _blocks(text: str) -> list[dict[str, str]]:
    """``Name: value`` blocks separated by blank lines, continuation lines unfolded."""
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n\s*\r?\n", text):
        fields: dict[str, str] = {}
        last = None
        for line in chunk.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += " " + line.strip()
            elif ":" in line:
                name, _, value = line.partition(":")
                last = name.strip().lower()
                fields.setdefault(last, value.strip())
        if fields:
            blocks.append(fields)
    return blocks


def _status_blocks(part: Message) -> list[dict[str, str]]:
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _blocks(_part_text(part))
    # The email package splits message/delivery-status into header-only sub-messages;
    # for message/global-delivery-status it makes one sub-message whose body holds the
    # per-recipient blocks.
    blocks: list[dict[str, str]] = []
    for sub in payload:
        if not isinstance(sub, Message):
            continue
        blocks.append({str(k).lower(): _unfold(_clean(str(v))) for k, v in sub.raw_items()})
        if not sub.is_multipart():
            blocks += _blocks(_part_text(sub))
    return blocks


def _status_of(block: dict[str, str]) -> str:
    for text in (block.get("status", ""), block.get("diagnostic-code", "")):
        m = _ENHANCED_STATUS.search(text)
        if m:
            return m.group(0)
    m = _BASIC_STATUS.search(block.get("diagnostic-code", ""))
    return f"{m.group(1)}.0.0" if m else ""


def _recipient(block: dict[str, str]) -> RecipientStatus | None:
    if not ({"action", "status", "final-recipient"} & block.keys()):
        return None
    rcpt = block.get("final-recipient") or block.get("original-recipient") or ""
    return RecipientStatus(
        recipient=rcpt.partition(";")[2].strip() if ";" in rcpt else rcpt.strip(),
        action=block.get("action", "").strip().lower().split(" ")[0],
        status=_status_of(block),
        diagnostic=" ".join(block.get("diagnostic-code", "").split()),
    )


def _original_ids(part: Message) -> list[str]:
    """Message-IDs of a returned original: message/rfc822 or text/rfc822-headers."""
    payload = part.get_payload()
    if isinstance(payload, list):
        ids: list[str] = []
        for sub in payload:
            if isinstance(sub, Message):
                for value in header_values(sub, "message-id"):
                    ids += _MESSAGE_ID.findall(value)
        return ids
    return [m.group(1) for m in _ORIGINAL_MESSAGE_ID.finditer(_part_text(part))]


def is_report(msg: Message) -> bool:
    """Any multipart/report: delivery status, read receipt (MDN), abuse feedback (ARF)."""
    return _content_type(msg) == "multipart/report"


def parse_dsn(msg: Message) -> DeliveryReport | None:
    """The delivery status notification in ``msg``, or None when it is not one."""
    if not is_report(msg):
        return None
    report_type = "".join(
        re.findall(r"report-type\s*=\s*\"?([\w-]+)", " ".join(header_values(msg, "content-type")))
    ).lower()
    recipients: list[RecipientStatus] = []
    original: list[str] = []
    status_part = False
    texts: list[str] = []
    for part in _walk(msg):
        ctype = _content_type(part)
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            status_part = True
            recipients += [r for b in _status_blocks(part) if (r := _recipient(b)) is not None]
        elif ctype in (
            "message/rfc822",
            "text/rfc822-headers",
            "message/global",
            "message/global-headers",
        ):
            original += _original_ids(part)
        elif ctype == "text/plain" and part is not msg:
            texts.append(_part_text(part))
    if not status_part and "delivery-status" not in report_type:
        return None
    if not original:
        # Some mail systems quote the original headers in the human-readable part.
        original = [m.group(1) for t in texts for m in _ORIGINAL_MESSAGE_ID.finditer(t)]
    return DeliveryReport(tuple(recipients), tuple(_unique(original)))


# --- auto-replies and mail systems -------------------------------------------------------


def auto_reply_reason(msg: Message) -> str | None:
    """Why ``msg`` is an automatic answer rather than a person's, or None."""
    for value in header_values(msg, "auto-submitted"):
        if value.split(";")[0].strip().lower() != "no":
            return f"automatic message (Auto-Submitted: {value})"
    for name in ("x-autoreply", "x-autorespond", "x-autogenerated"):
        if header_values(msg, name):
            return f"automatic message ({name} header)"
    for name in ("precedence", "x-precedence"):
        for value in header_values(msg, name):
            if value.strip().lower() in ("auto_reply", "bulk", "junk"):
                return f"automatic message (Precedence: {value})"
    subject = decoded_header(msg, "subject")
    if _AUTO_SUBJECT.search(subject):
        return f"automatic reply (Subject: {subject[:80]})"
    return None


def from_mail_system(msg: Message, *, null_sender: bool = True) -> bool:
    """From MAILER-DAEMON or postmaster, or (``null_sender``) with a null return path.

    A null return path also marks RFC 3834 auto-replies, so it cannot tell a bounce
    notice from an out-of-office answer; only the From address can.
    """
    if any(_MAIL_SYSTEM.search(v) for v in header_values(msg, "from")):
        return True
    return null_sender and any(
        v.replace(" ", "") == "<>" for v in header_values(msg, "return-path")
    )


# --- the decision ----------------------------------------------------------------------


def _first_valid(tokens: Iterable[str], verify: Callable[[str], int | None]) -> int | None:
    for token in tokens:
        trace_id = verify(token)
        if trace_id is not None:
            return trace_id
    return None


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def classify(msg: Message, *, address: str | None, verify: Callable[[str], int | None]) -> Verdict:
    """Decide what ``msg`` is. ``verify`` maps a token to its trace id (None: forged)."""
    bounce_tokens = plus_tokens(msg, address, "b")
    report = parse_dsn(msg)
    if report is not None:
        return _classify_report(report, bounce_tokens, verify)
    if is_report(msg):
        return Verdict("ignore", None, "a report (read receipt or feedback), not a reply")
    subject = decoded_header(msg, "subject")
    if bounce_tokens:
        trace_id = _first_valid(bounce_tokens, verify)
        if trace_id is None:
            return Verdict("ignore", None, "bounce address with a token that does not verify")
        if _DELAY_SUBJECT.search(subject):
            return Verdict("ignore", None, f"delivery delay notice (Subject: {subject[:80]})")
        auto = auto_reply_reason(msg)
        if auto and not from_mail_system(msg, null_sender=False):
            return Verdict("ignore", None, f"{auto}, sent to the bounce address")
        return Verdict("bounce", trace_id, _clip(f"bounce notice to the VERP address: {subject}"))
    auto = auto_reply_reason(msg)
    if auto:
        return Verdict("ignore", None, auto)
    if from_mail_system(msg):
        return Verdict("ignore", None, "sent by a mail system, not a person")
    reply_tokens = plus_tokens(msg, address, "r")
    trace_id = _first_valid(reply_tokens, verify)
    how = "reply address"
    if trace_id is None:
        thread = thread_tokens(msg)
        trace_id = _first_valid(thread, verify)
        how = "In-Reply-To/References"
        reply_tokens += thread
    if trace_id is None:
        if reply_tokens:
            return Verdict("ignore", None, "reply token does not verify (forged or foreign)")
        return Verdict("ignore", None, "no reply address or thread reference of ours")
    sender = " ".join(header_values(msg, "from"))[:120]
    text = f"{subject or '(no subject)'} (from {sender}; matched by {how})"
    return Verdict("reply", trace_id, _clip(text))


def _classify_report(
    report: DeliveryReport, bounce_tokens: list[str], verify: Callable[[str], int | None]
) -> Verdict:
    if not report.recipients:
        return Verdict("ignore", None, "delivery report without a readable status")
    failures = report.failures
    if not failures:
        states = ", ".join(
            sorted({f"{r.action or '?'} {r.status or '?'}" for r in report.recipients})
        )
        return Verdict("ignore", None, f"delivery report, not a permanent failure ({states})")
    trace_id = _first_valid(bounce_tokens, verify)
    how = "VERP address"
    if trace_id is None:
        trace_id = _first_valid(message_id_tokens(report.original_ids), verify)
        how = "returned Message-ID"
    if trace_id is None:
        if bounce_tokens or message_id_tokens(report.original_ids):
            return Verdict("ignore", None, "delivery report with a token that does not verify")
        return Verdict("ignore", None, "delivery report about a message we did not send")
    detail = "; ".join(r.describe() for r in failures)
    return Verdict("bounce", trace_id, _clip(f"{detail} (delivery report, matched by {how})"))
