"""The window shares its SQLite file with other processes and loses none of its writes.

POSIX locks belong to the process: if anything in the app opens and closes the database
file or its -wal/-shm (a file dialog guessing icons, an import of the wrong file), the
next ``journeys`` command thinks it is the last user, deletes the WAL, and every later
edit of the window is lost. These tests use real file dialogs on the database's folder
and a real second process, then look for the WAL and for the window's next write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QFileSystemModel, QMessageBox
from pytestqt.qtbot import QtBot

from designer.dialogs.csv_import import CsvImportDialog
from designer.main_window import MainWindow
from engine.api import campaign_ops
from engine.clock import FixedClock
from engine.db import Database

REPO = Path(__file__).resolve().parents[2]
LOOK_MS = 400  # how long the "user" looks at the listed folder before cancelling
GIVE_UP_MS = 20_000


class CancelOnceListed:
    """Plays a user who opens a file dialog, goes to ``folder``, looks, and cancels.

    Waits for the app's modal QFileDialog, sends it to ``folder`` (it opens elsewhere, so
    the folder is listed afresh), waits for its model to finish listing the folder (the
    database and its -wal/-shm are in it; icons and types are fetched for every entry),
    lets it run a moment more, then cancels.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.loaded: list[str] = []
        self.dialogs = 0
        self.gave_up = False
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._poll)
        self.waited = 0
        self.current: QFileDialog | None = None

    def start(self) -> None:
        self.waited = 0
        self.current = None
        self.timer.start()

    def _poll(self) -> None:
        self.waited += self.timer.interval()
        modal = QApplication.activeModalWidget()
        if self.waited > GIVE_UP_MS:  # never leave the test hanging in a modal dialog
            self.gave_up = True
            self.timer.stop()
            if modal is not None:
                modal.close()
            return
        if not isinstance(modal, QFileDialog) or modal is self.current:
            return
        self.current = modal
        self.dialogs += 1
        model = modal.findChild(QFileSystemModel)
        assert model is not None, "the dialog is not Qt's own (a native one would read files)"
        assert Path(modal.directory().absolutePath()) != self.folder
        model.directoryLoaded.connect(self._on_loaded)
        modal.setDirectory(str(self.folder))

    def _on_loaded(self, path: str) -> None:
        if Path(path) == self.folder and self.current is not None:
            self.loaded.append(path)
            QTimer.singleShot(LOOK_MS, self.current.reject)
            self.timer.stop()


def journeys(url: str, *args: str) -> Any:
    """Run a real ``journeys`` command on the same database; its JSON output."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--db", url, *args, "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_writes_still_shared(
    window: MainWindow, db_file: Path, url: str, clock: FixedClock
) -> None:
    """Another process comes and goes; the WAL stays and the window's next write shows."""
    wal = db_file.with_name(db_file.name + "-wal")
    assert wal.exists()
    names = {c["name"] for c in journeys(url, "list")}
    assert "Welcome Flow" in names
    assert wal.exists(), "the other process deleted the WAL the window still writes to"
    campaign_ops.rename(window.db, 1, "Renamed after browsing", clock.now())
    seen = {c["id"]: c["name"] for c in journeys(url, "list")}
    assert seen[1] == "Renamed after browsing", "the window's write was lost to others"


def open_via_menu(name: str) -> Callable[[MainWindow, QtBot], None]:
    def run(window: MainWindow, _qtbot: QtBot) -> None:
        window.actions_by_name[name].trigger()

    return run


def browse_for_csv(window: MainWindow, qtbot: QtBot) -> None:
    dialog = CsvImportDialog(window.db, window.clock, window)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    assert dialog.path is None  # cancelled: nothing chosen
    dialog.close()


@pytest.mark.parametrize(
    "open_dialog",
    [
        open_via_menu("import"),
        open_via_menu("export"),
        open_via_menu("export_png"),
        browse_for_csv,
    ],
    ids=["import", "export", "export-diagram", "csv-browse"],
)
def test_a_file_dialog_on_the_database_folder_loses_no_write(
    window: MainWindow,
    qtbot: QtBot,
    sqlite_url: str,
    tmp_path: Path,
    clock: FixedClock,
    open_dialog: Callable[[MainWindow, QtBot], None],
) -> None:
    db_file = tmp_path / "journeys.db"
    window.campaigns.select(1)
    user = CancelOnceListed(tmp_path)
    user.start()
    open_dialog(window, qtbot)
    assert not user.gave_up and user.dialogs == 1 and user.loaded == [str(tmp_path)]
    assert_writes_still_shared(window, db_file, sqlite_url, clock)
    assert list(tmp_path.glob("*.json")) == [] and list(tmp_path.glob("*.png")) == []


def drop(window: MainWindow, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def test_the_database_files_are_refused_unread_as_imports_and_export_targets(
    window: MainWindow,
    qtbot: QtBot,
    database: Database,
    sqlite_url: str,
    tmp_path: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warnings: list[str] = []

    def warn(_parent: Any, _title: str, text: str, *a: Any, **k: Any) -> Any:
        warnings.append(text)
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warn))
    db_file = tmp_path / "journeys.db"
    (tmp_path / "link.json").symlink_to(db_file)  # another name: still the database
    os.link(db_file, tmp_path / "hard.json")
    own = [db_file.name, "journeys.db-wal", "journeys.db-shm", "link.json", "hard.json"]
    for name in own:
        assert window.import_path(tmp_path / name) is None
    drop(window, tmp_path / "link.json")  # drag and drop goes the same way
    assert len(warnings) == len(own) + 1
    assert all("part of the database Journeys is working on" in w for w in warnings)
    assert "journeys.db-wal cannot" not in warnings[1] and "journeys.db-wal is part" in warnings[1]

    csv = CsvImportDialog(database, clock, window)
    qtbot.addWidget(csv)
    csv.load(tmp_path / "journeys.db-shm")
    assert csv.path is None and not csv.import_button.isEnabled()
    assert "journeys.db-shm is part of the database" in csv.result_label.text()

    window.campaigns.select(1)
    for target in ("journeys.db", "journeys.db-journal"):  # nor written over, even if absent
        monkeypatch.setattr(
            "designer.file_dialogs.save_file_name", lambda *a, t=target: str(tmp_path / t)
        )
        window.export_dialog()
        assert "cannot be overwritten by an export" in warnings[-1]
    assert not (tmp_path / "journeys.db-journal").exists()
    # Nothing was opened: the locks held, another process leaves the WAL alone.
    assert_writes_still_shared(window, db_file, sqlite_url, clock)


def test_only_the_helper_creates_file_dialogs() -> None:
    """Every dialog goes through designer.file_dialogs (no native, no sniffing ones)."""
    offenders = [
        str(path.relative_to(REPO))
        for package in ("designer", "app")
        for path in (REPO / package).rglob("*.py")
        if "QFileDialog" in path.read_text(encoding="utf-8")
        and path != REPO / "designer" / "file_dialogs.py"
    ]
    assert offenders == []
