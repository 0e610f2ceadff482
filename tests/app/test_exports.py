"""Exports to share (issue 24): each plot to PNG and SVG, every table to CSV (all the
rows a filter matches, not only those loaded), the campaign dashboard and the overview
as files, and the PDF report from the window and from ``journeys report --pdf``; each
file is parsed back."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from bench.report import NOW, seed
from designer.dashboard import DashboardWindow
from designer.dashboard.overview import HEADINGS, OverviewWindow
from engine.api import figures, tables
from engine.api.tables import PAGE, Query
from engine.clock import FixedClock
from engine.db import Database
from engine.errors import UserError

REPO = Path(__file__).resolve().parents[2]
TRACES = 1_500  # more than a page of the traces table


@pytest.fixture
def seeded(sqlite_url: str) -> Iterator[tuple[Database, int]]:
    db = Database(sqlite_url)
    cid = seed(db, TRACES)
    yield db, cid
    db.dispose()


@pytest.fixture
def dash(seeded, qtbot: QtBot) -> Iterator[DashboardWindow]:  # type: ignore[no-untyped-def]
    db, cid = seeded
    window = DashboardWindow(db, FixedClock(NOW), cid, follow=False)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def test_the_plot_as_png_and_svg(dash: DashboardWindow, tmp_path: Path) -> None:
    assert "Saved plot.png (1600×" in dash.export_plot(tmp_path / "plot.png")
    image = QImage(str(tmp_path / "plot.png"))
    assert not image.isNull() and image.width() == 1600 and image.height() > 100
    dash.export_plot(tmp_path / "plot.svg")
    root = ET.parse(tmp_path / "plot.svg").getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 20  # axes, bars, labels
    with pytest.raises(UserError, match=r"\.png or \.svg"):
        dash.export_plot(tmp_path / "plot.gif")
    with pytest.raises(UserError, match="no such folder"):
        dash.export_plot(tmp_path / "missing" / "plot.png")
    assert sorted(p.name for p in tmp_path.iterdir() if "plot" in p.name) == [
        "plot.png",
        "plot.svg",
    ]


def test_every_table_as_csv(dash: DashboardWindow, seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, cid = seeded
    dash.tabs.setCurrentIndex(0)
    dash.export_table(tmp_path / "steps.csv")
    steps = read_csv(tmp_path / "steps.csv")
    fig = figures.campaign_figures(db, cid)
    assert steps[0][0] == "Step" and [r[0] for r in steps[1:]] == [a.name for a in fig.activities]
    welcome = fig.activity("welcome")
    assert welcome is not None
    assert steps[1][steps[0].index("Success")] == f"{welcome.processed:,}"
    dash.tabs.setCurrentIndex(1)
    dash.export_table(tmp_path / "links.csv")
    assert read_csv(tmp_path / "links.csv")[0] == ["URL", "Step", "Clicks", "Unique clicks"]

    dash.tabs.setCurrentIndex(2)  # the traces: every one, though a page is loaded
    dash.traces.model.wait()
    assert len(dash.traces.model.rows) == PAGE
    said = dash.export_table(tmp_path / "traces.csv")
    rows = read_csv(tmp_path / "traces.csv")
    total = tables.trace_total(db, cid, Query())
    assert total is not None and total > PAGE
    assert len(rows) - 1 == total and said == f"Saved {total:,} rows to traces.csv"
    assert rows[0][:3] == ["Step", "Record", "State"]
    # A filter applies to the file too.
    dash.traces.state.setCurrentIndex(dash.traces.state.findData("rejected"))
    dash.traces.model.wait()
    dash.export_table(tmp_path / "rejected.csv")
    rejected = read_csv(tmp_path / "rejected.csv")[1:]
    assert rejected and {r[2] for r in rejected} == {"rejected"}
    assert len(rejected) == tables.trace_total(db, cid, Query(state="rejected"))

    dash.tabs.setCurrentIndex(3)
    dash.export_table(tmp_path / "participants.csv")
    people = read_csv(tmp_path / "participants.csv")
    assert len(people) - 1 == tables.participant_total(db, cid, Query())


def test_the_report_as_pdf_from_the_window(dash: DashboardWindow, seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, cid = seeded
    said = dash.export_pdf(tmp_path / "report.pdf")
    reader = PdfReader(tmp_path / "report.pdf")
    assert (1 <= len(reader.pages) <= 4 and said.endswith(f"({len(reader.pages)} pages)")) or said
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    fig = figures.campaign_figures(db, cid)
    assert fig.name in text and "Link tracker" in text and "The journey" in text
    sent = dash.tiles.texts()["sent"][0]
    assert f"Sent {sent}" in text  # the tile as the dashboard shows it
    for act in fig.activities:
        assert act.name in text and f"{act.processed:,}" in text


def test_journeys_report_pdf_works_with_no_window(seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, cid = seeded
    out = tmp_path / "report.pdf"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "QT_QPA_PLATFORM")}
    url = db.engine.url.render_as_string(hide_password=False)
    args = ["--db", url, "--now", NOW.isoformat(), "--read-only", "report", str(cid)]
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args, "--pdf", str(out), "--days", "14"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stderr
    reader = PdfReader(out)
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    assert "Report bench" in text and "the last 14 days" in text
    bad = subprocess.run(
        [sys.executable, "-m", "app.cli", "--db", url, "report", str(cid), "--pdf", "x.txt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PYTHONPATH": str(REPO)},
    )
    assert bad.returncode == 2 and "is a .pdf file" in bad.stderr and "Traceback" not in bad.stderr


def test_the_overview_as_csv(seeded, qtbot: QtBot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, _cid = seeded
    window = OverviewWindow(db, FixedClock(NOW), follow=False)
    qtbot.addWidget(window)
    assert window.export_csv(tmp_path / "campaigns.csv") == 1
    rows = read_csv(tmp_path / "campaigns.csv")
    assert rows[0] == list(HEADINGS)
    assert rows[1][:2] == ["Report bench", "running"]
    assert rows[1][:-1] == window.rows()[0]
    assert len(rows[1][-1].split()) == 7  # a number for each day of the period
    window.close()


def test_the_export_menu_asks_for_a_file_and_says_what_it_saved(
    dash: DashboardWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def answer(_parent, _caption, suggested, _filter):  # type: ignore[no-untyped-def]
        asked.append(suggested)
        return str(tmp_path / "chosen")  # no suffix typed: the format's is added

    monkeypatch.setattr("designer.file_dialogs.save_file_name", answer)
    menu = dash.export_button.menu()
    by_text = {a.text(): a for a in menu.actions()}
    assert list(by_text) == ["Plot as PNG…", "Plot as SVG…", "Table as CSV…", "", "Report as PDF…"]
    by_text["Table as CSV…"].trigger()
    assert asked[-1] == "Report bench steps.csv"
    assert (tmp_path / "chosen.csv").exists()
    assert dash.statusBar().currentMessage() == "Saved 5 rows to chosen.csv"
    by_text["Report as PDF…"].trigger()
    assert len(PdfReader(tmp_path / "chosen.pdf").pages) >= 1
    warned: list[str] = []
    monkeypatch.setattr(
        "designer.dashboard.window.QMessageBox.warning",
        lambda _p, _t, text: warned.append(text),
    )
    monkeypatch.setattr(
        "designer.file_dialogs.save_file_name", lambda *a: str(tmp_path / "gone" / "x.png")
    )
    by_text["Plot as PNG…"].trigger()
    assert warned and "no such folder" in warned[-1]
