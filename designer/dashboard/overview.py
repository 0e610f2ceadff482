"""The managers' overview: every campaign side by side (issue 24).

One row a campaign: its state, the headline KPIs over the chosen period with their move
against the period before, and a trend line of its daily sends. A heading click sorts
by that figure (by value, not by text); a double click or Return opens the campaign's
dashboard. Everything follows the database as the campaign dashboard does, and nothing
here edits: it is what ``journeys dashboard`` opens, read-only or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRectF, Qt
from PySide6.QtGui import QCloseEvent, QColor, QKeySequence, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.api import overview
from engine.api.dashboard import Kpi
from engine.api.overview import CampaignOverview, Overview
from engine.clock import Clock
from engine.db import Database
from engine.errors import UserError

from .. import screen_fit
from ..live import LiveFigures
from .exports import write_csv
from .tiles import FLAT, change_text, value_text
from .window import PERIODS, DashboardWindow

FIGURES = (  # (tile key, heading)
    ("running", "Running"),
    ("joined", "Joined"),
    ("completed", "Completed"),
    ("sent", "Sent"),
    ("opened", "Open rate"),
    ("clicked", "Click rate"),
    ("bounced", "Bounce rate"),
    ("unsubscribed", "Unsubscribe rate"),
)
HEADINGS = ("Campaign", "State", *(h for _k, h in FIGURES), "Daily sends")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
TREND_ROLE = Qt.ItemDataRole.UserRole + 2
ID_ROLE = Qt.ItemDataRole.UserRole + 3


class Item(QTableWidgetItem):
    """A cell that sorts by its number (a missing figure sorts below every value)."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if isinstance(mine, str) or isinstance(theirs, str):
            return str(mine).casefold() < str(theirs).casefold()
        return (mine is not None, mine or 0) < (theirs is not None, theirs or 0)


def cell_text(k: Kpi) -> str:
    move, _color = change_text(k)
    if move.startswith(("previous:", "=")):  # nothing to compare, or no move: the value
        return value_text(k)
    return f"{value_text(k)}   {move.split(' vs ')[0]}"


class TrendDelegate(QStyledItemDelegate):
    """The daily sends of the period as a small line, scaled to the campaign's busiest day."""

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        super().paint(painter, option, index)
        values: Sequence[int] = index.data(TREND_ROLE) or ()
        if len(values) < 2 or not max(values):
            return
        r = QRectF(option.rect).adjusted(6, 5, -6, -5)  # type: ignore[attr-defined]
        top = max(values)
        step = r.width() / (len(values) - 1)
        line = QPolygonF(
            [
                QPointF(r.left() + i * step, r.bottom() - r.height() * v / top)
                for i, v in enumerate(values)
            ]
        )
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor("#2563EB"), 1.5))
        painter.drawPolyline(line)
        painter.restore()


class OverviewWindow(QMainWindow):
    """All campaigns; each opens its dashboard."""

    def __init__(
        self, db: Database, clock: Clock, *, follow: bool = True, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.db, self.clock = db, clock
        self.setObjectName("overview-window")
        self.setWindowTitle("Journeys — all campaigns" + (" (read-only)" if db.read_only else ""))
        screen_fit.fit(self, 1200, 700)
        self.data: Overview | None = None
        self.dashboards: dict[int, DashboardWindow] = {}
        self.refreshes = 0

        title = QLabel("All campaigns")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        title.setFont(font)
        self.period = QComboBox()
        for days, text in PERIODS:
            self.period.addItem(text, days)
        self.period.setCurrentIndex(1)
        self.period.currentIndexChanged.connect(self.refresh)
        self.archived = QCheckBox("Show archived")
        self.archived.toggled.connect(self.refresh)
        self.updated = QLabel()
        refresh = QPushButton("Refresh")
        refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        refresh.setToolTip("Reload every figure (F5); they also follow the database by themselves")
        refresh.clicked.connect(self.refresh)
        head = QHBoxLayout()
        head.addWidget(title)
        if db.read_only:
            badge = QLabel("Read-only")
            badge.setObjectName("read-only-badge")
            badge.setToolTip("Opened to look: this program cannot change the database")
            badge.setStyleSheet(
                "padding: 1px 8px; border-radius: 8px; background: #E2E8F0; color: #334155;"
            )
            head.addWidget(badge)
        head.addStretch(1)
        export = QPushButton("Export CSV…")
        export.setToolTip("Save this table (every campaign shown) as a CSV file")
        export.clicked.connect(self._ask_csv)
        for w in (self.updated, self.archived, self.period, refresh, export):
            head.addWidget(w)

        self.table = QTableWidget(0, len(HEADINGS))
        self.table.setHorizontalHeaderLabels(HEADINGS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setItemDelegateForColumn(len(HEADINGS) - 1, TrendDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(len(HEADINGS) - 1, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(len(HEADINGS) - 1, 140)
        self.table.doubleClicked.connect(
            lambda index: self.open_dashboard(self._row_id(index.row()))
        )
        self.empty = QLabel("No campaigns yet.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(f"color: {FLAT};")

        centre = QWidget()
        box = QVBoxLayout(centre)
        box.setContentsMargins(10, 8, 10, 8)
        box.addLayout(head)
        box.addWidget(self.table, 1)
        box.addWidget(self.empty)
        self.setCentralWidget(centre)
        self.live: LiveFigures | None = None
        if follow:
            self.live = LiveFigures(db, self)
            self.live.changed.connect(self.on_changed)
        self.refresh()

    @property
    def days(self) -> int:
        return int(self.period.currentData())

    def on_changed(self, ids: object) -> None:
        self.refresh()
        for window in list(self.dashboards.values()):
            window.on_changed(ids)

    def refresh(self) -> None:
        now = self.clock.now()
        data = overview.overview(self.db, now, self.days, archived=self.archived.isChecked())
        self.data = data
        chosen = self._row_id(self.table.currentRow()) if self.table.currentRow() >= 0 else None
        self.table.setSortingEnabled(False)  # fill, then sort once
        self.table.setRowCount(len(data.campaigns))
        for r, c in enumerate(data.campaigns):
            self._fill(r, c)
        self.table.setSortingEnabled(True)
        if chosen is not None:
            self.select(chosen)
        self.empty.setVisible(not data.campaigns)
        self.table.setVisible(bool(data.campaigns))
        self.updated.setText(f"Updated {now.astimezone().strftime('%H:%M:%S')}")
        self.refreshes += 1

    def _fill(self, r: int, c: CampaignOverview) -> None:
        name = Item(c.name + ("  (archived)" if c.archived else ""))
        name.setData(SORT_ROLE, c.name)
        name.setData(ID_ROLE, c.id)
        name.setToolTip("Double-click or press Return to open its dashboard")
        state = Item(c.state)
        state.setData(SORT_ROLE, c.state)
        self.table.setItem(r, 0, name)
        self.table.setItem(r, 1, state)
        for col, (key, _h) in enumerate(FIGURES, start=2):
            k = c.kpis.tile(key)
            cell = Item(cell_text(k))
            cell.setData(SORT_ROLE, k.value)
            cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            _move, color = change_text(k)
            cell.setForeground(QColor(color) if color != FLAT else cell.foreground())
            cell.setToolTip(f"{k.label}: {value_text(k)}; {change_text(k)[0]}")
            self.table.setItem(r, col, cell)
        trend = Item("")
        trend.setData(SORT_ROLE, sum(c.daily_sent))
        trend.setData(TREND_ROLE, list(c.daily_sent))
        trend.setToolTip("Messages sent each day: " + ", ".join(f"{n:,}" for n in c.daily_sent))
        self.table.setItem(r, len(HEADINGS) - 1, trend)

    def _ask_csv(self) -> None:
        from ..file_dialogs import save_file_name

        chosen = save_file_name(self, "Export", "campaigns.csv", "CSV file (*.csv)")
        if not chosen:
            return
        path = Path(chosen if chosen.lower().endswith(".csv") else chosen + ".csv")
        try:
            n = self.export_csv(path)
        except UserError as exc:
            QMessageBox.warning(self, "Export", str(exc))
            return
        self.statusBar().showMessage(f"Saved {n} campaign{'' if n == 1 else 's'} to {path.name}")

    def export_csv(self, path: Path) -> int:
        """The rows as shown (in the order shown), the daily sends as numbers."""
        rows = []
        for r in range(self.table.rowCount()):
            cells = [self.table.item(r, c).text() for c in range(len(HEADINGS) - 1)]
            sends = self.table.item(r, len(HEADINGS) - 1).data(TREND_ROLE) or []
            rows.append([*cells, " ".join(str(n) for n in sends)])
        return write_csv(path, HEADINGS, rows)

    def _row_id(self, row: int) -> int:
        item = self.table.item(row, 0)
        return int(item.data(ID_ROLE)) if item is not None else 0

    def rows(self) -> list[list[str]]:
        """What the table shows, top to bottom (for tests and accessibility)."""
        return [
            [self.table.item(r, c).text() for c in range(len(HEADINGS) - 1)]
            for r in range(self.table.rowCount())
        ]

    def select(self, campaign_id: int) -> None:
        for r in range(self.table.rowCount()):
            if self._row_id(r) == campaign_id:
                self.table.selectRow(r)
                return

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.table.currentRow() >= 0:
            self.open_dashboard(self._row_id(self.table.currentRow()))
            return
        super().keyPressEvent(event)

    def open_dashboard(self, campaign_id: int) -> DashboardWindow | None:
        """The campaign's dashboard (one window a campaign; raised when already open)."""
        if not campaign_id:
            return None
        window = self.dashboards.get(campaign_id)
        if window is None:
            # The overview's watcher tells it of changes: one poll for every window.
            window = DashboardWindow(self.db, self.clock, campaign_id, follow=False)
            window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            window.destroyed.connect(lambda _o=None, c=campaign_id: self.dashboards.pop(c, None))
            self.dashboards[campaign_id] = window
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.live is not None:
            self.live.stop()
        for window in list(self.dashboards.values()):
            window.close()
        super().closeEvent(event)
