"""Email over SMTP (SPEC E5): one connection per batch, paced, every outcome classified.

The engine marks a batch's traces as handed off before calling us (E13), so the rule
here is: never raise, and never send a message twice. Each message is its own SMTP
transaction so that one recipient's rejection says nothing about the others. Before
the end of DATA nothing has been delivered, so a lost connection is safe to retry; once
the final dot is on the wire and the reply does not come back, the message may or may
not have been accepted — that one is reported as failed ("delivery unknown") for a
person to look at, never retried.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from sqlalchemy.orm import Session

from .. import mime
from ..tls_options import parse_tls_options
from .base import Channel, Delivery, OutboundEmail, OutboundSms
from .breaker import BREAKERS, Breakers

log = logging.getLogger(__name__)

_DEFAULT_PORT = {"none": 25, "starttls": 587, "ssl": 465}
_LEADING_DOT = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class SmtpUrl:
    host: str
    port: int
    tls: str
    username: str | None = None
    verify: bool = True
    cafile: str | None = None

    def __str__(self) -> str:
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"smtp://{user}{host}:{self.port} ({self.tls})"


def parse_smtp_url(text: str) -> SmtpUrl:
    """``smtp://[user@]host[:port][?tls=none|starttls|ssl&verify=false&cafile=PATH]``.

    TLS defaults to STARTTLS (``smtps://``: implicit TLS), so forgetting the option never
    sends a password in clear; ``verify=false`` and ``cafile`` exist for private relays
    with their own certificates.
    """
    parts = urlsplit(text.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("must be a URL such as smtp://user@mail.example.com:587?tls=starttls")
    if parts.password is not None:
        raise ValueError(
            "must not contain a password: it goes to the keyring "
            "(`journeys settings smtp.password`) or JOURNEYS_SMTP_PASSWORD"
        )
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError("must not have a path: smtp://user@host:port?options")
    options = parse_tls_options(parts, "smtps")
    tls = options.tls
    try:
        port = parts.port or _DEFAULT_PORT[tls]
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    return SmtpUrl(
        host=parts.hostname,
        port=port,
        tls=tls,
        username=unquote(parts.username) if parts.username else None,
        verify=options.verify,
        cafile=options.cafile,
    )


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the server's TLS certificate is not trusted ({exc.verify_message}); "
            "add ?cafile=PATH to smtp.url for a private CA, or ?verify=false"
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    return str(exc) or type(exc).__name__


def _command(
    conn: smtplib.SMTP, verb: str, address: str, options: list[str] | None = None
) -> tuple[int, bytes]:
    """MAIL FROM / RCPT TO without smtplib's re-parsing of an already validated address.

    ``smtplib.mail``/``rcpt`` run every address through the email package's pure-Python
    parser again, twice per message; ours were normalised by email-validator (and
    :func:`_malformed` stops anything else), so they go in angle brackets as they are.
    """
    conn.putcmd(f"{verb}:<{address}>" + "".join(f" {o}" for o in options or ()))
    return conn.getreply()


def _malformed(address: str) -> bool:
    return not address or any(c in address for c in "<> \t\r\n")


class ServerDown(Exception):
    """No usable connection: every message still to send waits for a retry.

    ``timed_out``: the server did not answer at all within the timeout (as opposed to
    refusing at once), which is what makes later batches worth sparing (the breaker).
    """

    def __init__(self, text: str, *, timed_out: bool = False) -> None:
        super().__init__(text)
        self.timed_out = timed_out


class _Unknown(Exception):
    """The connection broke after the whole message was sent."""

    def __init__(self, text: str, *, stalled: bool = False) -> None:
        super().__init__(text)
        self.stalled = stalled


STALLS_TO_GIVE_UP = 2
"""Messages in a row the server leaves unanswered after DATA before the channel stops
talking to it for the rest of its batch: each such message costs the whole timeout."""


class SMTPChannel(Channel):
    name = "smtp"
    transactional = False

    def __init__(
        self,
        url: SmtpUrl,
        password: Callable[[], str | None] = lambda: None,
        *,
        rate_per_second: float = 0.0,
        timeout: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        breakers: Breakers = BREAKERS,
    ) -> None:
        # Nothing connects here: the engine also builds channels just to ask whether they
        # are transactional, and a batch without email must not open a connection.
        self.url = url
        self._password = password
        self.interval = 1.0 / rate_per_second if rate_per_second > 0 else 0.0
        self.timeout = timeout
        self._monotonic = monotonic
        self._sleep = sleep
        self._next_slot = 0.0
        self._conn: smtplib.SMTP | None = None
        self.connections = 0  # opened by this channel (tests check reuse)
        # Once the server is down or stalls repeatedly, the rest of the batch is not tried:
        # every later message would wait the whole timeout for the same answer.
        self._down: Delivery | None = None
        self._stalls = 0
        # ...and the next batches leave it alone for a while too (see channels.breaker).
        self._breakers = breakers
        self._key = f"smtp://{url.host}:{url.port}"

    # --- Channel ------------------------------------------------------------------------
    def send_emails(self, session: Session, messages: list[OutboundEmail]) -> list[Delivery]:
        blocked = self._breakers.blocked(self._key)
        if blocked is not None:
            return [Delivery("postponed", blocked)] * len(messages)
        out: list[Delivery] = []
        for message in messages:
            if self._down is not None:
                out.append(self._down)
                continue
            try:
                wire = mime.build(message)
            except Exception as exc:  # this message alone cannot be written
                log.warning("message for trace %s not built: %s", message.trace_id, exc)
                out.append(Delivery("failed", f"the message cannot be written: {exc}"))
                continue
            self._pace()
            try:
                delivery = self._send(wire)
                if delivery.status in ("sent", "rejected"):  # it answers: healthy again
                    self._breakers.succeeded(self._key)
                out.append(delivery)
            except ServerDown as exc:
                log.warning("SMTP server unavailable: %s", exc)
                self._down = Delivery("transient", str(exc))
                if exc.timed_out:
                    self._trip(str(exc))
                out.append(self._down)
            except Exception as exc:
                # Unforeseen, maybe mid-transaction: the message may have gone. Say so for
                # this one, start afresh for the next rather than fail the whole batch.
                log.exception("SMTP send failed unexpectedly")
                self._drop()
                out.append(Delivery("failed", f"Interrupted: delivery unknown ({exc!r})"))
        return out

    def send_sms(self, session: Session, messages: list[OutboundSms]) -> list[Delivery]:
        return [Delivery("failed", "the SMTP channel does not send SMS")] * len(messages)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()

    # --- sending ------------------------------------------------------------------------
    def _pace(self) -> None:
        if not self.interval:
            return
        now = self._monotonic()
        if now < self._next_slot:
            self._sleep(self._next_slot - now)
            now = self._next_slot
        self._next_slot = now + self.interval

    def _send(self, wire: mime.WireMessage) -> Delivery:
        for attempt in (1, 2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                return self._transaction(conn, wire)
            except _Unknown as exc:
                self._drop()
                self._note_stall(exc.stalled)
                return Delivery(
                    "failed",
                    f"Interrupted: delivery unknown (connection lost after the message was "
                    f"sent: {exc}); not retried so that it cannot arrive twice",
                )
            except (OSError, smtplib.SMTPException) as exc:
                self._drop()
                # A kept-alive connection may have been closed by the server meanwhile:
                # reconnect once. A fresh one that fails says the server is in trouble.
                if not reused or attempt == 2:
                    timed_out = isinstance(exc, TimeoutError) or isinstance(
                        exc.__context__, TimeoutError
                    )
                    raise ServerDown(
                        f"{self.url.host}: {_describe(exc)}", timed_out=timed_out
                    ) from None
        raise AssertionError("unreachable")

    def _transaction(self, conn: smtplib.SMTP, wire: mime.WireMessage) -> Delivery:
        for address in (wire.sender, wire.recipient):
            if _malformed(address):
                return Delivery("failed", f"not a usable address: {address!r}")
        options: list[str] = []
        if wire.smtputf8:
            if not conn.has_extn("smtputf8"):
                return Delivery(
                    "failed", "the server does not accept international addresses (SMTPUTF8)"
                )
            options.append("SMTPUTF8")
        code, text = _command(conn, "MAIL FROM", wire.sender, options)
        if code != 250:
            self._abort(conn, code)
            if 400 <= code < 500:
                return Delivery("transient", f"sender {wire.sender} refused: {_reply(code, text)}")
            return Delivery(
                "failed", f"the server refuses the sender {wire.sender}: {_reply(code, text)}"
            )
        code, text = _command(conn, "RCPT TO", wire.recipient)
        if code not in (250, 251):
            self._abort(conn, code)
            return self._classify(code, text)
        code, text = conn.docmd("DATA")
        if code != 354:
            self._abort(conn, code)
            return self._classify(code, text)
        data = _LEADING_DOT.sub(b"..", wire.data)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        conn.send(data + b".\r\n")  # a failure here: the server never saw the final dot
        try:
            code, text = conn.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            # smtplib wraps the socket's timeout in SMTPServerDisconnected
            stalled = isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError)
            raise _Unknown(_describe(exc), stalled=stalled) from None
        self._stalls = 0
        if code == 421:
            self._drop()
        return self._classify(code, text)

    def _note_stall(self, stalled: bool) -> None:
        self._stalls = self._stalls + 1 if stalled else 0
        if self._stalls >= STALLS_TO_GIVE_UP:
            log.warning("SMTP server %s stalls after DATA; postponing the rest", self.url.host)
            reason = (
                f"{self.url.host} stalls: it left {self._stalls} messages in a row unanswered "
                f"for {self.timeout:g} s after receiving them"
            )
            self._down = Delivery("postponed", reason)
            self._trip(reason)

    def _trip(self, reason: str) -> None:
        backoff = self._breakers.trip(self._key, reason)
        log.warning("leaving %s alone for %.0f s: %s", self._key, backoff, reason)

    @staticmethod
    def _classify(code: int, text: bytes) -> Delivery:
        if code in (250, 251):
            return Delivery("sent")
        if 500 <= code < 600:
            return Delivery("rejected", _reply(code, text))
        return Delivery("transient", _reply(code, text))

    def _abort(self, conn: smtplib.SMTP, code: int) -> None:
        """End a refused transaction so the connection can carry the next message."""
        if code == 421:  # the server is closing the connection
            self._drop()
            return
        try:
            conn.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    # --- the connection -----------------------------------------------------------------
    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.url.cafile)
        if not self.url.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            return self._conn
        url = self.url
        conn: smtplib.SMTP | None = None
        try:
            if url.tls == "ssl":
                conn = smtplib.SMTP_SSL(
                    url.host, url.port, timeout=self.timeout, context=self._tls_context()
                )
            else:
                conn = smtplib.SMTP(url.host, url.port, timeout=self.timeout)
            conn.ehlo()
            if url.tls == "starttls":
                if not conn.has_extn("starttls"):
                    raise ServerDown(
                        f"{url.host} does not offer STARTTLS; use ?tls=ssl, or ?tls=none "
                        "only on a network you trust"
                    )
                conn.starttls(context=self._tls_context())
                conn.ehlo()
            if url.username:
                self._login(conn, url.username)
        except ServerDown:
            if conn is not None:
                conn.close()
            raise
        except (OSError, smtplib.SMTPException) as exc:
            if conn is not None:
                conn.close()
            raise ServerDown(f"cannot reach {url}: {_describe(exc)}") from None
        self.connections += 1
        self._conn = conn
        return conn

    def _login(self, conn: smtplib.SMTP, username: str) -> None:
        password = self._password()
        if not password:
            raise ServerDown(
                f"no SMTP password for {username}: run `journeys settings smtp.password` "
                "or set JOURNEYS_SMTP_PASSWORD"
            )
        try:
            conn.login(username, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise ServerDown(
                f"{self.url.host} refused the login of {username}: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise ServerDown(
                f"{self.url.host} offers no login (AUTH)"
                + ("" if self.url.tls != "none" else " without TLS; try ?tls=starttls")
            ) from None

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class UnavailableChannel(Channel):
    """Stands in for a channel whose configuration is unusable.

    Falling back to the outbox would mark every message as sent while sending nothing;
    this keeps them scheduled, retrying, with the reason on every trace.
    """

    name = "unavailable"
    transactional = False

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def send_emails(self, session: Session, messages: list[OutboundEmail]) -> list[Delivery]:
        return [Delivery("transient", self.reason)] * len(messages)

    def send_sms(self, session: Session, messages: list[OutboundSms]) -> list[Delivery]:
        return [Delivery("transient", self.reason)] * len(messages)
