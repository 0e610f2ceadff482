"""The bottom dock: the open campaign's traces (who is where, when), and the one repair a
marketer makes there — retrying errored traces (SPEC §13, the designer's ``journeys retry``).

A retry may send a message a second time, so it always goes through a warning that says
what "delivery unknown" means and asks the person to check the server's log first.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.clock import Clock
from engine.db import Database
from engine.errors import UserError
from engine.retry import WARNING

from . import campaign_ops

COLUMNS = ("Activity", "Record", "State", "Due", "Done", "Message")
FIELDS = ("activity", "record", "state", "due", "done_at", "message")
RECENT = 500  # rows the dock shows (campaign_ops.recent_traces' limit)


def confirm_retry(parent: QWidget, count: int, selected: bool) -> bool:
    """The warning before a retry; tests replace ``QMessageBox.exec`` to answer it."""
    box = retry_box(parent, count, selected)
    return box.exec() == QMessageBox.StandardButton.Retry


def retry_box(parent: QWidget | None, count: int, selected: bool) -> QMessageBox:
    which = "selected errored" if selected else "interrupted or failed"
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Retry traces")
    box.setText(f"Retry {count} {which} trace{'' if count == 1 else 's'}?")
    box.setInformativeText(
        WARNING + "\n\nRetried traces are scheduled now and run on the engine's next pass."
    )
    box.setStandardButtons(QMessageBox.StandardButton.Retry | QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box


class TracesPanel(QWidget):
    retried = Signal(int)  # how many traces were put back to scheduled

    def __init__(self, db: Database, clock: Clock) -> None:
        super().__init__()
        self.db = db
        self.clock = clock
        self.campaign_id = 0
        self._rows: list[dict[str, object]] = []
        self.confirm: Callable[[QWidget, int, bool], bool] = confirm_retry
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_button)

        self.summary = QLabel()
        self.retry_button = QPushButton("Retry errored…")
        self.retry_button.setToolTip(
            "Put errored traces back to scheduled: the selected ones, or else those "
            "interrupted with delivery unknown and those that gave up after transient failures"
        )
        self.retry_button.clicked.connect(self.retry)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.retry_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addLayout(bar)
        box.addWidget(self.table, 1)
        self._retryable = 0

    def load(self, campaign_id: int) -> None:
        self.campaign_id = campaign_id
        rows = campaign_ops.recent_traces(self.db, campaign_id, RECENT) if campaign_id else []
        self._rows = rows
        self._retryable = campaign_ops.retryable_count(self.db, campaign_id) if campaign_id else 0
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, name in enumerate(FIELDS):
                value = row.get(name)
                text = "" if value is None else str(value)
                if name in ("due", "done_at"):
                    text = text[:16].replace("T", " ")
                self.table.setItem(r, c, QTableWidgetItem(text))
        errors = sum(1 for row in rows if row.get("state") == "error")
        if not campaign_id:
            self.summary.setText("")
        elif not rows:
            self.summary.setText("No traces yet")
        else:
            n = len(rows)
            parts = [f"the {n} most recent traces" if n >= RECENT else f"{n} traces"]
            if errors:
                parts.append(f"{errors} errored")
            if self._retryable:
                parts.append(f"{self._retryable} can be retried")
            self.summary.setText(" · ".join(parts))
        self._update_button()

    def selected_errors(self) -> list[int]:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        return [
            int(self._rows[r]["id"])  # type: ignore[call-overload]
            for r in sorted(rows)
            if r < len(self._rows) and self._rows[r].get("state") == "error"
        ]

    def _update_button(self) -> None:
        self.retry_button.setEnabled(bool(self.selected_errors() or self._retryable))

    def retry(self) -> None:
        ids = self.selected_errors()
        count = len(ids) if ids else self._retryable
        if not self.campaign_id or not count or not self.confirm(self, count, bool(ids)):
            return
        try:
            result = campaign_ops.retry(self.db, self.campaign_id, self.clock.now(), ids or None)
        except UserError as exc:
            QMessageBox.warning(self, "Retry traces", str(exc))
            return
        self.load(self.campaign_id)
        self.retried.emit(result.retried)
