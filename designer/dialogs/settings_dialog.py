"""Settings: email, SMS, inbound mailbox, tracking, test recipient and engine tuning.

Every value goes through ``engine.api.settings.save`` (the same parser as the command
line) and a refused value is shown under its field; nothing is saved while one is refused.
Passwords and tokens go to the OS keyring through ``engine.secret_store``, never to the
database; without a keyring backend the dialog says how to get one instead.

"Send test email" and "Send test SMS" talk to the real server in a worker thread
(:mod:`designer.background`): the dialog stays live, the button says "Sending…" until
the server answers or its timeout ends, and closing the dialog meanwhile lets the send
finish unseen instead of waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine import secret_store, settings
from engine.api import settings as api_settings
from engine.api.settings import SettingsRefused
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.errors import UserError
from engine.send_test import TestSend, send_settings_email_test, send_settings_sms_test

from .. import screen_fit
from ..background import BackgroundTask, TaskContext
from ..theme import status_css

HELP_STYLE = "color: palette(placeholder-text);"
SEND_LABELS = {"email": "Send test email", "sms": "Send test SMS"}
RECIPIENT_KEYS = {"email": "test.recipient_email", "sms": "test.recipient_phone"}

# Tab title -> (setting key, label) rows; secrets are marked with a leading "secret:".
TABS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Email",
        [
            ("smtp.url", "Mail server"),
            ("secret:smtp.password", "Password"),
            ("smtp.rate_per_second", "Emails per second"),
            ("smtp.timeout_seconds", "Timeout (seconds)"),
        ],
    ),
    (
        "SMS",
        [
            ("sms.url", "SMS gateway"),
            ("secret:sms.token", "Token"),
            ("sms.default_region", "Default country"),
        ],
    ),
    (
        "Inbound mailbox",
        [
            ("imap.url", "Mailbox"),
            ("imap.address", "Address"),
            ("secret:imap.password", "Password"),
            ("imap.poll_seconds", "Read every (seconds)"),
        ],
    ),
    (
        "Tracking",
        [
            ("tracking.port", "Port"),
            ("tracking.base_url", "Public base URL"),
            ("tracking.bind", "Listen on"),
        ],
    ),
    ("Test", [("test.recipient_email", "Test email to"), ("test.recipient_phone", "Test SMS to")]),
    (
        "Engine",
        [
            ("engine.batch_size", "Batch size"),
            ("engine.poll_seconds", "Poll (seconds)"),
            ("engine.sync_interval_minutes", "Sync (minutes)"),
            ("engine.max_attempts", "Delivery attempts"),
        ],
    ),
]
SECRET_HELP = {
    "smtp.password": "password of the mail server login, kept in the system keyring",
    "sms.token": "bearer token or Twilio auth token, kept in the system keyring",
    "imap.password": "password of the mailbox login, kept in the system keyring",
}


class SettingsDialog(QDialog):
    """One tab per subsystem; Save validates every field and writes them together."""

    def __init__(
        self, db: Database, clock: Clock | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.setWindowTitle("Settings")
        self.edits: dict[str, QLineEdit] = {}
        self.secrets: dict[str, QLineEdit] = {}
        self.error_labels: dict[str, QLabel] = {}
        self.send_buttons: dict[str, QPushButton] = {}
        self.send_results: dict[str, QLabel] = {}
        self.sends: dict[str, BackgroundTask] = {}  # kind -> the send in progress
        # The SMS gateway's timeout (seconds) for the test; None: the channel's own.
        self.sms_timeout: float | None = None
        self.keyring_ok = secret_store.backend_available()
        stored = api_settings.stored(db)
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        for title, rows in TABS:
            self.tabs.addTab(self._tab(rows, stored), title)
        layout.addWidget(self.tabs, 1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        screen_fit.fit(self, 720, 560)

    def _tab(self, rows: list[tuple[str, str]], stored: dict[str, object]) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setVerticalSpacing(6)
        for key, label in rows:
            edit = QLineEdit()
            if key.startswith("secret:"):
                name = key.removeprefix("secret:")
                edit.setEchoMode(QLineEdit.EchoMode.Password)
                edit.setPlaceholderText(
                    "stored in the keyring — type to replace"
                    if secret_store.has_secret(name)
                    else "not set"
                )
                help_text = SECRET_HELP[name]
                if not self.keyring_ok:
                    edit.setEnabled(False)
                    help_text = "Not stored: " + secret_store.NO_BACKEND_HELP
                self.secrets[name] = edit
                key = name
            else:
                spec = settings.SPECS[key]
                value = stored.get(key)
                edit.setText("" if value is None else str(value))
                if spec.default is not None:
                    edit.setPlaceholderText(f"default: {spec.default}")
                help_text = spec.help[:1].upper() + spec.help[1:] + "."
                if spec.env:
                    help_text += f" ${spec.env} overrides it."
                self.edits[key] = edit
            error = QLabel()
            error.setWordWrap(True)
            error.setStyleSheet(status_css(True))
            error.setVisible(False)
            hint = QLabel(help_text)
            hint.setWordWrap(True)
            hint.setStyleSheet(HELP_STYLE)
            column = QVBoxLayout()
            column.setSpacing(2)
            column.setContentsMargins(0, 0, 0, 10)
            for widget in (edit, error, hint):
                column.addWidget(widget)
            form.addRow(label, column)
            self.error_labels[key] = error
            for kind, recipient_key in RECIPIENT_KEYS.items():
                if key == recipient_key:
                    form.addRow(*self._send_row(kind))
        return page

    def _send_row(self, kind: str) -> tuple[QPushButton, QLabel]:
        button = QPushButton("Sending…")
        # As wide as its widest text, so the form does not shift when "Sending…" shows.
        width = button.sizeHint().width()
        for text in SEND_LABELS.values():
            button.setText(text)
            width = max(width, button.sizeHint().width())
        button.setMinimumWidth(width)
        button.setText(SEND_LABELS[kind])
        button.clicked.connect(self.send_test_email if kind == "email" else self.send_test_sms)
        result = QLabel()
        result.setWordWrap(True)
        self.send_buttons[kind] = button
        self.send_results[kind] = result
        return button, result

    @property
    def send_button(self) -> QPushButton:
        return self.send_buttons["email"]

    @property
    def send_result(self) -> QLabel:
        return self.send_results["email"]

    def save(self) -> bool:
        """Validate and store every field; False (nothing saved) when one is refused."""
        for key in self.error_labels:
            self._show_error(key, "")
        try:
            api_settings.save(self.db, {key: edit.text() for key, edit in self.edits.items()})
        except SettingsRefused as refused:
            failed = refused.failed
            for key, message in failed.items():
                self._show_error(key, message)
            first = next(iter(failed))
            for index, (_, rows) in enumerate(TABS):
                if any(k == first for k, _ in rows):
                    self.tabs.setCurrentIndex(index)
                    break
            self._say(f"Not saved: {len(failed)} value(s) refused.", error=True)
            return False
        except UserError as exc:  # a read-only database, say: nothing was stored
            self._say(f"Not saved: {exc}", error=True)
            return False
        for name, edit in self.secrets.items():
            if not edit.text():
                continue
            try:
                secret_store.set_secret(name, edit.text())
            except UserError as exc:
                self._show_error(name, str(exc))
                self._say("Settings saved, but a secret was not stored.", error=True)
                return False
            edit.clear()
            edit.setPlaceholderText("stored in the keyring — type to replace")
        self._say("Settings saved.")
        return True

    # --- send tests (the sending runs in a worker thread) --------------------------------
    def send_test_email(self) -> BackgroundTask | None:
        """Save, then send a test email to the test recipient; the outcome shows when done."""
        return self._send("email", send_settings_email_test)

    def send_test_sms(self) -> BackgroundTask | None:
        """Save, then send a test SMS to the test phone; the outcome shows when done."""
        return self._send("sms", partial(send_settings_sms_test, timeout=self.sms_timeout))

    def _send(self, kind: str, send: Callable[..., TestSend]) -> BackgroundTask | None:
        if kind in self.sends:
            return None
        if not self.save():
            self._send_outcome(kind, "Fix the settings first.", error=True)
            return None
        key = RECIPIENT_KEYS[kind]
        if not self.edits[key].text().strip():
            label = next(text for _, rows in TABS for k, text in rows if k == key)
            self._send_outcome(kind, f"No test recipient: fill in “{label}” first.", error=True)
            return None
        task = BackgroundTask(
            partial(_run_send, send, self.db, self.clock.now()), name=f"test {kind}"
        )
        task.succeeded.connect(self._on_sent_email if kind == "email" else self._on_sent_sms)
        task.failed.connect(self._on_failed_email if kind == "email" else self._on_failed_sms)
        self.sends[kind] = task
        button = self.send_buttons[kind]
        button.setEnabled(False)
        button.setText("Sending…")
        self.send_results[kind].setText("Waiting for the server's answer…")
        self.send_results[kind].setStyleSheet(HELP_STYLE)
        task.start()
        return task

    def _on_sent_email(self, sent: object) -> None:
        self._show_sent("email", sent)

    def _on_sent_sms(self, sent: object) -> None:
        self._show_sent("sms", sent)

    def _on_failed_email(self, message: str, _error: object) -> None:
        self._end_send("email")
        self._send_outcome("email", f"Not sent: {message}", error=True)

    def _on_failed_sms(self, message: str, _error: object) -> None:
        self._end_send("sms")
        self._send_outcome("sms", f"Not sent: {message}", error=True)

    def _show_sent(self, kind: str, sent: Any) -> None:
        assert isinstance(sent, TestSend)
        self._end_send(kind)
        self._send_outcome(kind, describe_send(sent), error=sent.status != "sent")

    def _end_send(self, kind: str) -> None:
        self.sends.pop(kind, None)
        button = self.send_buttons[kind]
        button.setEnabled(True)
        button.setText(SEND_LABELS[kind])

    def _send_outcome(self, kind: str, text: str, *, error: bool = False) -> None:
        label = self.send_results[kind]
        label.setText(text)
        label.setStyleSheet(status_css(error))

    def done(self, result: int) -> None:
        """Close at once: a send in flight finishes on its own (the server decides when)."""
        for kind, task in list(self.sends.items()):
            task.shutdown(0)
            self._end_send(kind)
            self._send_outcome(kind, "")
        super().done(result)

    def _show_error(self, key: str, message: str) -> None:
        self.error_labels[key].setText(message)
        self.error_labels[key].setVisible(bool(message))

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(status_css(error))


# --- what the worker thread runs: its own sessions, plain data back ---------------------
def _run_send(
    send: Callable[[Database, datetime], TestSend], db: Database, now: datetime, ctx: TaskContext
) -> TestSend:
    ctx.check()
    return send(db, now)


def describe_send(sent: TestSend) -> str:
    """One sentence about a test send: where it went, or what the server answered."""
    if sent.status == "sent":
        where = "the outbox (no mail server set)" if sent.channel == "outbox" else sent.channel
        if sent.kind == "sms" and sent.channel == "outbox":
            where = "the outbox (no SMS gateway set)"
        return f"Sent to {sent.to} through {where}."
    if sent.status == "rejected":
        return f"Not sent — the recipient was refused: {sent.detail}"
    if sent.status == "transient":
        return f"Not sent — the server could not be reached or is busy: {sent.detail}"
    return f"Failed: {sent.detail}"
