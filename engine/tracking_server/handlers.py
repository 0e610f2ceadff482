"""HTTP requests of the tracking server: routing, limits, responses (URL table in
:mod:`engine.tracking_server`).

Order of checks, so that hostile requests cost little and change nothing: the path must
match a route (else 404), the method must be allowed (else 405), the body must be
declared and small (else 411/413), and the token's HMAC must verify (else 404) — all
before the database is touched. Query strings are ignored everywhere: nothing a request
carries can choose where a redirect goes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from . import pages
from .esp import EspPayloadError, parse_events

if TYPE_CHECKING:
    from .server import _HttpServer
    from .tracker import Tracker

log = logging.getLogger("engine.tracking_server")

# A 1x1 transparent GIF.
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_CACHE = (
    ("Cache-Control", "no-store, no-cache, must-revalidate, private, max-age=0"),
    ("Pragma", "no-cache"),
    ("Expires", "0"),
)
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# A stored email may load images and styles from anywhere, but never run anything.
VIEW_CSP = (
    "default-src 'none'; img-src http: https: data:; style-src 'unsafe-inline' http: https:; "
    "font-src http: https: data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
_TOKEN_IN_TEXT = re.compile(r"\b(\d{1,19})\.[A-Za-z0-9_-]{8,}")
# Characters a Location header may carry as they are; everything else is %-encoded, so a
# stored URL with spaces, line breaks or non-ASCII text cannot split or break the header.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


def redact(text: str) -> str:
    """Logs keep a token's trace id, never its signature."""
    return _TOKEN_IN_TEXT.sub(r"\1.…", text)


def location(url: str) -> str | None:
    """The Location header for a stored link, or None if it is not an http(s) URL."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return quote(url.strip(), safe=_URL_SAFE)


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    methods: tuple[str, ...]
    handler: Callable[[TrackingHandler, dict[str, str], bytes], None]
    human: bool = True  # people see its errors in a browser: answer with a page
    esp: bool = False  # the larger body limit of ESP batches


class TrackingHandler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "Journeys"  # no Python version for scanners to match against
    protocol_version = "HTTP/1.0"  # one request per connection: no idle keep-alive threads
    default_request_version = "HTTP/1.0"  # malformed request lines get a status line too
    error_content_type = "text/plain; charset=utf-8"
    error_message_format = "%(code)d %(message)s\n"

    _route: Route | None = None
    _responded = False

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        # Longest silence while receiving; the server's reaper bounds the whole request.
        self.connection.settimeout(self.server.limits.read_timeout)

    @property
    def tracker(self) -> Tracker:
        tracker = self.server.app.tracker
        assert tracker is not None
        return tracker

    # --- dispatch -------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        self._route = None
        # Origin-form "/path?query" is split by hand: urlsplit would read "//x/…" as a host.
        raw = self.path
        path = raw.partition("?")[0] if raw.startswith("/") else urlsplit(raw).path
        route, params = _match(path)
        if route is None:
            self._fail(404, "Not found", human=True)
            return
        self._route = route
        allowed = route.methods + (("HEAD",) if "GET" in route.methods else ())
        if self.command not in allowed:
            self._fail(405, "Method not allowed", extra=(("Allow", ", ".join(allowed)),))
            return
        body = self._read_body()
        if body is None:
            return
        self.server.received(self.request)
        self._responded = False
        try:
            route.handler(self, params, body)
        except ConnectionError:  # the client went away (a closed tab): nothing to answer
            log.debug("client left during %s %s", self.command, redact(path))
        except Exception:
            log.exception("tracking request failed: %s %s", self.command, redact(path))
            if not self._responded:
                with contextlib.suppress(OSError):
                    self._fail(500, "Something went wrong, please try again later")

    def _read_body(self) -> bytes | None:
        """The request body, or None once an error has been answered."""
        assert self._route is not None
        limits = self.server.limits
        cap = limits.max_esp_body if self._route.esp else limits.max_body
        if self.headers.get("Transfer-Encoding"):
            self._fail(411, "Send the body with a Content-Length header")
            return None
        declared = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not declared:
            return b""
        text = declared.pop()
        if declared or not text.isdigit() or not text.isascii():
            self._fail(400, "Invalid Content-Length")
            return None
        size = int(text)
        if size > cap:
            self._fail(413, f"Request body too large (at most {cap} bytes)")
            return None
        chunks: list[bytes] = []
        remaining = size
        try:
            while remaining:
                chunk = self.rfile.read1(min(remaining, 65536))
                if not chunk:
                    self._fail(400, "Incomplete request body")
                    return None
                chunks.append(chunk)
                remaining -= len(chunk)
        except TimeoutError:
            self._fail(408, "Request body took too long")
            return None
        return b"".join(chunks)

    # --- responses ------------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "text/plain; charset=utf-8",
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._responded = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        names = {name.lower() for name, _ in extra}
        if "cache-control" not in names:
            self.send_header("Cache-Control", "no-store")
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _page(self, status: int, body: bytes, csp: str = PAGE_CSP) -> None:
        self._send(
            status,
            body,
            "text/html; charset=utf-8",
            (("Content-Security-Policy", csp), ("X-Frame-Options", "DENY")),
        )

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _fail(
        self,
        status: int,
        message: str,
        *,
        human: bool | None = None,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> None:
        """One clear answer per failure: a page for people, JSON for machines."""
        if human is None:
            human = self._route is None or self._route.human
        if not human:
            self._send(status, json.dumps({"error": message}).encode(), "application/json", extra)
        elif status == 404:
            self._page(404, pages.not_found_page())
        else:
            headers = (("Content-Security-Policy", PAGE_CSP), ("X-Frame-Options", "DENY"))
            body = pages.error_page(status, message)
            self._send(status, body, "text/html; charset=utf-8", (*headers, *extra))
        if status in (400, 408, 411, 413):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        # Client addresses are recipients' personal data: not logged.
        log.info("%s", redact(format % args))

    def log_error(self, format: str, *args: Any) -> None:
        log.warning("%s", redact(format % args))

    # --- routes ---------------------------------------------------------------------------
    def _trace_id(self, params: dict[str, str]) -> int | None:
        trace_id = self.tracker.trace_id(params["token"])
        if trace_id is None:
            self._fail(404, "Not found")
        return trace_id

    def open_pixel(self, params: dict[str, str], _body: bytes) -> None:
        trace_id = self._trace_id(params)
        if trace_id is None:
            return
        if not self.tracker.exists(trace_id):
            self._fail(404, "Not found")
            return
        if self.command == "GET":  # HEAD is a link checker, not a person opening the mail
            self.tracker.interact([trace_id], "open")
        self._send(200, PIXEL, "image/gif", NO_CACHE)

    def email_click(self, params: dict[str, str], body: bytes) -> None:
        self._click(params, "click")

    def sms_click(self, params: dict[str, str], body: bytes) -> None:
        self._click(params, "sms_click")

    def _click(self, params: dict[str, str], kind: str) -> None:
        trace_id = self._trace_id(params)
        if trace_id is None:
            return
        url = self.tracker.link_url(trace_id, int(params["link"]))
        target = location(url) if url else None
        if target is None:  # not a link of this message: never redirect anywhere else
            self._fail(404, "Not found")
            return
        if self.command == "GET":
            self.tracker.interact([trace_id], kind, link_id=int(params["link"]))
        self._send(302, b"", extra=(("Location", target), *NO_CACHE))

    def unsubscribe(self, params: dict[str, str], _body: bytes) -> None:
        # GET only asks: mail scanners fetch links. POST (the form, or RFC 8058 one-click
        # "List-Unsubscribe=One-Click" from the mail client) opts out, whatever its body.
        trace_id = self._trace_id(params)
        if trace_id is None:
            return
        if self.command == "POST":
            done = self.tracker.opt_out(trace_id)
            body = pages.done_page(done) if done else None
        else:
            info = self.tracker.opt_out_info(trace_id)
            body = pages.confirm_page(info) if info else None
        if body is None:
            self._fail(404, "Not found")
        else:
            self._page(200, body)

    def view_online(self, params: dict[str, str], _body: bytes) -> None:
        trace_id = self._trace_id(params)
        if trace_id is None:
            return
        html = self.tracker.online_html(trace_id)
        if html is None:
            self._fail(404, "Not found")
        else:
            self._page(200, html.encode("utf-8"), VIEW_CSP)

    def sms_status(self, params: dict[str, str], body: bytes) -> None:
        trace_id = self._trace_id(params)
        if trace_id is None:
            return
        try:
            status, detail = _sms_status_fields(self.headers.get_content_type(), body)
        except ValueError as exc:
            self._fail(400, str(exc))
            return
        if not self.tracker.exists(trace_id):
            self._fail(404, "Not found")
            return
        bounced = self.tracker.sms_status(trace_id, status, detail)
        self._json(200, {"status": status, "bounce_recorded": bounced})

    def esp_events(self, _params: dict[str, str], body: bytes) -> None:
        try:
            events = parse_events(json.loads(body.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            self._fail(400, "The body must be JSON: a list of events")
            return
        except EspPayloadError as exc:
            self._fail(400, str(exc))
            return
        self._json(200, self.tracker.esp_events(events).as_json())

    def health(self, _params: dict[str, str], _body: bytes) -> None:
        self._send(200, b"ok\n")


def _sms_status_fields(content_type: str, body: bytes) -> tuple[str, str]:
    """(status, detail) of a Twilio-style form or a ``{"status": …}`` JSON callback."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("The body must be UTF-8") from None
    if content_type == "application/json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise ValueError("The body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ValueError('Expected a JSON object such as {"status": "failed"}')
        status, detail = data.get("status"), data.get("error") or data.get("error_code") or ""
    else:
        form = parse_qs(text, max_num_fields=100)
        field = next((k for k in ("MessageStatus", "SmsStatus", "status") if k in form), "")
        status = form[field][0] if field else ""
        detail = (form.get("ErrorCode") or form.get("ErrorMessage") or [""])[0]
    if not isinstance(status, str) or not status.strip():
        raise ValueError("No delivery status (MessageStatus, or status in JSON)")
    return status.strip()[:40], f"SMS gateway: {status.strip()[:40]} {str(detail)[:200]}".strip()


_TOKEN = r"(?P<token>[^/]{1,200})"
_LINK = r"(?P<link>[0-9]{1,18})"
ROUTES: list[Route] = [
    Route(re.compile(rf"/t/{_TOKEN}/o\.gif"), ("GET",), TrackingHandler.open_pixel),
    Route(re.compile(rf"/t/{_TOKEN}/c/{_LINK}"), ("GET",), TrackingHandler.email_click),
    Route(re.compile(rf"/t/{_TOKEN}/unsubscribe"), ("GET", "POST"), TrackingHandler.unsubscribe),
    Route(re.compile(rf"/t/{_TOKEN}/view"), ("GET",), TrackingHandler.view_online),
    Route(re.compile(rf"/s/{_TOKEN}/{_LINK}"), ("GET",), TrackingHandler.sms_click),
    Route(re.compile(rf"/sms/status/{_TOKEN}"), ("POST",), TrackingHandler.sms_status, human=False),
    Route(re.compile(r"/esp/events"), ("POST",), TrackingHandler.esp_events, human=False, esp=True),
    Route(re.compile(r"/health"), ("GET",), TrackingHandler.health, human=False),
]


def _match(path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        m = route.pattern.fullmatch(path)
        if m:
            return route, m.groupdict()
    return None, {}
