"""Live previews: an email or SMS as its recipient would get it, for a chosen record.

The message is built by :mod:`engine.preview` — the sending path itself, so CSS is
inlined, links are tracked and the preheader and headers are those of a real send —
without writing to the database and without sending.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSizeF, Qt, QTimer
from PySide6.QtGui import QFontDatabase, QResizeEvent, QTextOption
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QTabWidget,
    QTextBrowser,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from engine import mime, sms, templating
from engine.fields import MODELS
from engine.preview import (
    PreviewSettings,
    preview_email,
    preview_sms,
    read_preview_settings,
    visible_html,
)
from engine.records.read import display_name, list_records, load_records
from engine.records.values import normalize_address, normalize_phone

from .. import theme
from ..theme import status_color

HEADING = "<b>Preview</b> — as the recipient gets it (nothing is saved or sent)"
PREVIEW_DELAY_MS = 250  # typing re-renders after a short pause, not on every key


class RecordBox(QComboBox):
    """The records a message can be previewed for: the first 50 of the campaign's model."""

    def __init__(self, db: Any, model: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.records: dict[int, dict[str, Any]] = {}
        try:
            with db.read() as s:
                rows = list_records(s, model, limit=50)
                self.records = load_records(s, model, [r["id"] for r in rows])
        except Exception:  # no database or model: an empty preview, not a crash
            rows = []
        for r in rows:
            self.addItem(display_name(model, r), r["id"])
        if not rows:
            self.addItem(f"(no {MODELS[model].label.lower()} records yet)", None)

    def record(self) -> dict[str, Any]:
        return self.records.get(self.currentData(), {})

    def record_name(self) -> str:
        return self.currentText() if self.currentData() is not None else ""


class _Preview(QWidget):
    """Shared plumbing: the record chooser, the settings read once, a debounce timer."""

    def __init__(self, ctx: Any, key: str, content: Callable[[], dict[str, Any]]) -> None:
        super().__init__()
        self.ctx, self.key, self.content = ctx, key, content
        self.records = RecordBox(ctx.db, ctx.model)
        self.records.currentIndexChanged.connect(lambda _i: self.refresh())
        self.timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self.timer.timeout.connect(self.refresh)
        self.document = ctx.editor.document  # ctx.editor goes when the campaign closes
        campaign = self.document.campaign
        self.campaign = {"id": campaign.id, "name": campaign.name}
        try:
            with ctx.db.read() as s:
                self.settings = read_preview_settings(s, campaign.id, key)
        except Exception:
            self.settings = PreviewSettings()

    def schedule(self) -> None:
        self.timer.start()

    def live(self) -> bool:
        """False once the node is gone (the timer may fire after the form was replaced)."""
        return self.key in self.document

    def _args(self, to: str) -> dict[str, Any]:
        node = self.document.node(self.key)
        return {
            "to": to,
            "campaign": self.campaign,
            "activity": {"key": self.key, "name": node.name},
            "preview_settings": self.settings,
            "now": self.document.clock.now(),
            "record_name": self.records.record_name(),
        }

    def refresh(self) -> None:
        raise NotImplementedError


def _plain(fragment: str) -> str:
    """The text of an HTML fragment (the preheader is HTML, shown here as text)."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


def _muted(text: str) -> str:
    return f'<span style="color: gray;">{html.escape(text)}</span>'


class EmailPreview(_Preview):
    def __init__(self, ctx: Any, key: str, content: Callable[[], dict[str, Any]]) -> None:
        super().__init__(ctx, key, content)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel(HEADING, wordWrap=True))
        row = QFormLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addRow("Preview for", self.records)
        lay.addLayout(row)
        self.summary = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
        lay.addWidget(self.summary)
        self.tabs = QTabWidget()
        self.browser = QTextBrowser(openLinks=False)
        theme.paper(self.browser)
        self.browser.setMinimumHeight(260)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.text = QPlainTextEdit(readOnly=True)
        self.source = QPlainTextEdit(readOnly=True)
        self.source.setFont(mono)
        self.source.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.tabs.addTab(self.browser, "Message")
        self.tabs.addTab(self.text, "Plain text")
        self.tabs.addTab(self.source, "Source")
        lay.addWidget(self.tabs)
        self.built: Any = None  # the last engine.preview.EmailPreview

    def refresh(self) -> None:
        self.timer.stop()
        if not self.live():
            return
        content = self.content()
        record = self.records.record()
        field = MODELS[self.records.model].email_field
        to = normalize_address(record.get(field)) if field else None
        try:
            p = preview_email(content, record, **self._args(to or ""))
        except (templating.TemplateProblem, mime.MessageError) as exc:
            self.built = None
            self.summary.setText(
                f'<span style="color: {status_color("error")};">'
                f"Cannot build the message: {html.escape(str(exc))}</span>"
            )
            return
        self.built = p
        to_text = html.escape(to) if to else _muted("no valid email address: not sent to it")
        lines = [
            f"<b>{html.escape(p.subject) or _muted('(no subject)')}</b>"
            + (f" — {_muted(_plain(p.preheader))}" if p.preheader else ""),
            f"From {html.escape(p.headers.get('From') or '—')} · To {to_text}",
        ]
        if p.headers.get("Reply-To"):
            lines.append(f"Reply-To {html.escape(p.headers['Reply-To'])}")
        links = len(p.tracked_links)
        lines.append(
            _muted(
                f"{links} link{'s' if links != 1 else ''} tracked · open pixel · "
                "one-click unsubscribe header"
            )
        )
        self.summary.setText("<br>".join(lines))
        self.browser.setHtml(visible_html(p.html))
        self.text.setPlainText(p.text)
        self.source.setPlainText(p.source.replace("\r\n", "\n"))


class WrappedText(QTextEdit):
    """Read-only text as tall as its lines, wrapped anywhere a line must break.

    A QLabel wraps at spaces only: the tracked short link of an SMS (40 characters, no
    space) made the label, then the whole inspector, wider than its dock.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setReadOnly(True)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(80)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)

    def setText(self, text: str) -> None:
        self.setPlainText(text)

    def text(self) -> str:
        return self.toPlainText()

    def _fit(self, size: QSizeF) -> None:
        self.setFixedHeight(int(size.height()) + 2 * self.frameWidth() + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit(self.document().size())


class SmsPreview(_Preview):
    def __init__(self, ctx: Any, key: str, content: Callable[[], dict[str, Any]]) -> None:
        super().__init__(ctx, key, content)
        lay = QFormLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addRow(QLabel(HEADING, wordWrap=True))
        lay.addRow("Preview for", self.records)
        self.message = WrappedText()
        self.size = QLabel(wordWrap=True)
        lay.addRow(self.message)
        lay.addRow(self.size)
        self.body = ""

    def refresh(self) -> None:
        self.timer.stop()
        if not self.live():
            return
        record = self.records.record()
        field = MODELS[self.records.model].phone_field
        raw = record.get(field) if field else None
        to = normalize_phone(raw, region=_region(record)) if raw else None
        try:
            self.body = preview_sms(self.content(), record, **self._args(to or ""))
        except templating.TemplateProblem as exc:
            self.body = ""
            self.message.setText(f"Cannot render: {exc}")
            self.size.clear()
            return
        self.message.setText(self.body or "(empty)")
        size = sms.measure(self.body)
        who = to or "no valid phone number: not sent to it"
        self.size.setText(
            f"As sent to {who}: {size.characters} characters · {size.segments} segment"
            f"{'s' if size.segments != 1 else ''} ({size.encoding})"
        )


def _region(record: dict[str, Any]) -> str | None:
    country = record.get("country")
    return country.upper() if isinstance(country, str) and len(country) == 2 else None
