"""Forms of the create_activity, webhook and execute_code actions, and a JSON fallback."""

from __future__ import annotations

import ast
import json
from typing import Any
from urllib.parse import urlsplit

from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from engine import limits, templating
from engine.catalog import TASK_KINDS
from engine.fields import MODELS

from .content import ContentForm
from .feedback import message_label, show_messages, user_emails
from .people import user_problem
from .widgets import (
    UNITS,
    Debounced,
    FieldPicker,
    PythonHighlighter,
    bound_amount,
    insert_placeholder,
    set_quietly,
)


def split_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


class TaskForm(ContentForm):
    """create_activity: a task for the salesperson (or a user) about the record."""

    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.task = QComboBox()
        self.task.addItems(list(TASK_KINDS))
        self.task.currentTextChanged.connect(lambda t: self.set("activity_type", t, merge=False))
        form.addRow("Task type", self.task)
        self.summary, self.assignee = QLineEdit(), QLineEdit()
        self.assignee.setPlaceholderText("salesperson, or a user's email")
        self.assignee.setCompleter(QCompleter(["salesperson", *user_emails(ctx.db)], self))
        picker = FieldPicker(ctx.model)
        picker.picked.connect(lambda path: insert_placeholder(self.summary, path))
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        row.addWidget(picker)
        form.addRow("Summary", row)
        form.addRow("Assignee", self.assignee)
        self.note = QPlainTextEdit(maximumHeight=100)
        form.addRow("Note", self.note)
        self.amount, self.unit = QSpinBox(maximum=limits.max_delay("days")), QComboBox()
        self.unit.addItems(list(UNITS))
        self.unit.setCurrentText("days")
        due = QHBoxLayout()
        due.addWidget(self.amount)
        due.addWidget(self.unit, 1)
        form.addRow("Due in", due)
        self.error = message_label()
        form.addRow(self.error)
        self.text_field("summary", self.summary)
        self.text_field("note", self.note)
        self.texts["assignee"] = Debounced(self.assignee, self._commit_assignee)
        self.amount.valueChanged.connect(lambda _v: self._commit_due())
        self.unit.currentTextChanged.connect(self._unit_changed)
        for edit in (self.summary, self.assignee):
            edit.textChanged.connect(self.checked)
        self.note.textChanged.connect(self.checked)

    def _unit_changed(self, unit: str) -> None:
        bound_amount(self.amount, unit)
        self._commit_due()

    def _commit_due(self) -> None:
        self.set("due_in", {"amount": self.amount.value(), "unit": self.unit.currentText()})

    def _commit_assignee(self, text: str) -> None:
        if self.checked():
            self.set("assignee", text.strip() or "salesperson")

    def checked(self) -> bool:
        problems = []
        if not self.summary.text().strip():
            problems.append("The task needs a summary.")
        for label, text in (("Summary", self.summary.text()), ("Note", self.note.toPlainText())):
            problem = templating.check_syntax(text)
            if problem is not None:
                problems.append(f"{label}, line {problem.line}: {problem.message}")
        assignee = self.assignee.text().strip() or "salesperson"
        bad_assignee = user_problem(assignee, self.ctx.model)
        problems.append(f"Assignee: {bad_assignee}" if bad_assignee else "")
        show_messages(self.error, problems)
        return not bad_assignee

    def load(self) -> None:
        super().load()
        content = self.node.content
        self.texts["assignee"].set_text(str(content.get("assignee") or "salesperson"))
        set_quietly(
            self.task, lambda: self.task.setCurrentText(content.get("activity_type", "todo"))
        )
        due = content.get("due_in") or {"amount": 0, "unit": "days"}
        bound_amount(self.amount, str(due.get("unit", "days")))
        set_quietly(self.amount, lambda: self.amount.setValue(int(due.get("amount", 0))))
        set_quietly(self.unit, lambda: self.unit.setCurrentText(due.get("unit", "days")))
        self.checked()


class WebhookForm(ContentForm):
    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        url, fields, secret = QLineEdit(), QLineEdit(), QLineEdit()
        url.setPlaceholderText("https://example.com/hook")
        fields.setPlaceholderText("comma-separated field names, e.g. email, name")
        fields.setCompleter(QCompleter(list(MODELS[ctx.model].fields), fields))
        secret.setPlaceholderText("keyring name (optional): signs with HMAC-SHA256")
        self.timeout = QSpinBox(minimum=1, maximum=limits.MAX_WEBHOOK_TIMEOUT_S, suffix=" s")
        for label, w in (("URL", url), ("Fields", fields), ("Secret", secret)):
            form.addRow(label, w)
        form.addRow("Timeout", self.timeout)
        self.error = message_label()
        form.addRow(self.error)
        self.texts["url"] = Debounced(url, self._commit_url)
        self.texts["fields"] = Debounced(fields, self._commit_fields)
        self.text_field("secret", secret, None)
        self.timeout.valueChanged.connect(lambda v: self.set("timeout_s", v))

    def _problems(self) -> list[str]:
        url = self.texts["url"].text().strip()
        try:
            parts = urlsplit(url)
            good = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            good = False
        out = [] if good else [f"URL: {url!r} is not an http(s) URL with a host."]
        model = MODELS[self.ctx.model]
        unknown = [n for n in split_list(self.texts["fields"].text()) if n not in model.fields]
        if unknown:
            out.append(f"Fields: {model.label} records have no field {', '.join(unknown)}.")
        return out

    def _commit_url(self, text: str) -> None:
        problems = self._problems()
        show_messages(self.error, problems)
        if not any(p.startswith("URL") for p in problems):
            self.set("url", text.strip())

    def _commit_fields(self, text: str) -> None:
        problems = self._problems()
        show_messages(self.error, problems)
        if not any(p.startswith("Fields") for p in problems):
            self.set("fields", split_list(text))

    def load(self) -> None:
        content = self.node.content
        self.texts["url"].set_text(str(content.get("url") or ""))
        self.texts["fields"].set_text(", ".join(content.get("fields") or []))
        self.texts["secret"].set_text(str(content.get("secret") or ""))
        set_quietly(
            self.timeout, lambda: self.timeout.setValue(int(content.get("timeout_s") or 10))
        )
        show_messages(self.error, self._problems())


class CodeForm(ContentForm):
    """execute_code: Python with highlighting; syntax and sandbox rules checked live.

    Code with a problem is still saved (it is a draft being typed, and losing it on a
    click elsewhere would be worse); the campaign refuses to start until it is fixed.
    """

    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.code = QPlainTextEdit()
        self.code.setMinimumHeight(200)
        self.code.setStyleSheet("font-family: monospace;")
        self.highlighter = PythonHighlighter(self.code.document())
        form.addRow(QLabel("Python (runs in the sandbox with <code>record</code>)"))
        form.addRow(self.code)
        self.error = message_label()
        form.addRow(self.error)
        self.text_field("code", self.code)
        self.code.textChanged.connect(self.checked)

    def checked(self) -> None:
        code = self.code.toPlainText()
        if not code.strip():
            show_messages(self.error, ["The action has no code yet."])
            return
        try:
            ast.parse(code, "<execute_code>", "exec")
        except SyntaxError as exc:
            show_messages(self.error, [f"Line {exc.lineno}: {exc.msg}"])
            return
        from engine.sandbox import check_code

        show_messages(self.error, [f"Not allowed in the sandbox: {p}" for p in check_code(code)])


class JsonForm(ContentForm):
    """Any other kind: its parameters as a JSON object."""

    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        edit = QPlainTextEdit()
        edit.setMinimumHeight(140)
        form.addRow(QLabel("Parameters (JSON)"))
        form.addRow(edit)
        self.error = message_label()
        form.addRow(self.error)
        self.texts["__json__"] = Debounced(edit, self._commit)

    def _commit(self, text: str) -> None:
        try:
            params = json.loads(text or "{}")
            if not isinstance(params, dict):
                raise ValueError("the parameters must be a JSON object")
        except ValueError as exc:
            show_messages(self.error, [f"Invalid JSON: {exc}"])
            return
        show_messages(self.error, [])
        self.set_content({"kind": self.node.content.get("kind"), **params})

    def load(self) -> None:
        params = {k: v for k, v in self.node.content.items() if k != "kind"}
        self.texts["__json__"].set_text(json.dumps(params, indent=2, ensure_ascii=False))
