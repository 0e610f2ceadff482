"""Small pieces the inspector's forms share: debounced commits, quiet setters, a delay
editor, a field picker and a Python highlighter."""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QSignalBlocker, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from engine import limits
from engine.fields import MODELS

from .. import theme
from ..filter_builder import field_paths

UNITS = ("hours", "days", "weeks", "months")
DEBOUNCE_MS = 400


def bound_amount(spin: QSpinBox, unit: str) -> None:
    """The amount box of a delay goes up to the engine's bound for ``unit`` (10 years).

    Lowering the maximum may lower the value; no signal: the caller commits once after."""
    with QSignalBlocker(spin):
        spin.setMaximum(limits.max_delay(unit))


class Debounced(QObject):
    """Calls ``commit(text)`` after a pause in typing, and at once on editingFinished."""

    def __init__(self, widget: QLineEdit | QPlainTextEdit, commit: Callable[[str], Any]) -> None:
        super().__init__(widget)
        self.widget, self.commit = widget, commit
        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.timer.timeout.connect(self.flush)
        self.quiet = False
        self.dirty = False
        if isinstance(widget, QLineEdit):
            widget.textEdited.connect(lambda _t: self._typed())
            widget.editingFinished.connect(self.flush)
        else:
            widget.textChanged.connect(self._typed)

    def _typed(self) -> None:
        if not self.quiet:
            self.dirty = True
            self.timer.start()

    def text(self) -> str:
        w = self.widget
        return w.text() if isinstance(w, QLineEdit) else w.toPlainText()

    def flush(self) -> None:
        self.timer.stop()
        if self.dirty:
            self.dirty = False
            self.commit(self.text())

    def set_text(self, text: str) -> None:
        """Show ``text`` without committing it (refresh after undo, first load)."""
        if self.text() == text:
            return
        self.timer.stop()
        self.dirty = False
        self.quiet = True
        w = self.widget
        if isinstance(w, QLineEdit):
            w.setText(text)
            w.setCursorPosition(0)  # show the start of a long value
        else:
            w.setPlainText(text)
        self.quiet = False


def set_quietly(widget: QWidget, setter: Callable[[], Any]) -> None:
    widget.blockSignals(True)
    try:
        setter()
    finally:
        widget.blockSignals(False)


class DelayEdit(QWidget):
    """Amount + unit; with ``optional`` a checkbox turns it off (None)."""

    changed = Signal(object)  # {"amount", "unit"} or None

    def __init__(self, optional: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.enabled = QCheckBox("Expires after") if optional else None
        self.amount = QSpinBox(maximum=limits.max_delay(UNITS[0]))
        self.unit = QComboBox()
        self.unit.addItems(list(UNITS))
        if self.enabled is not None:
            lay.addWidget(self.enabled)
            self.enabled.toggled.connect(self._emit)
        lay.addWidget(self.amount)
        lay.addWidget(self.unit, 1)
        self.amount.valueChanged.connect(lambda _v: self._emit())
        self.unit.currentTextChanged.connect(self._unit_changed)

    def value(self) -> dict[str, Any] | None:
        if self.enabled is not None and not self.enabled.isChecked():
            return None
        return {"amount": self.amount.value(), "unit": self.unit.currentText()}

    def set_value(self, value: Any) -> None:
        for w in (self.amount, self.unit, self.enabled):
            if w is not None:
                w.blockSignals(True)
        if self.enabled is not None:
            self.enabled.setChecked(value is not None)
        if value is not None:
            self.amount.setMaximum(limits.max_delay(value.unit))
            self.amount.setValue(value.amount)
            self.unit.setCurrentText(value.unit)
        self.amount.setEnabled(value is not None or self.enabled is None)
        self.unit.setEnabled(value is not None or self.enabled is None)
        for w in (self.amount, self.unit, self.enabled):
            if w is not None:
                w.blockSignals(False)

    def _unit_changed(self, unit: str) -> None:
        bound_amount(self.amount, unit)
        self._emit()

    def _emit(self) -> None:
        on = self.enabled is None or self.enabled.isChecked()
        self.amount.setEnabled(on)
        self.unit.setEnabled(on)
        self.changed.emit(self.value())


class FieldPicker(QToolButton):
    """A "{…}" button whose menu lists the model's fields; emits the chosen path."""

    picked = Signal(str)

    def __init__(self, model: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The style's menu arrow overlaps an instant-popup button's text: draw our own.
        self.setText("Insert field ▾")
        self.setStyleSheet("QToolButton::menu-indicator { image: none; width: 0; }")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        for path, label in field_paths(model) if model in MODELS else []:
            action = menu.addAction(f"{label}  ({path})")
            action.setData(path)
        menu.triggered.connect(lambda a: self.picked.emit(a.data()))
        self.setMenu(menu)


def insert_placeholder(edit: QPlainTextEdit | QLineEdit, path: str) -> None:
    text = "{{ record." + path + " }}"
    if isinstance(edit, QLineEdit):
        edit.insert(text)
        edit.editingFinished.emit()
    else:
        edit.insertPlainText(text)


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, strings, comments and numbers: enough to read a short action.

    Colours for light and dark editors; a scheme change re-highlights the text.
    """

    # (keyword, number, string, comment) per scheme, each ≥ 4.5:1 on the editor's base.
    COLORS = {
        False: ("#7D3C98", "#A04000", "#1E8449", "#6C7A7D"),
        True: ("#D7A6FF", "#FFB38A", "#A8E6A1", "#9AA3AE"),
    }

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        words = "|".join(keyword.kwlist)
        self.patterns = [
            re.compile(rf"\b({words})\b"),
            re.compile(r"\b\d+(\.\d+)?\b"),
            re.compile(r"(\"[^\"\n]*\"|'[^'\n]*')"),
            re.compile(r"#[^\n]*"),
        ]
        self.dark = theme.is_dark()
        self.rules = self._rules(self.dark)
        if isinstance(QGuiApplication.instance(), QGuiApplication):
            theme.appearance().changed.connect(self.set_dark)

    def _rules(self, dark: bool) -> list[tuple[re.Pattern[str], QTextCharFormat]]:
        formats = []
        for i, color in enumerate(self.COLORS[dark]):
            f = QTextCharFormat()
            f.setForeground(QColor(color))
            if i == 0:
                f.setFontWeight(QFont.Weight.Bold)
            formats.append(f)
        return list(zip(self.patterns, formats, strict=True))

    def set_dark(self, dark: bool) -> None:
        if dark == self.dark:
            return
        self.dark = dark
        self.rules = self._rules(dark)
        document = self.document()
        if document is None:
            return
        # New colours are not an edit: the editor must not report changed text (a
        # Debounced commit would follow). The layout still hears of it and repaints.
        blocker = QSignalBlocker(document)
        try:
            self.rehighlight()
        finally:
            blocker.unblock()

    def highlightBlock(self, text: str) -> None:
        for pattern, form in self.rules:
            for m in pattern.finditer(text):
                self.setFormat(m.start(), m.end() - m.start(), form)
