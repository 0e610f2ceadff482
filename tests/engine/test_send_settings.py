"""The Settings dialog's "Send test email": the mail settings checked before any campaign."""

from __future__ import annotations

import pytest

from engine import settings
from engine.clock import FixedClock
from engine.db import Database
from engine.errors import UserError
from engine.send_test import send_settings_test
from tests.smtp_sink import smtp_sink


def test_needs_a_test_recipient(db: Database, clock: FixedClock) -> None:
    with db.session() as s, pytest.raises(UserError, match="no test recipient"):
        send_settings_test(s, clock.now())


def test_sends_to_the_test_recipient_through_the_mail_server(
    db: Database, clock: FixedClock
) -> None:
    with smtp_sink() as (sink, port):
        with db.session() as s:
            settings.set_value(s, "smtp.url", f"smtp://127.0.0.1:{port}?tls=none")
            settings.set_value(s, "test.recipient_email", "me@Example.com")
        with db.session() as s:
            sent = send_settings_test(s, clock.now())
    assert (sent.channel, sent.status, sent.to) == ("smtp", "sent", "me@example.com")
    (received,) = sink.received
    assert received.rcpt == ["me@example.com"]
    assert received.message["Subject"] == "Journeys test email"
