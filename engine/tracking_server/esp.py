"""Email service provider event webhooks: bounce, complaint and unsubscribe notices.

ESPs report what happened to a message after they accepted it. Three payload shapes are
understood, each reduced to :class:`EspEvent`:

- SendGrid: a JSON list of events ``{"event": "bounce" | "dropped" | "spamreport" |
  "unsubscribe" | "group_unsubscribe" | …, "email": …, "smtp-id": "<Message-ID>", …}``;
  custom arguments appear as top-level keys, so ``"journeys_token"`` works too.
- Mailgun: ``{"event-data": {"event": "failed" | "complained" | "unsubscribed", "severity":
  …, "message": {"headers": {"message-id": …}}, "user-variables": {"journeys_token": …}}}``.
- Postmark: ``{"RecordType": "Bounce" | "SpamComplaint" | "SubscriptionChange", …,
  "Metadata": {"journeys_token": …}}``.

The trace is identified only by our tracking token — given explicitly, or found inside
the Message-ID we generated (``<TOKEN.random@domain>``). The address an ESP names is never
trusted: state changes apply to the trace's own recipient, so a forged event can at most
name a trace whose unguessable token it already knows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

EventKind = Literal["bounce", "complaint", "unsubscribe"]

# Our Message-ID: "<" trace id "." signature "." random hex "@" domain ">".
_MESSAGE_ID_TOKEN = re.compile(r"(?<![\w.])(\d{1,19}\.[A-Za-z0-9_-]{16,64})\.[0-9a-f]{4,64}@")
MAX_EVENTS = 5000

_SENDGRID_KINDS: dict[str, EventKind] = {
    "bounce": "bounce",
    "dropped": "bounce",
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
}


@dataclass(frozen=True)
class EspEvent:
    """One notice: ``kind`` None means an event we do not act on (delivered, open, …)."""

    kind: EventKind | None
    token: str | None
    detail: str


class EspPayloadError(ValueError):
    """The body is not one of the event shapes above; the message says what was expected."""


def token_from_message_id(value: Any) -> str | None:
    """The tracking token inside one of our Message-IDs, if ``value`` contains one."""
    if not isinstance(value, str):
        return None
    match = _MESSAGE_ID_TOKEN.search(value)
    return match.group(1) if match else None


def _token(explicit: Any, *message_ids: Any) -> str | None:
    if isinstance(explicit, str) and explicit.strip():
        return explicit.strip()
    for value in message_ids:
        token = token_from_message_id(value)
        if token:
            return token
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if isinstance(p, str | int) and str(p).strip())[:500]


def _sendgrid(item: dict[str, Any]) -> EspEvent:
    event = str(item.get("event") or "")
    kind = _SENDGRID_KINDS.get(event)
    # A "blocked" bounce is the receiving server refusing the sender (reputation, rate),
    # not a bad address: retrying later may work, so it is not a bounce of the recipient.
    if event == "bounce" and item.get("type") == "blocked":
        kind = None
    token = _token(item.get("journeys_token"), item.get("smtp-id"), item.get("sg_message_id"))
    return EspEvent(kind, token, _text("SendGrid", event, item.get("reason")))


def _mailgun(data: dict[str, Any]) -> EspEvent:
    event = str(data.get("event") or "")
    kind: EventKind | None = None
    if event == "failed" and data.get("severity") == "permanent":
        kind = "bounce"
    elif event == "complained":
        kind = "complaint"
    elif event == "unsubscribed":
        kind = "unsubscribe"
    headers = _dict(_dict(data.get("message")).get("headers"))
    explicit = _dict(data.get("user-variables")).get("journeys_token")
    status = _dict(data.get("delivery-status"))
    reason = status.get("description") or status.get("message") or ""
    token = _token(explicit, "<" + str(headers.get("message-id") or "") + ">")
    return EspEvent(kind, token, _text("Mailgun", event, reason))


def _postmark(item: dict[str, Any]) -> EspEvent:
    record_type = str(item.get("RecordType") or "")
    kind: EventKind | None = None
    if record_type == "Bounce" and item.get("Type") in ("HardBounce", "BadEmailAddress"):
        kind = "bounce"
    elif record_type == "SpamComplaint":
        kind = "complaint"
    elif record_type == "SubscriptionChange" and item.get("SuppressSending") is True:
        kind = "unsubscribe"
    token = _token(_dict(item.get("Metadata")).get("journeys_token"), item.get("MessageID"))
    return EspEvent(kind, token, _text("Postmark", record_type, item.get("Description")))


def _one(item: Any) -> EspEvent:
    if not isinstance(item, dict):
        return EspEvent(None, None, "not an event object")
    if isinstance(item.get("event-data"), dict):
        return _mailgun(item["event-data"])
    if "RecordType" in item:
        return _postmark(item)
    return _sendgrid(item)


def parse_events(payload: Any) -> list[EspEvent]:
    """The events of a decoded JSON body (a list of events, or one event object)."""
    items = payload if isinstance(payload, list) else [payload]
    if not isinstance(payload, list | dict):
        raise EspPayloadError("expected a JSON list of events or one event object")
    if len(items) > MAX_EVENTS:
        raise EspPayloadError(f"at most {MAX_EVENTS} events per request")
    return [_one(item) for item in items]
