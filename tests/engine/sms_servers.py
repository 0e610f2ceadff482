"""Real HTTP servers on loopback that speak SMS providers' API shapes, for the tests.

They check what a provider checks (path, credentials, fields) and answer as it does,
including refusals, outages, silence and dropped connections.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

SID = "ACtest"
TWILIO_TOKEN = "fake-twilio-token"
JSON_TOKEN = "fake-json-token"
SENDER = "+15005550006"
BASE = "https://t.example.com"


class GatewayServer:
    """A threaded HTTP/1.1 server (keep-alive) that records every request it answers."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.connections = 0
        self.release = threading.Event()  # lets a silent handler finish at close
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with gateway.lock:
                    gateway.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                req = {
                    "path": self.path,
                    "auth": self.headers.get("Authorization"),
                    "type": self.headers.get("Content-Type", ""),
                    "idempotency": self.headers.get("Idempotency-Key"),
                    "raw": raw,
                }
                with gateway.lock:
                    gateway.requests.append(req)
                answer = gateway.answer(req)
                if answer == "silent":
                    gateway.release.wait(10)
                    self.close_connection = True
                    return
                if answer == "drop":
                    self.close_connection = True
                    return
                status, payload = answer
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, req: dict[str, Any]) -> Any:
        raise NotImplementedError

    def sent_to(self, key: str = "To") -> list[str]:
        return [r[key] for r in self.requests if key in r]

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeTwilio(GatewayServer):
    """Twilio's Messages API: form POST, basic auth, 201 with a sid, coded errors."""

    def __init__(self) -> None:
        super().__init__()
        self.invalid: set[str] = set()  # 400, code 21211
        self.busy: set[str] = set()  # 503
        self.silent: set[str] = set()  # takes the message, never answers
        self.drop: set[str] = set()  # takes the message, closes the connection

    @property
    def url(self) -> str:
        return f"twilio://{SID}@127.0.0.1:{self.port}?scheme=http&from=%2B15005550006"

    def answer(self, req: dict[str, Any]) -> Any:
        if req["path"] != f"/2010-04-01/Accounts/{SID}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found"}
        expected = "Basic " + base64.b64encode(f"{SID}:{TWILIO_TOKEN}".encode()).decode()
        if req["auth"] != expected:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if req["type"] != "application/x-www-form-urlencoded":
            return 400, {"code": 20001, "message": "form expected"}
        form = dict(parse_qsl(req["raw"].decode()))
        req.update(form)
        if not form.get("To") or not form.get("Body") or not form.get("From"):
            return 400, {"code": 21604, "message": "A 'To' phone number is required."}
        to = form["To"]
        if to in self.invalid:
            message = f"The 'To' number {to} is not a valid phone number."
            return 400, {"code": 21211, "message": message, "status": 400}
        if to in self.busy:
            return 503, {"code": 20503, "message": "Service Unavailable", "status": 503}
        if to in self.silent:
            return "silent"
        if to in self.drop:
            return "drop"
        return 201, {"sid": f"SM{len(self.requests):032x}", "status": "queued", "to": to}


class FakeJsonGateway(GatewayServer):
    """A generic JSON gateway: bearer token, JSON body, 422 for numbers it cannot reach."""

    def __init__(self) -> None:
        super().__init__()
        self.invalid: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/sms"

    def answer(self, req: dict[str, Any]) -> Any:
        if req["path"] != "/v1/sms":
            return 404, {"error": "no such endpoint"}
        if req["auth"] != f"Bearer {JSON_TOKEN}":
            return 401, {"error": "bad token"}
        body = json.loads(req["raw"])
        req.update(body)
        if body["to"] in self.invalid:
            return 422, {"error": f"cannot deliver to {body['to']}"}
        return 202, {"id": f"msg-{len(self.requests)}"}
