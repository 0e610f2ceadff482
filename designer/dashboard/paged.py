"""A table model that asks the engine for one page at a time (Qt's fetchMore protocol).

The view calls ``canFetchMore``/``fetchMore`` as the user scrolls near the end, so a
million traces cost a page each time, never a million rows. Sorting asks the engine
again in the new order; the engine validates every query (a bad one is a UserError).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from engine.api.tables import PAGE, Query

Index = QModelIndex | QPersistentModelIndex
Fetch = Callable[[Query, int, int], Sequence[Any]]  # query, offset, limit -> rows
Total = Callable[[Query], int | None]
Column = tuple[str, str, Callable[[Any], str]]  # heading, sort key ("" = none), text


class PagedModel(QAbstractTableModel):
    def __init__(self, columns: Sequence[Column], fetch: Fetch, total: Total) -> None:
        super().__init__()
        self.columns = list(columns)
        self._fetch, self._total = fetch, total
        self.query = Query()
        self.rows: list[Any] = []
        self.total: int | None = 0
        self._exhausted = True
        self.pages = 0  # pages fetched since the last reset (tests read it)

    # --- loading ---------------------------------------------------------------------------
    def reload(self, query: Query | None = None) -> None:
        """Start again from the first page (a new filter, order, or newer data)."""
        if query is not None:
            self.query = query
        self.beginResetModel()
        self.rows, self.pages = [], 0
        self.total = self._total(self.query)
        self._exhausted = False
        self.rows = self._load_page()
        self.endResetModel()

    def refresh(self) -> None:
        """Newer data in as many rows as are shown, so the view does not jump back."""
        keep = max(PAGE, len(self.rows))
        self.beginResetModel()
        self.total = self._total(self.query)
        self.rows = list(self._fetch(self.query, 0, keep))
        self._exhausted = len(self.rows) < keep
        self.endResetModel()

    def _load_page(self) -> list[Any]:
        page = list(self._fetch(self.query, len(self.rows), PAGE))
        self.pages += 1
        self._exhausted = len(page) < PAGE
        return page

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if parent.isValid() or self._exhausted:
            return
        page = self._load_page()
        if page:
            first = len(self.rows)
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
            self.rows.extend(page)
            self.endInsertRows()

    # --- the model -------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or role not in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.ToolTipRole,
        ):
            return None
        return self.columns[index.column()][2](self.rows[index.row()])

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section][0]
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = self.columns[column][1]
        if not key:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        self.reload(replace(self.query, sort=key, descending=descending))

    def row(self, index: int) -> Any:
        return self.rows[index]
