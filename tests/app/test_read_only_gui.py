"""The designer in read-only mode (issue 24): every editing action is hidden and
disabled, the canvas cannot be edited, nothing reaches the database, and the window
still follows what another process writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QGraphicsItem, QMessageBox
from pytestqt.qtbot import QtBot

from designer.main_window import (
    APPLICATION,
    EDITING_ACTIONS,
    ORGANIZATION,
    MainWindow,
    describe_location,
    remembered_read_only,
)
from engine.api import figures
from engine.clock import FixedClock
from engine.db import Database
from tests.engine.world import World

from .conftest import add_template
from .test_live_figures import journeys


@pytest.fixture
def looking(
    qtbot: QtBot, sqlite_url: str, clock: FixedClock, tmp_path: Path
) -> Iterator[tuple[MainWindow, int, Path]]:
    writer = Database(sqlite_url)
    cid = add_template(writer, "tag_hot_contacts", clock.now())
    World(writer, clock).people("Ann", "Bob")
    World(writer, clock).start(cid)
    writer.dispose()
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    ro = Database(sqlite_url, read_only=True)
    window = MainWindow(ro, clock=clock)
    qtbot.addWidget(window)
    window.show()
    window.campaigns.select(cid)
    yield window, cid, path
    window.shutdown()
    ro.dispose()


def test_every_editing_action_is_hidden_and_nothing_is_written(looking, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window, _cid, path = looking
    before = path.read_bytes()
    assert window.windowTitle() == "Journeys (read-only)"
    assert describe_location(window.db).endswith("(read-only)")
    for name in EDITING_ACTIONS:
        action = window.actions_by_name[name]
        assert not action.isVisible() and not action.isEnabled(), name
    menus = [a.text() for m in window.menuBar().actions() for a in m.menu().actions()]
    for name in ("start", "rename", "delete_campaign", "new"):
        assert window.actions_by_name[name].text() not in [
            a.text()
            for m in window.menuBar().actions()
            for a in m.menu().actions()
            if a.isVisible()
        ], name
    assert "Dash&board" in menus  # looking is still offered
    assert window.actions_by_name["dashboard"].isEnabled()
    assert not window.docks["test"].isVisible() and not window.docks["history"].isVisible()
    assert not window.inspector_dock.widget().isEnabled()
    assert not window.traces.retry_button.isVisible()
    canvas = window.canvas
    assert canvas is not None and canvas.read_only
    assert not canvas.activity_palette.isVisible() and canvas.scene.interactions is None
    for item in canvas.scene.item_for_key.values():
        assert not item.flags() & QGraphicsItem.GraphicsItemFlag.ItemIsMovable
    # A shortcut or a hidden command run anyway is refused by the engine, said plainly.
    warned: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda _p, _t, text: warned.append(text))
    )
    window.new_campaign()
    assert warned and "open read-only" in warned[-1]
    assert window.campaigns.table_rows()[0][0] == "Tag Hot Contacts"
    assert len(window.campaigns.table_rows()) == 1
    window.refresh()
    assert path.read_bytes() == before  # not a byte written


def test_the_read_only_window_follows_another_process(looking, qtbot) -> None:  # type: ignore[no-untyped-def]
    window, cid, path = looking
    canvas = window.canvas
    assert canvas is not None
    shown = lambda: figures.campaign_figures(window.db, cid).participants.running  # noqa: E731
    before = shown()
    writer = Database(f"sqlite:///{path}")
    World(writer, window.clock).people("Cid")
    journeys(writer, "--now", window.clock.now().isoformat(), "run")
    writer.dispose()
    assert shown() == before + 1  # Cid joined, written by the other process
    # The window's own watcher notices: the list and the canvas's cards follow.
    qtbot.waitUntil(lambda: window.campaigns.table_rows()[0][2] == f"{before + 1}", timeout=10_000)


def test_the_apps_read_only_setting(qtbot: QtBot, database: Database, clock: FixedClock) -> None:
    window = MainWindow(database, clock=clock)
    qtbot.addWidget(window)
    assert not remembered_read_only()
    action = window.actions_by_name["read_only"]
    assert action.isVisible() and not action.isChecked()
    action.trigger()
    assert remembered_read_only()
    assert QSettings(ORGANIZATION, APPLICATION).value("main/read_only") in (True, "true")
    assert "read-only from the next start" in window.statusBar().currentMessage()
    action.trigger()
    assert not remembered_read_only()
    window.shutdown()
