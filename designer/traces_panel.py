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

from engine.api import tables
from engine.api.tables import Query, TraceRow
from engine.clock import Clock
from engine.db import Database
from engine.errors import UserError
from engine.retry import WARNING

from . import campaign_ops
from .dashboard.tables import when

COLUMNS = ("Step", "Record", "State", "Due", "Done", "Message")
RECENT = 500  # the newest rows the dock shows: one page of the engine's traces table


def cells(row: TraceRow) -> tuple[str, ...]:
    return (
        row.activity_name,
        row.record,
        row.state,
        when(row.due_at),
        when(row.done_at),
        row.message or "",
    )


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
        self._rows: tuple[TraceRow, ...] = ()
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
        """The newest traces, one page from the engine (never the campaign's every trace)."""
        self.campaign_id = campaign_id
        rows: tuple[TraceRow, ...] = ()
        total = errors = 0
        self._retryable = 0
        if campaign_id:
            try:
                rows = tables.trace_page(self.db, campaign_id, Query(), 0, RECENT)
                total = tables.trace_total(self.db, campaign_id, Query()) or 0
                errors = tables.trace_total(self.db, campaign_id, Query(state="error")) or 0
                self._retryable = campaign_ops.retryable_count(self.db, campaign_id)
            except UserError:  # deleted meanwhile by another process
                rows, total, errors = (), 0, 0
        self._rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(cells(row)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        if not campaign_id:
            self.summary.setText("")
        elif not rows:
            self.summary.setText("No traces yet")
        else:
            shown = f"{total:,} traces"
            if total > len(rows):
                shown = f"the {len(rows):,} most recent of {total:,} traces"
            parts = [shown]
            if errors:
                parts.append(f"{errors:,} errored")
            if self._retryable:
                parts.append(f"{self._retryable:,} can be retried")
            self.summary.setText(" · ".join(parts))
        self._update_button()

    def selected_errors(self) -> list[int]:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        return [
            self._rows[r].id
            for r in sorted(rows)
            if r < len(self._rows) and self._rows[r].state == "error"
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
