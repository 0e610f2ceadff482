"""The field → value list of update_record and create_record actions.

A row is a field picker, a value cell shaped by the field's kind (see
:mod:`.value_cells`) and a remove button. The values are committed as one dict, and only
when every row is valid: an invalid row shows its message under it and nothing is saved.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.fields import MODELS

from .feedback import message_label, show_messages
from .value_cells import Cell, ValueLine, make_cell
from .widgets import DEBOUNCE_MS, FieldPicker, insert_placeholder


class ValueRow(QWidget):
    changed = Signal(bool)  # True: commit now (a choice), False: typing (debounce)
    removed = Signal(object)

    def __init__(self, owner: ValuesEditor, name: str | None, value: Any) -> None:
        super().__init__()
        self.owner = owner
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 4)
        top = QHBoxLayout()
        self.field_box = QComboBox()
        self.field_box.addItem("Choose a field…", None)
        for f in MODELS[owner.model].fields.values():
            if not f.readonly:
                self.field_box.addItem(f.label, f.name)
        if name is not None and self.field_box.findData(name) < 0:
            self.field_box.addItem(f"{name} (unknown)", name)
        self.field_box.setCurrentIndex(max(self.field_box.findData(name), 0))
        self.field_box.currentIndexChanged.connect(self._field_changed)
        top.addWidget(self.field_box, 2, Qt.AlignmentFlag.AlignTop)
        self.slot = QHBoxLayout()
        top.addLayout(self.slot, 3)
        drop = QToolButton(text="✕", toolTip="Remove this value", autoRaise=True)
        drop.clicked.connect(lambda: self.removed.emit(self))
        top.addWidget(drop, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(top)
        self.error = message_label()
        lay.addWidget(self.error)
        self.cell: Cell | None = None
        self._build_cell(value)

    def name(self) -> str | None:
        return self.field_box.currentData()

    def _build_cell(self, value: Any) -> None:
        if self.cell is not None:
            last = self.owner.last_edit
            if last is not None and self.cell.isAncestorOf(last):
                self.owner.last_edit = None
            self.cell.hide()
            self.cell.deleteLater()
            self.cell = None
        f = MODELS[self.owner.model].fields.get(self.name() or "")
        if f is None or f.readonly:
            return
        self.cell = make_cell(self.owner.model, f, self.owner.create, self.owner.users)
        self.cell.set_value(value)
        self.cell.edited.connect(lambda: self.changed.emit(False))
        self.cell.committed.connect(lambda: self.changed.emit(True))
        edit = self.cell.text_edit()
        if edit is not None:
            edit.focused.connect(self.owner.remember)
        self.slot.addWidget(self.cell)

    def _field_changed(self, _index: int) -> None:
        self._build_cell(None)
        self.changed.emit(True)

    def result(self) -> tuple[str | None, Any]:
        """(field, value) to store; (None, None) to skip; ValueError when invalid."""
        name = self.name()
        if name is None:
            return None, None
        if self.cell is None:
            f = MODELS[self.owner.model].fields.get(name)
            raise ValueError(
                f"{MODELS[self.owner.model].label} records have no field {name!r}"
                if f is None
                else f"{f.label} is set by Journeys and cannot be written"
            )
        return name, self.cell.value()


class ValuesEditor(QWidget):
    """Emits ``committed(values)`` with the whole dict when every row is valid."""

    committed = Signal(object, bool)  # values, typed (False: a choice, its own undo step)

    def __init__(self, ctx: Any, model: str, *, create: bool, users: list[str]) -> None:
        super().__init__()
        self.ctx, self.model, self.create, self.users = ctx, model, create, users
        self.rows: list[ValueRow] = []
        self.last_edit: ValueLine | None = None
        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.timer.timeout.connect(self.flush)
        self.dirty = False
        self.typed = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(QLabel("Values <small>(text may use placeholders)</small>"))
        head.addStretch(1)
        self.picker = FieldPicker(ctx.model)
        self.picker.setToolTip("Insert a field of the participant's record into the value")
        self.picker.picked.connect(self._insert)
        head.addWidget(self.picker)
        lay.addLayout(head)
        self.box = QVBoxLayout()
        lay.addLayout(self.box)
        self.empty = QLabel("No values yet: add one below.", enabled=False)
        lay.addWidget(self.empty)
        self.add_button = QPushButton("+ Value")
        self.add_button.clicked.connect(lambda: self.add_row(None, None))
        lay.addWidget(self.add_button)
        self.error = message_label()
        lay.addWidget(self.error)

    # --- rows --------------------------------------------------------------------------------
    def add_row(self, name: str | None, value: Any) -> ValueRow:
        row = ValueRow(self, name, value)
        row.changed.connect(self._changed)
        row.removed.connect(self._remove)
        self.rows.append(row)
        self.box.addWidget(row)
        self.empty.hide()
        return row

    def _remove(self, row: ValueRow) -> None:
        self.rows.remove(row)
        if self.last_edit is not None and row.isAncestorOf(self.last_edit):
            self.last_edit = None
        row.hide()
        row.deleteLater()
        self.empty.setVisible(not self.rows)
        self._changed(True)

    def remember(self, edit: ValueLine) -> None:
        self.last_edit = edit

    def _insert(self, path: str) -> None:
        edit = self.last_edit
        if edit is None:
            edit = next(
                (e for r in reversed(self.rows) if r.cell and (e := r.cell.text_edit())), None
            )
        if edit is None:
            show_messages(self.error, ["Add a text value first, then insert a field into it."])
            return
        insert_placeholder(edit, path)  # its editingFinished commits

    # --- reading and writing -----------------------------------------------------------------
    def _changed(self, now: bool) -> None:
        self.dirty = True
        self.typed = not now
        if now:
            self.flush()
        else:
            self.timer.start()

    def values(self) -> tuple[dict[str, Any], bool]:
        """The values the rows hold, and whether all of them are valid (errors shown)."""
        out: dict[str, Any] = {}
        ok = True
        for row in self.rows:
            try:
                name, value = row.result()
                if name is not None and name in out:
                    raise ValueError("this field is already set above")
            except ValueError as exc:
                show_messages(row.error, [str(exc)])
                ok = False
                continue
            show_messages(row.error, [])
            if name is not None and not (self.create and value is None):
                out[name] = value
        show_messages(self.error, [] if ok else ["Not saved until the values above are fixed."])
        return out, ok

    def flush(self) -> None:
        self.timer.stop()
        if not self.dirty:
            return
        self.dirty = False
        values, ok = self.values()
        if ok:
            self.committed.emit(values, self.typed)

    def set_model(self, model: str) -> None:
        """Another model (create_record): its fields, no rows until :meth:`set_values`."""
        self.model = model
        self._clear()

    def _clear(self) -> None:
        self.timer.stop()
        self.dirty = False
        for row in self.rows:
            row.hide()
            row.deleteLater()
        self.rows, self.last_edit = [], None
        self.empty.show()

    def set_values(self, values: dict[str, Any]) -> None:
        """Show the document's values (first load, undo): rows are rebuilt if they differ."""
        self.timer.stop()
        self.dirty = False
        current, ok = self.values()
        if ok and current == values and len(self.rows) >= len(values):
            return
        self._clear()
        for name, value in values.items():
            self.add_row(name, value)
        self.empty.setVisible(not self.rows)
        self.values()  # clear (or show) the messages of the rows now shown
