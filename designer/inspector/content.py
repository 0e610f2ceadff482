"""Content forms for email and SMS nodes (and the send_email / send_sms actions, which
carry the same content): fields, placeholders, live checks and preview."""

from __future__ import annotations

from email.utils import parseaddr
from typing import Any

from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from engine import sms, templating
from engine.validation import is_email

from .feedback import message_label, show_messages
from .preview import EmailPreview, SmsPreview
from .widgets import Debounced, FieldPicker, insert_placeholder


class ContentForm(QWidget):
    """A node's content editor; every edit goes through ``editor.set_content``."""

    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.key = ctx, key
        self.campaign_editor = ctx.editor  # the form belongs to this campaign's editor only
        self.texts: dict[str, Debounced] = {}

    @property
    def node(self) -> Any:
        return self.campaign_editor.document.node(self.key)

    def stale(self) -> bool:
        """True once the panel moved on (another campaign, or the step was deleted): a
        save still pending from typing is then dropped, never sent to the wrong place."""
        editor = self.campaign_editor
        return self.ctx.editor is not editor or self.key not in editor.document

    def set(self, name: str, value: Any, merge: bool = True) -> None:
        """Save one entry; ``merge`` for typing (one undo step), False for a choice."""
        if self.stale():
            return
        if self.node.content.get(name) != value:
            self.ctx._commit(
                lambda: self.ctx.editor.set_content(self.key, name, value, merge=merge)
            )

    def set_content(self, content: dict[str, Any], merge: bool = True) -> None:
        """Several entries at once: one undo step."""
        if self.stale():
            return
        if self.node.content != content:
            self.ctx._commit(
                lambda: self.ctx.editor.set_field(self.key, "content", content, merge=merge)
            )

    def text_field(self, name: str, widget: QLineEdit | QPlainTextEdit, empty: Any = "") -> None:
        self.texts[name] = Debounced(widget, lambda t: self.set(name, t if t else empty))

    def load(self) -> None:
        content = self.node.content
        for name, deb in self.texts.items():
            deb.set_text(str(content.get(name) or ""))
        self.checked()

    def flush(self) -> None:
        for deb in self.texts.values():
            deb.flush()

    def checked(self) -> None:
        """Refresh live feedback (errors, counters, preview)."""


def _address_problem(name: str, text: str) -> str | None:
    if not text.strip() or is_email(parseaddr(text)[1]):
        return None
    label = "From" if name == "from" else "Reply-to"
    return (
        f"{label}: {text.strip()!r} is not an address like 'Name <address@example.com>' (not saved)"
    )


def _picker_row(label: str, picker: FieldPicker) -> QHBoxLayout:
    head = QHBoxLayout()
    head.addWidget(QLabel(label))
    head.addStretch(1)
    head.addWidget(picker)
    return head


class EmailForm(ContentForm):
    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.subject, self.sender, self.reply_to, self.preheader = (QLineEdit() for _ in range(4))
        self.sender.setPlaceholderText("Name <address@example.com>")
        self.reply_to.setPlaceholderText("optional")
        self.preheader.setPlaceholderText("optional: the line shown after the subject")
        form.addRow("Subject", self.subject)
        form.addRow("From", self.sender)
        form.addRow("Reply-to", self.reply_to)
        form.addRow("Preheader", self.preheader)
        self.body = QPlainTextEdit()
        self.body.setMinimumHeight(200)
        picker = FieldPicker(ctx.model)
        picker.picked.connect(lambda path: insert_placeholder(self.body, path))
        form.addRow(_picker_row("HTML body", picker))
        form.addRow(self.body)
        self.error = message_label()
        form.addRow(self.error)
        self.preview_pane = EmailPreview(ctx, key, self.current)
        self.preview = self.preview_pane.browser
        self.record_box = self.preview_pane.records
        form.addRow(self.preview_pane)
        self.text_field("subject", self.subject)
        self.texts["from"] = Debounced(self.sender, lambda t: self._address("from", t, ""))
        self.texts["reply_to"] = Debounced(
            self.reply_to, lambda t: self._address("reply_to", t, None)
        )
        self.text_field("preheader", self.preheader)
        self.text_field("body_html", self.body)
        for edit in (self.subject, self.sender, self.reply_to, self.preheader):
            edit.textChanged.connect(self.checked)
        self.body.textChanged.connect(self.checked)

    def current(self) -> dict[str, Any]:
        """The content as typed (the preview follows the typing, before it is saved)."""
        return {
            "subject": self.subject.text(),
            "from": self.sender.text(),
            "reply_to": self.reply_to.text() or None,
            "preheader": self.preheader.text(),
            "body_html": self.body.toPlainText(),
        }

    def _address(self, name: str, text: str, empty: Any) -> None:
        """From and Reply-to are saved only when they hold an address."""
        if _address_problem(name, text) is None:
            self.set(name, text.strip() or empty)

    def problems(self) -> list[str]:
        """Template errors (the preview waits for them to be fixed)."""
        out = []
        for label, text, is_html in (
            ("Subject", self.subject.text(), False),
            ("Preheader", self.preheader.text(), True),
            ("Body", self.body.toPlainText(), True),
        ):
            problem = templating.check_syntax(text, html=is_html)
            if problem is not None:
                out.append(f"{label}, line {problem.line}: {problem.message}")
        return out

    def load(self) -> None:
        super().load()
        self.preview_pane.refresh()

    def checked(self) -> None:
        problems = self.problems()
        addresses = [
            _address_problem("from", self.sender.text()),
            _address_problem("reply_to", self.reply_to.text()),
        ]
        show_messages(self.error, [*(p for p in addresses if p), *problems])
        if not problems:
            self.preview_pane.schedule()


class SmsForm(ContentForm):
    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        picker = FieldPicker(ctx.model)
        lay.addLayout(_picker_row("Message", picker))
        self.body = QPlainTextEdit()
        self.body.setMaximumHeight(140)
        lay.addWidget(self.body)
        self.counter = QLabel()
        lay.addWidget(self.counter)
        self.error = message_label()
        lay.addWidget(self.error)
        self.preview_pane = SmsPreview(ctx, key, lambda: {"body": self.body.toPlainText()})
        lay.addWidget(self.preview_pane)
        picker.picked.connect(lambda path: insert_placeholder(self.body, path))
        self.text_field("body", self.body)
        self.body.textChanged.connect(self.checked)

    def load(self) -> None:
        super().load()
        self.preview_pane.refresh()

    def checked(self) -> None:
        text = self.body.toPlainText()
        size = sms.measure(text)
        plural = "s" if size.segments != 1 else ""
        self.counter.setText(
            f"{size.characters} characters · {size.segments} segment{plural} ({size.encoding})"
        )
        problem = templating.check_syntax(text)
        show_messages(self.error, [f"Line {problem.line}: {problem.message}" if problem else ""])
        if problem is None:
            self.preview_pane.schedule()
