"""Designer fixtures: a template campaign in the database, a canvas, a scripted chooser."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QPoint
from pytestqt.qtbot import QtBot

from engine import campaign_files, gallery
from engine.clock import FixedClock
from engine.db import Database


def import_template(db: Database, key: str, now: Any, name: str | None = None) -> int:
    with db.session() as s:
        return campaign_files.import_document(
            s, gallery.load_template(key), trust=True, now=now, name=name
        ).id


def snapshot(db: Database, campaign_id: int) -> str:
    """The campaign as its file text: what "restores the database exactly" compares."""
    with db.read() as s:
        return campaign_files.dumps(campaign_files.export_document(s, campaign_id))


class ScriptedChooser:
    """Answers the canvas's menus and records what they offered."""

    def __init__(self, trigger: str | None = None, new: tuple[str, str] | None = None):
        self.trigger = trigger
        self.new = new
        self.offered: list[list[str]] = []

    def choose_trigger(self, triggers: list[str], at: QPoint) -> str | None:
        self.offered.append(list(triggers))
        return self.trigger if self.trigger in triggers else None

    def choose_new(self, triggers: list[str], at: QPoint) -> tuple[str, str] | None:
        self.offered.append(list(triggers))
        return self.new


@pytest.fixture
def hot(db: Database, clock: FixedClock) -> int:
    """Tag Hot Contacts: email "welcome" with children tag_hot (click), check_email (bounce)."""
    return import_template(db, "tag_hot_contacts", clock.now())


@pytest.fixture
def canvas(qtbot: QtBot, db: Database, hot: int, clock: FixedClock) -> Iterator[Any]:
    from designer.canvas.widget import CanvasWidget

    widget = CanvasWidget(db, hot, clock)
    qtbot.addWidget(widget)
    widget.resize(1400, 900)
    widget.show()
    qtbot.waitExposed(widget)
    widget.view.reset_zoom()
    widget.view.centerOn(0, 100)
    widget.scene.chooser = ScriptedChooser()
    yield widget
    widget.scene.clearSelection()
