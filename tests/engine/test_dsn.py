"""Reading inbound mail: replies, bounces and everything that must count as neither.

The samples in tests/data/mail are modelled on what Postfix, Exim, Gmail, qmail,
Thunderbird and Outlook really send; classification must hold on all of them and must
never raise on malformed mail.
"""

from __future__ import annotations

import pytest

from engine import dsn
from engine.inbound import dedupe_key, parse_message
from engine.tracking import make_token, verify_token

from .mail_samples import ADDRESS, message_id, sample

SECRET = b"k" * 32
TRACE = 42
TOKEN = make_token(SECRET, TRACE)
REPLY_TO = dsn.plus_address(ADDRESS, "r", TOKEN)


def verify(token: str) -> int | None:
    return verify_token(SECRET, token)


def classify(raw: bytes, address: str | None = ADDRESS) -> dsn.Verdict:
    return dsn.classify(parse_message(raw), address=address, verify=verify)


# --- bounces ---------------------------------------------------------------------------


def test_postfix_bounce_found_by_the_returned_message_id() -> None:
    v = classify(sample("postfix_failed", TOKEN))
    assert (v.kind, v.trace_id) == ("bounce", TRACE)
    assert "5.1.1" in v.reason and "ann@example.org" in v.reason
    assert "User unknown in virtual mailbox table" in v.reason  # folded diagnostic, unfolded
    assert "returned Message-ID" in v.reason


def test_exim_bounce_found_by_the_verp_address() -> None:
    # Its returned headers name another message: the VERP address alone decides.
    v = classify(sample("exim_failed", TOKEN))
    assert (v.kind, v.trace_id) == ("bounce", TRACE)
    assert v.reason.startswith("5.0.0 failed carol@example.org")
    assert "VERP" in v.reason


def test_gmail_bounce_is_a_bounce_not_a_reply_despite_in_reply_to() -> None:
    raw = sample("gmail_failed", TOKEN)
    report = dsn.parse_dsn(parse_message(raw))
    assert report is not None
    (rcpt,) = report.recipients
    assert (rcpt.recipient, rcpt.action, rcpt.status) == (
        "dave.nonexistent@gmail.com",
        "failed",
        "5.1.1",
    )
    assert "does not exist" in rcpt.diagnostic
    assert message_id(TOKEN) in report.original_ids
    v = classify(raw)
    assert (v.kind, v.trace_id) == ("bounce", TRACE)


@pytest.mark.parametrize(
    ("name", "why"),
    [("postfix_delayed", "delayed 4.4.1"), ("postfix_expired", "failed 4.4.1")],
)
def test_delays_and_temporary_failures_are_not_bounces(name: str, why: str) -> None:
    v = classify(sample(name, TOKEN))
    assert (v.kind, v.trace_id) == ("ignore", None)
    assert why in v.reason


def test_a_plain_bounce_notice_to_the_verp_address_is_a_bounce() -> None:
    v = classify(sample("qmail_verp", TOKEN))
    assert (v.kind, v.trace_id) == ("bounce", TRACE)
    assert "failure notice" in v.reason


def test_an_out_of_office_sent_to_the_verp_address_is_not_a_bounce() -> None:
    v = classify(sample("vacation_to_verp", TOKEN))
    assert v.kind == "ignore"
    assert "bounce address" in v.reason


def test_a_forged_verp_token_is_ignored() -> None:
    forged = f"{TRACE}.AAAAAAAAAAAAAAAAAAAAAA"
    assert classify(sample("qmail_verp", forged)).kind == "ignore"
    other_db = make_token(b"another database's key", TRACE)
    v = classify(sample("exim_failed", other_db))
    assert v.kind == "ignore" and "does not verify" in v.reason


def test_a_bounce_about_someone_elses_message_is_ignored() -> None:
    raw = sample("postfix_failed", TOKEN, msgid="<20260105.abc@elsewhere.example>")
    v = classify(raw)
    assert v.kind == "ignore" and "did not send" in v.reason


def test_without_a_mailbox_address_dsns_still_match_by_message_id() -> None:
    assert classify(sample("postfix_failed", TOKEN), address=None).kind == "bounce"
    # Exim's sample can only be matched by VERP.
    assert classify(sample("exim_failed", TOKEN), address=None).kind == "ignore"


def test_status_falls_back_to_the_diagnostic_code_and_any_failed_recipient_counts() -> None:
    raw = f"""\
From: MAILER-DAEMON@mx.example.net
To: {ADDRESS}
Subject: Undeliverable
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; a@example.org
Action: delayed
Status: 4.2.2

Final-Recipient: rfc822; b@example.org
Action: Failed
Diagnostic-Code: smtp; 550 mailbox unavailable

--b
Content-Type: text/rfc822-headers

Message-ID: {message_id(TOKEN)}

--b--
""".encode()
    v = classify(raw)
    assert (v.kind, v.trace_id) == ("bounce", TRACE)
    assert v.reason.startswith("5.0.0 failed b@example.org")


def test_rfc6533_global_delivery_status_is_read() -> None:
    raw = f"""\
From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: {dsn.plus_address(ADDRESS, "b", TOKEN)}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="g"

--g
Content-Type: message/global-delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: utf-8; jörg@exämple.de
Action: failed
Status: 5.1.1

--g--
""".encode()
    v = classify(raw)
    assert (v.kind, v.trace_id) == ("bounce", TRACE)
    assert "jörg@exämple.de" in v.reason


# --- replies ---------------------------------------------------------------------------


def test_reply_to_the_tokenised_reply_address() -> None:
    v = classify(sample("thunderbird_reply", TOKEN, to=REPLY_TO, msgid="<x@example.org>"))
    assert (v.kind, v.trace_id) == ("reply", TRACE)
    assert v.reason.startswith("Re: Get 10% OFF (from Ann Example <ann@example.org>")
    assert "reply address" in v.reason


def test_reply_with_quoted_text_matched_by_in_reply_to() -> None:
    # The quote contains DSN fields, "Auto-Submitted" and "out of office": only headers count.
    v = classify(sample("thunderbird_reply", TOKEN))
    assert (v.kind, v.trace_id) == ("reply", TRACE)
    assert "In-Reply-To/References" in v.reason


def test_outlook_reply_with_only_references() -> None:
    msg = parse_message(sample("outlook_references", TOKEN))
    assert dsn.header_values(msg, "in-reply-to") == []
    v = dsn.classify(msg, address=ADDRESS, verify=verify)
    assert (v.kind, v.trace_id) == ("reply", TRACE)


def test_thread_tokens_prefer_in_reply_to_then_the_newest_reference() -> None:
    older, newer, parent = (make_token(SECRET, n) for n in (1, 2, 3))
    raw = (
        f"From: a@example.org\nSubject: Re: x\nIn-Reply-To: {message_id(parent)}\n"
        f"References: {message_id(older)}\n {message_id(newer)} {message_id(parent)}\n\nhi\n"
    ).encode()
    assert dsn.thread_tokens(parse_message(raw)) == [parent, newer, older]


@pytest.mark.parametrize("name", ["outlook_auto_reply", "read_receipt"])
def test_auto_replies_and_read_receipts_are_not_replies(name: str) -> None:
    v = classify(sample(name, TOKEN, to=REPLY_TO))
    assert (v.kind, v.trace_id) == ("ignore", None)


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "X-Autoreply: yes",
        "Precedence: auto_reply",
        "Subject: Out of Office: Get 10% OFF",
        "Subject: =?utf-8?q?R=C3=A9ponse_automatique=C2=A0:_Get_10%_OFF?=",
    ],
)
def test_each_auto_reply_signal_is_recognised(header: str) -> None:
    raw = f"From: a@example.org\nTo: {REPLY_TO}\n{header}\n\nAway.\n".encode()
    assert classify(raw).kind == "ignore"


def test_auto_submitted_no_is_a_person() -> None:
    raw = f"From: a@example.org\nTo: {REPLY_TO}\nAuto-Submitted: no\n\nYes!\n".encode()
    assert classify(raw).kind == "reply"


def test_reply_address_matching_ignores_case_of_the_mailbox_but_not_of_the_token() -> None:
    upper = f"Replies+r.{TOKEN}@EXAMPLE.com"
    assert classify(f"From: a@example.org\nTo: {upper}\n\nhi\n".encode()).kind == "reply"
    assert dsn.plus_tokens(parse_message(f"To: {upper}\n\n".encode()), ADDRESS, "r") == [TOKEN]
    swapped = f"replies+r.{TOKEN.swapcase()}@example.com"
    assert classify(f"From: a@example.org\nTo: {swapped}\n\nhi\n".encode()).kind == "ignore"


def test_a_forged_reply_token_is_ignored() -> None:
    forged = dsn.plus_address(ADDRESS, "r", f"{TRACE}.AAAAAAAAAAAAAAAAAAAAAA")
    v = classify(f"From: a@example.org\nTo: {forged}\n\nhi\n".encode())
    assert (v.kind, v.trace_id) == ("ignore", None)
    assert "does not verify" in v.reason


def test_mail_without_anything_of_ours_is_ignored() -> None:
    v = classify(b"From: a@example.org\nTo: replies@example.com\nSubject: hello\n\nhi\n")
    assert v.kind == "ignore" and "no reply address" in v.reason


def test_reply_from_a_mail_system_is_not_a_person() -> None:
    raw = f"From: MAILER-DAEMON@example.org\nIn-Reply-To: {message_id(TOKEN)}\n\nx\n".encode()
    assert classify(raw).kind == "ignore"


# --- malformed mail --------------------------------------------------------------------

MALFORMED = {
    "binary garbage": bytes(range(256)) * 4,
    "empty": b"",
    "no header separator": b"this is not an email at all\x00\xff\xfe",
    "headers only": b"From: a@example.org\nSubject: x",
    "broken boundary": b"Content-Type: multipart/mixed; boundary=\n\n--\n--x--\n",
    "report without status": (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="q"\n\n'
        b"--q\nContent-Type: text/plain\n\nsorry\n--q--\n"
    ),
    "garbage status part": (
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="q"\n\n'
        b"--q\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        b"!!!not base64!!!\n\x00\xff\n--q--\n"
    ),
    "unclosed report": (
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=q\n\n"
        b"--q\nContent-Type: message/delivery-status\n\nAction: failed\nStatus: 5.1.1\n"
    ),
    "8-bit header bytes": b"From: \xe9\xe8\xff <a@ex\xffample.org>\nSubject: \xc3\x28\n\nx\n",
    "bad encoded word": b"From: a@example.org\nSubject: =?x-unknown?q?=ZZ?= =?utf-8?b?%%%?=\n\n",
    "bad charset": b"Content-Type: text/plain; charset=no-such-charset\n\n\xff\xfe\n",
    "huge header": b"Subject: " + b"x" * 200_000 + b"\nReferences: " + b"<" * 50_000 + b"\n\n",
    "bad address list": b'To: "unterminated <replies+r.1.x@example.com\nCc: ,,,@,<>,\n\n',
    "deep nesting": b"Content-Type: message/rfc822\n\n" * 200 + b"x",
    "nesting beyond the parser": b"Content-Type: message/rfc822\n\n" * 3000 + b"x",
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_mail_is_classified_without_raising(name: str) -> None:
    raw = MALFORMED[name]
    msg = parse_message(raw)
    v = dsn.classify(msg, address=ADDRESS, verify=verify)
    assert (v.kind, v.trace_id) == ("ignore", None)
    assert len(dedupe_key(msg, raw)) == 64


def test_broken_mime_still_counts_a_reply_whose_headers_are_fine() -> None:
    raw = (
        f"From: a@example.org\nIn-Reply-To: {message_id(TOKEN)}\n"
        'Content-Type: multipart/alternative; boundary="never-closed"\n\n'
        "--never-closed\nContent-Type: text/plain; charset=bogus\n\n\xff yes\n"
    ).encode("latin-1")
    assert classify(raw).kind == "reply"


def test_a_long_diagnostic_is_clipped() -> None:
    raw = sample("postfix_failed", TOKEN).replace(b"User unknown", b"User unknown " + b"z" * 2000)
    assert len(classify(raw).reason) <= dsn.DETAIL_LIMIT


def test_dedupe_key_is_the_message_id_else_the_bytes() -> None:
    a = parse_message(b"Message-ID: <same@example.org>\n\none\n")
    b = parse_message(b"Message-ID:\n  <same@example.org>\n\ntwo\n")
    assert dedupe_key(a, b"one") == dedupe_key(b, b"two")
    c = parse_message(b"Subject: no id\n\nx\n")
    assert dedupe_key(c, b"x") != dedupe_key(c, b"y")
