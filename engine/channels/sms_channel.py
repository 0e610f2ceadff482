"""The channel that hands SMS to a gateway (:mod:`engine.channels.sms_gateway`).

The engine builds one channel per batch and closes it afterwards, so one HTTP client —
one keep-alive connection — serves the whole batch. ``send_sms`` never raises for a
message: an exception there would make the executor treat every handed-off message of
the batch as "delivery unknown", including those that were never tried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
from sqlalchemy.orm import Session

from .. import settings
from ..records.values import normalize_phone
from ..secret_store import get_secret
from ..sms import measure
from ..tracking import make_token
from .base import Channel, Delivery, OutboundEmail, OutboundSms
from .sms_gateway import (
    DeliveryUnknown,
    GatewayUnavailable,
    MessageRefused,
    RecipientRejected,
    SmsGateway,
    SmsRequest,
    gateway_for,
    is_loopback,
)

log = logging.getLogger(__name__)

# Longer texts are usually a template mistake, and every segment is billed.
MAX_SEGMENTS = 10
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


def status_callback_url(base_url: str, token: str) -> str:
    """Where the provider reports delivery status (served by the tracking server)."""
    return f"{base_url.rstrip('/')}/sms/status/{token}"


class SmsGatewayChannel(Channel):
    """Sends through the gateway ``sms.url`` names, with the ``sms.token`` secret."""

    name = "sms-gateway"
    transactional = False

    def __init__(
        self,
        url: str,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        token: Callable[[], str | None] = lambda: get_secret("sms.token"),
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._token = token  # read on first send: the engine builds channels it never uses
        self._gateway: SmsGateway | None = None
        self._client: httpx.Client | None = None

    # --- Channel -----------------------------------------------------------------------
    def send_emails(self, session: Session, messages: list[OutboundEmail]) -> list[Delivery]:
        return [Delivery("failed", "the SMS gateway cannot send email")] * len(messages)

    def send_sms(self, session: Session, messages: list[OutboundSms]) -> list[Delivery]:
        if not messages:
            return []
        try:
            gateway = self._get_gateway()
        except GatewayUnavailable as exc:
            return [Delivery("transient", str(exc))] * len(messages)
        callback_base = self._callback_base(session, gateway)
        secret = settings.tracking_secret(session)
        out: list[Delivery] = []
        stopped: str | None = None
        for m in messages:
            if stopped is not None:
                out.append(Delivery("transient", f"not tried: {stopped}"))
                continue
            token = make_token(secret, m.trace_id) if m.trace_id is not None else None
            callback = None
            if callback_base and token:
                callback = status_callback_url(callback_base, token)
            delivery, stopped = self._send_one(gateway, m, callback, token)
            out.append(delivery)
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- one message -------------------------------------------------------------------
    def _send_one(
        self, gateway: SmsGateway, m: OutboundSms, callback: str | None, token: str | None
    ) -> tuple[Delivery, str | None]:
        """The delivery, and why the rest of the batch should wait for a later pass."""
        to = normalize_phone(m.to)
        if to is None:
            return Delivery("rejected", f"{m.to!r} is not a phone number in E.164 form"), None
        size = measure(m.body)
        if size.segments == 0:
            return Delivery("failed", "The SMS body is empty"), None
        if size.segments > MAX_SEGMENTS:
            return Delivery(
                "failed",
                f"SMS too long: {size.characters} {size.encoding} characters make "
                f"{size.segments} segments; the limit is {MAX_SEGMENTS}",
            ), None
        request = SmsRequest(to=to, body=m.body, status_callback=callback, reference=token)
        try:
            provider_id = gateway.send(self._get_client(), request)
        except RecipientRejected as exc:
            return Delivery("rejected", str(exc)), None
        except MessageRefused as exc:
            return Delivery("failed", str(exc)), None
        except GatewayUnavailable as exc:
            return Delivery("transient", str(exc)), str(exc) if exc.stop_batch else None
        except DeliveryUnknown as exc:
            return Delivery("failed", str(exc)), f"{gateway.label} stopped answering"
        except Exception as exc:  # a bug must not turn into a resend (E13)
            log.exception("SMS gateway send failed unexpectedly")
            unknown = f"Delivery unknown: {type(exc).__name__}: {exc}"
            return Delivery("failed", unknown), f"{gateway.label} failed unexpectedly"
        plural = "s" if size.segments > 1 else ""
        detail = f"{size.segments} {size.encoding} segment{plural}"
        if provider_id:
            detail += f", provider id {provider_id}"
        log.info("SMS for trace %s accepted by %s: %s", m.trace_id, gateway.label, detail)
        return Delivery("sent", detail), None

    # --- per batch ---------------------------------------------------------------------
    def _get_gateway(self) -> SmsGateway:
        """The gateway; GatewayUnavailable when its URL or secret cannot be used (yet)."""
        if self._gateway is None:
            try:
                token = self._token()
            except Exception as exc:  # e.g. a keyring that cannot be unlocked right now
                raise GatewayUnavailable(f"cannot read the sms.token secret: {exc}") from exc
            try:
                self._gateway = gateway_for(self.url, token)
            except ValueError as exc:  # only the environment can supply an unusable URL
                raise GatewayUnavailable(
                    f"SMS gateway misconfigured: sms.url (or JOURNEYS_SMS_URL) {exc}"
                ) from exc
        return self._gateway

    def _get_client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout,
                # Retries only failed connection attempts: nothing can have been sent.
                transport=httpx.HTTPTransport(retries=1),
                follow_redirects=False,
                headers={"User-Agent": "Journeys"},
            )
        return self._client

    def _callback_base(self, session: Session, gateway: SmsGateway) -> str | None:
        """The tracking base URL, unless the provider could not possibly reach it."""
        base = settings.tracking_base_url(session)
        host = httpx.URL(base).host
        if is_loopback(host) and not is_loopback(gateway.host):
            log.info(
                "no SMS status callbacks: the tracking base URL %s is not reachable from %s; "
                "set tracking.base_url to a public address to receive them",
                base,
                gateway.label,
            )
            return None
        return base
