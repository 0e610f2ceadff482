"""Inline feedback under a form: errors (nothing was saved) and warnings (saved, but look).

Colours come from :mod:`designer.theme`, so they stay readable in dark mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtWidgets import QLabel, QWidget

from engine.api import lookups

from ..theme import status_color


def message_label(kind: str = "error", parent: QWidget | None = None) -> QLabel:
    """A hidden, word-wrapped label for ``error`` or ``warning`` messages."""
    label = QLabel(parent, wordWrap=True)
    label.setProperty("feedback", kind)
    label.hide()
    return label


def show_messages(label: QLabel, messages: Iterable[str]) -> None:
    """Show ``messages`` one per line, or hide the label when there are none."""
    lines = [m for m in messages if m]
    kind = str(label.property("feedback") or "error")
    label.setStyleSheet(f"color: {status_color(kind)};")
    label.setText("\n".join(lines))
    label.setVisible(bool(lines))


def user_emails(db: Any) -> list[str]:
    """The users' emails (assignees, followers), read once for a form; [] on any failure."""
    try:
        return lookups.user_emails(db)
    except Exception:  # no database (a bare form in a test): no suggestions
        return []
