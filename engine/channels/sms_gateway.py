"""SMS gateways: a generic HTTP JSON endpoint and Twilio's Messages API, behind one protocol.

A gateway turns one message into one HTTP request and the answer into a provider id or a
typed error; :mod:`engine.channels.sms_channel` turns those into deliveries for the engine.
Many providers copy Twilio's API shape, so ``twilio://`` also reaches compatible services
(and the loopback test server) by host.

At most once (SPEC E13): failures are sorted by whether the message can have left. No
connection, a refusal of our credentials, 429 and 5xx answers mean it did not, so the
engine may retry later. A request that reached the gateway but got no answer (read
timeout, connection dropped) may have been sent: that is an error for a person to check,
never a blind retry.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

import httpx

from ..records.values import normalize_phone

# Twilio error codes that are about the recipient, not about us (a bounce, SPEC E5).
TWILIO_RECIPIENT_CODES = {
    21211,  # invalid 'To' phone number
    21610,  # the recipient replied STOP (unsubscribed at the carrier)
    21612,  # 'To' number not reachable by SMS from this sender
    21614,  # 'To' number is not a mobile number
}
TWILIO_OPTIONS = ("from", "messaging_service", "scheme")
PLAIN_HTTP = (
    "may use plain http only for a gateway on this machine (localhost, 127.0.0.1, ::1): "
    "the token would otherwise cross the network unencrypted"
)
NO_TOKEN = (
    "no SMS gateway token: store it with `journeys settings sms.token` (keyring) or give "
    "headless workers the JOURNEYS_SMS_TOKEN environment variable"
)
_ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")  # fullmatch


# --- outcomes ------------------------------------------------------------------------------
class GatewayError(Exception):
    """Base of a gateway's typed failures; the text is what a person reads on the trace."""


class RecipientRejected(GatewayError):
    """The provider refuses this recipient for good (invalid, landline, unsubscribed)."""


class MessageRefused(GatewayError):
    """The provider refuses this message for a reason retrying will not fix."""


class GatewayUnavailable(GatewayError):
    """Nothing was sent and a later attempt may succeed (no connection, 429, 5xx, auth).

    ``stop_batch``: the failure concerns the gateway, not the message, so the rest of the
    batch is not tried now (a dead host would otherwise cost a timeout per message).
    """

    def __init__(self, message: str, *, stop_batch: bool = True) -> None:
        super().__init__(message)
        self.stop_batch = stop_batch


class DeliveryUnknown(GatewayError):
    """The request reached the gateway but no answer came back: it may have been sent."""


# --- the protocol --------------------------------------------------------------------------
@dataclass(frozen=True)
class SmsRequest:
    to: str  # E.164
    body: str
    status_callback: str | None  # our tracking server's delivery-status URL for it
    reference: str | None  # stable across retries: lets a gateway drop duplicates


class SmsGateway(Protocol):
    """Sends one message over a client the caller owns (so a batch shares a connection)."""

    label: str  # names the provider in messages a person reads
    host: str

    def send(self, client: httpx.Client, sms: SmsRequest) -> str:
        """The provider's id for the accepted message; raises a :class:`GatewayError`."""
        ...


def _post(client: httpx.Client, label: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return client.post(url, **kwargs)
    except (
        httpx.ConnectError,
        httpx.ConnectTimeout,
        httpx.PoolTimeout,
        httpx.WriteError,  # the request never arrived whole, so it cannot be processed
        httpx.WriteTimeout,
        httpx.ProxyError,
        httpx.LocalProtocolError,
        httpx.UnsupportedProtocol,
    ) as exc:
        raise GatewayUnavailable(f"cannot reach {label}: {_why(exc)}") from exc
    except httpx.TransportError as exc:  # read timeout, dropped connection, bad answer
        raise DeliveryUnknown(
            f"Delivery unknown: {label} received the message but gave no answer "
            f"({_why(exc)}); check the provider's log before retrying"
        ) from exc


def _why(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _provider_id(response: httpx.Response, keys: tuple[str, ...]) -> str:
    data = _json(response)
    for key in keys:
        if isinstance(data.get(key), str | int):
            return str(data[key])[:200]
    return ""


def _error_text(response: httpx.Response, data: dict[str, Any]) -> str:
    for key in ("message", "error", "detail", "error_message"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:300]
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return str(value["message"])[:300]
    text = " ".join(response.text.split())
    return text[:300] or response.reason_phrase


def _raise_if_gateway_problem(label: str, status: int, detail: str) -> None:
    """Answers that are about the gateway or our configuration, never this recipient."""
    if status in (401, 403):
        raise GatewayUnavailable(
            f"{label} refused our credentials (HTTP {status}: {detail}); "
            "check the account in sms.url and the sms.token secret"
        )
    if status in (404, 405) or 300 <= status < 400:
        raise GatewayUnavailable(
            f"{label} has no SMS endpoint at this address (HTTP {status}: {detail}); check sms.url"
        )
    if status == 429:
        raise GatewayUnavailable(f"{label} is rate limiting us (HTTP 429: {detail})")
    if status in (408, 425) or status >= 500:
        # One message's server error says nothing certain about the next one.
        raise GatewayUnavailable(
            f"{label} is unavailable (HTTP {status}: {detail})", stop_batch=False
        )


# --- the two shapes ------------------------------------------------------------------------
class JsonGateway:
    """POST ``{"to", "body", "status_callback", "reference"}`` with a bearer token.

    2xx is accepted; 400 and 422 refuse the recipient (the usual answer to an invalid
    number); the reference doubles as ``Idempotency-Key`` for gateways that honour one.
    """

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url
        self.token = token
        self.host = urlsplit(url).hostname or ""
        self.label = f"the SMS gateway at {urlsplit(url).netloc}"

    def send(self, client: httpx.Client, sms: SmsRequest) -> str:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if sms.reference:
            headers["Idempotency-Key"] = sms.reference
        payload = {
            "to": sms.to,
            "body": sms.body,
            "status_callback": sms.status_callback,
            "reference": sms.reference,
        }
        response = _post(client, self.label, self.url, json=payload, headers=headers)
        status = response.status_code
        if 200 <= status < 300:
            return _provider_id(response, ("id", "message_id", "messageId", "sid"))
        detail = _error_text(response, _json(response))
        if status in (400, 422):
            raise RecipientRejected(f"{self.label} refused {sms.to} (HTTP {status}: {detail})")
        _raise_if_gateway_problem(self.label, status, detail)
        raise MessageRefused(f"{self.label} refused the message (HTTP {status}: {detail})")


class TwilioGateway:
    """Twilio's ``POST /2010-04-01/Accounts/{sid}/Messages.json``: a form, basic auth.

    The sender is a number (``From``) or a Messaging Service (``MessagingServiceSid``);
    Twilio calls ``StatusCallback`` as the message is queued, sent, delivered or fails.
    """

    def __init__(
        self,
        *,
        base: str,
        host: str,
        sid: str,
        token: str | None,
        sender: str | None,
        messaging_service: str | None,
    ) -> None:
        self.url = f"{base}/2010-04-01/Accounts/{quote(sid, safe='')}/Messages.json"
        self.host = host
        self.sid = sid
        self.token = token
        self.sender = sender
        self.messaging_service = messaging_service
        netloc = urlsplit(base).netloc
        self.label = (
            "Twilio" if host == "api.twilio.com" else f"the Twilio-compatible gateway at {netloc}"
        )

    def send(self, client: httpx.Client, sms: SmsRequest) -> str:
        if not self.token:
            raise GatewayUnavailable(NO_TOKEN)
        form = {"To": sms.to, "Body": sms.body}
        if self.sender:
            form["From"] = self.sender
        if self.messaging_service:
            form["MessagingServiceSid"] = self.messaging_service
        if sms.status_callback:
            form["StatusCallback"] = sms.status_callback
        response = _post(
            client,
            self.label,
            self.url,
            data=form,
            auth=(self.sid, self.token),
            headers={"Accept": "application/json"},
        )
        status = response.status_code
        if 200 <= status < 300:
            return _provider_id(response, ("sid",))
        data = _json(response)
        code = data.get("code")
        text = _error_text(response, data)
        detail = f"error {code}: {text}" if code else text
        if isinstance(code, int) and code in TWILIO_RECIPIENT_CODES:
            raise RecipientRejected(f"{self.label} {detail}")
        _raise_if_gateway_problem(self.label, status, detail)
        raise MessageRefused(f"{self.label} refused the message (HTTP {status}, {detail})")


# --- sms.url -------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _options(query: str) -> dict[str, str]:
    """Query options; unlike ``parse_qs`` a ``+`` stays a plus (``from=+15551234567``)."""
    out: dict[str, str] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        out[unquote(key)] = unquote(value)
    return out


def gateway_for(url: str, token: str | None) -> SmsGateway:
    """The gateway ``sms.url`` names; ValueError says what is wrong with the URL."""
    parts = urlsplit(url.strip())
    if parts.password:
        raise ValueError("must not contain a password: store it as the sms.token secret")
    host = parts.hostname
    if not host:
        raise ValueError("must name a host, e.g. https://sms.example.com/send")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port number") from None
    if parts.scheme in ("http", "https"):
        if parts.scheme == "http" and not is_loopback(host):
            raise ValueError(PLAIN_HTTP)
        if parts.username:
            raise ValueError("must not contain a user name: the token is the sms.token secret")
        return JsonGateway(url.strip(), token)
    if parts.scheme != "twilio":
        raise ValueError(
            "must start with https:// (a JSON gateway) or twilio:// (Twilio or a compatible "
            "API), e.g. twilio://AC…@api.twilio.com?from=+15551234567"
        )
    sid = unquote(parts.username or "")
    if not sid.startswith("AC"):
        raise ValueError(
            "must name the Twilio account SID (AC…) as its user: "
            "twilio://AC…@api.twilio.com?from=+15551234567"
        )
    if parts.path not in ("", "/"):
        raise ValueError("must not have a path: twilio://AC…@api.twilio.com?from=…")
    opts = _options(parts.query)
    unknown = sorted(set(opts) - set(TWILIO_OPTIONS))
    if unknown:
        raise ValueError(
            f"has unknown option {', '.join(unknown)} (known: {', '.join(TWILIO_OPTIONS)})"
        )
    scheme = opts.get("scheme", "https")
    if scheme not in ("http", "https"):
        raise ValueError("option scheme must be https (the default) or http")
    if scheme == "http" and not is_loopback(host):
        raise ValueError(PLAIN_HTTP)
    sender, service = opts.get("from") or None, opts.get("messaging_service") or None
    if (sender is None) == (service is None):
        raise ValueError(
            "needs exactly one sender: from=+15551234567 (your Twilio number) or "
            "messaging_service=MG…"
        )
    if sender is not None and not _ALPHANUMERIC_SENDER.fullmatch(sender):
        e164 = normalize_phone(sender)
        if e164 is None:
            raise ValueError(
                f"option from={sender!r} must be a number in international form such as "
                "+15551234567 (or an alphanumeric sender ID of up to 11 characters)"
            )
        sender = e164
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return TwilioGateway(
        base=f"{scheme}://{netloc}",
        host=host,
        sid=sid,
        token=token,
        sender=sender,
        messaging_service=service,
    )


def check_url(text: str) -> str:
    """The ``sms.url`` setting's parser: the URL as given, once it names a usable gateway."""
    gateway_for(text, None)
    return text.strip()
