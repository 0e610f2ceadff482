"""The bottom dock: the open campaign's traces (who is where, when), and the one repair a
marketer makes there — retrying errored traces (SPEC §13, the designer's ``journeys retry``).

Filters narrow it to one state, one step or one record; the step follows the card
selected on the canvas (unless "Follow selection" is off), so clicking a card answers
"who is here and what happened to them".

A retry may send a message a second time, so it always goes through a warning that says
what "delivery unknown" means and asks the person to check the server's log first.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.api import campaign_ops, tables
from engine.api.tables import Query, TraceRow
from engine.catalog import TRACE_STATES
from engine.clock import Clock
from engine.db import Database
from engine.errors import UserError
from engine.retry import WARNING

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

        self.steps: dict[str, str] = {}  # key -> name, in the canvas's order
        self.state_box = QComboBox()
        self.state_box.setToolTip("Show the traces in one state only")
        self.state_box.addItem("All states", None)
        for state in TRACE_STATES:
            self.state_box.addItem(state.capitalize(), state)
        self.state_box.currentIndexChanged.connect(self.reload)
        self.step_box = QComboBox()
        self.step_box.setToolTip("Show one step's traces only")
        self.step_box.setMinimumContentsLength(16)
        self.step_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.step_box.addItem("All steps", None)
        self.step_box.currentIndexChanged.connect(self.reload)
        self.follow_box = QCheckBox("Follow selection")
        self.follow_box.setToolTip("Show the traces of the card selected on the canvas")
        self.follow_box.setChecked(True)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Find a record or an address…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.returnPressed.connect(self.reload)
        self.search_edit.textChanged.connect(lambda text: text or self.reload())
        self.summary = QLabel()
        self.retry_button = QPushButton("Retry errored…")
        self.retry_button.setToolTip(
            "Put errored traces back to scheduled: the selected ones, or else those "
            "interrupted with delivery unknown and those that gave up after transient failures"
        )
        self.retry_button.clicked.connect(self.retry)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        for widget in (self.state_box, self.step_box, self.follow_box):
            bar.addWidget(widget)
        bar.addWidget(self.search_edit, 1)
        bar.addWidget(self.summary, 2)
        bar.addWidget(self.retry_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addLayout(bar)
        box.addWidget(self.table, 1)
        self._retryable = 0

    def query(self) -> Query:
        return Query(
            state=self.state_box.currentData(),
            activity=self.step_box.currentData(),
            search=self.search_edit.text().strip(),
        )

    def set_steps(self, steps: dict[str, str]) -> None:
        """The open campaign's steps (key → name) for the step filter; keeps the choice
        while that step exists."""
        if steps == self.steps:
            return
        self.steps = dict(steps)
        current = self.step_box.currentData()
        self.step_box.blockSignals(True)
        self.step_box.clear()
        self.step_box.addItem("All steps", None)
        for key, name in steps.items():
            self.step_box.addItem(name, key)
        self.step_box.setCurrentIndex(max(0, self.step_box.findData(current)))
        self.step_box.blockSignals(False)
        if self.step_box.currentData() != current:
            self.reload()

    def follow(self, keys: list[str]) -> None:
        """The canvas selection changed: show the one selected step's traces, or all."""
        if not self.follow_box.isChecked():
            return
        key = keys[0] if len(keys) == 1 and keys[0] in self.steps else None
        self.step_box.setCurrentIndex(max(0, self.step_box.findData(key)))

    def reload(self) -> None:
        self.load(self.campaign_id)

    def load(self, campaign_id: int) -> None:
        """The newest traces that match the filters, one page from the engine (never the
        campaign's every trace)."""
        if campaign_id != self.campaign_id:  # another campaign's steps: none chosen
            self.steps = {}
            self.step_box.blockSignals(True)
            self.step_box.clear()
            self.step_box.addItem("All steps", None)
            self.step_box.blockSignals(False)
        self.campaign_id = campaign_id
        query = self.query()
        filtered = query != Query()
        rows: tuple[TraceRow, ...] = ()
        total = errors = 0
        self._retryable = 0
        if campaign_id:
            try:
                rows = tables.trace_page(self.db, campaign_id, query, 0, RECENT)
                total = tables.trace_total(self.db, campaign_id, query) or 0
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
            self.summary.setText("No trace matches these filters" if filtered else "No traces yet")
        else:
            noun = "matching traces" if filtered else "traces"
            shown = f"{total:,} {noun}"
            if total > len(rows):
                shown = f"the {len(rows):,} most recent of {total:,} {noun}"
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
