"""The minimal main window, offscreen: campaigns, empty state, refresh, run_gui's life cycle,
and `journeys gui` starting and quitting cleanly in its own interpreter."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import create_engine, inspect

from app.gui import MainWindow, run_gui
from engine import campaign_files, gallery
from engine.clock import FixedClock, SystemClock
from engine.db import Database
from engine.models import Campaign, Participant


def add_campaign(
    db: Database, now: datetime, name: str, target: str, state: str, real: int, test: int = 0
) -> int:
    with db.session() as session:
        campaign = Campaign(name=name, target=target, state=state, created_at=now, updated_at=now)
        session.add(campaign)
        session.flush()
        for i in range(real + test):
            session.add(
                Participant(
                    campaign_id=campaign.id, record_id=i + 1, is_test=i >= real, joined_at=now
                )
            )
        return campaign.id


def table_rows(window: MainWindow) -> list[list[str]]:
    """Name, state, participants (the list also shows the last change)."""
    return [row[:3] for row in window.campaigns.table_rows()]


def test_window_lists_the_campaigns_with_their_participants(
    qtbot: QtBot, db: Database, clock: FixedClock
) -> None:
    now = clock.now()
    welcome = add_campaign(db, now, "Welcome Flow", "contact", "running", real=3, test=1)
    calls = add_campaign(db, now, "Schedule Calls", "lead", "draft", real=0)

    window = MainWindow(db)
    qtbot.addWidget(window)
    window.show()

    assert window.windowTitle() == "Journeys"
    # Test participants are not counted.
    assert table_rows(window) == [
        ["Welcome Flow", "running", "3"],
        ["Schedule Calls", "draft", "0"],
    ]
    assert [r.id for r in window.campaigns.rows] == [welcome, calls]
    database_file = db.engine.url.database
    assert database_file and database_file in window.status.text()


def test_an_empty_database_shows_the_template_gallery(qtbot: QtBot, db: Database) -> None:
    window = MainWindow(db)
    qtbot.addWidget(window)
    window.show()

    assert window.gallery is not None
    assert window.stack.currentWidget() is window.gallery
    # The campaign docks step aside while there is no campaign; the list stays.
    docks = ("inspector", "problems", "traces", "test")
    assert [window.docks[d].isVisible() for d in docks] == [False] * 4
    assert window.docks["campaigns"].isVisible()
    # Choosing a template creates the campaign and opens it; the gallery steps aside.
    window.gallery.use_template("welcome_flow")  # type: ignore[attr-defined]
    assert [r[0] for r in window.campaigns.table_rows()] == ["Welcome Flow"]
    assert window.canvas is not None and window.stack.currentWidget() is window.canvas
    assert [window.docks[d].isHidden() for d in docks] == [False] * 4
    assert window.docks["inspector"].isVisible() and window.docks["problems"].isVisible()


def test_with_campaigns_listed_and_none_open_the_window_says_how_to_open_one(
    qtbot: QtBot, db: Database, clock: FixedClock
) -> None:
    add_campaign(db, clock.now(), "Double Opt-in", "contact", "stopped", real=2)
    add_campaign(db, clock.now(), "Welcome", "contact", "draft", real=0)
    window = MainWindow(db)
    qtbot.addWidget(window)
    window.show()
    assert window.canvas is None and window.stack.currentWidget() is window.empty_label
    text = window.empty_label.text()
    assert "No campaign yet" not in text
    assert text.startswith("Open a campaign: click it in the list")
    assert "No campaign open" in window.inspector.placeholder_text()  # type: ignore[union-attr]


def test_refresh_shows_campaigns_created_meanwhile(
    qtbot: QtBot, db: Database, clock: FixedClock
) -> None:
    window = MainWindow(db)
    qtbot.addWidget(window)
    window.show()
    assert table_rows(window) == []

    add_campaign(db, clock.now(), "Double Opt-in", "contact", "stopped", real=2)
    window.refresh_action.trigger()

    assert table_rows(window)[0] == ["Double Opt-in", "stopped", "2"]


def test_run_gui_migrates_a_new_database_and_returns_when_closed(
    qtbot: QtBot, tmp_path: Path
) -> None:
    path = tmp_path / "new" / "journeys.db"
    seen: list[str] = []

    def close_main_window() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        visible = [w for w in windows if w.isVisible()]
        seen.extend(w.windowTitle() for w in visible)
        for window in visible:
            window.close()

    QTimer.singleShot(0, close_main_window)
    # Safety net: never hang the suite if closing the window did not end the event loop.
    failsafe = QTimer()
    failsafe.setSingleShot(True)
    failsafe.timeout.connect(QApplication.quit)
    failsafe.start(10_000)
    try:
        code = run_gui(f"sqlite:///{path}")
    finally:
        failsafe.stop()

    assert seen == ["Journeys"]
    assert code == 0
    engine = create_engine(f"sqlite:///{path}")
    try:
        assert {"campaign", "participant", "alembic_version"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()


def test_the_embedded_engine_runs_and_the_window_follows_it(qtbot: QtBot, db: Database) -> None:
    from engine.clock import SystemClock
    from engine.runner import EngineRunner
    from tests.engine.world import World, action, tag

    world = World(db, SystemClock())  # type: ignore[arg-type]
    cid = world.campaign(action("a", tag("A")))  # running, nobody yet
    world.people("Ann", "Bob")  # they join at the engine's first pass
    runner = EngineRunner(db)
    window = MainWindow(db, runner)
    qtbot.addWidget(window)
    window.show()
    assert table_rows(window)[0][-1] == "0"
    runner.start()
    try:
        qtbot.waitUntil(lambda: table_rows(window)[0][-1] == "2", timeout=10000)
        qtbot.waitUntil(lambda: "last pass" in window.status.text(), timeout=10000)
    finally:
        window.shutdown()
    assert world.states(cid, "a") == {"Ann": "processed", "Bob": "processed"}


# --- the real entry point, in its own interpreter -------------------------------------------

GUI_SCRIPT = r"""
import sys
import threading

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

app = QApplication(sys.argv[:1])  # run_gui uses it: the timer below needs it first
seen = []


def main_window():
    from designer.main_window import MainWindow

    shown = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    return shown[0] if shown else None


def step():
    window = main_window()
    if window is None:
        QTimer.singleShot(50, step)
        return
    if not seen:  # open the campaign: a scene full of items must be torn down too
        window.campaigns.select(1)
        seen.append(window.current_id())
    if "last pass" not in window.status.text():  # wait for one engine pass
        QTimer.singleShot(50, step)
        return
    tracking = window.runner.tracking is not None
    print("opened", seen[0], "tracking", tracking, "passed", flush=True)
    window.close()  # what File > Quit does


QTimer.singleShot(0, step)
QTimer.singleShot(60_000, app.quit)  # never hang the suite

from app.cli import main

code = main(["--db", sys.argv[1], "gui"])
others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
print("exit", code, "threads", others, flush=True)
sys.exit(code)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_journeys_gui_starts_and_quits_cleanly(tmp_path: Path) -> None:
    """`journeys gui` on a database with a campaign: the window opens it, the embedded
    engine makes a pass, closing the window ends the process with 0 — no thread left,
    no abort or Qt complaint at interpreter exit."""
    url = f"sqlite:///{tmp_path / 'journeys.db'}"
    db = Database(url)
    try:
        with db.session() as s:
            doc = gallery.load_template("tag_hot_contacts")
            campaign_files.import_document(s, doc, trust=True, now=SystemClock().now())
    finally:
        db.dispose()
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONFAULTHANDLER": "1",
        "HOME": str(tmp_path),  # window settings land here, not in the user's folder
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "JOURNEYS_TRACKING_PORT": str(free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-c", GUI_SCRIPT, url],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "opened 1 tracking True passed" in done.stdout, done.stdout + done.stderr
    assert "exit 0 threads []" in done.stdout, done.stdout
    for bad in ("QThread: Destroyed", "Abort", "abort", "Fatal Python error", "Traceback"):
        assert bad not in done.stderr, done.stderr
