"""The campaign list dock: name, state, participants and last change, with a search box.

Rows are plain data from one grouped query (never ORM objects); no session stays open.
The list only shows and selects; the main window runs New / Duplicate / Rename / Delete /
Archive, which it finds in :attr:`CampaignList.actions_by_name`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import and_, false, func, select

from engine.db import Database
from engine.models import Campaign, Participant

COLUMNS = ("Name", "State", "Participants", "Changed")
ID_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    target: str
    state: str
    participants: int
    archived: bool = False
    updated_at: datetime | None = None


def load_campaigns(db: Database, *, archived: bool = False) -> list[CampaignRow]:
    """Every campaign with its number of (non-test) participants, in one query."""
    count = func.count(Participant.id)
    cols = (Campaign.id, Campaign.name, Campaign.target, Campaign.state)
    query = (
        select(*cols, count, Campaign.archived, Campaign.updated_at)
        .outerjoin(
            Participant,
            and_(Participant.campaign_id == Campaign.id, Participant.is_test == false()),
        )
        .group_by(*cols, Campaign.archived, Campaign.updated_at)
        .order_by(Campaign.id)
    )
    if not archived:
        query = query.where(Campaign.archived == false())
    with db.read() as session:
        return [CampaignRow(*row) for row in session.execute(query).all()]


class CampaignList(QWidget):
    """A searchable table of campaigns; emits ``campaignSelected(id)`` (0: none)."""

    campaignSelected = Signal(int)

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.rows: list[CampaignRow] = []
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(0)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search campaigns")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setAlternatingRowColors(True)
        self.view.setSortingEnabled(True)
        self.view.verticalHeader().setVisible(False)
        self.view.setShowGrid(False)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.view.selectionModel().currentRowChanged.connect(self._on_current)
        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.search)
        box.addWidget(self.toolbar)
        box.addWidget(self.view, 1)

    def add_actions(self, actions: list[QAction]) -> None:
        self.toolbar.addActions(actions)

    def refresh(self) -> None:
        """Reload the rows, keeping the selection."""
        current = self.current_id()
        self.rows = load_campaigns(self.db)
        selection = self.view.selectionModel()
        blocked = selection.blockSignals(True)  # rebuilding is not the user choosing
        self.view.setSortingEnabled(False)
        self.model.setRowCount(0)
        for row in self.rows:
            changed = row.updated_at.strftime("%d %b") if row.updated_at else ""
            items = [QStandardItem(v) for v in (row.name, row.state, "", changed)]
            items[2].setData(row.participants, Qt.ItemDataRole.DisplayRole)
            items[2].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            items[0].setToolTip(f"{row.name} · #{row.id} · {row.target}")
            if row.updated_at:
                items[3].setToolTip(f"{row.updated_at:%Y-%m-%d %H:%M} UTC")
            for item in items:
                item.setData(row.id, ID_ROLE)
            self.model.appendRow(items)
        self.view.setSortingEnabled(True)
        found = self.select(current, emit=False)
        selection.blockSignals(blocked)
        if current and not found:
            self.campaignSelected.emit(0)

    def current_id(self) -> int:
        index = self.view.currentIndex()
        return int(index.data(ID_ROLE)) if index.isValid() else 0

    def current_row(self) -> CampaignRow | None:
        cid = self.current_id()
        return next((r for r in self.rows if r.id == cid), None)

    def select(self, campaign_id: int, *, emit: bool = True) -> bool:
        for r in range(self.proxy.rowCount()):
            index = self.proxy.index(r, 0)
            if index.data(ID_ROLE) == campaign_id:
                self.view.setCurrentIndex(index)
                self.view.selectRow(r)
                return True
        if emit:
            self.view.setCurrentIndex(self.proxy.index(-1, -1))
            self.campaignSelected.emit(0)
        return False

    def table_rows(self) -> list[list[str]]:
        """The visible rows as text, top to bottom (tests and accessibility)."""
        return [
            [_text(self.proxy.index(r, c).data()) for c in range(len(COLUMNS))]
            for r in range(self.proxy.rowCount())
        ]

    def _on_current(self, current: object, _previous: object) -> None:
        self.campaignSelected.emit(self.current_id())


def _text(value: object) -> str:
    return "" if value is None else str(value)
