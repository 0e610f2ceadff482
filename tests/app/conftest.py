"""App fixtures: window settings (QSettings) go to a per-test folder, never the user's;
a SQLite database and a main window on two templates (Welcome Flow, Tag Hot Contacts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from designer.main_window import MainWindow
from engine import campaign_files, gallery
from engine.clock import FixedClock
from engine.db import Database


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path) -> None:
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))


@pytest.fixture
def database(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url)
    yield db
    db.dispose()


def add_template(db: Database, key: str, now: Any) -> int:
    with db.session() as s:
        return campaign_files.import_document(s, gallery.load_template(key), trust=True, now=now).id


@pytest.fixture
def window(qtbot: QtBot, database: Database, clock: FixedClock) -> Iterator[MainWindow]:
    add_template(database, "welcome_flow", clock.now())
    add_template(database, "tag_hot_contacts", clock.now())
    w = MainWindow(database, clock=clock)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()
