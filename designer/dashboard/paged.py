"""A table model that asks the engine for one page at a time (Qt's fetchMore protocol).

The view calls ``canFetchMore``/``fetchMore`` as the user scrolls near the end, so a
million traces cost a page each time, never a million rows. Sorting asks the engine
again in the new order; the engine validates every query (a bad one is a UserError).

A page the engine reads by walking an index comes back in milliseconds and is read at
once. A search, or an order that sorts every row, takes longer at a million rows (half a
second): those run on a background thread, so the window never freezes while it reads
again on every live change; the rows shown stay until the new ones arrive, and an answer
to a query that has since changed is dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    Qt,
    QThreadPool,
    Signal,
)

from engine.api.tables import PAGE, Query
from engine.errors import UserError

Index = QModelIndex | QPersistentModelIndex
Fetch = Callable[[Query, int, int], Sequence[Any]]  # query, offset, limit -> rows
Total = Callable[[Query], int | None]
Quick = Callable[[Query], bool]  # whether a page is an index walk, read at once
Column = tuple[str, str, Callable[[Any], str]]  # heading, sort key ("" = none), text


class _Relay(QObject):
    """Carries a background answer to the GUI thread (a queued signal)."""

    answered = Signal(int, str, object, object)  # generation, kind, rows, error text


class _Read(QRunnable):
    def __init__(self, relay: _Relay, generation: int, kind: str, read: Callable[[], Any]):
        super().__init__()
        self.relay, self.generation, self.kind, self.read = relay, generation, kind, read

    def run(self) -> None:
        rows: Any = []
        error: str | None = None
        try:
            rows = list(self.read())
        except UserError as exc:  # e.g. the campaign was deleted by another process
            error = str(exc)
        with contextlib.suppress(RuntimeError):  # the model is gone
            self.relay.answered.emit(self.generation, self.kind, rows, error)


class PagedModel(QAbstractTableModel):
    loaded = Signal()  # rows arrived (at once or from the background)

    def __init__(
        self,
        columns: Sequence[Column],
        fetch: Fetch,
        total: Total,
        quick: Quick = lambda _q: True,
    ) -> None:
        super().__init__()
        self.columns = list(columns)
        self._fetch, self._total, self._quick = fetch, total, quick
        self.query = Query()
        self.rows: list[Any] = []
        self.total: int | None = 0
        self.error: str | None = None
        self._exhausted = True
        self.pages = 0  # pages fetched since the last reset (tests read it)
        self._generation = 0  # bumped by every new query; older answers are dropped
        self._outstanding = 0  # background reads not yet answered
        self._again = False  # a refresh was asked for meanwhile
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.answered.connect(self._answered)

    @property
    def loading(self) -> bool:
        """A background read is under way (the rows shown are the previous ones)."""
        return self._outstanding > 0

    # --- loading ---------------------------------------------------------------------------
    def reload(self, query: Query | None = None) -> None:
        """Start again from the first page (a new filter, order, or newer data)."""
        if query is not None:
            self.query = query
        self._generation += 1
        self._again = False
        self.total = self._total(self.query)
        q = self.query
        self._read("reset", lambda: self._fetch(q, 0, PAGE))

    def refresh(self) -> None:
        """Newer data in as many rows as are shown, so the view does not jump back."""
        if self.loading:  # the read under way is followed by one more
            self._again = True
            return
        self.total = self._total(self.query)
        q, keep = self.query, max(PAGE, len(self.rows))
        self._read("refresh", lambda: self._fetch(q, 0, keep))

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:
        return not parent.isValid() and not self._exhausted and not self.loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:
        if parent.isValid() or self._exhausted or self.loading:
            return
        q, offset = self.query, len(self.rows)
        self._read("more", lambda: self._fetch(q, offset, PAGE))

    def wait(self) -> None:
        """Until the background read is answered (for scripts and tests)."""
        while self.loading:
            self._pool.waitForDone()
            QCoreApplication.processEvents()

    def _read(self, kind: str, read: Callable[[], Sequence[Any]]) -> None:
        if self._quick(self.query):
            try:
                rows, error = list(read()), None
            except UserError as exc:
                rows, error = [], str(exc)
            self._apply(kind, rows, error)
            return
        self._outstanding += 1
        self._pool.start(_Read(self._relay, self._generation, kind, read))

    def _answered(self, generation: int, kind: str, rows: list[Any], error: str | None) -> None:
        self._outstanding -= 1
        if generation != self._generation:  # the query changed meanwhile: dropped
            return
        self._apply(kind, rows, error)
        if self._again:
            self._again = False
            self.refresh()

    def _apply(self, kind: str, rows: list[Any], error: str | None) -> None:
        self.error = error
        if kind == "more":
            self.pages += 1
            self._exhausted = len(rows) < PAGE
            if rows:
                first = len(self.rows)
                self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
                self.rows.extend(rows)
                self.endInsertRows()
        else:
            wanted = PAGE if kind == "reset" else max(PAGE, len(self.rows))
            self.beginResetModel()
            if kind == "reset":
                self.pages = 1
            self.rows = rows
            self._exhausted = len(rows) < wanted
            self.endResetModel()
        self.loaded.emit()

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
