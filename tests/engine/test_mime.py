"""The bytes we hand to SMTP, read back by the standard library; the plain-text part."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from engine import mime, templating
from engine.channels.base import OutboundEmail
from engine.messages import inline_css, routed_address
from engine.plaintext import html_to_text, render_text, text_template


def parse(data: bytes) -> EmailMessage:
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def outbound(**headers: str) -> OutboundEmail:
    html = "<p>Grüße, Zoë — " + "a long line of text " * 10 + "</p>\n<p>=3D is not an escape</p>"
    return OutboundEmail(
        to="zoe@example.com",
        subject=headers.pop("Subject", "Hello"),
        html=html,
        text="Grüße\r\n=3D stays\n" + "x" * 300 + "\n",
        headers={"From": "Shop <shop@example.com>", **headers},
    )


def test_parts_and_headers_survive_the_round_trip() -> None:
    subject = ("Ünïcode subject that is long enough to need folding " * 3).strip()
    wire = mime.build(outbound(Subject=subject, From="Café Zoë <shop@example.com>"))
    assert all(len(line) <= 78 for line in wire.data.split(b"\r\n")), "every line folded"
    assert wire.data.isascii() and b"\n" not in wire.data.replace(b"\r\n", b"")
    msg = parse(wire.data)
    assert not msg.defects
    assert msg["Subject"] == subject
    assert msg["From"].addresses[0].display_name == "Café Zoë"
    assert msg["To"] == "zoe@example.com" and msg["MIME-Version"] == "1.0"
    plain, html = msg.iter_parts()
    # CRLF is the wire's line ending, as with EmailMessage(policy=SMTP) itself.
    assert plain.get_content().splitlines() == ["Grüße", "=3D stays", "x" * 300]
    assert html.get_content().splitlines() == outbound().html.splitlines()
    assert (wire.sender, wire.recipient, wire.smtputf8) == (
        "shop@example.com",
        "zoe@example.com",
        False,
    )


def test_ascii_goes_as_it_is_and_over_long_lines_are_encoded() -> None:
    message = outbound()
    message.text = "plain ascii\n.starts with a dot\n"
    message.html = "<p>" + "x" * 1200 + "</p>"
    msg = parse(mime.build(message).data)
    plain, html = msg.iter_parts()
    assert plain["Content-Transfer-Encoding"] == "7bit"
    assert plain.get_content().splitlines() == ["plain ascii", ".starts with a dot"]
    assert html["Content-Transfer-Encoding"] == "quoted-printable"
    assert html.get_content().strip() == message.html


def test_the_verp_return_path_is_the_envelope_not_a_header() -> None:
    wire = mime.build(outbound(**{"Return-Path": "<inbox+b.7.sig@example.com>"}))
    assert wire.sender == "inbox+b.7.sig@example.com"
    assert b"Return-Path" not in wire.data


def test_a_line_break_in_a_header_is_refused() -> None:
    with pytest.raises(mime.MessageError, match="Subject"):
        mime.build(outbound(Subject="Hi\r\nBcc: everyone@example.com"))


def test_international_addresses_ask_for_smtputf8() -> None:
    message = outbound()
    message.to = "zoë@exämple.com"
    wire = mime.build(message)
    assert wire.smtputf8 and parse(wire.data)["To"] == "zoë@exämple.com"


def test_routed_addresses_carry_the_token() -> None:
    assert routed_address("inbox@example.com", "r", "12.AbC-_x") == "inbox+r.12.AbC-_x@example.com"


def test_css_moves_into_style_attributes_and_remote_sheets_are_never_fetched() -> None:
    html = inline_css(
        '<html><head><link rel="stylesheet" href="http://127.0.0.1:9/x.css">'
        "<style>p{color:red} @media (max-width:600px){p{color:blue}}</style></head>"
        "<body><p>x</p></body></html>"
    )
    assert '<p style="color: red;">' in html and "@media" in html and "x.css" not in html
    assert inline_css("<p>no style</p>") == "<p>no style</p>"


BODY = """<html><body><p>Hi {{ record.name }},</p>
{% if record.vip %}
<p>You are <b>VIP</b>: see <a href="https://shop.example.com/?a=1&amp;b=2">the sale</a></p>
{% else %}
<p>Welcome.</p>
{% endif %}
<p><img src="{{ record.img }}"> <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""


@pytest.mark.parametrize(
    "record",
    [
        {"name": "Ann & <Co>", "vip": True, "img": "x.png"},
        {"name": "Bob", "vip": False, "img": "y.png"},
    ],
    ids=["vip", "plain"],
)
def test_the_text_template_matches_converting_each_message(record: dict[str, Any]) -> None:
    context = {"record": record, "unsubscribe_url": "http://127.0.0.1:8787/t/1.x/unsubscribe"}
    template = text_template(BODY)
    assert template is not None
    per_message = html_to_text(templating.render(BODY, context, html=True))
    assert (
        render_text(template, context)
        == "\n\n".join(part.strip() for part in per_message.split("\n\n") if part.strip()) + "\n"
    )


@pytest.mark.parametrize(
    "body",
    [
        "<ul>{% for t in record.tags %}<li>{{ t }}</li>{% endfor %}</ul>",
        "<p>{{ record.description|safe }}</p>",
        '<p style="{% if record.vip %}color:red{% endif %}">a</p><p>{% if x %}b</p>{% endif %}',
        "<style>{% if record.vip %}</style><p>a</p>{% endif %}",
    ],
    ids=["loop", "safe", "attribute", "style"],
)
def test_templates_that_would_not_survive_are_converted_per_message(body: str) -> None:
    assert text_template(body) is None
