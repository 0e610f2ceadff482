"""A campaign whose messages went out, and a tracking server on a free loopback port."""

from __future__ import annotations

import html
import http.client
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from engine.clock import FixedClock
from engine.db import Database
from engine.models import Contact, Interaction, OutboxMessage, Suppression, Trace
from engine.tracking_server import Limits, TrackingServer

from .world import World, action, email, sms, tag

SALE = "https://shop.example.com/sale?x=1&y=2"
MAIL_BODY = (
    "<html><body><p>Hi {{ record.name }}</p>"
    '<a href="https://shop.example.com/sale?x=1&amp;y=2">Sale</a>'
    '<a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>'
)


# --- the world ------------------------------------------------------------------------------


class Site:
    """A started campaign whose messages went out, and a tracking server to click on."""

    def __init__(self, w: World, server: TrackingServer, cid: int) -> None:
        self.w, self.server, self.cid, self.db = w, server, cid, w.db

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def outbox(self, key: str, name: str) -> OutboxMessage:
        with self.db.session() as s:
            msg = s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.activity_key == key, OutboxMessage.record_name == name
                )
            ).one()
            s.expunge(msg)
            return msg

    def paths(self, key: str, name: str) -> list[str]:
        """The tracked URLs of a message, as paths (the server under test has its own port)."""
        msg = self.outbox(key, name)
        if msg.channel == "sms":
            urls = re.findall(r"https?://\S+", msg.body)
        else:
            urls = [html.unescape(u) for u in re.findall(r'(?:href|src)="([^"]+)"', msg.body)]
        return [urlsplit(u).path for u in urls if "/t/" in u or "/s/" in u]

    def path(self, key: str, name: str, kind: str) -> str:
        pattern = {"pixel": r"/o\.gif$", "click": r"/c/\d+$", "unsub": r"/unsubscribe$"}
        pattern["short"] = r"^/s/"
        found = [p for p in self.paths(key, name) if re.search(pattern[kind], p)]
        assert found, (kind, self.paths(key, name))
        return found[0]

    def token(self, key: str, name: str) -> str:
        return self.path(key, name, "pixel").split("/")[2]

    def trace(self, key: str, name: str) -> dict[str, Any]:
        return self.w.traces(self.cid, key)[name]

    def contact(self, name: str) -> Contact:
        with self.db.session() as s:
            c = s.scalars(select(Contact).where(Contact.name == name)).one()
            s.expunge(c)
            return c

    def snapshot(self) -> dict[str, Any]:
        """Everything a tracking request could change."""
        with self.db.session() as s:
            traces = s.execute(
                select(
                    Trace.id,
                    Trace.state,
                    Trace.due_at,
                    Trace.opened_at,
                    Trace.clicked_at,
                    Trace.bounced_at,
                ).order_by(Trace.id)
            ).all()
            return {
                "traces": [tuple(t) for t in traces],
                "interactions": s.scalar(select(func.count()).select_from(Interaction)),
                "suppressed": s.scalars(select(Suppression.value).order_by(Suppression.id)).all(),
                "opted_out": s.scalars(
                    select(Contact.name).where(Contact.opt_out_email.is_(True))
                ).all(),
            }

    def interactions(self, kind: str) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).where(Interaction.type == kind)) or 0)


def campaign(w: World) -> int:
    return w.campaign(
        email("mail", body=MAIL_BODY),
        action("opened", tag("Opened"), parent="mail", trigger="mail_open", delay=1),
        action("clicked", tag("Clicked"), parent="mail", trigger="mail_click"),
        action(
            "not_opened", tag("Cold"), parent="mail", trigger="mail_not_open", delay=2, unit="days"
        ),
        action("bounced", tag("Bounced"), parent="mail", trigger="mail_bounce"),
        email("other", body='<p><a href="https://other.example.org/">Other</a></p>'),
        sms("text", body="Hi {{ record.name }}, see https://shop.example.com/s"),
        action("sms_clicked", tag("SmsClicked"), parent="text", trigger="sms_click"),
        action(
            "sms_not_clicked",
            tag("SmsCold"),
            parent="text",
            trigger="sms_not_click",
            delay=1,
            unit="days",
        ),
        action("sms_bounced", tag("SmsBounced"), parent="text", trigger="sms_bounce"),
    )


def running_site(db: Database, clock: FixedClock) -> Iterator[Site]:
    """Ann, Bob and Cat got the campaign's messages an hour after T0; a server listens."""
    w = World(db, clock)
    w.people("Ann", "Bob", "Cat")
    cid = campaign(w)
    w.run(hours=1)
    # Answers wait for their interaction to be recorded and acted on, however slow the
    # machine, so that tests can look at the database right after an answer (E7).
    server = TrackingServer(db, clock, "127.0.0.1", 0, limits=Limits(answer_within=30))
    server.start()
    try:
        yield Site(w, server, cid)
    finally:
        server.stop()
