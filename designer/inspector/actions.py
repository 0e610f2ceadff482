"""The server-action form: one small form per kind, a JSON editor for the others."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from engine.catalog import ACTION_KINDS, TASK_KINDS

from ..filter_builder import field_paths, read_value, show_value
from .content import ERROR_STYLE, ContentForm
from .widgets import UNITS, Debounced, PythonHighlighter

DEFAULTS: dict[str, dict[str, Any]] = {
    "update_record": {"values": {}},
    "create_record": {"model": "contact", "values": {}},
    "create_activity": {
        "activity_type": "todo",
        "summary": "",
        "note": "",
        "due_in": {"amount": 0, "unit": "days"},
        "assignee": "salesperson",
    },
    "execute_code": {"code": ""},
    "webhook": {"url": "https://", "fields": [], "secret": None, "timeout_s": 10},
    "run_actions": {"actions": []},
    "add_followers": {"users": ["salesperson"]},
    "remove_followers": {"users": ["salesperson"]},
}


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


class ActionForm(ContentForm):
    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.kind = QComboBox()
        self.kind.addItems(list(ACTION_KINDS))
        self.kind.setCurrentText(self.node.content.get("kind", "update_record"))
        self.kind.currentTextChanged.connect(self._kind_changed)
        self.form.addRow("Action", self.kind)
        self.error = QLabel(styleSheet=ERROR_STYLE, wordWrap=True)
        self.error.hide()
        self.widgets: dict[str, Any] = {}
        self.built_kind = self.kind.currentText()
        getattr(self, "_build_" + self.built_kind, self._build_json)()
        self.form.addRow(self.error)

    def _kind_changed(self, kind: str) -> None:
        content = {"kind": kind, **json.loads(json.dumps(DEFAULTS.get(kind, {})))}
        self.ctx.editor.set_field(self.key, "content", content)  # the panel rebuilds us

    # --- per kind ------------------------------------------------------------------------
    def _build_update_record(self) -> None:
        table = QTableWidget(0, 2)
        table.setHorizontalHeaderLabels(["Field", "Value"])
        table.horizontalHeader().setStretchLastSection(True)
        table.setMinimumHeight(120)
        add = QPushButton("+ Value")
        self.form.addRow(table)
        self.form.addRow(add)
        self.widgets["values"] = table
        add.clicked.connect(lambda: self._add_value_row("", ""))
        table.itemChanged.connect(lambda _i: self._commit_values())

    def _add_value_row(self, name: str, value: Any) -> None:
        table: QTableWidget = self.widgets["values"]
        table.blockSignals(True)
        row = table.rowCount()
        table.insertRow(row)
        picker = QComboBox(editable=True)
        picker.addItems([p for p, _ in field_paths(self.ctx.model) if "." not in p])
        picker.setEditText(name)
        picker.currentTextChanged.connect(lambda _t: self._commit_values())
        table.setCellWidget(row, 0, picker)
        table.setItem(row, 1, QTableWidgetItem(show_value(value)))
        table.blockSignals(False)

    def _commit_values(self) -> None:
        table: QTableWidget = self.widgets["values"]
        values: dict[str, Any] = {}
        for row in range(table.rowCount()):
            name = table.cellWidget(row, 0).currentText().strip()
            item = table.item(row, 1)
            if name:
                values[name] = read_value(item.text() if item else "", None)
        self.set("values", values)

    def _build_create_activity(self) -> None:
        task = QComboBox()
        task.addItems(list(TASK_KINDS))
        task.currentTextChanged.connect(lambda t: self.set("activity_type", t))
        self.widgets["activity_type"] = task
        self.form.addRow("Task type", task)
        for name, label in (("summary", "Summary"), ("assignee", "Assignee")):
            edit = QLineEdit()
            self.form.addRow(label, edit)
            self.text_field(name, edit)
        note = QPlainTextEdit(maximumHeight=100)
        self.form.addRow("Note", note)
        self.text_field("note", note)
        amount, unit = QSpinBox(maximum=10000), QComboBox()
        unit.addItems(list(UNITS))
        self.widgets["due_in"] = (amount, unit)
        due = QWidget()
        row = QFormLayout(due)
        row.setContentsMargins(0, 0, 0, 0)
        row.addRow(amount, unit)
        self.form.addRow("Due in", due)

        def commit_due() -> None:
            self.set("due_in", {"amount": amount.value(), "unit": unit.currentText()})

        amount.valueChanged.connect(lambda _v: commit_due())
        unit.currentTextChanged.connect(lambda _t: commit_due())

    def _build_webhook(self) -> None:
        url, fields, secret = QLineEdit(), QLineEdit(), QLineEdit()
        fields.setPlaceholderText("comma-separated field names, e.g. email, name")
        secret.setPlaceholderText("keyring name (optional): signs with HMAC-SHA256")
        timeout = QSpinBox(minimum=1, maximum=300, suffix=" s")
        for label, w in (
            ("URL", url),
            ("Fields", fields),
            ("Secret", secret),
            ("Timeout", timeout),
        ):
            self.form.addRow(label, w)
        self.text_field("url", url)
        self.texts["fields"] = Debounced(fields, lambda t: self.set("fields", _names(t)))
        self.text_field("secret", secret, None)
        timeout.valueChanged.connect(lambda v: self.set("timeout_s", v))
        self.widgets["timeout_s"] = timeout

    def _build_execute_code(self) -> None:
        code = QPlainTextEdit()
        code.setMinimumHeight(180)
        code.setStyleSheet("font-family: monospace;")
        self.highlighter = PythonHighlighter(code.document())
        self.form.addRow(QLabel("Python (runs in the sandbox with `record`)"))
        self.form.addRow(code)
        self.text_field("code", code)

    def _build_run_actions(self) -> None:
        names = QLineEdit(placeholderText="saved action names, comma-separated")
        self.form.addRow("Actions", names)
        self.texts["actions"] = Debounced(names, lambda t: self.set("actions", _names(t)))

    def _build_json(self) -> None:
        edit = QPlainTextEdit()
        edit.setMinimumHeight(140)
        self.form.addRow(QLabel("Parameters (JSON)"))
        self.form.addRow(edit)
        self.texts["__json__"] = Debounced(edit, self._commit_json)

    def _commit_json(self, text: str) -> None:
        try:
            params = json.loads(text or "{}")
            if not isinstance(params, dict):
                raise ValueError("the parameters must be a JSON object")
        except ValueError as exc:
            self.error.setText(f"Invalid JSON: {exc}")
            self.error.show()
            return
        self.error.hide()
        content = {"kind": self.kind.currentText(), **params}
        self.ctx.editor.set_field(self.key, "content", content, merge=True)

    # --- loading -------------------------------------------------------------------------
    def load(self) -> None:
        content = self.node.content
        for name, deb in self.texts.items():
            if name == "__json__":
                params = {k: v for k, v in content.items() if k != "kind"}
                deb.set_text(json.dumps(params, indent=2, ensure_ascii=False))
            elif name in ("fields", "actions"):
                deb.set_text(", ".join(content.get(name) or []))
            else:
                deb.set_text(str(content.get(name) or ""))
        w = self.widgets
        if "values" in w and w["values"].rowCount() == 0:
            for name, value in (content.get("values") or {}).items():
                self._add_value_row(name, value)
        if "activity_type" in w:
            w["activity_type"].blockSignals(True)
            w["activity_type"].setCurrentText(content.get("activity_type", "todo"))
            w["activity_type"].blockSignals(False)
        if "due_in" in w:
            due = content.get("due_in") or {"amount": 0, "unit": "days"}
            for widget in w["due_in"]:
                widget.blockSignals(True)
            w["due_in"][0].setValue(int(due.get("amount", 0)))
            w["due_in"][1].setCurrentText(due.get("unit", "days"))
            for widget in w["due_in"]:
                widget.blockSignals(False)
        if "timeout_s" in w:
            w["timeout_s"].blockSignals(True)
            w["timeout_s"].setValue(int(content.get("timeout_s") or 10))
            w["timeout_s"].blockSignals(False)
