"""First run: the template gallery, the sample audience, CSV import and the Settings dialog."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QTableWidgetItem
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from designer.dialogs.csv_import import CsvImportDialog
from designer.dialogs.gallery import TemplateGallery, choose_template
from designer.dialogs.settings_dialog import SettingsDialog
from engine import campaign_files, secret_store
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Campaign, Contact, Setting
from engine.records import list_records
from tests.memory_keyring import MemoryKeyring, no_keyring, use_keyring
from tests.smtp_sink import Handler, smtp_sink

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
    with qtbot.waitSignal(gallery.sampleImported) as imported:
        gallery.sample_button.click()
    assert imported.args == [30]
    assert not gallery.sample_button.isEnabled()
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
    with qtbot.waitSignal(dialog.imported):
        dialog.import_button.click()
    assert dialog.progress_seen[-1] == (2, 2)
    assert dialog.progress.value() == dialog.progress.maximum()
    assert count(sdb, Contact) == 2
    assert "2 contact record(s) imported" in dialog.result_label.text()


def test_csv_dialog_flags_unknown_column_and_lists_errors_importing_nothing(
    qtbot: QtBot, sdb: Database, clock: FixedClock, tmp_path: Path
) -> None:
    dialog = CsvImportDialog(sdb, clock)
    qtbot.addWidget(dialog)
    dialog.resize(820, 620)
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
    assert dialog.import_records() is None
    errors = [dialog.errors.item(i).text() for i in range(dialog.errors.count())]
    assert any(e.startswith("row 1, column shoe_size: unknown field") for e in errors)
    assert count(sdb, Contact) == 0
    dialog.show()
    shoot(dialog, "csv_import.png")

    dialog.load(
        write_csv(tmp_path, "name,email\nAnn Lee,ann@example.com\nBob Ray,not-an-address\n")
    )
    assert dialog.import_records() is None
    errors = [dialog.errors.item(i).text() for i in range(dialog.errors.count())]
    assert errors and errors[0].startswith("row 3, column email:")
    assert dialog.errors.isVisibleTo(dialog)
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


def test_send_test_email_reports_success_and_missing_recipient(
    qtbot: QtBot, sdb: Database, clock: FixedClock, keyring_memory: MemoryKeyring
) -> None:
    dialog = SettingsDialog(sdb, clock)
    qtbot.addWidget(dialog)
    assert not dialog.send_test_email()
    assert "no test recipient" in dialog.send_result.text()
    dialog.edits["test.recipient_email"].setText("me@example.com")
    assert dialog.send_test_email()
    sent = dialog.send_result.text()
    dialog.tabs.setCurrentIndex(4)
    dialog.show()
    shoot(dialog, "settings_send_test.png")
    assert sent == "Sent to me@example.com through the outbox (no mail server set)."


def test_send_test_email_goes_through_a_real_smtp_server(
    qtbot: QtBot, sdb: Database, clock: FixedClock, keyring_memory: MemoryKeyring
) -> None:
    refused = {"nobody@example.com": "550 5.1.1 <nobody@example.com>: no such user"}
    with smtp_sink(Handler(refuse=refused)) as (sink, port):
        dialog = SettingsDialog(sdb, clock)
        qtbot.addWidget(dialog)
        dialog.edits["smtp.url"].setText(f"smtp://127.0.0.1:{port}?tls=none")
        dialog.edits["test.recipient_email"].setText("me@example.com")
        ok = dialog.send_test_email()
        assert dialog.send_result.text() == "Sent to me@example.com through smtp."
        assert ok
        (received,) = sink.received
        assert received.rcpt == ["me@example.com"]
        assert received.message["Subject"] == "Journeys test email"

        dialog.edits["test.recipient_email"].setText("nobody@example.com")
        assert not dialog.send_test_email()
        assert dialog.send_result.text().startswith("rejected: ")
        assert "no such user" in dialog.send_result.text()


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
