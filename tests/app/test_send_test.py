"""`journeys send-test`: one rendered message through the configured channel, nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import main
from tests.smtp_sink import Handler, free_port, smtp_sink

DATA = Path(__file__).parents[1] / "data"
Cli = Callable[..., str]


@pytest.fixture
def cli(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*args: str, expect: int = 0) -> str:
        code = main(["--db", sqlite_url, *args])
        out, err = capsys.readouterr()
        assert code == expect, f"exit {code}: {err}{out}"
        return out if expect == 0 else err

    run("records", "import", "contact", str(DATA / "odoo_contacts.csv"))
    run("import", str(DATA / "odoo_flow.journey.json"))
    return run


def test_send_test_delivers_one_untracked_message_and_touches_no_trace(cli: Cli) -> None:
    with smtp_sink(Handler(refuse={"nobody@example.com": "550 5.1.1 no such user"})) as (
        sink,
        port,
    ):
        cli("settings", "smtp.url", f"smtp://127.0.0.1:{port}?tls=none")
        out = cli("send-test", "1", "--activity", "welcome", "--record", "bob@example.com",
                  "--to", "qa@example.com")  # fmt: skip
        assert "sent email 'Welcome Bob' to qa@example.com through smtp" in out
        err = cli("send-test", "1", "--activity", "welcome", "--record", "2",
                  "--to", "nobody@example.com", expect=1)  # fmt: skip
        assert "refused: 550 5.1.1 no such user" in err
    (received,) = sink.received
    assert received.rcpt == ["qa@example.com"]
    html = received.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert 'href="https://shop.example.com/offer"' in html and "o.gif" not in html
    assert json.loads(cli("traces", "1", "--test", "--json")) == []
    assert json.loads(cli("list", "--json"))[0]["state"] == "draft"


def test_send_test_refuses_what_it_cannot_send(cli: Cli) -> None:
    err = cli("send-test", "1", "--activity", "welcome", "--record", "1", expect=2)
    assert "no test recipient" in err and "test.recipient_email" in err
    err = cli("send-test", "1", "--activity", "not_opened", "--record", "1", "--to",
              "qa@example.com", expect=2)  # fmt: skip
    assert "only email and SMS activities" in err
    err = cli("send-test", "1", "--activity", "welcome", "--record", "1", "--to", "qa@", expect=2)
    assert "not a valid email address" in err


def test_send_test_uses_the_test_recipient_and_the_outbox_by_default(cli: Cli) -> None:
    cli("settings", "test.recipient_email", "qa@example.com")
    out = cli("send-test", "1", "--activity", "welcome", "--record", "ann@example.com")
    assert "to qa@example.com through outbox" in out
    (held,) = json.loads(cli("outbox", "--json"))
    assert (held["to"], held["subject"], held["test"]) == ("qa@example.com", "Welcome Ann", True)


def test_send_test_to_a_dead_server_fails_plainly(cli: Cli) -> None:
    cli("settings", "smtp.url", f"smtp://127.0.0.1:{free_port()}?tls=none")
    err = cli("send-test", "1", "--activity", "welcome", "--record", "1", "--to",
              "qa@example.com", expect=1)  # fmt: skip
    assert "not sent (try again)" in err and "connection refused" in err
