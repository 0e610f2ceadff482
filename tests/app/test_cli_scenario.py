"""The Odoo flow, driven through the command line with --now (issue 2's scenario).

welcome email at begin; its mail_reply child sends an SMS after 1 hour; that SMS's
sms_click child sends an SMS at once; the email's mail_not_open child runs a server action
after 1 day with an activity filter "email set". Ten contacts: one excluded by the campaign
filter, two without email.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text, update

from app.cli import main
from engine.db import Database
from engine.models import Contact

DATA = Path(__file__).parents[1] / "data"
T0 = "2026-01-05T09:00:00+00:00"


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*args: str, now: str | None = None, expect: int = 0) -> str:
        argv = ["--db", db_url]
        if now:
            argv += ["--now", now]
        code = main([*argv, *args])
        out, err = capsys.readouterr()
        assert code == expect, f"exit {code}: {err}{out}"
        return out if expect == 0 else err

    return run


def traces(cli, **filters: str) -> dict[str, dict[str, dict]]:  # type: ignore[no-untyped-def]
    """Traces by activity then by record name."""
    rows = json.loads(cli("traces", "Odoo flow", "--json"))
    out: dict[str, dict[str, dict]] = {}
    for r in rows:
        out.setdefault(r["activity"], {})[r["record"]] = r
    return out


def states(by_record: dict[str, dict]) -> dict[str, tuple[str, str | None, str | None]]:
    return {name: (t["state"], t["due"], t["message"]) for name, t in by_record.items()}


def test_odoo_flow(cli, db_url: str) -> None:  # type: ignore[no-untyped-def]
    assert "imported 10 contact" in cli(
        "records", "import", "contact", str(DATA / "odoo_contacts.csv")
    )
    out = cli("import", str(DATA / "odoo_flow.journey.json"), now=T0)
    cid = out.split()[-1]
    assert cid.isdigit()
    assert "9 record(s) joined" in cli("start", cid, now=T0)

    # --- T0: the welcome email goes to 7; two have no address ----------------------------
    cli("run", now=T0)
    t = traces(cli)
    sent = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus"]
    assert states(t["welcome"]) == {
        **{n: ("processed", T0, None) for n in sent},
        "Hal": ("canceled", T0, "No valid email address"),
        "Ivy": ("canceled", T0, "No valid email address"),
    }
    # event children wait; "not opened" is due a day later
    assert states(t["reply_sms"]) == {n: ("scheduled", None, None) for n in sent}
    assert states(t["not_opened"]) == {
        n: ("scheduled", "2026-01-06T09:00:00+00:00", None) for n in sent
    }
    assert "click_sms" not in t
    outbox = json.loads(cli("outbox", "--json"))
    assert sorted(m["to"] for m in outbox) == sorted(f"{n.lower()}@example.com" for n in sent)
    assert all(m["channel"] == "email" and m["subject"] == f"Welcome {m['record']}" for m in outbox)
    # links are tracked, the pixel and unsubscribe headers are present
    ann = next(m for m in outbox if m["record"] == "Ann")
    assert "https://shop.example.com/offer" not in ann["body"]
    assert "/c/" in ann["body"] and "o.gif" in ann["body"]
    assert ann["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ann["headers"]["Date"] == "Mon, 05 Jan 2026 09:00:00 GMT"  # the --now clock (E12)
    assert "Hi Ann" in ann["text"] and "/c/" in ann["text"]  # plain-text part, links tracked

    # --- T0+2h: Ann replies (implies open), Bob opens -------------------------------------
    cli(
        "event",
        cid,
        "--activity",
        "welcome",
        "--record",
        "ann@example.com",
        "--type",
        "reply",
        now="2026-01-05T11:00:00Z",
    )
    cli(
        "event",
        cid,
        "--activity",
        "welcome",
        "--record",
        "bob@example.com",
        "--type",
        "open",
        now="2026-01-05T11:00:00Z",
    )
    t = traces(cli)
    assert states(t["reply_sms"])["Ann"] == ("scheduled", "2026-01-05T12:00:00+00:00", None)
    assert states(t["reply_sms"])["Bob"] == ("scheduled", None, None)
    assert states(t["not_opened"])["Ann"][::2] == ("canceled", "Parent activity mail opened")
    assert states(t["not_opened"])["Bob"][::2] == ("canceled", "Parent activity mail opened")

    # --- T0+3h: the reply SMS goes to Ann -------------------------------------------------
    cli("run", now="2026-01-05T12:00:00Z")
    t = traces(cli)
    assert t["reply_sms"]["Ann"]["state"] == "processed"
    assert states(t["click_sms"]) == {"Ann": ("scheduled", None, None)}
    sms = [m for m in json.loads(cli("outbox", "--json")) if m["channel"] == "sms"]
    assert [m["to"] for m in sms] == ["+32470000001"]
    assert "https://shop.example.com/call" not in sms[0]["body"] and "/s/" in sms[0]["body"]

    # --- T0+4h: Ann clicks the SMS link; the 0-delay child runs in the same pass ----------
    out = cli(
        "event",
        cid,
        "--activity",
        "reply_sms",
        "--record",
        "1",
        "--type",
        "sms_click",
        "--url",
        "https://shop.example.com/call",
        now="2026-01-05T13:00:00Z",
    )
    assert "1 executed now" in out
    t = traces(cli)
    assert states(t["click_sms"]) == {"Ann": ("processed", "2026-01-05T13:00:00+00:00", None)}

    # --- Gus loses his email in the CRM; T0+1 day: "not opened" runs ----------------------
    db = Database(db_url)
    with db.session() as s:
        s.execute(update(Contact).where(Contact.name == "Gus").values(email=None))
    db.dispose()
    cli("run", now="2026-01-06T09:00:00Z")
    t = traces(cli)
    not_opened = states(t["not_opened"])
    for name in ["Cid", "Dee", "Eve", "Fay"]:
        assert not_opened[name] == ("processed", "2026-01-06T09:00:00+00:00", None)
    assert not_opened["Gus"] == (
        "rejected",
        "2026-01-06T09:00:00+00:00",
        "Rejected by activity filter",
    )
    contacts = {c["name"]: c for c in json.loads(cli("records", "list", "contact", "--json"))}
    assert [n for n, c in contacts.items() if "Cold" in c["tags"]] == ["Cid", "Dee", "Eve", "Fay"]

    report = json.loads(cli("report", cid, "--json"))
    assert report["campaign"]["state"] == "running"
    welcome = report["activities"]["welcome"]
    assert welcome == {
        "scheduled": 0,
        "waiting": 0,
        "processed": 7,
        "rejected": 0,
        "canceled": 2,
        "error": 0,
        "sent": 7,
        "opened": 2,
        "clicked": 0,
        "replied": 1,
        "bounced": 0,
    }
    assert report["activities"]["not_opened"]["processed"] == 4
    assert report["activities"]["not_opened"]["rejected"] == 1
    assert report["activities"]["reply_sms"]["waiting"] == 6
    # Ann still waits on nothing; the six others wait for a reply -> running
    assert report["participants"] == {"running": 6, "completed": 3, "removed": 0, "test": 0}

    # --- 30 days later the engagement window closes the waiting branches (E8) -------------
    cli("run", now="2026-02-05T09:00:00Z")
    t = traces(cli)
    assert states(t["reply_sms"])["Bob"][::2] == ("canceled", "No reply within 30 days")
    report = json.loads(cli("report", cid, "--json"))
    assert report["participants"] == {"running": 0, "completed": 9, "removed": 0, "test": 0}
    _ = text


def test_event_resolves_a_shared_email_among_the_campaigns_participants(
    cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """An email two records share names the one that takes part in the campaign; when both
    take part, it is still refused rather than guessed."""
    cli("records", "import", "contact", str(DATA / "odoo_contacts.csv"))
    cid = cli("import", str(DATA / "odoo_flow.journey.json"), now=T0).split()[-1]
    cli("start", cid, now=T0)
    cli("run", now=T0)
    head = "name,email,phone,country,tags\n"
    blocked = tmp_path / "blocked.csv"  # kept out of the campaign by its filter
    blocked.write_text(head + "Ann Blocked,ANN@example.com,+32470000011,BE,Blocked\n")
    cli("records", "import", "contact", str(blocked))
    event = ("event", cid, "--activity", "welcome", "--record", "ann@example.com")
    out = cli(*event, "--type", "open", now="2026-01-05T10:00:00Z")
    ann = traces(cli)["welcome"]["Ann"]
    assert f"recorded open on trace {ann['id']}" in out

    twin = tmp_path / "twin.csv"  # this one joins at the next pass
    twin.write_text(head + "Ann Twin,ann@example.com,+32470000012,BE,\n")
    cli("records", "import", "contact", str(twin))
    cli("run", now="2026-01-05T10:30:00Z")
    assert "Ann Twin" in traces(cli)["welcome"]
    err = cli(*event, "--type", "click", now="2026-01-05T11:00:00Z", expect=2)
    assert "several contacts have email ann@example.com (ids 1, 11, 12)" in err


def test_importing_a_taken_name_numbers_it_and_says_so(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = str(DATA / "odoo_flow.journey.json")
    assert main(["--db", db_url, "import", flow]) == 0
    first = capsys.readouterr()
    assert first.err == ""
    assert main(["--db", db_url, "import", flow]) == 0
    second = capsys.readouterr()
    assert "imported 'Odoo flow (2)' as draft campaign" in second.out
    assert (
        "note: A campaign named 'Odoo flow' already exists; this one is named 'Odoo flow (2)'."
        in second.err
    )
