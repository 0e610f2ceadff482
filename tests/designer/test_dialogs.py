"""First run: the template gallery, the sample audience, CSV import and the Settings dialog."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QTableWidgetItem
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from designer.background import BackgroundTask, running_tasks
from designer.dialogs.csv_import import CsvImportDialog
from designer.dialogs.gallery import TemplateGallery, choose_template
from designer.dialogs.settings_dialog import SEND_LABELS, TABS, SettingsDialog
from engine import campaign_files, secret_store
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Campaign, Contact, Setting
from engine.records import list_records
from engine.send_test import TEST_SMS_TEXT
from tests.engine.sms_servers import JSON_TOKEN, FakeJsonGateway
from tests.memory_keyring import MemoryKeyring, no_keyring, use_keyring
from tests.smtp_sink import Handler, free_port, smtp_sink

SHOTS = os.environ.get("JOURNEYS_SCREENSHOTS")


def shoot(widget: object, name: str) -> None:
    """Save an offscreen screenshot when JOURNEYS_SCREENSHOTS names a folder."""
    if SHOTS:
        QApplication.processEvents()
        widget.grab().save(str(Path(SHOTS) / name))  # type: ignore[attr-defined]


@pytest.fixture
def sdb(sqlite_url: str) -> Iterator[Database]:
    """The dialogs only talk to the engine's API: SQLite is enough here."""
    database = Database(sqlite_url)
    yield database
    database.dispose()


def count(db: Database, model: type) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_gallery_shows_six_cards_with_thumbnails_and_creates_a_campaign(
    qtbot: QtBot, sdb: Database, clock: FixedClock
) -> None:
    gallery = TemplateGallery(sdb, clock)
    qtbot.addWidget(gallery)
    gallery.resize(1040, 1000)
    gallery.show()
    assert len(gallery.cards) == 6
    for card in gallery.cards:
        pixmap = card.thumbnail.pixmap()
        assert not pixmap.isNull() and pixmap.width() > 100
    shoot(gallery, "gallery.png")
    welcome = next(c for c in gallery.cards if c.key == "welcome_flow")
    with qtbot.waitSignal(gallery.campaignCreated) as created:
        welcome.button.click()
    campaign_id = created.args[0]
    with sdb.read() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        assert (campaign.name, campaign.state) == ("Welcome Flow", "draft")
        exported = campaign_files.export_document(s, campaign_id)
    assert len(exported["activities"]) == 2


def test_sample_audience_imports_thirty_contacts(
    qtbot: QtBot, sdb: Database, clock: FixedClock
) -> None:
    gallery = TemplateGallery(sdb, clock)
    qtbot.addWidget(gallery)
    assert "No contacts yet?" in gallery.intro.text()
    assert gallery.sample_button.toolTip() == "Imports contacts.csv: 30 contacts"
    with qtbot.waitSignal(gallery.sampleImported) as imported:
        gallery.sample_button.click()
    assert imported.args == [30]
    assert not gallery.sample_button.isEnabled()
    assert "No contacts yet?" not in gallery.intro.text()
    assert "30 contacts in this database." in gallery.intro.text()

    # The gallery opened again (a later run) knows: the sample goes in once.
    again = TemplateGallery(sdb, clock)
    qtbot.addWidget(again)
    assert not again.sample_button.isEnabled()
    assert again.sample_button.toolTip() == "The sample audience is already imported."
    assert again.import_sample_audience() == 0
    assert again.status.text() == "The sample audience is already imported."
    with sdb.read() as s:
        rows = list_records(s, "contact")
    assert len(rows) == 30
    assert all(r["email"] and r["phone"].startswith("+") for r in rows)
    assert sum("VIP" in r["tags"] for r in rows) >= 5


def header_item(dialog: CsvImportDialog, column: int) -> QTableWidgetItem:
    item = dialog.table.horizontalHeaderItem(column)
    assert item is not None
    return item


def stored(db: Database, key: str) -> object:
    with db.read() as s:
        row = s.get(Setting, key)
        return None if row is None else row.value


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(text, encoding="utf-8")
    return path


class Ticker(QObject):
    """A timer on the GUI thread: the largest gap between ticks says how long it froze."""

    def __init__(self, interval_ms: int = 20) -> None:
        super().__init__()
        self.times: list[float] = []
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self.started = time.perf_counter()

    def tick(self) -> None:
        self.times.append(time.perf_counter())

    def stop(self) -> tuple[float, float]:
        """``(elapsed, largest gap)`` in seconds."""
        self.timer.stop()
        marks = [self.started, *self.times, time.perf_counter()]
        return marks[-1] - marks[0], max(b - a for a, b in pairwise(marks))


@pytest.fixture(autouse=True)
def no_thread_left(qtbot: QtBot) -> Iterator[None]:
    """No test leaves a worker thread running (a closed dialog's work must end)."""
    yield
    qtbot.waitUntil(lambda: not running_tasks(), timeout=15_000)


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 contacts: a few seconds of checking and writing, long enough to interact."""
    path = tmp_path_factory.mktemp("csv") / "big.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("name,email,phone,tags\n")
        for i in range(BIG_ROWS):
            f.write(f"Person {i},p{i}@example.com,+3247{i:07d},VIP;News\n")
    return path


BIG_ROWS = 20_000


def finish_import(qtbot: QtBot, dialog: CsvImportDialog) -> BackgroundTask:
    """Click Import and wait until the worker thread has ended and its outcome shown."""
    with qtbot.waitSignal(dialog.import_button.clicked):
        dialog.import_button.click()
    task = dialog.task
    assert task is not None
    qtbot.waitUntil(lambda: task.done, timeout=60_000)
    assert not task.is_running()
    return task


def errors_of(dialog: CsvImportDialog) -> list[str]:
    return [dialog.errors.item(i).text() for i in range(dialog.errors.count())]


def test_csv_dialog_previews_and_imports_with_progress(
    qtbot: QtBot, sdb: Database, clock: FixedClock, tmp_path: Path
) -> None:
    dialog = CsvImportDialog(sdb, clock)
    qtbot.addWidget(dialog)
    dialog.load(
        write_csv(
            tmp_path,
            "name,email,phone,tags\n"
            "Ann Lee,ann@example.com,+32470123456,VIP\n"
            "Bob Ray,bob@example.com,,Newsletter\n",
        )
    )
    assert dialog.table.rowCount() == 2 and dialog.table.columnCount() == 4
    assert header_item(dialog, 1).text() == "email\n→ Email"
    assert dialog.unknown_columns == []
    with qtbot.waitSignal(dialog.imported) as imported:
        dialog.import_button.click()
    assert imported.args == ["contact", 2]
    # Reports are coalesced (a quick import may show only its last one), in phase order.
    phases = [p[0] for p in dialog.progress_seen]
    assert phases == sorted(phases) and set(phases) <= {"checking", "importing"}
    assert dialog.progress_seen[-1] == ("importing", 2, 2)
    assert dialog.progress.value() == dialog.progress.maximum()
    assert count(sdb, Contact) == 2
    assert "2 contact record(s) imported" in dialog.result_label.text()
    assert dialog.import_button.isEnabled() and not dialog.cancel_button.isVisible()


def test_return_in_the_csv_file_field_loads_the_file_and_presses_no_button(
    qtbot: QtBot, sdb: Database, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    browsed: list[str] = []
    monkeypatch.setattr(
        "designer.file_dialogs.open_file_name", lambda *a, **k: browsed.append("asked") or ""
    )
    dialog = CsvImportDialog(sdb, clock)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    path = write_csv(tmp_path, "name,email\nAnn Lee,ann@example.com\n")
    dialog.file_edit.setFocus()
    dialog.file_edit.setText(str(path))
    qtbot.keyClick(dialog.file_edit, Qt.Key.Key_Return)
    assert browsed == []
    assert dialog.isVisible()
    assert dialog.table.rowCount() == 1 and dialog.import_button.isEnabled()
    assert count(sdb, Contact) == 0  # Return loads the preview; importing is a click


def test_csv_dialog_flags_unknown_column_and_lists_errors_importing_nothing(
    qtbot: QtBot, sdb: Database, clock: FixedClock, tmp_path: Path
) -> None:
    dialog = CsvImportDialog(sdb, clock)
    qtbot.addWidget(dialog)
    dialog.resize(820, 620)
    dialog.show()
    dialog.load(
        write_csv(
            tmp_path,
            "name,email,shoe_size\nAnn Lee,ann@example.com,38\nBob Ray,not-an-address,44\n",
        )
    )
    assert dialog.unknown_columns == ["shoe_size"]
    assert "unknown field 'shoe_size'" in dialog.mapping_label.text()
    header = header_item(dialog, 2)
    assert "not imported" in header.text() and "unknown field" in header.toolTip()
    finish_import(qtbot, dialog)
    errors = errors_of(dialog)
    assert any(e.startswith("row 1, column shoe_size: unknown field") for e in errors)
    assert "people.csv: nothing imported" in dialog.result_label.text()
    assert count(sdb, Contact) == 0
    shoot(dialog, "csv_import.png")

    dialog.load(
        write_csv(tmp_path, "name,email\nAnn Lee,ann@example.com\nBob Ray,not-an-address\n")
    )
    finish_import(qtbot, dialog)
    errors = errors_of(dialog)
    assert errors and errors[0].startswith("row 3, column email:")
    assert dialog.errors.isVisibleTo(dialog)
    assert count(sdb, Contact) == 0


def test_csv_dialog_explains_bad_files(
    qtbot: QtBot, sdb: Database, clock: FixedClock, tmp_path: Path
) -> None:
    dialog = CsvImportDialog(sdb, clock)
    qtbot.addWidget(dialog)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("name,email\nRené Roy,rene@example.com\n".encode("latin-1"))
    dialog.load(latin1)
    finish_import(qtbot, dialog)
    (error,) = errors_of(dialog)
    assert error.startswith("row 2, column name: contains bytes that are not UTF-8 (0xE9)")
    assert "CSV UTF-8" in error

    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    dialog.load(empty)
    assert dialog.mapping_label.text() == "empty.csv is empty: its first row must name the fields."
    assert not dialog.import_button.isEnabled()

    dialog.load(tmp_path / "missing.csv")
    assert dialog.result_label.text().startswith("Cannot read missing.csv:")
    assert not dialog.import_button.isEnabled()
    assert count(sdb, Contact) == 0


def test_csv_import_keeps_the_window_responsive_with_real_progress(
    qtbot: QtBot, sdb: Database, clock: FixedClock, big_csv: Path
) -> None:
    dialog = CsvImportDialog(sdb, clock)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.load(big_csv)
    ticker = Ticker()
    ticks_at: list[tuple[str, int]] = []  # (phase, ticks so far) at each progress report
    with qtbot.waitSignal(dialog.imported, timeout=120_000) as imported:
        dialog.import_button.click()
        assert dialog.task is not None
        dialog.task.progressed.connect(lambda v: ticks_at.append((v[0], len(ticker.times))))
        # Mid-import: the file and model are locked, Cancel is offered, the bar moves.
        qtbot.waitUntil(lambda: len(dialog.progress_seen) >= 3, timeout=60_000)
        assert dialog.cancel_button.isVisible() and dialog.cancel_button.isEnabled()
        assert not dialog.import_button.isEnabled() and not dialog.model_box.isEnabled()
        assert dialog.progress.format().startswith("Step 1 of 2 — checking rows:")
        dialog.table.scrollToBottom()  # the preview still scrolls
        shoot(dialog, "csv_import_running.png")
    ticker.stop()
    assert imported.args == ["contact", BIG_ROWS]
    # The GUI thread's timer kept ticking between the reports of each phase: work on the
    # GUI thread (the check once ran there) delivers its reports with no tick between.
    for phase in ("checking", "importing"):
        ticks = [n for p, n in ticks_at if p == phase]
        assert len(ticks) >= 2 and ticks[-1] > ticks[0], (phase, ticks_at)
    phases = [phase for phase, _, _ in dialog.progress_seen]
    checked = [done for phase, done, _ in dialog.progress_seen if phase == "checking"]
    written = [done for phase, done, _ in dialog.progress_seen if phase == "importing"]
    assert phases.index("importing") == len(checked)  # checking first, then writing
    assert len(checked) >= 3 and checked == sorted(checked)
    assert written[-1] == BIG_ROWS and dialog.progress_seen[-1] == ("importing", BIG_ROWS, BIG_ROWS)
    assert count(sdb, Contact) == BIG_ROWS
    assert dialog.result_label.text() == "20,000 contact record(s) imported."
    shoot(dialog, "csv_import_done.png")


class CancelWhen(QObject):
    """Clicks Cancel as soon as the import reports the chosen phase."""

    def __init__(self, dialog: CsvImportDialog, phase: str) -> None:
        super().__init__()
        self.dialog = dialog
        self.phase = phase
        self.at: tuple[str, int, int] | None = None
        assert dialog.task is not None
        dialog.task.progressed.connect(self.check)

    def check(self, value: object) -> None:
        phase, done, _ = value  # type: ignore[misc]
        if self.at is None and phase == self.phase and done > 0:
            self.at = value  # type: ignore[assignment]
            self.dialog.cancel_button.click()


@pytest.mark.parametrize("phase", ["checking", "importing"])
def test_cancelling_an_import_leaves_nothing_behind_as_the_dialog_says(
    qtbot: QtBot, db: Database, clock: FixedClock, big_csv: Path, phase: str
) -> None:
    """On SQLite and PostgreSQL: the worker's own session rolls the batches back."""
    dialog = CsvImportDialog(db, clock)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.load(big_csv)
    imported: list[object] = []
    dialog.imported.connect(lambda *args: imported.append(args))
    task = dialog.import_records()
    assert task is not None
    canceller = CancelWhen(dialog, phase)
    with qtbot.waitSignal(task.cancelled, timeout=120_000):
        qtbot.waitUntil(lambda: canceller.at is not None, timeout=60_000)
        assert dialog.cancel_button.text() == "Cancelling…"
        assert not dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not dialog.cancel_button.isVisible())
    text = dialog.result_label.text()
    assert text.startswith("Import cancelled while ")
    assert text.endswith("nothing was imported — an import is all or nothing.")
    if phase == "importing":
        assert "records written, then undone" in text
        shoot(dialog, "csv_import_cancelled.png")
    assert count(db, Contact) == 0 and imported == []
    assert dialog.import_button.isEnabled() and not task.is_running()


def test_an_error_in_the_import_thread_is_shown_in_the_dialog(
    qtbot: QtBot,
    clock: FixedClock,
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOURNEYS_BUSY_TIMEOUT_MS", "300")
    database = Database(sqlite_url)
    try:
        dialog = CsvImportDialog(database, clock)
        qtbot.addWidget(dialog)
        dialog.load(write_csv(tmp_path, "name,email\nAnn Lee,ann@example.com\n"))
        # Another program holds the database's write lock for the whole import.
        other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            finish_import(qtbot, dialog)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert dialog.result_label.text() == (
            "Import failed: database error: database is locked. Nothing was imported."
        )
        assert not dialog.progress.isVisible() and dialog.import_button.isEnabled()
        assert count(database, Contact) == 0
    finally:
        database.dispose()


def test_closing_the_csv_dialog_mid_import_cancels_it_and_leaves_no_thread(
    qtbot: QtBot, sdb: Database, clock: FixedClock, big_csv: Path
) -> None:
    dialog = CsvImportDialog(sdb, clock)
    dialog.show()
    dialog.load(big_csv)
    task = dialog.import_records()
    assert task is not None
    with qtbot.waitSignal(task.progressed, timeout=60_000):
        pass  # the import has begun
    dialog.reject()  # within the grace period the import stops at its next check
    assert not dialog.isVisible()
    assert not task.is_running() and running_tasks() == []
    assert task.outcome == "cancelled"  # stopped by the cancel, not run to its end
    dialog.deleteLater()
    del dialog
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    assert count(sdb, Contact) == 0


def test_a_csv_dialog_destroyed_mid_import_cancels_it(
    qtbot: QtBot, sdb: Database, clock: FixedClock, big_csv: Path
) -> None:
    dialog = CsvImportDialog(sdb, clock)
    dialog.load(big_csv)
    task = dialog.import_records()
    assert task is not None
    with qtbot.waitSignal(task.progressed, timeout=60_000):
        pass  # the import has begun
    dialog.deleteLater()  # no close: e.g. its parent window went away
    del dialog
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    assert task.cancel_requested
    qtbot.waitUntil(lambda: not running_tasks(), timeout=15_000)
    assert count(sdb, Contact) == 0


@pytest.fixture
def keyring_memory() -> Iterator[MemoryKeyring]:
    with use_keyring(MemoryKeyring()) as backend:
        yield backend  # type: ignore[misc]


def test_settings_dialog_saves_valid_and_refuses_invalid_values(
    qtbot: QtBot, sdb: Database, clock: FixedClock, keyring_memory: MemoryKeyring
) -> None:
    dialog = SettingsDialog(sdb, clock)
    qtbot.addWidget(dialog)
    dialog.edits["engine.batch_size"].setText("500")
    assert dialog.save()
    assert stored(sdb, "engine.batch_size") == 500

    dialog.edits["engine.batch_size"].setText("250")
    dialog.edits["tracking.port"].setText("99999")
    dialog.show()
    assert not dialog.save()
    error = dialog.error_labels["tracking.port"]
    assert error.isVisibleTo(dialog) and error.text().startswith("tracking.port ")
    assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Tracking"
    # Nothing is saved while a value is refused.
    assert stored(sdb, "engine.batch_size") == 500
    assert stored(sdb, "tracking.port") is None
    shoot(dialog, "settings.png")


def test_settings_dialog_keeps_passwords_in_the_keyring_only(
    qtbot: QtBot, sdb: Database, clock: FixedClock, keyring_memory: MemoryKeyring
) -> None:
    dialog = SettingsDialog(sdb, clock)
    qtbot.addWidget(dialog)
    dialog.edits["smtp.url"].setText("smtp://mailer@mail.example.com:587")
    dialog.secrets["smtp.password"].setText("s3cret-pass")
    assert dialog.save()
    assert keyring_memory.store[("journeys", "smtp.password")] == "s3cret-pass"
    assert dialog.secrets["smtp.password"].text() == ""
    with sdb.read() as s:
        values = [str(row.value) for row in s.query(Setting)]
    assert values and not any("s3cret-pass" in v for v in values)


def test_settings_dialog_without_keyring_explains_how_to_get_one(
    qtbot: QtBot, sdb: Database, clock: FixedClock
) -> None:
    with use_keyring(no_keyring()):
        dialog = SettingsDialog(sdb, clock)
        qtbot.addWidget(dialog)
    assert not dialog.secrets["smtp.password"].isEnabled()
    dialog.show()
    shoot(dialog, "settings_no_keyring.png")
    texts = [label.text() for label in dialog.findChildren(type(dialog.status))]
    assert "Not stored: " + secret_store.NO_BACKEND_HELP in texts


def settings_dialog(qtbot: QtBot, db: Database, clock: FixedClock) -> SettingsDialog:
    dialog = SettingsDialog(db, clock)
    qtbot.addWidget(dialog)
    dialog.tabs.setCurrentIndex([t for t, _ in TABS].index("Test"))
    dialog.show()
    return dialog


def send(qtbot: QtBot, dialog: SettingsDialog, kind: str) -> tuple[str, float]:
    """Click a send button; ``(result text, largest GUI freeze)`` once the send ended."""
    button = dialog.send_buttons[kind]
    ticker = Ticker()
    button.click()
    task = dialog.sends.get(kind)
    if task is not None:  # started: the button says so until the server has answered
        assert button.text() == "Sending…" and not button.isEnabled()
        qtbot.waitUntil(lambda: task.done, timeout=30_000)
        assert not task.is_running()
    _, gap = ticker.stop()
    assert button.isEnabled() and button.text() == SEND_LABELS[kind]
    return dialog.send_results[kind].text(), gap


@contextmanager
def silent_server() -> Iterator[int]:
    """A port whose server accepts connections and never says a word."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # the kernel completes the handshakes; nobody ever answers
        yield int(server.getsockname()[1])


def test_send_test_email_reports_success_and_missing_recipient(
    qtbot: QtBot, sdb: Database, clock: FixedClock, keyring_memory: MemoryKeyring
) -> None:
    dialog = settings_dialog(qtbot, sdb, clock)
    assert dialog.send_test_email() is None
    assert dialog.send_result.text() == "No test recipient: fill in “Test email to” first."
    dialog.edits["test.recipient_email"].setText("me@example.com")
    text, _ = send(qtbot, dialog, "email")
    shoot(dialog, "settings_send_test.png")
    assert text == "Sent to me@example.com through the outbox (no mail server set)."


def test_send_test_email_goes_through_a_real_smtp_server(
    qtbot: QtBot, sdb: Database, clock: FixedClock, keyring_memory: MemoryKeyring
) -> None:
    refused = {"nobody@example.com": "550 5.1.1 <nobody@example.com>: no such user"}
    with smtp_sink(Handler(refuse=refused)) as (sink, port):
        dialog = settings_dialog(qtbot, sdb, clock)
        dialog.edits["smtp.url"].setText(f"smtp://127.0.0.1:{port}?tls=none")
        dialog.edits["test.recipient_email"].setText("me@example.com")
        text, _ = send(qtbot, dialog, "email")
        assert text == "Sent to me@example.com through smtp."
        (received,) = sink.received
        assert received.rcpt == ["me@example.com"]
        assert received.message["Subject"] == "Journeys test email"

        dialog.edits["test.recipient_email"].setText("nobody@example.com")
        text, _ = send(qtbot, dialog, "email")
        assert text.startswith("Not sent — the recipient was refused: ")
        assert "no such user" in text


def test_send_test_email_to_a_dead_or_silent_server_keeps_the_dialog_live(
    qtbot: QtBot, sdb: Database, clock: FixedClock, keyring_memory: MemoryKeyring
) -> None:
    dialog = settings_dialog(qtbot, sdb, clock)
    dialog.edits["test.recipient_email"].setText("me@example.com")
    port = free_port()  # nothing listens there
    dialog.edits["smtp.url"].setText(f"smtp://127.0.0.1:{port}?tls=none")
    text, _ = send(qtbot, dialog, "email")
    assert text.startswith("Not sent — the server could not be reached or is busy: ")
    assert text.endswith(f"127.0.0.1:{port} (none): connection refused")

    dialog.edits["smtp.timeout_seconds"].setText("1")
    with silent_server() as port:
        dialog.edits["smtp.url"].setText(f"smtp://127.0.0.1:{port}?tls=none")
        ticker = Ticker()
        dialog.send_button.click()
        assert dialog.send_result.text() == "Waiting for the server's answer…"
        shoot(dialog, "settings_sending.png")
        # The dialog answers meanwhile: tabs switch, fields edit, Save saves.
        dialog.tabs.setCurrentIndex(0)
        dialog.edits["smtp.rate_per_second"].setText("5")
        assert dialog.save()
        dialog.tabs.setCurrentIndex([t for t, _ in TABS].index("Test"))
        qtbot.waitUntil(lambda: "email" not in dialog.sends, timeout=30_000)
        elapsed, gap = ticker.stop()
    assert elapsed >= 0.9  # the server's full timeout...
    assert gap < 0.5, gap  # ...spent with a live window
    text = dialog.send_result.text()
    assert text.startswith("Not sent — the server could not be reached or is busy: ")
    assert f"127.0.0.1:{port}" in text and text.endswith("timed out")
    assert stored(sdb, "smtp.rate_per_second") == 5
    shoot(dialog, "settings_send_failed.png")


def test_closing_settings_mid_send_returns_at_once_and_leaves_no_thread(
    qtbot: QtBot, sdb: Database, clock: FixedClock, keyring_memory: MemoryKeyring
) -> None:
    dialog = SettingsDialog(sdb, clock)
    dialog.show()
    dialog.edits["test.recipient_email"].setText("me@example.com")
    # Long enough that a slow machine cannot reach the timeout before the dialog closes
    # (at 1 s the send sometimes ended first, about one run in eight).
    dialog.edits["smtp.timeout_seconds"].setText("3")
    with silent_server() as port:
        dialog.edits["smtp.url"].setText(f"smtp://127.0.0.1:{port}?tls=none")
        task = dialog.send_test_email()
        assert task is not None and task.is_running()
        dialog.reject()
        assert task.is_running()  # closed without waiting for the silent server
        assert not dialog.isVisible()
        dialog.deleteLater()
        del dialog
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        assert running_tasks() == [task]  # kept alive until the server's timeout ends
        qtbot.waitUntil(lambda: not running_tasks(), timeout=15_000)
    assert not task.is_running()


def test_send_test_sms_through_a_gateway_the_outbox_and_dead_or_silent_ones(
    qtbot: QtBot, sdb: Database, clock: FixedClock, keyring_memory: MemoryKeyring
) -> None:
    dialog = settings_dialog(qtbot, sdb, clock)
    assert dialog.send_test_sms() is None
    assert dialog.send_results["sms"].text() == "No test recipient: fill in “Test SMS to” first."
    dialog.edits["test.recipient_phone"].setText("+32470123456")
    text, _ = send(qtbot, dialog, "sms")
    assert text == "Sent to +32470123456 through the outbox (no SMS gateway set)."

    gateway = FakeJsonGateway()
    try:
        dialog.edits["sms.url"].setText(gateway.url)
        dialog.secrets["sms.token"].setText(JSON_TOKEN)
        text, _ = send(qtbot, dialog, "sms")
        assert text == "Sent to +32470123456 through sms-gateway."
        (request,) = gateway.requests
        assert request["to"] == "+32470123456" and request["body"] == TEST_SMS_TEXT
    finally:
        gateway.close()

    dialog.edits["sms.url"].setText(f"http://127.0.0.1:{free_port()}/v1/sms")  # closed
    text, _ = send(qtbot, dialog, "sms")
    assert text.startswith(
        "Not sent — the server could not be reached or is busy: cannot reach the SMS gateway"
    )

    dialog.sms_timeout = 1.0
    with silent_server() as port:
        dialog.edits["sms.url"].setText(f"http://127.0.0.1:{port}/v1/sms")
        text, gap = send(qtbot, dialog, "sms")
    assert gap < 0.5, gap
    assert text.startswith("Failed: Delivery unknown: the SMS gateway at 127.0.0.1:")
    assert "gave no answer" in text
    shoot(dialog, "settings_sms_failed.png")


def test_choose_template_returns_the_new_campaign_or_none(
    qtbot: QtBot, sdb: Database, clock: FixedClock
) -> None:
    def pick(cancel: bool) -> None:
        dialog = QApplication.activeModalWidget()
        assert dialog is not None
        if cancel:
            dialog.close()
            return
        gallery = dialog.findChild(TemplateGallery)
        assert gallery is not None
        gallery.cards[0].button.click()

    QTimer.singleShot(0, lambda: pick(False))
    campaign_id = choose_template(None, sdb, clock)
    assert campaign_id is not None
    with sdb.read() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None and campaign.name == "Tag Hot Contacts"
    QTimer.singleShot(0, lambda: pick(True))
    assert choose_template(None, sdb, clock) is None
    assert count(sdb, Campaign) == 1
