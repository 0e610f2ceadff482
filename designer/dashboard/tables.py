"""The dashboard's Traces and Participants tabs: a filter bar over a paged table.

Filters, the search and the order all go to the engine (:mod:`engine.api.tables`); the
table fetches pages as it scrolls. Choosing a participant shows their timeline, and
the dashboard highlights their path on the canvas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from PySide6.QtCore import QItemSelection, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.api import tables
from engine.api.tables import Query
from engine.db import Database

from .paged import Column, PagedModel

SEARCH_DELAY_MS = 250  # typing pauses this long before the engine is asked


def refill(
    combo: QComboBox, first: str, first_data: object, steps: Sequence[tuple[str, str]]
) -> None:
    """Replace a step picker's entries, keeping the chosen step if it is still there,
    without signalling the change (the caller reloads once)."""
    keep = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(first, first_data)
    for key, name in steps:
        combo.addItem(name, key)
    combo.setCurrentIndex(max(0, combo.findData(keep)))
    combo.blockSignals(False)


def when(at: datetime | None) -> str:
    return "" if at is None else at.astimezone().strftime("%Y-%m-%d %H:%M")


TRACE_COLUMNS: Sequence[Column] = (
    ("Step", "activity", lambda r: r.activity_name),
    ("Record", "record", lambda r: r.record),
    ("State", "state", lambda r: r.state),
    ("Due", "due_at", lambda r: when(r.due_at)),
    ("Done", "done_at", lambda r: when(r.done_at)),
    ("To", "to_address", lambda r: r.to_address or ""),
    ("Message", "", lambda r: r.message or ""),
)
PARTICIPANT_COLUMNS: Sequence[Column] = (
    ("Record", "record", lambda r: r.record),
    ("State", "state", lambda r: r.state),
    ("Joined", "joined_at", lambda r: when(r.joined_at)),
    ("Completed or removed", "ended_at", lambda r: when(r.ended_at)),
    ("Steps done", "steps", lambda r: str(r.steps)),
)


class PagedTable(QWidget):
    """A filter bar (state, optionally step, search) and a lazily paged table."""

    rowChosen = Signal(object)  # the row dataclass, or None

    def __init__(
        self,
        db: Database,
        columns: Sequence[Column],
        states: Sequence[str],
        *,
        by_step: bool,
        noun: str,
    ) -> None:
        super().__init__()
        self.db, self.campaign_id, self.noun, self.by_step = db, 0, noun, by_step
        self.model = PagedModel(
            columns,
            self._fetch,
            self._total,
            lambda q: tables.indexed(q, participants=not by_step),
        )
        self.model.loaded.connect(self._loaded)
        self._fit = False  # size the columns to the next rows that arrive
        self.state = QComboBox()
        self.state.addItem("Any state", None)
        for s in states:
            self.state.addItem(s.capitalize(), s)
        self.step = QComboBox()
        self.step.addItem("Any step", None)
        self.step.setVisible(by_step)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name or address" if by_step else "Search by name")
        self.search.setClearButtonEnabled(True)
        self.search.setMaxLength(tables.MAX_SEARCH)
        self.count = QLabel()
        self._typing = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._typing.timeout.connect(self.apply_filters)
        self.search.textChanged.connect(self._typing.start)
        self.state.currentIndexChanged.connect(self.apply_filters)
        self.step.currentIndexChanged.connect(self.apply_filters)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self.state, self.step):
            bar.addWidget(w)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.count)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # Sorting is the engine's: a click on a heading asks for that order (no
        # setSortingEnabled, which would sort at once by whatever column it picks).
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self.model.sort)
        self.view.selectionModel().selectionChanged.connect(self._chosen)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 6, 6, 6)
        box.addLayout(bar)
        box.addWidget(self.view, 1)

    # --- the engine ------------------------------------------------------------------------
    def fetch_page(self, query: Query, offset: int, limit: int) -> Sequence[object]:
        """One page of rows from the engine (the model's reads, and the CSV export's)."""
        return self._fetch(query, offset, limit)

    def _fetch(self, query: Query, offset: int, limit: int) -> Sequence[object]:
        if not self.campaign_id:
            return ()
        page = tables.trace_page if self.by_step else tables.participant_page
        return page(self.db, self.campaign_id, query, offset, limit)

    def _total(self, query: Query) -> int | None:
        if not self.campaign_id:
            return 0
        total = tables.trace_total if self.by_step else tables.participant_total
        return total(self.db, self.campaign_id, query)

    # --- what the user chose ---------------------------------------------------------------
    def load(self, campaign_id: int, steps: Sequence[tuple[str, str]]) -> None:
        """Another campaign (or its steps changed): filters kept where they still apply."""
        self.campaign_id = campaign_id
        refill(self.step, "Any step", None, steps)
        self.apply_filters()

    def apply_filters(self) -> None:
        q = replace(
            self.model.query,
            state=self.state.currentData(),
            activity=self.step.currentData() if self.by_step else None,
            search=self.search.text().strip(),
        )
        self._fit = True
        self.model.reload(q)
        self._show_count()

    def refresh(self) -> None:
        self.model.refresh()
        self._show_count()

    def _loaded(self) -> None:
        if self._fit:
            self._fit = False
            self.view.resizeColumnsToContents()
        self._show_count()

    def _show_count(self) -> None:
        total, shown = self.model.total, len(self.model.rows)
        if self.model.error:
            self.count.setText(self.model.error)
        elif self.model.loading and total is None:
            self.count.setText("Searching…")
        elif total is None:
            more = "+" if self.model.canFetchMore() else ""
            self.count.setText(f"{shown:,}{more} found")
        else:
            self.count.setText(f"{total:,} {self.noun}{'' if total == 1 else 's'}")

    def _chosen(self, _sel: QItemSelection, _old: QItemSelection) -> None:
        rows = self.view.selectionModel().selectedRows()
        self.rowChosen.emit(self.model.row(rows[0].row()) if rows else None)
