"""The tracking server's lifecycle and its defences against slow or greedy clients.

Standard library only: a ``ThreadingHTTPServer`` whose threads are capped (a flood gets
quick 503s instead of exhausting the process), whose clients must send their whole
request within a deadline (a reaper closes slow-loris connections), and which never looks
up host names. The embedded app and ``journeys serve`` both run it through
:class:`TrackingServer`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any

from .. import settings
from ..clock import Clock
from ..db import Database
from ..errors import EngineFailure
from .handlers import TrackingHandler
from .tracker import OnInteraction, Tracker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one client may ask of the server."""

    max_body: int = 64 * 1024  # forms and SMS callbacks: a few hundred bytes in practice
    max_esp_body: int = 1024 * 1024  # ESPs batch events; a refused batch is re-sent forever
    read_timeout: float = 10.0  # longest silence while a request is being received
    request_deadline: float = 30.0  # the whole request (line, headers, body) within this
    max_connections: int = 64  # requests handled at once; more get 503 at once


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: TrackingServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        self.limits = app.limits
        self._lock = threading.Condition()
        self._active = 0
        self._receiving: dict[socket.socket, float] = {}
        super().__init__(address, TrackingHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves a host name (getfqdn): slow, and not needed.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints tracebacks to stderr; clients dropping connections is routine.
        log.debug("tracking connection ended with an error", exc_info=True)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            busy = self._active >= self.limits.max_connections
            if not busy:
                self._active += 1
                self._receiving[request] = time.monotonic() + self.limits.request_deadline
        if busy:
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:  # no thread could be started: give the slot back
            self._release(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(request)

    def _release(self, request: Any) -> None:
        with self._lock:
            self._receiving.pop(request, None)
            self._active -= 1
            self._lock.notify_all()

    def received(self, request: Any) -> None:
        """The request is fully read: from now on the deadline no longer applies."""
        with self._lock:
            self._receiving.pop(request, None)

    def service_actions(self) -> None:
        """Called by serve_forever between polls: close connections past their deadline."""
        now = time.monotonic()
        with self._lock:
            late = [sock for sock, deadline in self._receiving.items() if deadline < now]
            for sock in late:
                del self._receiving[sock]
        for sock in late:
            _hang_up(sock)

    def drain(self, timeout: float) -> bool:
        """Hang up on clients still sending, then wait for requests under way to finish."""
        with self._lock:
            slow = list(self._receiving)
            self._receiving.clear()
        for sock in slow:
            _hang_up(sock)
        with self._lock:
            return self._lock.wait_for(lambda: self._active == 0, timeout)


def _hang_up(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by its thread
        sock.shutdown(socket.SHUT_RDWR)


def _refuse_busy(sock: socket.socket) -> None:
    try:
        sock.settimeout(1.0)
        sock.sendall(
            b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\n"
            b"Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\n"
            b"Server busy.\n"
        )
    except OSError:
        pass


class TrackingServer:
    """The HTTP tracking server of one database (SPEC §5).

    ``port=0`` picks a free port (read it back from :attr:`port` after :meth:`start`).
    ``on_interaction`` is called with the :class:`~engine.interactions.InteractionResult`
    of every request that recorded something — the embedded app passes a function that
    wakes its engine runner. Without it, the server runs what an interaction made due
    itself, before answering, so a 0-delay child executes in the same pass (E7).
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_interaction: OnInteraction | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.host = host
        self._requested_port = port
        self._bound_port: int | None = None
        self.on_interaction = on_interaction
        self.limits = limits or Limits()
        self._stopping = threading.Event()
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self.tracker: Tracker | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one picked when asked for 0), once started."""
        return self._bound_port if self._bound_port is not None else self._requested_port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> None:
        """Bind and serve in a background thread; EngineFailure if the port is taken."""
        if self._httpd is not None:
            return
        with self.db.session() as s:
            secret = settings.tracking_secret(s)
        self._stopping.clear()
        self.tracker = Tracker(
            self.db,
            self.clock,
            secret,
            on_interaction=self.on_interaction,
            should_stop=self._stopping.is_set,
        )
        try:
            httpd = _HttpServer((self.host, self._requested_port), self)
        except OSError as exc:
            raise EngineFailure(
                f"the tracking server cannot listen on {self.host}:{self._requested_port}: "
                f"{exc.strerror or exc}"
            ) from None
        self._httpd = httpd
        self._bound_port = httpd.server_port
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.25},
            name="journeys-tracking",
            daemon=True,
        )
        self._thread.start()
        log.info("tracking server listening on %s", self.url)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, finish the requests under way (up to ``timeout``), release."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if not httpd.drain(timeout):
            log.warning("tracking server stopped with requests still running")
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        log.info("tracking server stopped")
