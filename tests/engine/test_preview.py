"""The designer's preview: the message as sent (CSS inlined, tracked links, preheader,
headers), built without writing to the database."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import campaign_files, gallery, settings, templating
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Link, Setting
from engine.preview import (
    EmailPreview,
    PreviewSettings,
    preview_email,
    preview_sms,
    read_preview_settings,
    visible_html,
)
from engine.tracking import make_token

BASE = "https://t.example.com"
SECRET = b"k" * 32
TOKEN = make_token(SECRET, 0)
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
RECORD = {"id": 7, "name": "Ann", "email": "ann@example.com"}
CONTENT = {
    "subject": "Hi {{ record.name }}",
    "from": "Shop <shop@example.com>",
    "reply_to": None,
    "preheader": "Just for {{ record.name }}",
    "body_html": (
        "<html><head><style>p { color: red }</style></head><body>"
        '<p>Hello {{ record.name }}, <a href="https://shop.example.com/sale">see the sale</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
    ),
}


def build(content: dict[str, Any] = CONTENT, ps: PreviewSettings | None = None) -> EmailPreview:
    return preview_email(
        content,
        RECORD,
        to="ann@example.com",
        campaign={"id": 3, "name": "Welcome"},
        activity={"key": "welcome", "name": "Welcome!"},
        preview_settings=ps or PreviewSettings(base_url=BASE, secret=SECRET),
        now=NOW,
    )


def test_email_preview_is_the_message_as_sent() -> None:
    p = build()
    assert p.subject == "Hi Ann"
    # CSS inlined, as the sender does for Gmail and Outlook
    assert '<p style="color: red;">Hello Ann' in p.html
    # the link rewritten to a tracked redirect (a provisional id: nothing registered yet)
    tracked = f"{BASE}/t/{TOKEN}/c/1"
    assert f'href="{tracked}"' in p.html
    assert "https://shop.example.com/sale" not in p.html
    assert p.tracked_links == {"https://shop.example.com/sale": tracked}
    # the unsubscribe link is the tracker's own page, not rewritten
    assert f'href="{BASE}/t/{TOKEN}/unsubscribe"' in p.html
    assert p.headers["List-Unsubscribe"] == f"<{BASE}/t/{TOKEN}/unsubscribe>"
    assert p.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # the preheader is in the message, hidden, and the open pixel at the end
    assert p.preheader == "Just for Ann"
    assert 'display:none;max-height:0;overflow:hidden;mso-hide:all">Just for Ann</div>' in p.html
    assert f"{BASE}/t/{TOKEN}/o.gif" in p.html
    # the wire message parses back, with the plain-text part's link tracked too
    msg = message_from_string(p.source, policy=policy.default)
    assert isinstance(msg, EmailMessage) and not msg.defects
    assert msg["Subject"] == "Hi Ann" and msg["To"] == "ann@example.com"
    plain, _html = msg.iter_parts()
    assert tracked in plain.get_content()
    assert tracked in p.text


def test_visible_html_leaves_out_what_mail_clients_hide() -> None:
    shown = visible_html(build().html)
    assert "Just for Ann" not in shown
    assert "o.gif" not in shown
    assert "Hello Ann" in shown and f"{BASE}/t/{TOKEN}/c/1" in shown


def test_known_links_keep_their_ids() -> None:
    ps = PreviewSettings(
        base_url=BASE, secret=SECRET, link_ids={"https://shop.example.com/sale": 42}
    )
    assert f'href="{BASE}/t/{TOKEN}/c/42"' in build(ps=ps).html


def test_template_problems_are_raised() -> None:
    with pytest.raises(templating.TemplateProblem) as info:
        build({**CONTENT, "body_html": "<p>\n{{ record.name </p>"})
    assert info.value.line == 2


def test_sms_preview_shortens_links() -> None:
    body = preview_sms(
        {"body": "Hi {{ record.name }}: https://shop.example.com/sale."},
        RECORD,
        to="+32470123456",
        campaign={"id": 3, "name": "Welcome"},
        activity={"key": "txt", "name": "Text"},
        preview_settings=PreviewSettings(base_url=BASE, secret=SECRET),
        now=NOW,
    )
    assert body == f"Hi Ann: {BASE}/s/{TOKEN}/1."


def counts(db: Database) -> tuple[int, int]:
    with db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Link)) or 0,
            s.scalar(select(func.count()).select_from(Setting)) or 0,
        )


def test_reading_settings_writes_nothing(db: Database, clock: FixedClock) -> None:
    with db.session() as s:
        campaign_id = campaign_files.import_document(
            s, gallery.load_template("tag_hot_contacts"), trust=True, now=clock.now()
        ).id
    before = counts(db)
    with db.read() as s:
        ps = read_preview_settings(s, campaign_id, "welcome")
    assert ps.activity_id > 0 and ps.link_ids == {}
    assert ps.base_url.startswith("http://127.0.0.1:")
    with db.read() as s:
        welcome = campaign_files.export_document(s, campaign_id)["activities"][0]["email"]
    p = build(welcome, ps)
    assert "Hi Ann," in p.html and "/c/1" in p.html
    assert counts(db) == before, "a preview registers no link and creates no key"

    # Once the database has its key and links, the preview uses them.
    with db.session() as s:
        secret = settings.tracking_secret(s)
        s.add(
            Link(
                campaign_id=campaign_id,
                activity_id=ps.activity_id,
                url="https://www.example.com/welcome",
            )
        )
    with db.read() as s:
        ps = read_preview_settings(s, campaign_id, "welcome")
        link_id = ps.link_ids["https://www.example.com/welcome"]
    assert ps.secret == secret
    p = build(welcome, ps)
    assert f"/t/{make_token(secret, 0)}/c/{link_id}" in p.html
