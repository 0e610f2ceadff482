"""One value of an update_record / create_record action, edited as its field's kind asks.

Each cell shows a value from the document and reads back what the user typed as the value
to store, raising ValueError with a message when it is not one the record writer accepts
(the same checks the campaign validator runs, so nothing invalid is ever saved).
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from engine import templating
from engine.errors import UserError
from engine.fields import BOOL, FLOAT, INT, JSONK, MANY2MANY, MANY2ONE, PHONE, SELECTION, Field
from engine.records.values import coerce_value, names_of, parse_link_change, user_ref_key


def split_names(text: str) -> list[str]:
    """``"VIP, Hot"`` → ``["VIP", "Hot"]`` (tag and list names, as typed)."""
    return names_of([t for t in text.split(",")])


def show_names(names: Any) -> str:
    return ", ".join(str(n) for n in names or [])


class ValueLine(QLineEdit):
    """A line edit that says when it gets the focus (placeholders go to the last one)."""

    focused = Signal(object)

    def focusInEvent(self, event: Any) -> None:
        super().focusInEvent(event)
        self.focused.emit(self)


class Cell(QWidget):
    """Base: ``edited`` while typing (debounced by the owner), ``committed`` at once."""

    edited = Signal()
    committed = Signal()

    def __init__(self, model: str, f: Field, create: bool) -> None:
        super().__init__()
        self.model, self.field, self.create = model, f, create
        self.lay = QHBoxLayout(self)
        self.lay.setContentsMargins(0, 0, 0, 0)

    def line(self, placeholder: str = "") -> ValueLine:
        edit = ValueLine(placeholderText=placeholder)
        edit.textEdited.connect(lambda _t: self.edited.emit())
        edit.editingFinished.connect(self.committed.emit)
        return edit

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def value(self) -> Any:
        """The value to store (None: clear / not set); ValueError when invalid."""
        raise NotImplementedError

    def text_edit(self) -> ValueLine | None:
        """Where a placeholder can be inserted, if anywhere."""
        return None


class TextCell(Cell):
    """Text, numbers, emails, JSON, a salesperson (email) — or a Jinja2 template."""

    def __init__(self, model: str, f: Field, create: bool, users: list[str]) -> None:
        super().__init__(model, f, create)
        empty = "empty: not set" if create else "empty: clears the field"
        hints = {MANY2ONE: "a user's email", JSONK: '{"key": "value"}', PHONE: "+32470123456"}
        self.edit = self.line(f"{hints[f.kind]} · {empty}" if f.kind in hints else empty)
        if f.kind == MANY2ONE and users:
            from PySide6.QtWidgets import QCompleter

            self.edit.setCompleter(QCompleter(users, self.edit))
        self.lay.addWidget(self.edit)

    def text_edit(self) -> ValueLine:
        return self.edit

    def set_value(self, value: Any) -> None:
        if value is None:
            text = ""
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = str(value)
        if self.edit.text() != text:
            self.edit.setText(text)
            self.edit.setCursorPosition(0)

    def value(self) -> Any:
        text = self.edit.text()
        if not text.strip():
            return None
        if templating.is_template(text):
            problem = templating.check_syntax(text)
            if problem is not None:
                raise ValueError(f"template error: {problem.message}")
            return text
        kind = self.field.kind
        if kind == INT:
            try:
                value: Any = int(text.strip())
            except ValueError:
                raise ValueError(f"{text.strip()!r} is not a whole number") from None
        elif kind == FLOAT:
            try:
                value = float(text.strip())
            except ValueError:
                raise ValueError(f"{text.strip()!r} is not a number (use a dot: 12.5)") from None
        elif kind == JSONK:
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"not valid JSON: {exc}") from None
        else:
            value = text.strip()
        return check(self.model, self.field, value)


class ChoiceCell(Cell):
    """Yes/no fields and selections: a closed list."""

    def __init__(self, model: str, f: Field, create: bool) -> None:
        super().__init__(model, f, create)
        self.box = QComboBox()
        if f.kind == BOOL:
            self.box.addItem("yes", True)
            self.box.addItem("no", False)
        else:
            for choice in f.selection:
                self.box.addItem(choice, choice)
        self.box.currentIndexChanged.connect(lambda _i: self.committed.emit())
        self.lay.addWidget(self.box)

    def set_value(self, value: Any) -> None:
        idx = self.box.findData(value)
        if idx < 0 and self.field.kind == BOOL and isinstance(value, str):
            idx = self.box.findData(value.strip().lower() in ("true", "1", "yes"))
        self.box.blockSignals(True)
        self.box.setCurrentIndex(max(idx, 0))
        self.box.blockSignals(False)

    def value(self) -> Any:
        return self.box.currentData()


class NamesCell(Cell):
    """Tags and mailing lists: add / remove names (update), or the names (create)."""

    def __init__(self, model: str, f: Field, create: bool) -> None:
        super().__init__(model, f, create)
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        self.lay.addLayout(grid)
        self.add = self.line("names, comma-separated")
        self.remove = self.line("names, comma-separated")
        self.replace = QCheckBox("Replace the whole list")
        self.add_label, self.remove_label = QLabel("Add"), QLabel("Remove")
        if create:
            grid.addWidget(self.add, 0, 0, 1, 2)
            for w in (self.remove, self.replace, self.add_label, self.remove_label):
                w.hide()
        else:
            grid.addWidget(self.add_label, 0, 0)
            grid.addWidget(self.add, 0, 1)
            grid.addWidget(self.remove_label, 1, 0)
            grid.addWidget(self.remove, 1, 1)
            grid.addWidget(self.replace, 2, 1)
            self.replace.toggled.connect(self._mode)
            self.replace.toggled.connect(lambda _on: self.committed.emit())

    def _mode(self, replace: bool) -> None:
        self.add_label.setText("Set to" if replace else "Add")
        self.remove.setVisible(not replace)
        self.remove_label.setVisible(not replace)

    def set_value(self, value: Any) -> None:
        replace = isinstance(value, list)  # a new row starts as add / remove
        self.replace.blockSignals(True)
        self.replace.setChecked(replace and not self.create)
        self.replace.blockSignals(False)
        if not self.create:
            self._mode(replace)
        if isinstance(value, dict):
            add, remove = value.get("add") or [], value.get("remove") or []
        else:
            add, remove = value or [], []
        for edit, names in ((self.add, add), (self.remove, remove)):
            if split_names(edit.text()) != list(names):
                edit.setText(show_names(names))

    def value(self) -> Any:
        add = split_names(self.add.text())
        if self.create or self.replace.isChecked():
            return add or None
        change = {"add": add, "remove": split_names(self.remove.text())}
        parse_link_change(self.field, change)  # ValueError: a name both added and removed
        return change


def check(model: str, f: Field, value: Any) -> Any:
    """``value`` if the record writer would accept it for ``f`` (ValueError otherwise).

    As the campaign validator does: templates are checked when they render, phone numbers
    without a prefix take the record's country, and users are looked up when the action runs.
    """
    if value is None or (isinstance(value, str) and templating.is_template(value)):
        return value
    try:
        if f.kind == MANY2ONE:
            user_ref_key(value)
        elif f.kind != PHONE or (isinstance(value, str) and value.startswith("+")):
            coerce_value(model, f.name, value)
    except UserError as exc:
        raise ValueError(str(exc)) from None
    return value


def make_cell(model: str, f: Field, create: bool, users: list[str]) -> Cell:
    if f.kind == MANY2MANY:
        return NamesCell(model, f, create)
    if f.kind in (BOOL, SELECTION):
        return ChoiceCell(model, f, create)
    return TextCell(model, f, create, users)
