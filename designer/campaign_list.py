"""The campaign list dock: name, state, participants and last change, with a search box.

Rows are plain data from one grouped query (never ORM objects); no session stays open.
The list only shows and selects; the main window runs New / Duplicate / Rename / Delete /
Archive / Restore, and hands the list those actions for its toolbar and context menu.

Archived campaigns are hidden, as in Odoo, until "Show Archived Campaigns" is checked;
they are then listed in grey italics, their state reading "archived". A running campaign
is never hidden: the command line can start an archived campaign, and one that sends
messages must stay in sight (and stoppable), as "running · archived".
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QPalette,
    QResizeEvent,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMenu,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.api.campaign_list import CampaignRow, load_campaigns
from engine.db import Database

# Short headers: the dock is narrow and the name needs the room ("Joined": participants).
COLUMNS = ("Name", "State", "Joined", "Changed")
NARROW = 340  # pixels below which the "Changed" column is hidden
HEADER_TIPS = (
    "Campaign name",
    "draft, running or stopped; archived campaigns say so",
    "Participants: records that joined (test participants not counted)",
    "Last change (UTC)",
)
ID_ROLE = Qt.ItemDataRole.UserRole + 1
ARCHIVED_TIP = "hidden from the list unless Show Archived Campaigns is checked"


class CampaignList(QWidget):
    """A searchable table of campaigns; emits ``campaignSelected(id)`` (0: none)."""

    campaignSelected = Signal(int)

    def __init__(self, db: Database, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.rows: list[CampaignRow] = []
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(HEADER_TIPS):
            self.model.horizontalHeaderItem(column).setToolTip(tip)
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
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.context_actions: list[QAction | None] = []  # None: a separator
        self.show_archived_action = QAction("Show Arc&hived Campaigns", self)
        self.show_archived_action.setCheckable(True)
        self.show_archived_action.setToolTip("List archived campaigns too (in grey italics)")
        self.show_archived_action.toggled.connect(self._on_show_archived)
        self.show_archived_action.setIconText("Archived")  # the button stays narrow
        archived_button = QToolButton()
        archived_button.setDefaultAction(self.show_archived_action)
        archived_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.archived_button = archived_button
        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        search_row = QHBoxLayout()
        search_row.setContentsMargins(0, 0, 0, 0)
        search_row.addWidget(self.search, 1)
        search_row.addWidget(archived_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(4, 4, 4, 4)
        box.addLayout(search_row)
        box.addWidget(self.toolbar)
        box.addWidget(self.view, 1)

    def add_actions(self, actions: list[QAction]) -> None:
        self.toolbar.addActions(actions)

    def set_context_actions(self, actions: list[QAction | None]) -> None:
        """What a right click on a campaign offers (hidden or disabled actions skipped)."""
        self.context_actions = list(actions)

    def context_menu(self) -> QMenu:
        """The context menu for the current campaign, built from the enabled actions."""
        menu = QMenu(self)
        for action in self.context_actions:
            if action is None:
                menu.addSeparator()
            elif action.isVisible() and action.isEnabled():
                menu.addAction(action)
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        self.select(int(index.data(ID_ROLE)))
        menu = self.context_menu()
        if not menu.isEmpty():
            menu.exec(self.view.viewport().mapToGlobal(pos))
        menu.deleteLater()

    @property
    def showing_archived(self) -> bool:
        return self.show_archived_action.isChecked()

    def set_show_archived(self, on: bool) -> None:
        self.show_archived_action.setChecked(on)

    def _on_show_archived(self, _on: bool) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Reload the rows, keeping the selection."""
        current = self.current_id()
        self.rows = load_campaigns(self.db, archived=self.showing_archived)
        selection = self.view.selectionModel()
        blocked = selection.blockSignals(True)  # rebuilding is not the user choosing
        self.view.setSortingEnabled(False)
        self.model.setRowCount(0)
        for row in self.rows:
            self.model.appendRow(self._items(row))
        self.view.setSortingEnabled(True)
        found = self.select(current, emit=False)
        selection.blockSignals(blocked)
        if current and not found:
            self.campaignSelected.emit(0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """A narrow list gives the names the room: "Changed" moves to the name's tooltip."""
        super().resizeEvent(event)
        self.view.setColumnHidden(COLUMNS.index("Changed"), event.size().width() < NARROW)

    def _items(self, row: CampaignRow) -> list[QStandardItem]:
        changed = row.updated_at.strftime("%d %b") if row.updated_at else ""
        state = row.state
        if row.archived:  # a running one says both: it runs although put away
            state = "running · archived" if row.state == "running" else "archived"
        if row.engine_error:
            state += " · set aside"
        items = [QStandardItem(v) for v in (row.name, state, "", changed)]
        if row.engine_error:
            retry = (
                f"It tries again after {row.engine_retry_at:%Y-%m-%d %H:%M} UTC, or at once "
                "when you edit the campaign."
                if row.engine_retry_at
                else "It tries again when you edit the campaign."
            )
            items[1].setToolTip(f"{row.engine_error}\n{retry}")
            items[1].setForeground(QColor("#B91C1C"))
        items[2].setData(row.participants, Qt.ItemDataRole.DisplayRole)
        items[2].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        when = f" · changed {row.updated_at:%Y-%m-%d %H:%M} UTC" if row.updated_at else ""
        items[0].setToolTip(f"{row.name} · #{row.id} · {row.target}{when}")
        if row.updated_at:
            items[3].setToolTip(f"{row.updated_at:%Y-%m-%d %H:%M} UTC")
        if row.archived:
            muted = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            font = self.view.font()
            font.setItalic(True)
            for item in items:
                item.setFont(font)
                item.setForeground(muted)
            items[0].setToolTip(f"{row.name} · #{row.id} · {row.target} · archived")
            items[1].setToolTip(f"{row.state}, archived: {ARCHIVED_TIP}")
        for item in items:
            item.setData(row.id, ID_ROLE)
        return items

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
