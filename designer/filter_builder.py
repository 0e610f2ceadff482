"""The filter builder: a domain as rows of field / operator / value in AND/OR groups.

``set_domain`` / ``domain`` round-trip exactly through :mod:`designer.domain_tree` (see
its docstring for the two normalisations). Rows keep the values they were given until
the user edits them, so nothing is re-typed behind the user's back. The "Code" toggle
shows the raw JSON; a domain the tree cannot hold (malformed nesting) opens there with the
engine's message. A debounced count of matching records runs in a short read session.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.api import lookups
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.fields import MANY2MANY, MANY2ONE, MODELS, RELATED_FIELDS
from engine.filters import OPERATORS, FilterError, parse_domain, validate_domain

from .domain_tree import Group, Leaf, to_domain, to_tree
from .theme import status_css

_NUMERIC_KINDS = {"int", "float", MANY2ONE, MANY2MANY, "json"}
_GROUP_OPS = [("&", "All of (AND)"), ("|", "Any of (OR)")]


def field_paths(model: str) -> list[tuple[str, str]]:
    """(path, label) for every field of ``model`` and its relations' fields."""
    out = []
    for f in MODELS[model].fields.values():
        out.append((f.name, f.label))
        if f.relation is not None:
            related = RELATED_FIELDS.get(f.relation.name, {})
            for sub in related.values():
                out.append((f"{f.name}.{sub.name}", f"{f.label} → {sub.label}"))
    return out


def show_value(value: Any) -> str:
    """A leaf's value as the user reads it: strings bare, anything else as JSON."""
    if isinstance(value, str):
        return value
    if value is None or value is False:
        return "false" if value is False else "null"
    return json.dumps(value, ensure_ascii=False)


def read_value(text: str, kind: str | None) -> Any:
    """What the user typed, read for a field of ``kind``: JSON when it looks like JSON
    (lists, objects, quoted text, true/false/null, numbers for numeric fields)."""
    stripped = text.strip()
    if not stripped:
        return False
    looks_json = stripped[0] in '[{"' or stripped in ("true", "false", "null")
    if not looks_json and (kind in _NUMERIC_KINDS or kind is None):
        try:
            return int(stripped)
        except ValueError:
            try:
                return float(stripped) if kind in ("float", "json") else text
            except ValueError:
                return text
    if looks_json:
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    return text


class LeafRow(QWidget):
    changed = Signal()
    removed = Signal(object)

    def __init__(self, model: str, leaf: Leaf, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model, self.leaf = model, leaf
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.field_box = QComboBox(editable=True)
        for path, label in field_paths(model):
            self.field_box.addItem(path)
            tip = Qt.ItemDataRole.ToolTipRole
            self.field_box.setItemData(self.field_box.count() - 1, label, tip)
        self.field_box.setEditText(str(leaf.field))
        self.field_box.setMinimumContentsLength(14)
        self.op_box = QComboBox()
        self.op_box.addItems(list(OPERATORS))
        if leaf.op not in OPERATORS:
            self.op_box.addItem(leaf.op)
        self.op_box.setCurrentText(leaf.op)
        self.value_edit = QLineEdit(show_value(leaf.value))
        self.value_edit.setPlaceholderText("value")
        self.value_edit.setToolTip('The value to compare with; leave empty for "not set"')
        remove = QToolButton(text="✕", toolTip="Remove this condition")
        for w in (self.field_box, self.op_box, self.value_edit, remove):
            lay.addWidget(w)
        lay.setStretch(2, 1)
        self.field_box.currentTextChanged.connect(self._field_edited)
        self.op_box.currentTextChanged.connect(self._op_edited)
        self.value_edit.textEdited.connect(self._value_edited)
        remove.clicked.connect(lambda: self.removed.emit(self))

    def _kind(self) -> str | None:
        name = str(self.leaf.field).split(".")[0]
        f = MODELS[self.model].field(name)
        if f is None:
            return None
        return "char" if "." in str(self.leaf.field) and f.kind != "json" else f.kind

    def _field_edited(self, text: str) -> None:
        self.leaf.field = int(text) if text.strip() in ("0", "1") else text.strip()
        self.changed.emit()

    def _op_edited(self, text: str) -> None:
        self.leaf.op = text
        self.changed.emit()

    def _value_edited(self, text: str) -> None:
        self.leaf.value = read_value(text, self._kind())
        self.changed.emit()


class GroupBox(QFrame):
    changed = Signal()
    removed = Signal(object)

    def __init__(
        self, model: str, group: Group, root: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.model, self.group = model, group
        self.setFrameShape(QFrame.Shape.StyledPanel)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 4, 4, 4)
        head = QHBoxLayout()
        self.op_box = QComboBox()
        for op, label in _GROUP_OPS:
            self.op_box.addItem(label, op)
        self.op_box.setCurrentIndex(0 if group.op == "&" else 1)
        self.not_box = QCheckBox("Not", checked=group.negated, toolTip="Negate this group")
        add_leaf = QPushButton("+ Condition")
        add_group = QPushButton("+ Group")
        head.addWidget(self.op_box)
        head.addWidget(self.not_box)
        head.addStretch(1)
        head.addWidget(add_leaf)
        head.addWidget(add_group)
        if not root:
            remove = QToolButton(text="✕", toolTip="Remove this group")
            remove.clicked.connect(lambda: self.removed.emit(self))
            head.addWidget(remove)
        outer.addLayout(head)
        self.rows = QVBoxLayout()
        self.rows.setContentsMargins(12, 0, 0, 0)
        outer.addLayout(self.rows)
        for child in group.children:
            self._add_widget(child)
        self.op_box.currentIndexChanged.connect(self._op_edited)
        self.not_box.toggled.connect(self._not_edited)
        add_leaf.clicked.connect(lambda: self.add_child(Leaf("name", "ilike", "")))
        add_group.clicked.connect(lambda: self.add_child(Group("|")))

    def _add_widget(self, child: Group | Leaf) -> None:
        w = GroupBox(self.model, child) if isinstance(child, Group) else LeafRow(self.model, child)
        w.changed.connect(self.changed)
        w.removed.connect(self._remove)
        self.rows.addWidget(w)

    def add_child(self, child: Group | Leaf) -> None:
        self.group.children.append(child)
        self._add_widget(child)
        self.changed.emit()

    def _remove(self, widget: QWidget) -> None:
        child = widget.group if isinstance(widget, GroupBox) else widget.leaf  # type: ignore[attr-defined]
        self.group.children = [c for c in self.group.children if c is not child]
        self.rows.removeWidget(widget)
        widget.hide()
        widget.deleteLater()
        self.changed.emit()

    def _op_edited(self) -> None:
        self.group.op = self.op_box.currentData()
        self.group.implicit = self.group.implicit and self.group.op == "&"
        self.changed.emit()

    def _not_edited(self, on: bool) -> None:
        self.group.negated = on
        self.changed.emit()


class FilterBuilder(QWidget):
    """Edit a domain for ``model``; ``domainChanged`` fires on every user edit."""

    domainChanged = Signal(list)

    def __init__(
        self,
        model: str = "contact",
        db: Database | None = None,
        clock: Clock | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.model, self.db = model, db
        self.clock: Clock = clock or SystemClock()
        self._raw: list[Any] = []
        self._root: Group | None = Group(implicit=True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        self.count_label = QLabel("")
        self.code_toggle = QCheckBox("Code")
        self.code_toggle.setToolTip("Show the filter as a JSON domain")
        bar.addWidget(self.count_label, 1)
        bar.addWidget(self.code_toggle)
        lay.addLayout(bar)
        self.tree_host = QVBoxLayout()
        lay.addLayout(self.tree_host)
        self.code_edit = QPlainTextEdit()
        self.code_edit.setPlaceholderText('[["email", "!=", null]]')
        self.code_edit.setMaximumHeight(110)
        self.code_edit.hide()
        lay.addWidget(self.code_edit)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(status_css(True))
        self.error_label.hide()
        lay.addWidget(self.error_label)
        self._group_box: GroupBox | None = None
        self._count_timer = QTimer(self, singleShot=True, interval=250)
        self._count_timer.timeout.connect(self.refresh_count)
        self.code_toggle.toggled.connect(self._show_code)
        self.code_edit.textChanged.connect(self._code_edited)
        self._build_tree()

    # --- public --------------------------------------------------------------------------
    def set_model(self, model: str) -> None:
        self.model = model
        self.set_domain(self._raw)

    def set_database(self, db: Database | None, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or self.clock
        self._count_timer.start()

    def set_domain(self, domain: list[Any] | None) -> None:
        """Show ``domain`` (no domainChanged); malformed nesting opens the code view."""
        self._raw = json.loads(json.dumps(domain or []))
        try:
            self._root = to_tree(self._raw)
        except FilterError as exc:
            self._root = None
            self.code_toggle.setChecked(True)
            self._show_error(str(exc))
        self._build_tree()
        if self.code_toggle.isChecked():
            self._set_code_text()
        self._validate()

    @property
    def root_box(self) -> GroupBox | None:
        """The top group's widget (None while the code view holds a malformed domain)."""
        return self._group_box

    def domain(self) -> list[Any]:
        return json.loads(json.dumps(self._raw))

    def match_count(self) -> int | None:
        """How many records match now (None: no database, or the filter is invalid)."""
        if self.db is None:
            return None
        return lookups.domain_count(self.db, self._raw, self.model, self.clock.now())

    def refresh_count(self) -> None:
        if self.db is None:
            self.count_label.setText("")
            return
        try:
            n = self.match_count()
        except FilterError:
            self.count_label.setText("Invalid filter")
            return
        except Exception as exc:  # never crash the inspector on a count
            self.count_label.setText(f"Cannot count: {exc}")
            return
        noun = MODELS[self.model].label.lower()
        verb = "record matches" if n == 1 else "records match"
        self.count_label.setText(f"{n} {noun} {verb}")

    # --- internals ------------------------------------------------------------------------
    def _build_tree(self) -> None:
        if self._group_box is not None:
            self.tree_host.removeWidget(self._group_box)
            self._group_box.hide()  # not painted until the deferred delete
            self._group_box.deleteLater()
            self._group_box = None
        if self._root is None:
            return
        self._group_box = GroupBox(self.model, self._root, root=True)
        self._group_box.changed.connect(self._tree_edited)
        self.tree_host.addWidget(self._group_box)  # parent first: a parentless show() is a window
        self._group_box.setVisible(not self.code_toggle.isChecked())

    def _tree_edited(self) -> None:
        if self._root is None:
            return
        self._raw = to_domain(self._root)
        self._after_edit()

    def _after_edit(self) -> None:
        self._validate()
        self.domainChanged.emit(self.domain())

    def _validate(self) -> None:
        problems = validate_domain(self._raw, self.model) if self.model in MODELS else []
        if problems:
            self._show_error(
                "\n".join(f"{p.path + ': ' if p.path else ''}{p.message}" for p in problems)
            )
        elif self._root is not None or not self.code_toggle.isChecked():
            self._show_error("")
        self._count_timer.start()

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _set_code_text(self) -> None:
        self.code_edit.blockSignals(True)
        self.code_edit.setPlainText(json.dumps(self._raw, ensure_ascii=False))
        self.code_edit.blockSignals(False)

    def _show_code(self, on: bool) -> None:
        if on:
            self._set_code_text()
        elif self._root is None:  # the code does not fit the tree: stay in code
            self.code_toggle.setChecked(True)
            return
        self.code_edit.setVisible(on)
        if self._group_box is not None:
            self._group_box.setVisible(not on)

    def _code_edited(self) -> None:
        try:
            parsed = parse_domain(self.code_edit.toPlainText())
            root = to_tree(parsed)
        except FilterError as exc:
            self._show_error(str(exc))
            return
        self._raw, self._root = parsed, root
        self._build_tree()
        self._after_edit()
