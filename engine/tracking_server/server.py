"""The tracking server's lifecycle: an event loop for the connections, worker threads for
the database, a recorder for everything that changes it.

Three kinds of thread, so that nothing slow holds up anything else:

- one event loop (:mod:`.protocol`) owns every socket — thousands of slow or idle
  clients cost it nothing but memory, and it never touches the database;
- a few worker threads run the routes' lookups (read-only transactions: on SQLite they
  take no write lock, so another program writing does not block them);
- the recorder (:mod:`.recorder`) applies what requests spooled, retrying while the
  database is busy, and its actor lets the recorded interactions act.

The embedded app and ``journeys serve`` both run it through :class:`TrackingServer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from .. import settings
from ..clock import Clock
from ..db import Database
from ..errors import EngineFailure
from ..models import Setting
from .handlers import TrackingApp
from .limits import Limits
from .protocol import HttpServer
from .recorder import Recorder
from .spool import Spool, spool_folder
from .tracker import OnInteraction, Tracker

log = logging.getLogger(__name__)

_DEFAULT = Path()  # "the database's own spool folder" (None: keep no spool)


class TrackingServer:
    """The HTTP tracking server of one database (SPEC §5).

    ``port=0`` picks a free port (read it back from :attr:`port` after :meth:`start`).
    ``share_port`` lets several servers listen on one port (``SO_REUSEPORT``: the kernel
    spreads new connections over them), so that ``journeys serve --processes N`` uses
    every core; each has its own spool, and the database is shared.
    ``on_interaction`` is called with the :class:`~engine.interactions.InteractionResult`
    of every request that recorded something — the embedded app passes a function that
    wakes its engine runner. Without it, the server runs what an interaction made due
    itself, so a 0-delay child executes in the same pass (E7).
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
        spool: Path | None = _DEFAULT,
        share_port: bool = False,
    ) -> None:
        self.db = db
        self.clock = clock
        self.host = host
        self._requested_port = port
        self._bound_port: int | None = None
        self.on_interaction = on_interaction
        self.limits = limits or Limits()
        self.share_port = share_port
        self._spool_folder = spool_folder(db.engine) if spool is _DEFAULT else spool
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._http: HttpServer | None = None
        self._workers: ThreadPoolExecutor | None = None
        self.recorder: Recorder | None = None
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
        return self._loop is not None

    @property
    def connections(self) -> int:
        """Client connections open now, idle ones included."""
        return self._http.connections if self._http is not None else 0

    @property
    def answering(self) -> int:
        """Connections whose request has arrived and whose answer is not yet sent."""
        return self._http.answering if self._http is not None else 0

    def start(self) -> None:
        """Bind, adopt what an earlier server left in the spool, and serve in the
        background; EngineFailure if the port is taken."""
        if self._loop is not None:
            return
        sock = self._bind()
        try:
            secret = self._secret()
        except Exception:
            sock.close()
            raise
        self._stopping.clear()
        self.tracker = Tracker(
            self.db,
            self.clock,
            secret,
            on_interaction=self.on_interaction,
            should_stop=self._stopping.is_set,
        )
        spool = Spool(self._spool_folder, take_turns=self.db.dialect == "sqlite")
        self.recorder = Recorder(self.tracker, spool, self.limits)
        self.recorder.start()
        limits = replace(self.limits, max_connections=_room_for(self.limits.max_connections))
        self._workers = ThreadPoolExecutor(limits.workers, "journeys-tracking-worker")
        app = TrackingApp(self.tracker, self.recorder, limits, self._workers)
        self._loop = loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=loop.run_forever, name="journeys-tracking", daemon=True
        )
        self._thread.start()

        async def listen() -> HttpServer:
            http = HttpServer(app, limits)
            await http.listen(sock)
            return http

        self._http = asyncio.run_coroutine_threadsafe(listen(), loop).result()
        log.info("tracking server listening on %s", self.url)

    def _secret(self) -> bytes:
        # A read, so that starting does not queue behind another program's write lock;
        # only a database that has no key yet needs a write to create it.
        with self.db.read() as s:
            key = select(Setting.key).where(Setting.key == settings.TRACKING_SECRET_KEY)
            if s.scalar(key) is not None:
                return settings.tracking_secret(s)
        with self.db.session() as s:
            return settings.tracking_secret(s)

    def _bind(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if os.name != "nt":  # on Windows the option would let others take the port
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.share_port:
                sock.setsockopt(socket.SOL_SOCKET, _reuse_port(), 1)
            sock.bind((self.host, self._requested_port))
            sock.listen(1024)
        except OSError as exc:
            sock.close()
            raise EngineFailure(
                f"the tracking server cannot listen on {self.host}:{self._requested_port}: "
                f"{exc.strerror or exc}"
            ) from None
        sock.setblocking(False)
        self._bound_port = int(sock.getsockname()[1])
        return sock

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, finish the answers under way and record what can be recorded
        (each up to ``timeout``); what is not recorded stays in the spool."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        self._stopping.set()
        assert self._http is not None and self.recorder is not None
        closing = asyncio.run_coroutine_threadsafe(self._http.close(timeout), loop)
        finished = closing.result(timeout + 5.0)
        if not finished:
            log.warning("tracking server stopped with answers still under way")
        if not self.recorder.stop(timeout):
            log.warning("tracking recorder still waiting for the database at shutdown")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if not loop.is_running():
            loop.close()
        if self._workers is not None:
            # Joined unless an answer was cut off while its lookup still runs.
            self._workers.shutdown(wait=finished, cancel_futures=True)
            self._workers = None
        self._http = None
        log.info("tracking server stopped")


def can_share_port() -> bool:
    """Whether several servers can listen on one port here (Linux, the BSDs, macOS)."""
    return hasattr(socket, "SO_REUSEPORT") and os.name != "nt"


def _reuse_port() -> int:
    if not can_share_port():
        raise EngineFailure("this system cannot share a port between tracking servers")
    return int(socket.SO_REUSEPORT)


def _room_for(connections: int) -> int:
    """Raise this process's open-file limit for ``connections`` sockets if the system
    allows it; the number of connections that fit."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return connections
    spare = 256  # the database, the spool, logs, the app's own files
    with contextlib.suppress(ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = connections + spare
        if soft != resource.RLIM_INFINITY and soft < want:
            new = want if hard == resource.RLIM_INFINITY else min(want, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or soft >= connections + spare:
        return connections
    fitting = max(16, soft - spare)
    log.warning("tracking server: the open-file limit allows %d connections at once", fitting)
    return fitting
