"""add_followers / remove_followers (who) and run_actions (which saved actions, in order)."""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from engine.api import lookups
from engine.fields import MODELS

from .content import ContentForm
from .feedback import message_label, show_messages, user_emails
from .widgets import Debounced

SALESPERSON = "salesperson"


def email_problem(text: str) -> str | None:
    """Why ``text`` is not an email address, or None."""
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"{text!r} is not a valid email address: {exc}"
    return None


def user_problem(ref: str, model: str) -> str | None:
    """A user reference is ``salesperson`` (if the model has one) or an email address."""
    if ref == SALESPERSON:
        info = MODELS.get(model)
        if info is not None and info.field(SALESPERSON) is None:
            return f"{info.label} records have no salesperson"
        return None
    return email_problem(ref)


def _emails(text: str) -> list[str]:
    return [t.strip() for t in text.replace(",", "\n").replace(";", "\n").split("\n") if t.strip()]


class FollowersForm(ContentForm):
    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        self.salesperson = QCheckBox("The record's salesperson")
        if MODELS[ctx.model].field(SALESPERSON) is None:
            self.salesperson.setEnabled(False)
            self.salesperson.setToolTip(f"{MODELS[ctx.model].label} records have no salesperson")
        form.addRow("Users", self.salesperson)
        self.emails = QPlainTextEdit(maximumHeight=90)
        self.emails.setPlaceholderText("and these users: one email per line")
        form.addRow("", self.emails)
        self.known = {e.lower() for e in user_emails(ctx.db)}
        self.error = message_label()
        self.warning = message_label("warning")
        form.addRow(self.error)
        form.addRow(self.warning)
        self.salesperson.toggled.connect(lambda _on: self._commit(merge=False))
        self.texts["users"] = Debounced(self.emails, lambda _t: self._commit())

    def users(self) -> tuple[list[str], list[str]]:
        """(the users to store, the problems that prevent storing them)."""
        users = [SALESPERSON] if self.salesperson.isChecked() else []
        problems = []
        for text in _emails(self.emails.toPlainText()):
            problem = email_problem(text)
            if problem:
                problems.append(problem)
            elif text not in users:
                users.append(text)
        return users, problems

    def _commit(self, merge: bool = True) -> None:
        users, problems = self.users()
        show_messages(self.error, [*problems, "Not saved until fixed." if problems else ""])
        if not problems:
            self.set("users", users, merge=merge)
        self._warn(users)

    def _warn(self, users: list[str]) -> None:
        unknown = [u for u in users if u != SALESPERSON and u.lower() not in self.known]
        warnings = []
        if not users:
            warnings.append("No one is chosen: the action does nothing.")
        if unknown:
            warnings.append(
                f"No user has the email {', '.join(unknown)} yet: the action fails for "
                "each record until one does (import users first)."
            )
        show_messages(self.warning, warnings)

    def load(self) -> None:
        users = [str(u) for u in self.node.content.get("users") or []]
        self.salesperson.blockSignals(True)
        self.salesperson.setChecked(SALESPERSON in users)
        self.salesperson.blockSignals(False)
        self.texts["users"].set_text("\n".join(u for u in users if u != SALESPERSON))
        show_messages(self.error, [])
        self._warn(users)


def saved_action_names(db: Any, campaign_id: int) -> dict[str, str]:
    """The campaign's saved actions: name → kind; {} when they cannot be read."""
    try:
        return lookups.saved_actions(db, campaign_id)
    except Exception:
        return {}


class RunActionsForm(ContentForm):
    """The saved actions to run, in order, chosen among the campaign's own."""

    def __init__(self, ctx: Any, key: str, parent: QWidget | None = None) -> None:
        super().__init__(ctx, key, parent)
        self.saved = saved_action_names(ctx.db, ctx.editor.document.campaign.id)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.chosen = QListWidget()
        self.chosen.setMaximumHeight(130)
        grid.addWidget(QLabel("Runs, in this order"), 0, 0, 1, 3)
        grid.addWidget(self.chosen, 1, 0, 4, 2)
        self.up, self.down, self.remove = (QPushButton(t) for t in ("Up", "Down", "Remove"))
        for row, button in enumerate((self.up, self.down, self.remove), start=1):
            grid.addWidget(button, row, 2)
        self.choice = QComboBox()
        for name, kind in self.saved.items():
            self.choice.addItem(f"{name}  ({kind})", name)
        self.add = QPushButton("Add")
        grid.addWidget(self.choice, 5, 0, 1, 2)
        grid.addWidget(self.add, 5, 2)
        self.note = QLabel(wordWrap=True, enabled=False)
        self.error = message_label()
        grid.addWidget(self.note, 6, 0, 1, 3)
        grid.addWidget(self.error, 7, 0, 1, 3)
        if not self.saved:
            self.note.setText(
                "This campaign has no saved actions. They come with campaign files "
                '(their "saved_actions" section).'
            )
        self.choice.setEnabled(bool(self.saved))
        self.add.setEnabled(bool(self.saved))
        self.add.clicked.connect(self._add)
        self.remove.clicked.connect(lambda: self._edit(lambda names, i: names.pop(i)))
        self.up.clicked.connect(lambda: self._move(-1))
        self.down.clicked.connect(lambda: self._move(1))

    def _add(self) -> None:
        name = self.choice.currentData()
        if name is not None:
            self.set("actions", [*self.node.content.get("actions", []), name], merge=False)
            self.load(select_row=self.chosen.count())

    def _edit(self, change: Any) -> None:
        row = self.chosen.currentRow()
        names = list(self.node.content.get("actions") or [])
        if 0 <= row < len(names):
            change(names, row)
            self.set("actions", names, merge=False)
            self.load(select_row=min(row, len(names) - 1))

    def _move(self, step: int) -> None:
        row = self.chosen.currentRow()
        names = list(self.node.content.get("actions") or [])
        other = row + step
        if 0 <= row < len(names) and 0 <= other < len(names):
            names[row], names[other] = names[other], names[row]
            self.set("actions", names, merge=False)
            self.load(select_row=other)

    def load(self, select_row: int | None = None) -> None:
        names = [str(n) for n in self.node.content.get("actions") or []]
        self.chosen.clear()
        for name in names:
            kind = self.saved.get(name)
            self.chosen.addItem(f"{name}  ({kind})" if kind else f"{name}  (not found)")
        if select_row is not None and 0 <= select_row < len(names):
            self.chosen.setCurrentRow(select_row)
        missing = [n for n in names if n not in self.saved]
        show_messages(
            self.error,
            [f"No saved action is named {', '.join(map(repr, missing))}." if missing else ""],
        )
