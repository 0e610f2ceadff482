"""Content forms for email and SMS nodes: fields, placeholders, live checks and preview."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from engine import sms, templating
from engine.records.read import display_name, list_records, load_records

from .widgets import Debounced, FieldPicker, insert_placeholder

ERROR_STYLE = "color: #c0392b;"


class ContentForm(QWidget):
    """A node's content editor; every edit goes through ``editor.set_content``."""

    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.key = ctx, key
        self.texts: dict[str, Debounced] = {}

    @property
    def node(self) -> Any:
        return self.ctx.editor.document.node(self.key)

    def set(self, name: str, value: Any) -> None:
        if self.node.content.get(name) != value:
            self.ctx._commit(lambda: self.ctx.editor.set_content(self.key, name, value))

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
        self.body.setMinimumHeight(160)
        picker = FieldPicker(ctx.model)
        picker.picked.connect(lambda path: insert_placeholder(self.body, path))
        head = QHBoxLayout()
        head.addWidget(QLabel("HTML body"))
        head.addStretch(1)
        head.addWidget(picker)
        form.addRow(head)
        form.addRow(self.body)
        self.error = QLabel(styleSheet=ERROR_STYLE, wordWrap=True)
        self.error.hide()
        form.addRow(self.error)
        self.record_box = QComboBox()
        self.preview = QTextBrowser(openLinks=False)
        self.preview.setMinimumHeight(160)
        form.addRow("Preview for", self.record_box)
        form.addRow(self.preview)
        self.text_field("subject", self.subject)
        self.text_field("from", self.sender)
        self.text_field("reply_to", self.reply_to, None)
        self.text_field("preheader", self.preheader)
        self.text_field("body_html", self.body)
        self.body.textChanged.connect(self.checked)
        self.subject.textChanged.connect(self.checked)
        self._records: dict[int, dict[str, Any]] = {}
        self._fill_records()
        self.record_box.currentIndexChanged.connect(lambda _i: self.checked())

    def _fill_records(self) -> None:
        try:
            with self.ctx.db.read() as s:
                rows = list_records(s, self.ctx.model, limit=50)
                self._records = load_records(s, self.ctx.model, [r["id"] for r in rows])
        except Exception:  # no records table or model: an empty preview, not a crash
            rows = []
        for r in rows:
            self.record_box.addItem(display_name(self.ctx.model, r), r["id"])

    def problems(self) -> list[str]:
        out = []
        for label, text, is_html in (
            ("Subject", self.subject.text(), False),
            ("Body", self.body.toPlainText(), True),
        ):
            problem = templating.check_syntax(text, html=is_html)
            if problem is not None:
                out.append(f"{label}, line {problem.line}: {problem.message}")
        return out

    def checked(self) -> None:
        problems = self.problems()
        self.error.setText("\n".join(problems))
        self.error.setVisible(bool(problems))
        if problems:
            return
        record = self._records.get(self.record_box.currentData(), {})
        context = {
            "record": record,
            "campaign": {"name": self.ctx.editor.document.campaign.name},
            "activity": {"name": self.node.name, "key": self.key},
            "unsubscribe_url": "#unsubscribe",
            "view_online_url": "#view-online",
        }
        try:
            subject = templating.render(self.subject.text(), context)
            body = templating.render(self.body.toPlainText(), context, html=True)
        except templating.TemplateProblem as exc:
            self.preview.setPlainText(f"Cannot render: {exc}")
            return
        self.preview.setHtml(f"<p><b>{html.escape(subject)}</b></p><hr/>{body}")


class SmsForm(ContentForm):
    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(QLabel("Message"))
        head.addStretch(1)
        picker = FieldPicker(ctx.model)
        head.addWidget(picker)
        lay.addLayout(head)
        self.body = QPlainTextEdit()
        self.body.setMaximumHeight(140)
        lay.addWidget(self.body)
        self.counter = QLabel()
        lay.addWidget(self.counter)
        self.error = QLabel(styleSheet=ERROR_STYLE, wordWrap=True)
        self.error.hide()
        lay.addWidget(self.error)
        picker.picked.connect(lambda path: insert_placeholder(self.body, path))
        self.text_field("body", self.body)
        self.body.textChanged.connect(self.checked)

    def checked(self) -> None:
        text = self.body.toPlainText()
        size = sms.measure(text)
        plural = "s" if size.segments != 1 else ""
        self.counter.setText(
            f"{size.characters} characters · {size.segments} segment{plural} ({size.encoding})"
        )
        problem = templating.check_syntax(text)
        self.error.setText(f"Line {problem.line}: {problem.message}" if problem else "")
        self.error.setVisible(problem is not None)
