"""A minimal main window: the campaigns in the database, until the designer lands.

The window gets plain rows from one grouped query (never ORM objects) and keeps no session
open. ``run_gui`` is what ``journeys`` / ``journeys gui`` call.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QLabel,
    QMainWindow,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
)
from sqlalchemy import and_, false, func, select

from designer.engine_bridge import EngineBridge
from engine.db import Database, default_url
from engine.models import Campaign, Participant
from engine.runner import EngineRunner

EMPTY_TEXT = (
    "No campaign yet — import one with <code>journeys import FILE</code> "
    "or create one with <code>journeys new --template KEY</code>"
)
COLUMNS = ("ID", "Name", "Target", "State", "Participants")


@dataclass(frozen=True)
class CampaignRow:
    id: int
    name: str
    target: str
    state: str
    participants: int


def load_campaigns(db: Database) -> list[CampaignRow]:
    """Every campaign with its number of (non-test) participants, in one query."""
    count = func.count(Participant.id)
    query = (
        select(Campaign.id, Campaign.name, Campaign.target, Campaign.state, count)
        .outerjoin(
            Participant,
            and_(Participant.campaign_id == Campaign.id, Participant.is_test == false()),
        )
        .group_by(Campaign.id, Campaign.name, Campaign.target, Campaign.state)
        .order_by(Campaign.id)
    )
    with db.read() as session:
        return [CampaignRow(*row) for row in session.execute(query).all()]


def describe_location(db: Database) -> str:
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        return f"SQLite database {url.database or ':memory:'}"
    return f"{url.get_backend_name()} database {url.render_as_string(hide_password=True)}"


class MainWindow(QMainWindow):
    def __init__(self, db: Database, runner: EngineRunner | None = None) -> None:
        super().__init__()
        self._db = db
        self.engine_state = "not running"
        self.bridge: EngineBridge | None = None
        if runner is not None:
            self.bridge = EngineBridge(runner, self)
            self.bridge.countersChanged.connect(self._on_counters)
            self.bridge.passFinished.connect(self._on_pass)
            self.bridge.stateChanged.connect(self._on_engine_state)
            self.bridge.failed.connect(self._on_engine_failed)
        self.setWindowTitle("Journeys")
        self.resize(900, 520)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSortIndicator(0, Qt.SortOrder.AscendingOrder)

        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setTextFormat(Qt.TextFormat.RichText)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setMargin(24)
        self.empty_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)
        self.setCentralWidget(self.stack)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        self.refresh_action = QAction("Refresh", self)
        self.refresh_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.refresh_action.triggered.connect(self.refresh)
        toolbar.addAction(self.refresh_action)

        self.location = describe_location(db)
        self.refresh()

    def refresh(self) -> None:
        rows = load_campaigns(self._db)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            values: tuple[object, ...] = (row.id, row.name, row.target, row.state, row.participants)
            for c, value in enumerate(values):
                item = QTableWidgetItem()
                item.setData(Qt.ItemDataRole.DisplayRole, value)  # ints sort as numbers
                if isinstance(value, int):
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        self.stack.setCurrentWidget(self.table if rows else self.empty_label)
        self._count = f"{len(rows)} campaign{'s' if len(rows) != 1 else ''}"
        self._show_status()

    def _show_status(self) -> None:
        self.statusBar().showMessage(
            f"{self.location} — {self._count} — engine {self.engine_state}"
        )

    def _on_counters(self, _ids: object) -> None:
        self.refresh()

    def _on_pass(self, stats: object) -> None:
        at = getattr(stats, "started_at", None)
        self.engine_state = f"running, last pass {at:%H:%M:%S}" if at else "running"
        self._show_status()

    def _on_engine_state(self, state: str) -> None:
        self.engine_state = state
        self._show_status()

    def _on_engine_failed(self, message: str) -> None:
        self.engine_state = f"error: {message}"
        self._show_status()


def run_gui(db_url: str | None) -> int:
    """Open the main window on ``db_url`` (default: the user's SQLite file) until it closes.

    The database is created or migrated first; engine errors (UserError, EngineFailure)
    propagate to the caller, which maps them to exit codes.
    """
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Journeys")
    db = Database(db_url or default_url())
    runner = EngineRunner(db, tracking=True)
    try:
        window = MainWindow(db, runner)
        window.show()
        runner.start()
        code = app.exec()
        # Quit order: stop the engine and join its thread, then tear the window down.
        runner.stop()
        if window.bridge is not None:
            window.bridge.disconnect_engine()
        window.close()
        window.deleteLater()
        return int(code)
    finally:
        runner.stop()
        db.dispose()
