"""The managers' overview (issue 24): every campaign side by side with the campaign
dashboard's own KPIs, sorted by value, opening each dashboard, following another
process's writes, and read-only when asked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.cli import main
from designer.dashboard.overview import FIGURES, HEADINGS, OverviewWindow
from engine.api import dashboard
from engine.clock import FixedClock
from engine.db import Database

from .test_live_figures import journeys

DATA = Path(__file__).parents[1] / "data"
T0 = "2026-01-05T09:00:00+00:00"


@pytest.fixture
def two(db_url: str, db: Database, clock: FixedClock, capsys) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    def cli(*args: str) -> str:
        code = main(["--db", db_url, "--now", T0, *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    cli("records", "import", "contact", str(DATA / "odoo_contacts.csv"))
    flow = int(cli("import", str(DATA / "odoo_flow.journey.json")).split()[-1])
    quiet = int(cli("import", str(DATA / "odoo_flow.journey.json"), "--name", "Quiet").split()[-1])
    cli("start", str(flow))
    cli("run")
    clock.set(datetime.fromisoformat(T0))
    return flow, quiet


@pytest.fixture
def overview(db: Database, clock: FixedClock, qtbot: QtBot) -> Iterator[OverviewWindow]:
    window = OverviewWindow(db, clock, follow=False)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()


def column(name: str) -> int:
    return HEADINGS.index(name)


def test_every_campaign_with_the_dashboards_figures(two, overview, db, clock) -> None:  # type: ignore[no-untyped-def]
    flow, _quiet = two
    overview.refresh()
    rows = {r[0]: r for r in overview.rows()}
    assert set(rows) == {"Odoo flow", "Quiet"}
    assert rows["Odoo flow"][1] == "running" and rows["Quiet"][1] == "draft"
    kpis = dashboard.kpis(db, flow, clock.now(), 7)
    for key, heading in FIGURES:  # each cell starts with the dashboard tile's value
        tile = kpis.tile(key)
        shown = rows["Odoo flow"][column(heading)]
        want = (
            "–"
            if tile.value is None
            else (f"{tile.value:.1f} %" if tile.percent else f"{int(tile.value):,}")
        )
        assert shown.split("   ")[0] == want, (key, shown)
    assert rows["Odoo flow"][column("Sent")].startswith("7")
    assert rows["Quiet"][column("Sent")] == "0"
    trend = overview.table.item(0, len(HEADINGS) - 1)
    sends = {
        overview.table.item(r, 0).text(): overview.table.item(r, len(HEADINGS) - 1).data(
            Qt.ItemDataRole.UserRole + 2
        )
        for r in range(2)
    }
    assert trend is not None and sum(sends["Odoo flow"]) == 7 and len(sends["Odoo flow"]) == 7
    assert sum(sends["Quiet"]) == 0


def test_sorting_is_by_value_and_a_row_opens_its_dashboard(two, overview) -> None:  # type: ignore[no-untyped-def]
    flow, _quiet = two
    overview.table.sortByColumn(column("Sent"), Qt.SortOrder.DescendingOrder)
    assert [r[0] for r in overview.rows()] == ["Odoo flow", "Quiet"]
    overview.table.sortByColumn(column("Sent"), Qt.SortOrder.AscendingOrder)
    assert [r[0] for r in overview.rows()] == ["Quiet", "Odoo flow"]
    overview.table.sortByColumn(column("Campaign"), Qt.SortOrder.DescendingOrder)
    assert [r[0] for r in overview.rows()] == ["Quiet", "Odoo flow"]
    overview.refresh()  # a live refresh keeps the order and the chosen row
    overview.select(flow)
    overview.refresh()
    assert [r[0] for r in overview.rows()] == ["Quiet", "Odoo flow"]
    assert overview.table.currentRow() == 1
    window = overview.open_dashboard(flow)
    assert window is not None and window.isVisible() and window.campaign_id == flow
    assert overview.open_dashboard(flow) is window  # one window a campaign
    assert window.tiles.texts()["sent"][0] == "7"


def test_the_overview_follows_another_process(two, db, clock, qtbot) -> None:  # type: ignore[no-untyped-def]
    _flow, quiet = two
    window = OverviewWindow(db, clock)  # following the database by itself
    qtbot.addWidget(window)
    try:
        before = window.refreshes
        journeys(db, "--now", T0, "start", str(quiet))
        journeys(db, "--now", T0, "run")
        qtbot.waitUntil(lambda: window.refreshes > before, timeout=10_000)
        qtbot.waitUntil(
            lambda: {r[0]: r for r in window.rows()}["Quiet"][column("Sent")].startswith("7"),
            timeout=10_000,
        )
        assert {r[0]: r[1] for r in window.rows()}["Quiet"] == "running"
    finally:
        window.close()


def test_journeys_dashboard_read_only_refuses_edits(two, db_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    flow, _quiet = two
    code = main(["--db", db_url, "--read-only", "stop", str(flow)])
    _out, err = capsys.readouterr()
    assert code == 2 and "open read-only" in err and "Traceback" not in err
    code = main(["--db", db_url, "--read-only", "report", str(flow), "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and '"Odoo flow"' in out


def test_journeys_dashboard_opens_the_overview_and_a_campaign(
    two, db_url: str, qapp, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The command itself: the overview, read-only, with the campaign asked for open.
    The application's event loop is not entered (it would end the test session's):
    ``exec`` is replaced by a look at the windows the command opened."""
    from PySide6.QtWidgets import QApplication

    flow, _quiet = two
    seen: list[tuple[str, str]] = []

    def look(_app: object) -> int:
        QApplication.processEvents()
        seen.extend(
            (w.objectName(), w.windowTitle())
            for w in QApplication.topLevelWidgets()
            if w.isVisible() and w.objectName() in ("overview-window", "dashboard-window")
        )
        return 0

    monkeypatch.setattr(QApplication, "exec", look)
    assert main(["--db", db_url, "--now", T0, "dashboard", str(flow), "--read-only"]) == 0
    assert ("overview-window", "Journeys — all campaigns (read-only)") in seen
    assert ("dashboard-window", "Dashboard — Odoo flow") in seen
    QApplication.processEvents()  # the windows closed by the command are gone
    assert not [
        w
        for w in QApplication.topLevelWidgets()
        if w.isVisible() and w.objectName() in ("overview-window", "dashboard-window")
    ]
