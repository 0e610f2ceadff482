"""Search-to-add: type "sms cli" and press Return to add "SMS after clicked" under the
selected card (Orange's quick menu, Node-RED's quick-add).

The box lives on the view itself, not in a popup window: it never grabs the keyboard
from the rest of the desktop, and tests drive it like any widget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from .. import wording
from ..document import CampaignDocument
from .interactions import ACTIVITY_TYPES

# Other words people type for a type: "mail" finds emails, "action" server actions.
ALIASES = {"email": "mail e-mail", "sms": "text message", "server_action": "code tag update"}


@dataclass(frozen=True)
class Choice:
    label: str
    type_: str
    trigger: str
    parent: str | None
    words: tuple[str, ...]


def choices(document: CampaignDocument, parent: str | None) -> list[Choice]:
    """Every step that can follow ``parent`` (a root for None), named as it would be."""
    out = []
    for trigger in document.valid_triggers(parent):
        for type_ in ACTIVITY_TYPES:
            label = wording.step_name(type_, trigger)
            words = tuple(f"{label} {ALIASES.get(type_, '')}".lower().split())
            out.append(Choice(label, type_, trigger, parent, words))
    return out


def matches(choice: Choice, text: str) -> bool:
    """Each typed word starts one of the choice's words ("sms cli" → SMS after clicked)."""
    return all(any(w.startswith(t) for w in choice.words) for t in text.lower().split())


class QuickAdd(QFrame):
    """A search box and its matches over the canvas; Return adds the highlighted one."""

    def __init__(self, view: QWidget, add: Callable[[Choice], object]) -> None:
        super().__init__(view)
        self.setObjectName("quick-add")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self._add = add
        self._all: list[Choice] = []
        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Add a step: type e.g. “sms clicked”, then Return")
        self.edit.textChanged.connect(self._filter)
        self.edit.installEventFilter(self)
        self.list = QListWidget()
        self.list.itemActivated.connect(lambda item: self._choose(item))
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 6, 6, 6)
        box.addWidget(self.edit)
        box.addWidget(self.list)
        self.setFixedWidth(340)
        self.hide()

    def open(self, options: list[Choice]) -> None:
        self._all = options
        self.edit.clear()
        self._filter("")
        parent = self.parentWidget()
        if parent is not None:
            self.move(max(0, (parent.width() - self.width()) // 2), 24)
        self.show()
        self.raise_()
        self.edit.setFocus()

    def shown(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _filter(self, text: str) -> None:
        self.list.clear()
        for choice in self._all:
            if matches(choice, text):
                item = QListWidgetItem(choice.label)
                item.setData(Qt.ItemDataRole.UserRole, choice)
                self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        # As tall as its matches (up to eight), so a narrowed search is a short list.
        rows = min(8, max(1, self.list.count()))
        self.list.setFixedHeight(rows * max(18, self.list.sizeHintForRow(0)) + 6)
        self.adjustSize()

    def _choose(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        choice = item.data(Qt.ItemDataRole.UserRole)
        self.hide()
        self._add(choice)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._choose(self.list.currentItem())
                return True
            if key == Qt.Key.Key_Escape:
                self.hide()
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if key == Qt.Key.Key_Down else -1
                row = min(max(self.list.currentRow() + step, 0), self.list.count() - 1)
                self.list.setCurrentRow(row)
                return True
        focus_out = event.type() == QEvent.Type.FocusOut
        if watched is self.edit and focus_out and not self.list.hasFocus():
            self.hide()
        return False
