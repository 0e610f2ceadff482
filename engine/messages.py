"""Turning an activity's content and a batch of records into ready-to-send messages.

Rendering runs per record, but everything that touches the database (links) is done
once per batch: bodies are rendered first, their URLs registered in one go, then links
are rewritten to tracked redirects.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, formataddr, parseaddr
from functools import cache
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from . import settings, templating, tracking
from .channels import OutboundEmail, OutboundSms
from .models import Link
from .plaintext import html_to_text, render_text, text_template

log = logging.getLogger(__name__)


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


class MemoryLinks:
    """The registry's contract without a database: a new URL gets the next free id.

    For a dry build (the designer's preview), which must write nothing; ``known`` are
    the ids already stored, so links sent before keep their real tracked URLs.
    """

    def __init__(self, known: dict[str, int] | None = None) -> None:
        self.ids: dict[str, int] = dict(known or {})

    def ensure(self, urls: set[str]) -> None:
        for url in sorted(urls):
            if url not in self.ids and len(url) <= 2048:
                self.ids[url] = max(self.ids.values(), default=0) + 1


@cache
def _css_inliner() -> Any:
    import css_inline

    # Never fetch remote stylesheets: a shared campaign file must not make the engine
    # download anything; @media rules stay in a <style> block for clients that use them.
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)


def inline_css(html: str) -> str:
    """Move <style> rules into style attributes: Gmail and Outlook drop <style> blocks."""
    if "<style" not in html.lower():
        return html
    try:
        return str(_css_inliner().inline(html))
    except ValueError as exc:  # css_inline.InlineError: unusable CSS, send as written
        log.warning("CSS left as written: %s", exc)
        return html


def inbound_address(session: Session) -> str | None:
    """The mailbox replies and bounces are routed to, when one is read (SPEC §5)."""
    if not settings.get(session, "imap.url"):
        return None
    address = settings.get(session, "imap.address")
    return str(address) if address else None


def routed_address(mailbox: str, kind: str, token: str) -> str:
    """``LOCAL+r.TOKEN@DOMAIN`` (replies) or ``LOCAL+b.TOKEN@DOMAIN`` (bounces, VERP).

    Sub-addressing reaches the same mailbox on every mainstream server, and the inbound
    side finds the trace from the token alone — unforgeably, like a tracked link.
    """
    local, _, domain = mailbox.rpartition("@")
    return f"{local}+{kind}.{token}@{domain}"


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
        session: Session | None,
        *,
        campaign: dict[str, Any],
        activity: dict[str, Any],
        base_url: str,
        secret: bytes,
        now: datetime,
        track: bool = True,
        dry_links: MemoryLinks | None = None,
        dry_inbound: str | None = None,
    ) -> None:
        """``session`` None is a dry build that writes nothing: links are numbered in
        ``dry_links`` and the inbound mailbox is ``dry_inbound`` (both read beforehand)."""
        # track=False (send-test): links go straight to their targets and nothing refers
        # to a trace, because there is none for the tracker to find.
        self.track = track
        self.now = now
        self.campaign = campaign
        self.activity = activity
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.links: LinkRegistry | MemoryLinks
        if session is None:
            self.inbound = dry_inbound if track else None
            self.links = dry_links if dry_links is not None else MemoryLinks()
        else:
            self.inbound = inbound_address(session) if track else None
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
        subject_src = content.get("subject") or ""
        body_t = templating.compile_template(content.get("body_html") or "", html=True)
        pre_src = content.get("preheader") or ""
        # Plain strings render to themselves: skip Jinja for them (a render is not free).
        subject_t = (
            templating.compile_template(subject_src)
            if templating.is_template(subject_src)
            else None
        )
        pre_t = (
            templating.compile_template(pre_src, html=True)
            if templating.is_template(pre_src)
            else None
        )
        text_t = text_template(content.get("body_html") or "")
        rendered: list[
            tuple[Recipient, tracking.TrackedUrls, str, str, str, str | None] | Exception
        ] = []
        urls_seen: set[str] = set()
        for rcpt in recipients:
            urls = tracking.TrackedUrls(self.base_url, self.secret, rcpt.trace_id)
            ctx = self._context(urls, rcpt.record)
            try:
                if subject_t is not None:
                    subject = " ".join(templating.render_compiled(subject_t, ctx).split())
                else:
                    subject = " ".join(subject_src.split())
                body = templating.render_compiled(body_t, ctx)
                pre = templating.render_compiled(pre_t, ctx) if pre_t is not None else pre_src
            except templating.TemplateProblem as exc:
                rendered.append(exc)
                continue
            text: str | None = None
            if text_t is not None:
                try:
                    text = render_text(text_t, ctx)
                except templating.TemplateProblem:
                    text = None  # converted from this message's HTML below
            body = inline_css(body)
            urls_seen.update(tracking.html_links(body))
            rendered.append((rcpt, urls, subject, body, pre, text))
        if self.track:
            self.links.ensure({u for u in urls_seen if not u.startswith(self.base_url)})

        sender = content.get("from") or ""
        sender_name, sender_domain = parseaddr(sender)[0], _domain(sender)
        reply_to = content.get("reply_to")
        out: list[OutboundEmail | templating.TemplateProblem] = []
        for item in rendered:
            if isinstance(item, templating.TemplateProblem):
                out.append(item)
                continue
            assert not isinstance(item, Exception)
            rcpt, urls, subject, body, pre, text = item
            html = body
            if self.track:
                tracked = self._tracked(urls, short=False)
                html = tracking.rewrite_html_links(body, tracked)
                if text is not None:
                    text = tracking.rewrite_text_links(text, tracked)
            if text is None:
                text = html_to_text(html)
            if pre:
                html = _insert_after_body_open(
                    html,
                    '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">'
                    f"{pre}</div>",
                )
            if self.track:
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
                "Message-ID": f"<{urls.token}.{secrets.token_hex(6)}@{sender_domain}>",
            }
            if self.track:
                headers["List-Unsubscribe"] = f"<{urls.unsubscribe}>"
                headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            if reply_to:
                # The marketer chose where replies go; they are then matched by
                # In-Reply-To if they reach the inbound mailbox at all.
                headers["Reply-To"] = reply_to
            elif self.inbound:
                headers["Reply-To"] = formataddr(
                    (sender_name, routed_address(self.inbound, "r", urls.token))
                )
            if self.inbound:
                # Becomes the envelope sender (MAIL FROM); the receiving server writes
                # the Return-Path header from it, so bounces come back tokenised.
                headers["Return-Path"] = f"<{routed_address(self.inbound, 'b', urls.token)}>"
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
        if self.track:
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
                    body=(
                        tracking.rewrite_text_links(body, self._tracked(urls, short=True))
                        if self.track
                        else body
                    ),
                    trace_id=rcpt.trace_id,
                    campaign_id=self.campaign["id"],
                    activity_key=self.activity["key"],
                    record_id=rcpt.record_id,
                    record_name=rcpt.record_name,
                    is_test=rcpt.is_test,
                )
            )
        return out
