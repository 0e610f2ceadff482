"""Turning an activity's content and a batch of records into ready-to-send messages.

Rendering runs per record, but everything that touches the database (links) is done
once per batch: bodies are rendered first, their URLs registered in one go, then links
are rewritten to tracked redirects.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, parseaddr
from typing import Any

import html2text
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from . import templating, tracking
from .channels import OutboundEmail, OutboundSms
from .models import Link


@dataclass(frozen=True)
class Recipient:
    trace_id: int
    record_id: int
    record: dict[str, Any]
    record_name: str
    to: str
    is_test: bool = False


class LinkRegistry:
    """The link-tracker rows of one activity, created on first sight of a URL."""

    def __init__(self, session: Session, campaign_id: int, activity_id: int) -> None:
        self.session = session
        self.campaign_id = campaign_id
        self.activity_id = activity_id
        rows = session.execute(
            select(Link.url, Link.id).where(Link.activity_id == activity_id)
        ).all()
        self.ids: dict[str, int] = {url: link_id for url, link_id in rows}

    def ensure(self, urls: set[str]) -> None:
        missing = sorted(u for u in urls if u not in self.ids and len(u) <= 2048)
        if not missing:
            return
        self.session.execute(
            insert(Link),
            [
                {"campaign_id": self.campaign_id, "activity_id": self.activity_id, "url": u}
                for u in missing
            ],
        )
        rows = self.session.execute(
            select(Link.url, Link.id).where(
                Link.activity_id == self.activity_id, Link.url.in_(missing)
            )
        ).all()
        self.ids.update({url: link_id for url, link_id in rows})


def _text_converter() -> html2text.HTML2Text:
    conv = html2text.HTML2Text()
    conv.body_width = 0
    conv.ignore_images = True
    conv.protect_links = True
    conv.ignore_tables = True  # layout tables would come out as Markdown tables
    return conv


def html_to_text(html: str) -> str:
    return _text_converter().handle(html).strip() + "\n"


def _insert_after_body_open(html: str, snippet: str) -> str:
    lower = html.lower()
    start = lower.find("<body")
    if start >= 0:
        end = html.find(">", start)
        if end >= 0:
            return html[: end + 1] + snippet + html[end + 1 :]
    return snippet + html


def _insert_before_body_close(html: str, snippet: str) -> str:
    idx = html.lower().rfind("</body>")
    return html[:idx] + snippet + html[idx:] if idx >= 0 else html + snippet


def _domain(address: str) -> str:
    _, addr = parseaddr(address)
    return addr.rpartition("@")[2] or "journeys.local"


class MessageBuilder:
    """Renders one activity's messages for a batch of recipients."""

    def __init__(
        self,
        session: Session,
        *,
        campaign: dict[str, Any],
        activity: dict[str, Any],
        base_url: str,
        secret: bytes,
        now: datetime,
    ) -> None:
        self.session = session
        self.now = now
        self.campaign = campaign
        self.activity = activity
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.links = LinkRegistry(session, campaign["id"], activity["id"])

    def _context(self, urls: tracking.TrackedUrls, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "record": record,
            "campaign": {"id": self.campaign["id"], "name": self.campaign["name"]},
            "activity": {"key": self.activity["key"], "name": self.activity["name"]},
            "unsubscribe_url": urls.unsubscribe,
            "view_online_url": urls.view_online,
        }

    def _tracked(self, urls: tracking.TrackedUrls, short: bool):
        def tracked(url: str) -> str | None:
            if url.startswith(self.base_url):
                return None
            link_id = self.links.ids.get(url)
            if link_id is None:
                return None
            return urls.short(link_id) if short else urls.click(link_id)

        return tracked

    def emails(
        self, content: dict[str, Any], recipients: list[Recipient]
    ) -> list[OutboundEmail | templating.TemplateProblem]:
        """One message or one template problem per recipient, in order."""
        subject_t = templating.compile_template(content.get("subject") or "")
        body_t = templating.compile_template(content.get("body_html") or "", html=True)
        pre_src = content.get("preheader") or ""
        pre_t = templating.compile_template(pre_src, html=True) if pre_src else None
        rendered: list[tuple[Recipient, tracking.TrackedUrls, str, str, str] | Exception] = []
        urls_seen: set[str] = set()
        for rcpt in recipients:
            urls = tracking.TrackedUrls(self.base_url, self.secret, rcpt.trace_id)
            ctx = self._context(urls, rcpt.record)
            try:
                subject = " ".join(templating.render_compiled(subject_t, ctx).split())
                body = templating.render_compiled(body_t, ctx)
                pre = templating.render_compiled(pre_t, ctx) if pre_t is not None else ""
            except templating.TemplateProblem as exc:
                rendered.append(exc)
                continue
            urls_seen.update(tracking.html_links(body))
            rendered.append((rcpt, urls, subject, body, pre))
        self.links.ensure({u for u in urls_seen if not u.startswith(self.base_url)})

        sender = content.get("from") or ""
        reply_to = content.get("reply_to")
        out: list[OutboundEmail | templating.TemplateProblem] = []
        for item in rendered:
            if isinstance(item, templating.TemplateProblem):
                out.append(item)
                continue
            assert not isinstance(item, Exception)
            rcpt, urls, subject, body, pre = item
            html = tracking.rewrite_html_links(body, self._tracked(urls, short=False))
            text = html_to_text(html)
            if pre:
                html = _insert_after_body_open(
                    html,
                    '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">'
                    f"{pre}</div>",
                )
            html = _insert_before_body_close(
                html,
                f'<img src="{urls.open_pixel}" width="1" height="1" alt="" '
                'style="display:block;border:0;width:1px;height:1px">',
            )
            headers = {
                "From": sender,
                "To": rcpt.to,
                "Subject": subject,
                "Date": format_datetime(self.now, usegmt=True),
                # The tracking token lets a reply's In-Reply-To find its trace, unforgeably.
                "Message-ID": f"<{urls.token}.{secrets.token_hex(6)}@{_domain(sender)}>",
                "List-Unsubscribe": f"<{urls.unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            }
            if reply_to:
                headers["Reply-To"] = reply_to
            out.append(
                OutboundEmail(
                    to=rcpt.to,
                    subject=subject,
                    html=html,
                    text=text,
                    headers=headers,
                    trace_id=rcpt.trace_id,
                    campaign_id=self.campaign["id"],
                    activity_key=self.activity["key"],
                    record_id=rcpt.record_id,
                    record_name=rcpt.record_name,
                    is_test=rcpt.is_test,
                )
            )
        return out

    def sms(
        self, content: dict[str, Any], recipients: list[Recipient]
    ) -> list[OutboundSms | templating.TemplateProblem]:
        body_t = templating.compile_template(content.get("body") or "")
        rendered: list[tuple[Recipient, tracking.TrackedUrls, str] | templating.TemplateProblem]
        rendered = []
        urls_seen: set[str] = set()
        for rcpt in recipients:
            urls = tracking.TrackedUrls(self.base_url, self.secret, rcpt.trace_id)
            try:
                body = templating.render_compiled(body_t, self._context(urls, rcpt.record))
            except templating.TemplateProblem as exc:
                rendered.append(exc)
                continue
            urls_seen.update(tracking.text_links(body))
            rendered.append((rcpt, urls, body))
        self.links.ensure({u for u in urls_seen if not u.startswith(self.base_url)})
        out: list[OutboundSms | templating.TemplateProblem] = []
        for item in rendered:
            if isinstance(item, templating.TemplateProblem):
                out.append(item)
                continue
            rcpt, urls, body = item
            out.append(
                OutboundSms(
                    to=rcpt.to,
                    body=tracking.rewrite_text_links(body, self._tracked(urls, short=True)),
                    trace_id=rcpt.trace_id,
                    campaign_id=self.campaign["id"],
                    activity_key=self.activity["key"],
                    record_id=rcpt.record_id,
                    record_name=rcpt.record_name,
                    is_test=rcpt.is_test,
                )
            )
        return out
