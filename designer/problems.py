"""The problems panel: the engine's validation of the open campaign, on every edit.

Problems carry JSON paths of the exported file (``$.activities[2].trigger``); the panel
maps ``$.activities[i]`` to the activity's key, so the canvas can badge the node and a
click can focus it. Problems of the campaign itself have no key.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QWidget

from engine.campaign_files import export_document
from engine.db import Database
from engine.errors import Problem
from engine.validation import validate_campaign

_ACTIVITY = re.compile(r"^\$\.activities\[(\d+)\]")
KEY_ROLE = Qt.ItemDataRole.UserRole + 1


def load_problems(db: Database, campaign_id: int) -> list[tuple[Problem, str | None]]:
    """Every problem of the stored campaign with the key of the node it is about."""
    with db.read() as session:
        keys = [a["key"] for a in export_document(session, campaign_id)["activities"]]
        problems = validate_campaign(session, campaign_id)
    out: list[tuple[Problem, str | None]] = []
    for problem in problems:
        match = _ACTIVITY.match(problem.path)
        index = int(match.group(1)) if match else -1
        out.append((problem, keys[index] if 0 <= index < len(keys) else None))
    return out


def badges(found: Sequence[tuple[Problem, str | None]]) -> dict[str, tuple[str, str]]:
    """key -> (worst severity, text) for :meth:`CampaignScene.set_problems`."""
    out: dict[str, tuple[str, str]] = {}
    for problem, key in found:
        if key is None:
            continue
        severity, text = out.get(key, (problem.severity, ""))
        if problem.severity == "error":
            severity = "error"
        out[key] = (severity, f"{text}\n{problem.message}".strip())
    return out


class ProblemsPanel(QListWidget):
    """One line per problem; activating a line emits ``nodeActivated(key)``."""

    nodeActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problems: list[tuple[Problem, str | None]] = []
        self.itemClicked.connect(self._on_item)
        self.itemActivated.connect(self._on_item)

    def set_problems(
        self, found: Sequence[tuple[Problem, str | None]], names: dict[str, str]
    ) -> None:
        self.problems = list(found)
        self.clear()
        style = self.style()
        for problem, key in found:
            where = names.get(key, key) if key else "Campaign"
            item = QListWidgetItem(f"{where}: {problem.message}")
            icon = (
                QStyle.StandardPixmap.SP_MessageBoxCritical
                if problem.severity == "error"
                else QStyle.StandardPixmap.SP_MessageBoxWarning
            )
            item.setIcon(style.standardIcon(icon))
            item.setToolTip(problem.path)
            item.setData(KEY_ROLE, key)
            self.addItem(item)
        if not found:
            self.addItem(QListWidgetItem("No problems"))

    def errors(self) -> list[Problem]:
        return [p for p, _ in self.problems if p.severity == "error"]

    def _on_item(self, item: QListWidgetItem) -> None:
        key = item.data(KEY_ROLE)
        if key:
            self.nodeActivated.emit(key)
