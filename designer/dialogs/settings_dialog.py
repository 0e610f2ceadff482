"""Settings: email, SMS, inbound mailbox, tracking, test recipient and engine tuning.

Every value goes through ``engine.settings.set_value`` (the same parser as the command
line) and a refused value is shown under its field; nothing is saved while one is refused.
Passwords and tokens go to the OS keyring through ``engine.secret_store``, never to the
database; without a keyring backend the dialog says how to get one instead.
"""

from __future__ import annotations

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
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.errors import UserError
from engine.models import Setting
from engine.send_test import send_settings_test

ERROR_STYLE = "color: #b42318;"
OK_STYLE = "color: #067647;"
HELP_STYLE = "color: palette(placeholder-text);"

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
        self.keyring_ok = secret_store.backend_available()
        with db.read() as s:
            stored = {row.key: row.value for row in s.query(Setting)}
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
        self.resize(720, 560)

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
            error.setStyleSheet(ERROR_STYLE)
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
        if any(k == "test.recipient_email" for k, _ in rows):
            self.send_button = QPushButton("Send test email")
            self.send_button.clicked.connect(self.send_test_email)
            self.send_result = QLabel()
            self.send_result.setWordWrap(True)
            form.addRow(self.send_button, self.send_result)
        return page

    def save(self) -> bool:
        """Validate and store every field; False (nothing saved) when one is refused."""
        for key in self.error_labels:
            self._show_error(key, "")
        failed: dict[str, str] = {}
        try:
            with self.db.session() as s:
                for key, edit in self.edits.items():
                    try:
                        settings.set_value(s, key, edit.text())
                    except UserError as exc:
                        failed[key] = str(exc)
                if failed:
                    raise UserError("refused")  # roll every field back
        except UserError:
            for key, message in failed.items():
                self._show_error(key, message)
            first = next(iter(failed))
            for index, (_, rows) in enumerate(TABS):
                if any(k == first for k, _ in rows):
                    self.tabs.setCurrentIndex(index)
                    break
            self._say(f"Not saved: {len(failed)} value(s) refused.", error=True)
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

    def send_test_email(self) -> bool:
        """Save, then send a test email to the test recipient; the outcome is shown."""
        if not self.save():
            self.send_result.setText("Fix the settings first.")
            self.send_result.setStyleSheet(ERROR_STYLE)
            return False
        try:
            with self.db.session() as s:
                sent = send_settings_test(s, self.clock.now())
        except UserError as exc:
            self.send_result.setText(str(exc))
            self.send_result.setStyleSheet(ERROR_STYLE)
            return False
        ok = sent.status == "sent"
        where = "the outbox (no mail server set)" if sent.channel == "outbox" else sent.channel
        text = f"Sent to {sent.to} through {where}." if ok else f"{sent.status}: {sent.detail}"
        self.send_result.setText(text)
        self.send_result.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)
        return ok

    def _show_error(self, key: str, message: str) -> None:
        self.error_labels[key].setText(message)
        self.error_labels[key].setVisible(bool(message))

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else OK_STYLE)
