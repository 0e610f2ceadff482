"""HTTP requests of the tracking server: routing, limits, responses (URL table in
:mod:`engine.tracking_server`).

Order of checks, so that hostile requests cost little and change nothing: the path must
match a route (else 404), the method must be allowed (else 405), the body must be
declared and small (else 411/413) — all on the request's head, before its body is read —
and the token's HMAC must verify (else 404) before the database is touched. Query
strings are ignored everywhere: nothing a request carries can choose where a redirect
goes.

Route functions run in the server's worker threads (they read the database); the event
loop only waits. A route that changes something spools the change with the recorder and
returns a :class:`Later`: the answer waits a bounded moment for the change to be recorded
and acted on, and is sent when that moment is over in any case — a busy database delays
the recording, never the visitor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from ..interactions import InteractionResult
from . import pages
from .esp import EspPayloadError, parse_events
from .limits import Limits
from .protocol import App, Request, Response
from .recorder import NotRecordedYet, Submitted
from .tracker import SMS_FAILED

if TYPE_CHECKING:
    from .recorder import Recorder
    from .tracker import Tracker

log = logging.getLogger("engine.tracking_server")

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})

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


NOT_YET: Any = object()  # what a Later's answer gets when the outcome is not known in time


@dataclass(frozen=True)
class Later:
    """An answer that depends on a spooled change: ``answer`` gets its outcome, or
    :data:`NOT_YET` once the request has waited long enough."""

    submitted: Submitted
    answer: Callable[[Any], Response]
    machine: bool = False  # gateways and ESPs wait longer: their answer reports the outcome


Reply = Response | Later
RouteFn = Callable[["TrackingApp", Request, dict[str, str]], Reply]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    methods: tuple[str, ...]
    handler: RouteFn
    human: bool = True  # people see its errors in a browser: answer with a page
    esp: bool = False  # the larger body limit of ESP batches

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.methods + (("HEAD",) if "GET" in self.methods else ())


def _path(target: str) -> str:
    # Origin-form "/path?query" is split by hand: urlsplit would read "//x/…" as a host.
    return target.partition("?")[0] if target.startswith("/") else urlsplit(target).path


def send(
    status: int,
    body: bytes = b"",
    content_type: str = "text/plain; charset=utf-8",
    extra: tuple[tuple[str, str], ...] = (),
    *,
    close: bool = False,
) -> Response:
    headers = [
        ("Content-Type", content_type),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]
    if "cache-control" not in {name.lower() for name, _ in extra}:
        headers.append(("Cache-Control", "no-store"))
    return Response(status, body, (*headers, *extra), close=close)


def page(status: int, body: bytes, csp: str = PAGE_CSP) -> Response:
    frame = (("Content-Security-Policy", csp), ("X-Frame-Options", "DENY"))
    return send(status, body, "text/html; charset=utf-8", frame)


def as_json(status: int, value: Any) -> Response:
    return send(status, json.dumps(value).encode(), "application/json")


def fail(
    route: Route | None,
    status: int,
    message: str,
    extra: tuple[tuple[str, str], ...] = (),
) -> Response:
    """One clear answer per failure: a page for people, JSON for machines. After a
    malformed or refused body the connection is closed (its rest is not read)."""
    close = status in (400, 408, 411, 413)
    if route is not None and not route.human:
        body = json.dumps({"error": message}).encode()
        return send(status, body, "application/json", extra, close=close)
    if status == 404:
        return page(404, pages.not_found_page())
    frame = (("Content-Security-Policy", PAGE_CSP), ("X-Frame-Options", "DENY"))
    body = pages.error_page(status, message)
    return send(status, body, "text/html; charset=utf-8", (*frame, *extra), close=close)


class TrackingApp(App):
    """The routes of the tracking server over :class:`~.protocol.HttpServer`."""

    def __init__(
        self, tracker: Tracker, recorder: Recorder, limits: Limits, workers: Executor
    ) -> None:
        self.tracker = tracker
        self.recorder = recorder
        self.limits = limits
        self.workers = workers

    # --- the request's head -------------------------------------------------------------
    def check(self, request: Request) -> Response | int:
        if request.method not in KNOWN_METHODS:
            return fail(None, 501, "Unsupported method")
        route, _ = _match(_path(request.target))
        if route is None:
            return fail(None, 404, "Not found")
        if request.method not in route.allowed:
            return fail(route, 405, "Method not allowed", (("Allow", ", ".join(route.allowed)),))
        if request.header("transfer-encoding"):
            return fail(route, 411, "Send the body with a Content-Length header")
        cap = self.limits.max_esp_body if route.esp else self.limits.max_body
        declared = request.header("content-length")  # h11 refused malformed or conflicting
        if declared is not None and int(declared) > cap:
            return fail(route, 413, f"Request body too large (at most {cap} bytes)")
        return cap

    # --- the whole request ----------------------------------------------------------------
    async def respond(self, request: Request) -> Response:
        route, params = _match(_path(request.target))
        assert route is not None  # check() answered anything else
        loop = asyncio.get_running_loop()
        try:
            reply = await loop.run_in_executor(self.workers, route.handler, self, request, params)
            if isinstance(reply, Later):
                reply = reply.answer(await self._outcome(reply))
        except Exception:
            log.exception("tracking request failed: %s %s", request.method, redact(request.target))
            return fail(route, 500, "Something went wrong, please try again later")
        return reply

    async def _outcome(self, later: Later) -> Any:
        within = self.limits.machine_answer_within if later.machine else self.limits.answer_within
        try:
            wrapped = asyncio.wrap_future(later.submitted.recorded)
            return await asyncio.wait_for(asyncio.shield(wrapped), within)
        except (TimeoutError, NotRecordedYet):
            # Not in the database yet: answered once it is on disk (at once, nearly always).
            await asyncio.shield(asyncio.wrap_future(later.submitted.spooled))
            return NOT_YET

    def access(self, request: Request, status: int, ms: float) -> None:
        # Client addresses are recipients' personal data, signatures are secrets: neither.
        log.info("%s %s %d %.0f ms", request.method, redact(request.target[:300]), status, ms)

    # --- routes (worker threads) ----------------------------------------------------------
    def _trace_id(self, params: dict[str, str]) -> int | None:
        return self.tracker.trace_id(params["token"])

    def _spool(self, op: dict[str, Any], answer: Callable[[Any], Response], **kw: Any) -> Later:
        return Later(self.recorder.submit(op), answer, **kw)

    def open_pixel(self, request: Request, params: dict[str, str]) -> Reply:
        trace_id = self._trace_id(params)
        if trace_id is None or not self.tracker.exists(trace_id):
            return fail(None, 404, "Not found")
        pixel = send(200, PIXEL, "image/gif", NO_CACHE)
        if request.method != "GET":  # HEAD is a link checker, not a person opening the mail
            return pixel
        return self._spool(self.tracker.interaction_op([trace_id], "open"), lambda _: pixel)

    def email_click(self, request: Request, params: dict[str, str]) -> Reply:
        return self._click(request, params, "click")

    def sms_click(self, request: Request, params: dict[str, str]) -> Reply:
        return self._click(request, params, "sms_click")

    def _click(self, request: Request, params: dict[str, str], kind: str) -> Reply:
        trace_id = self._trace_id(params)
        link = int(params["link"])
        url = None if trace_id is None else self.tracker.link_url(trace_id, link)
        target = location(url) if url else None
        if trace_id is None or target is None:  # not a link of this message: never elsewhere
            return fail(None, 404, "Not found")
        redirect = send(302, b"", extra=(("Location", target), *NO_CACHE))
        if request.method != "GET":
            return redirect
        op = self.tracker.interaction_op([trace_id], kind, link_id=link)
        return self._spool(op, lambda _: redirect)

    def unsubscribe(self, request: Request, params: dict[str, str]) -> Reply:
        # GET only asks: mail scanners fetch links. POST (the form, or RFC 8058 one-click
        # "List-Unsubscribe=One-Click" from the mail client) opts out, whatever its body.
        trace_id = self._trace_id(params)
        info = None if trace_id is None else self.tracker.opt_out_info(trace_id)
        if trace_id is None or info is None:
            return fail(None, 404, "Not found")
        if request.method != "POST":
            return page(200, pages.confirm_page(info))

        def done(outcome: Any) -> Response:
            # Not recorded yet is still done: the opt-out is in the spool.
            return page(200, pages.done_page(outcome if outcome else info))

        return self._spool(self.tracker.opt_out_op(trace_id), done)

    def view_online(self, request: Request, params: dict[str, str]) -> Reply:
        trace_id = self._trace_id(params)
        html = None if trace_id is None else self.tracker.online_html(trace_id)
        if html is None:
            return fail(None, 404, "Not found")
        return page(200, html.encode("utf-8"), VIEW_CSP)

    def sms_status(self, request: Request, params: dict[str, str]) -> Reply:
        route = ROUTES_BY_NAME["sms_status"]
        trace_id = self._trace_id(params)
        if trace_id is None:
            return fail(route, 404, "Not found")
        content_type = (request.header("content-type") or "").partition(";")[0].strip().lower()
        try:
            status, detail = _sms_status_fields(content_type, request.body)
        except ValueError as exc:
            return fail(route, 400, str(exc))
        if not self.tracker.exists(trace_id):
            return fail(route, 404, "Not found")
        if status.lower() not in SMS_FAILED:
            return as_json(200, {"status": status, "bounce_recorded": False})

        def answer(outcome: Any) -> Response:
            if isinstance(outcome, InteractionResult):
                return as_json(200, {"status": status, "bounce_recorded": bool(outcome.recorded)})
            return as_json(200, {"status": status, "bounce_recorded": None, "queued": True})

        op = self.tracker.interaction_op([trace_id], "sms_bounce", detail=detail[:500])
        return self._spool(op, answer, machine=True)

    def esp_events(self, request: Request, _params: dict[str, str]) -> Reply:
        route = ROUTES_BY_NAME["esp_events"]
        try:
            events = parse_events(json.loads(request.body.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return fail(route, 400, "The body must be JSON: a list of events")
        except EspPayloadError as exc:
            return fail(route, 400, str(exc))
        summary, op = self.tracker.esp_plan(events)
        if op is None:
            return as_json(200, summary.as_json())

        def answer(outcome: Any) -> Response:
            if isinstance(outcome, int):
                return as_json(200, replace(summary, bounced=outcome).as_json())
            return as_json(200, {**summary.as_json(), "queued": True})

        return self._spool(op, answer, machine=True)

    def health(self, _request: Request, _params: dict[str, str]) -> Reply:
        return send(200, b"ok\n")


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
    Route(re.compile(rf"/t/{_TOKEN}/o\.gif"), ("GET",), TrackingApp.open_pixel),
    Route(re.compile(rf"/t/{_TOKEN}/c/{_LINK}"), ("GET",), TrackingApp.email_click),
    Route(re.compile(rf"/t/{_TOKEN}/unsubscribe"), ("GET", "POST"), TrackingApp.unsubscribe),
    Route(re.compile(rf"/t/{_TOKEN}/view"), ("GET",), TrackingApp.view_online),
    Route(re.compile(rf"/s/{_TOKEN}/{_LINK}"), ("GET",), TrackingApp.sms_click),
    Route(re.compile(rf"/sms/status/{_TOKEN}"), ("POST",), TrackingApp.sms_status, human=False),
    Route(re.compile(r"/esp/events"), ("POST",), TrackingApp.esp_events, human=False, esp=True),
    Route(re.compile(r"/health"), ("GET",), TrackingApp.health, human=False),
]
ROUTES_BY_NAME = {r.handler.__name__: r for r in ROUTES}


def _match(path: str) -> tuple[Route | None, dict[str, str]]:
    for route in ROUTES:
        m = route.pattern.fullmatch(path)
        if m:
            return route, m.groupdict()
    return None, {}
