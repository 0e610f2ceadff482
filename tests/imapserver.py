"""A real IMAP server (Debian's dovecot-imapd), started by the tests themselves.

``imap_server`` (session scope) writes a complete dovecot configuration into a temporary
directory — runtime sockets, state, log, mail and a self-signed certificate all live
there, nothing under /etc or /var is read or written — and runs ``dovecot -F`` on two
free loopback ports: plain IMAP (which also offers STARTTLS) and implicit TLS. It is
stopped by its process id and removed at the end of the session; under pytest-xdist each
worker gets its own server.

``imap_account`` (function scope) adds a fresh user with a password and an empty
mailbox for one test, so tests never see each other's mail.

As root, dovecot needs unprivileged users for its login and internal processes
(Debian's ``dovenull`` and ``dovecot``), ``first_valid_uid = 1`` and no chroot. When the
binary is missing the tests that need it are skipped, except under CI, where that fails.
"""

from __future__ import annotations

import atexit
import contextlib
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ci_plugin import servers_required
from tests.pgserver import _tail

INSTALL_HINT = "install Dovecot's IMAP server (Debian: apt-get install dovecot-imapd)"
HOST = "127.0.0.1"


def find_dovecot() -> str | None:
    found = shutil.which("dovecot")
    if found:
        return found
    return "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _users() -> tuple[str, str, int, int]:
    """(login user, internal user, mail uid, mail gid) for the processes dovecot forks."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
    login = pwd.getpwnam("dovenull")  # both created by Debian's dovecot-core
    internal = pwd.getpwnam("dovecot")
    return login.pw_name, internal.pw_name, internal.pw_uid, internal.pw_gid


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = journeys-test-{tag}
log_path = {root}/dovecot.log
protocols = imap
listen = {host}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {host}
    port = {port}
  }}
  inet_listener imaps {{
    address = {host}
    port = {tls_port}
  }}
}}
# Failed logins are part of the tests: no 2-15 s brute-force penalty for them.
auth_failure_delay = 0
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


class ImapServer:
    """One throw-away dovecot; ``start()`` then ``stop()`` (idempotent)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="journeys-imap-"))
        self.root.chmod(0o755)  # dovecot's unprivileged processes must reach mail/
        self.log = self.root / "dovecot.log"
        self.port = 0
        self.tls_port = 0
        self.startup_seconds = 0.0
        self.process: subprocess.Popen[bytes] | None = None
        self.cafile = self.root / "cert.pem"
        # Every user shares this password: a new user (a fresh, empty mailbox) needs no
        # reload of the server, unlike a passwd-file, which dovecot re-reads lazily.
        self.password = uuid.uuid4().hex

    def _certificate(self) -> None:
        key, cert = self.root / "key.pem", self.cafile
        options = [
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ]
        subject = ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
        subprocess.run(
            ["openssl", "req", *options, "-keyout", str(key), "-out", str(cert), *subject],
            check=True,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )

    def start(self) -> None:
        began = time.monotonic()
        login_user, internal_user, uid, gid = _users()
        mail = self.root / "mail"
        mail.mkdir()
        os.chown(mail, uid, gid)
        self._certificate()
        last = ""
        for _attempt in range(3):  # another process may take a port between probe and bind
            self.port, self.tls_port = _free_port(), _free_port()
            (self.root / "dovecot.conf").write_text(
                CONFIG.format(
                    root=self.root,
                    tag=uuid.uuid4().hex[:8],
                    host=HOST,
                    port=self.port,
                    tls_port=self.tls_port,
                    login_user=login_user,
                    internal_user=internal_user,
                    uid=uid,
                    gid=gid,
                    password=self.password,
                )
            )
            out = open(self.root / "stdout.log", "ab")  # noqa: SIM115 - the child keeps it
            self.process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.root,
            )
            out.close()
            if self._wait_ready(deadline=time.monotonic() + 30):
                self.startup_seconds = time.monotonic() - began
                return
            last = f"{_tail(self.root / 'stdout.log')}\n{_tail(self.log)}"
            self._terminate()
        raise RuntimeError(f"could not start dovecot:\n{last}")

    def _wait_ready(self, deadline: float) -> bool:
        """True once the server greets; False if it exited (e.g. the port was taken)."""
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                conn = imaplib.IMAP4(HOST, self.port, timeout=2)
            except OSError:
                time.sleep(0.05)
                continue
            with contextlib.suppress(Exception):
                conn.logout()
            return True
        return False

    def _terminate(self) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # by its own pid; dovecot's master stops its children
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)

    def stop(self) -> None:
        self._terminate()
        shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self) -> ImapAccount:
        """A user whose mailbox does not exist yet (dovecot creates it on first login)."""
        return ImapAccount(self, f"u{uuid.uuid4().hex[:12]}", self.password)


@dataclass
class ImapAccount:
    server: ImapServer
    user: str
    password: str

    def url(self, tls: str = "none", mailbox: str = "INBOX", **options: str) -> str:
        scheme, port = (
            ("imaps", self.server.tls_port) if tls == "ssl" else ("imap", self.server.port)
        )
        query = "&".join([f"tls={tls}", *(f"{k}={v}" for k, v in options.items())])
        return f"{scheme}://{self.user}@{HOST}:{port}/{mailbox}?{query}"

    @contextlib.contextmanager
    def client(self, mailbox: str = "INBOX") -> Iterator[imaplib.IMAP4]:
        conn = imaplib.IMAP4(HOST, self.server.port, timeout=10)
        try:
            conn.login(self.user, self.password)
            if mailbox != "INBOX":
                conn.create(mailbox)  # "already exists" is fine
            typ, data = conn.select(mailbox)
            assert typ == "OK", data
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def append(self, *messages: bytes, mailbox: str = "INBOX") -> list[int]:
        """APPEND messages as they would arrive; returns their UIDs."""
        uids = []
        with self.client(mailbox) as conn:
            for raw in messages:
                typ, data = conn.append(
                    mailbox, None, None, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                )
                assert typ == "OK", data
                match = re.search(rb"APPENDUID \d+ (\d+)", data[0])
                assert match, data
                uids.append(int(match.group(1)))
        return uids

    def flags(self, mailbox: str = "INBOX") -> dict[int, set[str]]:
        """Every message's flags by UID."""
        with self.client(mailbox) as conn:
            typ, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            assert typ == "OK", data
        out: dict[int, set[str]] = {}
        for line in data:
            if not isinstance(line, bytes):
                continue
            match = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)", line)
            if match:
                uid = match.group(1) or match.group(4)
                flags = match.group(2) if match.group(1) else match.group(3)
                out[int(uid)] = set(flags.decode().split())
        return out


def _unavailable(reason: str) -> None:
    if servers_required():
        pytest.fail(f"IMAP tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"IMAP server unavailable: {reason}")


@pytest.fixture(scope="session")
def imap_server() -> Iterator[ImapServer]:
    binary = find_dovecot()
    if binary is None:
        _unavailable(f"dovecot not found in PATH or /usr/sbin; {INSTALL_HINT}")
        return
    if shutil.which("openssl") is None:
        _unavailable("openssl (for the test certificate) not found")
        return
    if os.geteuid() == 0:
        try:
            _users()
        except KeyError:
            _unavailable(f"the dovenull/dovecot system users are missing; {INSTALL_HINT}")
            return
    server = ImapServer(binary)
    atexit.register(server.stop)  # in case the session dies before the fixture finalises
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    try:
        yield server
    finally:
        server.stop()
        atexit.unregister(server.stop)


@pytest.fixture
def imap_account(imap_server: ImapServer) -> ImapAccount:
    """A fresh user with an empty INBOX on the session's server."""
    return imap_server.add_user()
