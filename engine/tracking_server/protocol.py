"""HTTP/1.1 on asyncio with h11: many cheap connections, each with a deadline.

Why this design: the tracking server's clients are the whole internet, and some are slow
on purpose. A thread per connection (the standard library's ``ThreadingHTTPServer``)
makes every idle connection cost a thread, so a few dozen clients trickling header lines
locked real visitors out. Here a connection waiting for bytes costs a coroutine and a
socket — thousands are fine — and no thread is involved until a complete request has
arrived. h11 (the HTTP/1.1 state machine under uvicorn and httpx, already a dependency
of ours through httpx) parses; we own the I/O, which is what gives every connection the
limits uvicorn lacks: an absolute deadline for receiving a whole request (headers and
body, not merely a per-read timeout a trickling client resets), a silence timeout, a
head size limit, and a route-specific body limit checked on the declared length before
a byte of the body is read.

When the connection slots are nearly all taken, a new connection is not refused while
slow ones sit in them: it takes the slot of the connection that has been waiting longest
for its request (real visitors send theirs within milliseconds, so the one pushed out is
almost always a slow client), and the last tenth of the slots absorbs bursts. Only when
every slot is busy answering, or held by connections that arrived a moment ago, do
newcomers get a quick 503. The slots (``Limits.max_connections``, 5000 by default) are
meant to exceed what slow clients can hold; pushing out is the defence beyond that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass, field
from http import HTTPStatus

import h11

from .limits import Limits

log = logging.getLogger("engine.tracking_server")

SERVER_NAME = b"Journeys"  # no library or Python version for scanners to match against
MAX_REQUEST_LINE = 8 * 1024
MAX_HEAD = 16 * 1024
WRITE_TIMEOUT = 10.0  # a client that does not read its answer is dropped after this
# A connection is never pushed out this soon after arriving: a burst of new connections
# must not push out a real request that came just before it and is being read.
GRACE = 0.25


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False  # hang up after answering (the request was not read to its end)


class App:
    """What the protocol asks of the application, in two steps so that a request can be
    refused on its head alone (unknown path, wrong method, body too large)."""

    def check(self, request: Request) -> Response | int:
        """An early answer, or the largest body this request may send."""
        raise NotImplementedError

    async def respond(self, request: Request) -> Response:
        raise NotImplementedError

    def access(self, request: Request, status: int, ms: float) -> None:
        """One line per answered request (client addresses are personal data: not logged)."""
        log.info("%s %s %d %.0f ms", request.method, request.target[:200], status, ms)


def plain(status: int, text: str, *, close: bool = False) -> Response:
    return Response(
        status, text.encode(), (("Content-Type", "text/plain; charset=utf-8"),), close=close
    )


BUSY = Response(
    503, b"Server busy.\n", (("Retry-After", "1"), ("Content-Type", "text/plain; charset=utf-8"))
)


class _Refused(Exception):
    """The request cannot be served; ``answer`` (if any) is sent before hanging up."""

    def __init__(self, answer: Response | None) -> None:
        self.answer = answer


@dataclass(eq=False)
class _Conn:
    writer: asyncio.StreamWriter
    receiving: bool = True  # waiting for (part of) a request: may be evicted
    since: float = field(default_factory=time.monotonic)

    def hang_up(self) -> None:
        self.writer.transport.abort()


class HttpServer:
    """Serves ``app`` on one listening socket inside the running event loop."""

    def __init__(self, app: App, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self._conns: dict[_Conn, None] = {}  # insertion order: oldest first
        self._server: asyncio.Server | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    async def listen(self, sock: socket.socket) -> None:
        """Serve on ``sock``, already bound and listening (so a taken port fails early)."""
        self._server = await asyncio.start_server(self._serve, sock=sock, limit=MAX_HEAD)

    @property
    def connections(self) -> int:
        return len(self._conns)

    @property
    def answering(self) -> int:
        return sum(1 for c in self._conns if not c.receiving)

    async def close(self, timeout: float) -> bool:
        """Stop accepting, hang up on clients still sending, let answers under way finish."""
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            if conn.receiving:
                conn.hang_up()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            for conn in list(self._conns):
                conn.hang_up()
            return False
        return True

    # --- admission ------------------------------------------------------------------------
    def _admit(self, conn: _Conn) -> bool:
        cap = self.limits.max_connections
        if len(self._conns) >= max(1, cap * 9 // 10):  # nearly full: make room if we can
            now = time.monotonic()
            victim = next((c for c in self._conns if c.receiving and now - c.since >= GRACE), None)
            if victim is not None:
                del self._conns[victim]
                victim.hang_up()
        if len(self._conns) >= cap:
            return False
        self._conns[conn] = None
        self._idle.clear()
        return True

    def _leave(self, conn: _Conn) -> None:
        self._conns.pop(conn, None)
        if not self._conns:
            self._idle.set()

    def _phase(self, conn: _Conn, receiving: bool) -> None:
        conn.receiving = receiving
        conn.since = time.monotonic()
        if receiving and conn in self._conns:  # to the back of the eviction order
            del self._conns[conn]
            self._conns[conn] = None

    # --- one connection -------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(writer)
        if not self._admit(conn):
            await _last_word(writer, BUSY)
            return
        h = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        try:
            while await self._cycle(conn, h, reader, writer):
                h.start_next_cycle()
                self._phase(conn, receiving=True)
        except (ConnectionError, TimeoutError, h11.LocalProtocolError):
            pass  # the client went away or stopped reading: nothing left to say
        except Exception:
            log.exception("tracking connection failed")
        finally:
            self._leave(conn)
            if not writer.is_closing():
                writer.transport.abort()

    async def _cycle(
        self,
        conn: _Conn,
        h: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """One request and its answer; False: hang up."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.limits.request_deadline):
                request, cap = await self._head(h, reader)
                if isinstance(cap, Response):
                    answer: Response | None = cap
                else:
                    body = await self._body(h, reader, writer, cap)
                    request = Request(request.method, request.target, request.headers, body)
                    answer = None
        except _Refused as refused:
            if refused.answer is not None:
                await _last_word(writer, refused.answer)
            return False
        except TimeoutError:
            if h.their_state is h11.SEND_BODY:  # headers arrived: the client deserves a word
                await _last_word(writer, plain(408, "Request body took too long"))
            return False
        self._phase(conn, receiving=False)
        if answer is None:
            answer = await self.app.respond(request)
        await self._send(h, writer, request.method, answer, close=answer.close)
        self.app.access(request, answer.status, (time.monotonic() - started) * 1000)
        return h.our_state is h11.DONE and h.their_state is h11.DONE

    async def _read(self, h: h11.Connection, reader: asyncio.StreamReader) -> bytes:
        data = await asyncio.wait_for(reader.read(65536), self.limits.read_timeout)
        h.receive_data(data)
        return data

    async def _head(
        self, h: h11.Connection, reader: asyncio.StreamReader
    ) -> tuple[Request, Response | int]:
        line = 0  # bytes of the request line received, until its end is seen
        while True:
            try:
                event = h.next_event()
            except h11.RemoteProtocolError as exc:
                raise _Refused(plain(exc.error_status_hint, "Bad request")) from None
            if event is h11.NEED_DATA:
                data = await self._read(h, reader)
                if not data:
                    raise _Refused(None)
                if line >= 0:
                    end = data.find(b"\n")
                    line = -1 if end >= 0 else line + len(data)
                    if line > MAX_REQUEST_LINE:
                        raise _Refused(plain(414, "Request line too long"))
                continue
            if isinstance(event, h11.ConnectionClosed):
                raise _Refused(None)
            if isinstance(event, h11.Request):
                request = Request(
                    event.method.decode("ascii", "replace"),
                    event.target.decode("ascii", "replace"),
                    tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers),
                )
                return request, self.app.check(request)

    async def _body(
        self,
        h: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        cap: int,
    ) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                event = h.next_event()
            except h11.RemoteProtocolError:
                raise _Refused(plain(400, "Incomplete request body")) from None
            if event is h11.NEED_DATA:
                if h.they_are_waiting_for_100_continue:
                    writer.write(h.send(h11.InformationalResponse(status_code=100, headers=[])))
                if not await self._read(h, reader):
                    h.receive_data(b"")
                continue
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > cap:  # cannot happen with a checked Content-Length: belt and braces
                    raise _Refused(plain(413, "Request body too large"))
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            elif isinstance(event, h11.ConnectionClosed):
                raise _Refused(None)

    async def _send(
        self, h: h11.Connection, writer: asyncio.StreamWriter, method: str, r: Response, close: bool
    ) -> None:
        headers = _headers(r, close)
        data = h.send(h11.Response(status_code=r.status, headers=headers, reason=_reason(r))) or b""
        if r.body and method != "HEAD":
            data += h.send(h11.Data(data=r.body)) or b""
        data += h.send(h11.EndOfMessage()) or b""
        writer.write(data)
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
        if close or h.our_state is h11.MUST_CLOSE:
            writer.transport.close()


def _reason(r: Response) -> bytes:
    try:
        return HTTPStatus(r.status).phrase.encode()
    except ValueError:
        return b""


def _headers(r: Response, close: bool) -> list[tuple[str, str]]:
    headers = [("Server", SERVER_NAME.decode()), *r.headers]
    headers.append(("Content-Length", str(len(r.body))))
    if close:
        headers.append(("Connection", "close"))
    return headers


async def _last_word(writer: asyncio.StreamWriter, r: Response) -> None:
    """Answer a request h11 could not (or need not) follow to its end, then hang up."""
    head = b"HTTP/1.1 %d %s\r\n" % (r.status, _reason(r))
    for name, value in _headers(r, close=True):
        head += f"{name}: {value}\r\n".encode("latin-1")
    writer.write(head + b"\r\n" + r.body)
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)
    writer.transport.close()
