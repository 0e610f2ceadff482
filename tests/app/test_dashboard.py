"""The campaign dashboard shows what ``journeys report --json`` says, at every step of
the Odoo flow (issue 23), and follows a write by another process by itself.

The flow is driven through the command line in this process (as a user in a terminal
beside the app); the dashboard is the real window, offscreen, on the same database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.cli import main
from designer.dashboard import DashboardWindow
from designer.dashboard.window import STEP_FIGURES
from designer.main_window import MainWindow
from engine.clock import FixedClock
from engine.db import Database

from .test_live_figures import journeys

DATA = Path(__file__).parents[1] / "data"
T0 = "2026-01-05T09:00:00+00:00"


@pytest.fixture
def cli(db_url: str, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*args: str, now: str | None = None) -> str:
        argv = ["--db", db_url] + (["--now", now] if now else [])
        code = main([*argv, *args])
        out, err = capsys.readouterr()
        assert code == 0, f"exit {code}: {err}{out}"
        return out

    return run


def number(text: str) -> int:
    """ "1,204 (35 %)" -> 1204; blank (a figure the channel cannot have) -> 0."""
    m = re.match(r"[\d,]+", text)
    return int(m.group(0).replace(",", "")) if m else 0


def shown(dash: DashboardWindow) -> dict[str, dict[str, int]]:
    """The Steps table as the user reads it, by step key."""
    t = dash.steps
    out = {}
    for r in range(t.rowCount()):
        key = t.item(r, 0).data(256)  # Qt.UserRole
        out[key] = {
            name: number(t.item(r, c).text()) for c, (_h, name) in enumerate(STEP_FIGURES, 1)
        }
    return out


def agrees(dash: DashboardWindow, cli, cid: str, clock: FixedClock, now: str) -> dict:  # type: ignore[no-untyped-def]
    clock.set(datetime.fromisoformat(now.replace("Z", "+00:00")))
    dash.refresh()
    report = json.loads(cli("report", cid, "--json"))
    table = shown(dash)
    for key, figures in report["activities"].items():
        for name, value in figures.items():
            if name != "sent":  # "sent" is "Success" on a message step
                assert table[key][name] == value, (now, key, name)
    people = report["participants"]
    assert dash.tiles.texts()["running"][0] == f"{people['running']:,}"
    # The tables' totals are the same figures (each tab reloads when it is shown).
    dash.tabs.setCurrentIndex(3)
    entered = sum(people[s] for s in ("running", "completed", "removed"))
    assert dash.participants.model.total == entered
    states = ("scheduled", "processed", "rejected", "canceled", "error")
    traces = sum(f[s] for f in report["activities"].values() for s in states)
    dash.tabs.setCurrentIndex(2)
    assert dash.traces.model.total == traces
    assert dash.traces.model.rowCount() == min(traces, 200)
    dash.tabs.setCurrentIndex(0)
    return report


@pytest.fixture
def flow(
    cli, db: Database, clock: FixedClock, qtbot: QtBot
) -> Iterator[tuple[DashboardWindow, str]]:  # type: ignore[no-untyped-def]
    cli("records", "import", "contact", str(DATA / "odoo_contacts.csv"))
    cid = cli("import", str(DATA / "odoo_flow.journey.json"), now=T0).split()[-1]
    clock.set(datetime.fromisoformat(T0))
    dash = DashboardWindow(db, clock, int(cid), follow=False)
    qtbot.addWidget(dash)
    dash.show()
    yield dash, cid
    dash.close()


def test_the_dashboard_equals_the_report_at_every_step(flow, cli, clock) -> None:  # type: ignore[no-untyped-def]
    dash, cid = flow
    agrees(dash, cli, cid, clock, T0)  # imported, not started: all zero
    cli("start", cid, now=T0)
    agrees(dash, cli, cid, clock, T0)
    cli("run", now=T0)
    report = agrees(dash, cli, cid, clock, T0)
    assert report["activities"]["welcome"]["processed"] == 7
    assert dash.tiles.texts()["sent"][0] == "7"
    event = ("event", cid, "--activity", "welcome", "--type")
    cli(*event, "reply", "--record", "ann@example.com", now="2026-01-05T11:00:00Z")
    cli(*event, "open", "--record", "bob@example.com", now="2026-01-05T11:00:00Z")
    agrees(dash, cli, cid, clock, "2026-01-05T11:00:00Z")
    assert dash.tiles.texts()["opened"][0] == f"{100 * 2 / 7:.1f} %"
    assert dash.tiles.texts()["replied"][0] == f"{100 * 1 / 7:.1f} %"
    cli("run", now="2026-01-05T12:00:00Z")
    agrees(dash, cli, cid, clock, "2026-01-05T12:00:00Z")
    sms_click = ("event", cid, "--activity", "reply_sms", "--record", "1", "--type", "sms_click")
    cli(*sms_click, "--url", "https://shop.example.com/call", now="2026-01-05T13:00:00Z")
    agrees(dash, cli, cid, clock, "2026-01-05T13:00:00Z")
    cli("run", now="2026-01-06T09:00:00Z")
    agrees(dash, cli, cid, clock, "2026-01-06T09:00:00Z")
    cli("run", now="2026-02-05T09:00:00Z")  # the engagement window closes (E8)
    report = agrees(dash, cli, cid, clock, "2026-02-05T09:00:00Z")
    assert report["participants"]["completed"] == 9
    # A month on, the week before had no sends: the rates say so rather than 0 %.
    assert dash.tiles.texts()["opened"][0] == "–"

    # The link tracker: the SMS link clicked once by Ann.
    links = {
        dash.links.item(r, 0).text(): (dash.links.item(r, 2).text(), dash.links.item(r, 3).text())
        for r in range(dash.links.rowCount())
    }
    assert links["https://shop.example.com/call"] == ("1", "1")

    # The funnel to the SMS sent on a click: entered 9, welcome 7, reply SMS 1, click SMS 1.
    dash.set_funnel_step("click_sms")
    assert [line.split(":")[0] for line in dash.funnel.lines()] == [
        "Entered",
        *(dash.figures.activity(k).name for k in ("welcome", "reply_sms", "click_sms")),  # type: ignore[union-attr]
    ]
    assert [int(line.split(": ")[1].split(" ")[0]) for line in dash.funnel.lines()] == [9, 7, 1, 1]


def test_participants_timeline_and_search(flow, cli, clock) -> None:  # type: ignore[no-untyped-def]
    dash, cid = flow
    cli("start", cid, now=T0)
    cli("run", now=T0)
    cli(
        "event",
        cid,
        "--activity",
        "welcome",
        "--type",
        "reply",
        "--record",
        "ann@example.com",
        now="2026-01-05T11:00:00Z",
    )
    cli("run", now="2026-01-05T12:00:00Z")
    clock.set(datetime.fromisoformat("2026-01-05T12:00:00+00:00"))
    dash.refresh()
    dash.tabs.setCurrentIndex(3)
    dash.participants.search.setText("ann")
    dash.participants.apply_filters()  # the typing pause, without waiting for it
    # A search reads every row: it runs in the background, answered through the event
    # loop, so the window has not seen the answer yet.
    assert dash.participants.model.loading and dash.participants.count.text() == "Searching…"
    dash.participants.model.wait()
    rows = dash.participants.model.rows
    assert [r.record for r in rows] == ["Ann"]
    assert dash.participants.count.text() == "1 found"
    highlighted: list[object] = []
    dash.pathHighlighted.connect(highlighted.append)
    dash.participants.view.selectRow(0)
    lines = dash.timeline.lines()
    assert any(line.startswith("Welcome") and "| processed |" in line for line in lines), lines
    assert any(line.strip().startswith("replied") for line in lines), lines
    assert highlighted[-1] == {
        "welcome": "processed",
        "reply_sms": "processed",
        "not_opened": "canceled",
        "click_sms": "scheduled",
    }


def test_the_main_windows_dashboard_follows_another_process(
    qtbot: QtBot,
    cli,
    db: Database,
    clock: FixedClock,  # type: ignore[no-untyped-def]
) -> None:
    cli("records", "import", "contact", str(DATA / "odoo_contacts.csv"))
    cid = int(cli("import", str(DATA / "odoo_flow.journey.json"), now=T0).split()[-1])
    cli("start", str(cid), now=T0)
    clock.set(datetime.fromisoformat(T0))
    window = MainWindow(db, clock=clock)  # no embedded engine: only the watcher can tell
    qtbot.addWidget(window)
    window.show()
    window.campaigns.select(cid)
    window.actions_by_name["dashboard"].trigger()
    dash = window.dashboard.window
    assert dash is not None and dash.isVisible()
    assert shown(dash)["welcome"]["processed"] == 0
    before = dash.refreshes
    journeys(db, "--now", T0, "run")  # a real second process
    qtbot.waitUntil(lambda: shown(dash)["welcome"]["processed"] == 7, timeout=10_000)
    assert dash.refreshes > before
    # The funnel follows the canvas selection; a participant's path is ringed on it.
    assert window.canvas is not None
    window.canvas.scene.select_keys(["reply_sms"])
    names = [line.split(":")[0] for line in dash.funnel.lines()]
    assert names == ["Entered", "Welcome email", "SMS after a reply"]
    dash.tabs.setCurrentIndex(3)
    dash.participants.view.selectRow(0)
    rings = {k: i.highlight for k, i in window.canvas.scene.item_for_key.items() if i.highlight}
    assert rings and set(rings) <= set(window.canvas.scene.item_for_key)
    dash.close()
    assert not any(i.highlight for i in window.canvas.scene.item_for_key.values())
    window.shutdown()
