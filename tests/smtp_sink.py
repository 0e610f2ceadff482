"""A real SMTP server on loopback (aiosmtpd) that records what it receives.

It can refuse chosen recipients with chosen replies, require STARTTLS or speak implicit
TLS with a self-signed certificate made on the spot, require a login, and misbehave
(drop the connection after DATA, close it between messages, answer slowly, or never
answer after DATA).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt: list[str]
    data: bytes
    peer: Any

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Handler:
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> "550 ..." reply
    drop_after_data: bool = False  # swallow the message and hang up without replying
    close_after_each: bool = False  # accept, then close the connection
    delay: float = 0.0  # a slow relay: seconds before each message is acknowledged
    stall: bool = False  # take the message, then never answer (until the client gives up)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.received.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, session.peer
            )
        )
        if self.drop_after_data:
            server.transport.close()
            return "250 never heard"
        if self.stall:
            await asyncio.sleep(3600)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.close_after_each:
            asyncio.get_running_loop().call_soon(server.transport.close)
        return "250 OK queued"

    @property
    def connections(self) -> int:
        return len({r.peer for r in self.received})


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def make_cert(folder: Path) -> Cert:
    """A self-signed certificate for 127.0.0.1 and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "journeys test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    out = Cert(folder / "cert.pem", folder / "key.pem")
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return out


class _Login:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()
        self.attempts = 0

    def __call__(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        self.attempts += 1
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login,
            auth_data.password,
        ) == (self.user, self.password)
        return AuthResult(success=ok, handled=False)  # handled=True would send no reply


@contextmanager
def smtp_sink(
    handler: Handler | None = None,
    *,
    tls: str = "none",
    cert: Cert | None = None,
    login: tuple[str, str] | None = None,
) -> Iterator[tuple[Handler, int]]:
    """Run a server; yields the handler and its port. ``tls``: none, starttls or ssl."""
    handler = handler or Handler()
    port = free_port()
    kwargs: dict[str, Any] = {}
    if tls == "starttls":
        assert cert
        kwargs.update(tls_context=cert.server_context(), require_starttls=True)
    elif tls == "ssl":
        assert cert
        kwargs.update(ssl_context=cert.server_context())
    if login:
        # Implicit TLS is invisible to aiosmtpd, which would then hide AUTH.
        kwargs.update(authenticator=_Login(*login), auth_require_tls=tls == "starttls")
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
