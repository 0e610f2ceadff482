"""The window's figures follow writes by another process; F5 reloads; no change, no reload.

A real second process (``journeys run``) executes the journey while the window is open
with no embedded engine: only the change watcher can tell the window.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from designer.main_window import MainWindow
from engine import campaign_files, gallery
from engine.api import figures
from engine.clock import FixedClock
from engine.db import Database
from tests.engine.world import World

REPO = Path(__file__).resolve().parents[2]


def journeys(db: Database, *args: str) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--db", url, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def hot_window(qtbot: QtBot, db: Database, clock: FixedClock) -> Iterator[tuple[MainWindow, int]]:
    with db.session() as s:
        doc = gallery.load_template("tag_hot_contacts")
        cid = campaign_files.import_document(s, doc, trust=True, now=clock.now()).id
    w = World(db, clock)
    w.people("Ann", "Bob", "Cid")
    w.start(cid)
    window = MainWindow(db, clock=clock)
    qtbot.addWidget(window)
    window.show()
    window.campaigns.select(cid)
    yield window, cid
    window.shutdown()


def welcome_line(window: MainWindow) -> str:
    assert window.canvas is not None
    return window.canvas.scene.item_for_key["welcome"].texts()["processed"]


def test_a_run_in_another_process_shows_on_the_card(
    qtbot: QtBot, hot_window: tuple[MainWindow, int], db: Database, clock: FixedClock
) -> None:
    window, cid = hot_window
    assert welcome_line(window) == "0 sent · 0 rejected"
    later = (clock.now() + timedelta(hours=3)).isoformat()
    journeys(db, "--now", later, "run")
    sent = figures.campaign_figures(db, cid).activity("welcome")
    assert sent is not None and sent.sent == 3
    qtbot.waitUntil(lambda: welcome_line(window) == "3 sent · 0 rejected", timeout=5000)
    assert window.campaigns.current_row().participants == 3  # type: ignore[union-attr]


def test_nothing_reloads_when_nothing_changed(
    hot_window: tuple[MainWindow, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    window, _cid = hot_window
    assert window.canvas is not None
    window.live.poll()  # whatever the fixture wrote
    reloads: list[int] = []
    monkeypatch.setattr(window.canvas, "refresh_stats", lambda: reloads.append(1))
    for _ in range(5):
        window.live.poll()
    assert reloads == []


def test_f5_reloads_what_another_process_wrote(
    hot_window: tuple[MainWindow, int], db: Database, clock: FixedClock
) -> None:
    window, _cid = hot_window
    window.live.stop()  # only F5 may reload now
    journeys(db, "--now", (clock.now() + timedelta(hours=3)).isoformat(), "run")
    assert welcome_line(window) == "0 sent · 0 rejected"
    window.actions_by_name["refresh"].trigger()
    assert welcome_line(window) == "3 sent · 0 rejected"
