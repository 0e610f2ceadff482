"""An IMAP session on the reply and bounce mailbox, and the ``imap.url`` that names it.

Only what :mod:`engine.inbound` needs, on the standard library's :mod:`imaplib`: log in
(implicit TLS, STARTTLS, or plain on a local server), SELECT, SEARCH the messages not
yet marked handled, FETCH them without setting ``\\Seen`` (a person reading the same
mailbox still sees them unread) and mark them with the ``JourneysHandled`` keyword
(``\\Seen`` on a server that refuses keywords).

Every failure — refused connection, timeout, untrusted certificate, wrong password,
missing mailbox, a server that hangs up — becomes one :class:`MailboxError` that names
the step and the reason, never the password.
"""

from __future__ import annotations

import imaplib
import logging
import re
import socket
import ssl
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import EngineFailure
from .tls_options import parse_tls_options

log = logging.getLogger(__name__)

KEYWORD = "JourneysHandled"
MAX_BYTES = 2 * 1024 * 1024  # enough for any DSN; a reply's 30 MB attachment is not read
TIMEOUT = 30.0
_UID = re.compile(rb"\bUID (\d+)")


@dataclass(frozen=True)
class ImapUrl:
    host: str
    port: int
    user: str
    mailbox: str = "INBOX"
    tls: str = "ssl"
    verify: bool = True
    cafile: str | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"imap://{self.user}@{host}:{self.port}/{self.mailbox} ({self.tls})"


def parse_imap_url(text: str) -> ImapUrl:
    """``imap[s]://user@host[:port][/MAILBOX][?tls=none|starttls|ssl&verify=false&cafile=P]``.

    ``imaps://`` is implicit TLS (port 993), ``imap://`` STARTTLS (port 143), so leaving
    the option out never sends the password in clear; ``tls=none`` is for a server on
    this machine. The mailbox defaults to INBOX.
    """
    parts = urlsplit(text.strip())
    if parts.scheme not in ("imap", "imaps") or not parts.hostname:
        raise ValueError("must be a URL such as imaps://user@mail.example.com:993/INBOX")
    if parts.password is not None:
        raise ValueError(
            "must not contain a password: it goes to the keyring "
            "(`journeys settings imap.password`) or JOURNEYS_IMAP_PASSWORD"
        )
    if not parts.username:
        raise ValueError("must name the user to log in as: imaps://user@host/INBOX")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    options = parse_tls_options(parts, "imaps")
    tls = options.tls
    try:
        port = parts.port or (993 if tls == "ssl" else 143)
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    return ImapUrl(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        mailbox=unquote(parts.path.strip("/")) or "INBOX",
        tls=tls,
        verify=options.verify,
        cafile=options.cafile,
    )


class MailboxError(EngineFailure):
    """The mailbox could not be read; the message says which step failed and why."""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, and is this its port?)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the server's certificate is not trusted ({exc.verify_message}); give its CA "
            "with ?cafile=PATH, or ?verify=false for a test server"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc}); does the port match ?tls=ssl|starttls?"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror})"
    if isinstance(exc, imaplib.IMAP4.abort) and "EOF" in str(exc):
        return "the server closed the connection"
    if isinstance(exc, UnicodeEncodeError):
        return "IMAP LOGIN can only send a user name and password written in ASCII"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split()) or type(exc).__name__


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mailbox_name(name: str) -> str:
    """IMAP's modified UTF-7 (RFC 3501 §5.1.3), quoted: what SELECT expects."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            encoded = b64encode("".join(run).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + encoded.replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return _quote("".join(out))


class Mailbox:
    """One IMAP session on the configured mailbox; every failure is a MailboxError."""

    def __init__(self, url: ImapUrl, password: str, timeout: float = TIMEOUT) -> None:
        self.url = url
        self.password = password
        self.timeout = timeout
        self.conn: imaplib.IMAP4 | None = None
        self.keywords = True  # False: the server refuses keywords, \Seen marks instead

    @contextmanager
    def _step(self, what: str) -> Iterator[None]:
        try:
            yield
        except MailboxError:
            raise
        except (OSError, EOFError, ValueError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"IMAP {self.url}: {what} failed: {_describe(exc)}") from None

    def _ok(self, what: str, reply: tuple[str, list[Any]]) -> list[Any]:
        typ, data = reply
        if typ != "OK":
            text = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise MailboxError(f"IMAP {self.url}: {what} refused: {text or typ}")
        return data

    def __enter__(self) -> Mailbox:
        url = self.url
        with self._step("connecting"):
            context = None
            if url.tls != "none":
                context = ssl.create_default_context(cafile=url.cafile)
                if not url.verify:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
            if url.tls == "ssl":
                self.conn = imaplib.IMAP4_SSL(
                    url.host, url.port, ssl_context=context, timeout=self.timeout
                )
            else:
                self.conn = imaplib.IMAP4(url.host, url.port, timeout=self.timeout)
        try:
            if url.tls == "starttls":
                with self._step("STARTTLS"):
                    self._ok("STARTTLS", self.conn.starttls(ssl_context=context))
            with self._step(f"logging in as {url.user}"):
                self._ok(
                    f"logging in as {url.user}", self.conn.login(_quote(url.user), self.password)
                )
            with self._step(f"opening mailbox {url.mailbox!r}"):
                self._ok(
                    f"opening mailbox {url.mailbox!r}", self.conn.select(_mailbox_name(url.mailbox))
                )
                _, flags = self.conn.response("PERMANENTFLAGS")
                allowed = b" ".join(f for f in flags if isinstance(f, bytes))
                # No PERMANENTFLAGS at all means every flag is permanent (RFC 3501).
                self.keywords = not allowed or b"\\*" in allowed or KEYWORD.encode() in allowed
        except BaseException:
            self.close()
            raise
        if not self.keywords:
            log.warning("%s refuses keywords: handled mail is marked \\Seen instead", url)
        if url.tls == "none" and url.host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("%s: the password went over the network unencrypted (tls=none)", url)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with suppress(Exception):
                conn.logout()

    def unhandled(self) -> list[int]:
        """UIDs of the messages not yet marked handled, oldest first."""
        assert self.conn is not None
        criteria = ("UNKEYWORD", KEYWORD) if self.keywords else ("UNSEEN",)
        with self._step("searching for new mail"):
            data = self._ok("SEARCH", self.conn.uid("SEARCH", "UNDELETED", *criteria))
        return sorted({int(n) for d in data if d for n in d.split()})

    def fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        """``(uid, raw bytes)`` of each message (its first MAX_BYTES), without marking it."""
        assert self.conn is not None
        with self._step("fetching messages"):
            data = self._ok(
                "FETCH",
                self.conn.uid(
                    "FETCH", ",".join(map(str, uids)), f"(UID BODY.PEEK[]<0.{MAX_BYTES}>)"
                ),
            )
        out: list[tuple[int, bytes]] = []
        pending: bytes | None = None
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                match = _UID.search(item[0])
                if match:
                    out.append((int(match.group(1)), item[1]))
                else:  # UID came after the literal: in the next element
                    pending = item[1]
            elif isinstance(item, bytes) and pending is not None:
                match = _UID.search(item)
                if match:
                    out.append((int(match.group(1)), pending))
                pending = None
        wanted = set(uids)  # a server may add unsolicited FETCH data for others
        return [(uid, raw) for uid, raw in out if uid in wanted]

    def mark(self, uids: list[int]) -> None:
        """Mark messages handled so later polls skip them."""
        if not uids:
            return
        assert self.conn is not None
        flag = KEYWORD if self.keywords else "\\Seen"
        with self._step("marking handled messages"):
            self._ok(
                "STORE",
                self.conn.uid("STORE", ",".join(map(str, uids)), "+FLAGS.SILENT", f"({flag})"),
            )
