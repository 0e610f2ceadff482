"""The campaign dashboard (SPEC §6, issue 23): KPI tiles against the previous period,
every step's figures and plot, the funnel to the step selected on the canvas, the link
tracker, and the traces and participants with a participant's timeline.

Every figure comes from the engine's figure API, the same that ``journeys report`` and
the canvas read, so they always agree. The window follows the database: the main window
forwards its coalesced change signals (the embedded engine, other processes), or, on its
own, it watches the database itself. Only the tab on screen reloads its table.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.api import dashboard, figures
from engine.api.figures import CampaignFigures
from engine.api.tables import PARTICIPANT_STATES
from engine.clock import Clock
from engine.db import Database
from engine.errors import UserError

from .. import screen_fit
from ..live import LiveFigures
from .exports import every_page, save_plot, table_rows, write_csv
from .funnel import FunnelView
from .plots import StepPlot
from .tables import PARTICIPANT_COLUMNS, TRACE_COLUMNS, PagedTable
from .tiles import KpiTiles
from .timeline import TimelineView

PERIODS = ((1, "Last 24 hours"), (7, "Last 7 days"), (14, "Last 14 days"), (30, "Last 30 days"))
PERIODS += ((90, "Last 90 days"),)
STEP_FIGURES = (
    ("Scheduled", "scheduled"),
    ("Waiting", "waiting"),
    ("Success", "processed"),
    ("Rejected", "rejected"),
    ("Canceled", "canceled"),
    ("Error", "error"),
    ("Opened", "opened"),
    ("Clicked", "clicked"),
    ("Replied", "replied"),
    ("Bounced", "bounced"),
)
TRACE_STATES = ("scheduled", "waiting", "processed", "rejected", "canceled", "error")


def figure_text(act: figures.ActivityFigures, name: str) -> str:
    """A count; a message figure also as its % of sent; blank where it cannot happen."""
    if name in ("opened", "clicked", "replied", "bounced"):
        if name not in act.message_figures:
            return ""
        rate = act.rate(name)
        n = getattr(act, name)
        return f"{n:,}" if rate is None else f"{n:,} ({rate:.0f} %)"
    return f"{getattr(act, name):,}"


class DashboardWindow(QMainWindow):
    pathHighlighted = Signal(object)  # {step key: trace state} of a participant, or None

    def __init__(
        self,
        db: Database,
        clock: Clock,
        campaign_id: int,
        *,
        follow: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.db, self.clock, self.campaign_id = db, clock, campaign_id
        self.setObjectName("dashboard-window")
        screen_fit.fit(self, 1200, 820)
        self.funnel_key: str | None = None
        self.figures: CampaignFigures | None = None
        self.refreshes = 0  # completed refreshes (tests wait on it)

        self.title = QLabel()
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.title.setFont(font)
        self.period = QComboBox()
        for days, text in PERIODS:
            self.period.addItem(text, days)
        self.period.setCurrentIndex(1)
        self.period.currentIndexChanged.connect(self.refresh)
        self.updated = QLabel()
        self.updated.setObjectName("dashboard-updated")
        refresh = QPushButton("Refresh")
        refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        refresh.setToolTip("Reload every figure (F5); they also follow the database by themselves")
        refresh.clicked.connect(self.refresh)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.updated)
        head.addWidget(self.period)
        head.addWidget(refresh)
        self.export_button = QPushButton("Export")
        self.export_button.setToolTip("Save the plot, the table shown or the whole report")
        menu = QMenu(self.export_button)
        menu.addAction("Plot as PNG…", lambda: self._ask("plot", "PNG image (*.png)", ".png"))
        menu.addAction("Plot as SVG…", lambda: self._ask("plot", "SVG image (*.svg)", ".svg"))
        menu.addAction("Table as CSV…", lambda: self._ask("table", "CSV file (*.csv)", ".csv"))
        menu.addSeparator()
        menu.addAction("Report as PDF…", lambda: self._ask("pdf", "PDF document (*.pdf)", ".pdf"))
        self.export_button.setMenu(menu)
        head.addWidget(self.export_button)

        self.tiles = KpiTiles()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._steps_tab(), "Steps")
        self.links = self._table(("URL", "Step", "Clicks", "Unique clicks"))
        self.tabs.addTab(self.links, "Links")
        self.traces = PagedTable(db, TRACE_COLUMNS, TRACE_STATES, by_step=True, noun="trace")
        self.tabs.addTab(self.traces, "Traces")
        self.participants = PagedTable(
            db, PARTICIPANT_COLUMNS, PARTICIPANT_STATES, by_step=False, noun="participant"
        )
        self.timeline = TimelineView()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.participants)
        split.addWidget(self.timeline)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.tabs.addTab(split, "Participants")
        self.participants.rowChosen.connect(self._participant_chosen)
        self.traces.rowChosen.connect(self._trace_chosen)
        self.tabs.currentChanged.connect(lambda _i: self._refresh_table())
        self._stale_tables: set[int] = set()

        centre = QWidget()
        box = QVBoxLayout(centre)
        box.setContentsMargins(10, 8, 10, 8)
        box.addLayout(head)
        box.addWidget(self.tiles)
        box.addWidget(self.tabs, 1)
        self.setCentralWidget(centre)
        self.live: LiveFigures | None = None
        if follow:
            self.live = LiveFigures(db, self)
            self.live.changed.connect(self.on_changed)
        self.load(campaign_id)

    # --- building --------------------------------------------------------------------------
    @staticmethod
    def _table(headings: tuple[str, ...]) -> QTableWidget:
        t = QTableWidget(0, len(headings))
        t.setHorizontalHeaderLabels(headings)
        t.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        t.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        t.setAlternatingRowColors(True)
        t.verticalHeader().setVisible(False)
        t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        t.horizontalHeader().setStretchLastSection(True)
        return t

    def _steps_tab(self) -> QWidget:
        self.steps = self._table(("Step", *(h for h, _ in STEP_FIGURES)))
        self.steps.horizontalHeader().setStretchLastSection(False)
        self.steps.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.steps.itemSelectionChanged.connect(self._step_row_chosen)
        self.plot = StepPlot()
        self.plot.period.currentIndexChanged.connect(self._reload_series)
        self.funnel = FunnelView()
        funnel_box = QGroupBox("Funnel to the selected step")
        QVBoxLayout(funnel_box).addWidget(self.funnel)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.plot)
        lower.addWidget(funnel_box)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 2)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.steps)
        split.addWidget(lower)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        return split

    # --- loading ---------------------------------------------------------------------------
    def load(self, campaign_id: int) -> None:
        """Show another campaign."""
        self.campaign_id = campaign_id
        self.funnel_key = None
        self.refresh()
        steps = [(a.key, a.name) for a in self.figures.activities] if self.figures else []
        self.plot.set_steps(steps)
        self.traces.load(campaign_id, steps)
        self.participants.load(campaign_id, [])
        self.timeline.show_timeline(None)

    def on_changed(self, ids: object) -> None:
        """Figures changed in campaigns ``ids`` (a set), or anywhere (None)."""
        if ids is None or self.campaign_id in ids:  # type: ignore[operator]
            self.refresh()

    def refresh(self) -> None:
        """Every figure again; the table on screen reloads, the others when shown."""
        try:
            fig = figures.campaign_figures(self.db, self.campaign_id)
        except UserError:  # deleted by another window or process
            self.title.setText("This campaign no longer exists")
            self.setEnabled(False)
            return
        self.figures = fig
        self.setWindowTitle(f"Dashboard — {fig.name}")
        self.title.setText(f"{fig.name}  ·  {fig.state}")
        now = self.clock.now()
        self.tiles.show_kpis(dashboard.kpis(self.db, self.campaign_id, now, self.days))
        self._show_steps(fig)
        self._show_links()
        self._show_funnel()
        self._reload_series()
        self._stale_tables = {2, 3}
        self._refresh_table()
        self.updated.setText(f"Updated {now.astimezone().strftime('%H:%M:%S')}")
        self.refreshes += 1

    @property
    def days(self) -> int:
        return int(self.period.currentData())

    def _reload_series(self) -> None:
        if self.figures is None:
            return
        now = self.clock.now()
        self.plot.show_series(
            figures.series(self.db, self.campaign_id, now, hourly=self.plot.hourly)
        )

    def _refresh_table(self) -> None:
        i = self.tabs.currentIndex()
        if i in self._stale_tables:
            self._stale_tables.discard(i)
            (self.traces if i == 2 else self.participants).refresh()

    def _show_steps(self, fig: CampaignFigures) -> None:
        t = self.steps
        t.setRowCount(len(fig.activities))
        # Every step in view without scrolling, up to eight; the plot takes the rest.
        rows = min(8, max(1, len(fig.activities)))
        t.setMinimumHeight(
            t.horizontalHeader().height() + rows * t.verticalHeader().defaultSectionSize() + 4
        )
        for r, act in enumerate(fig.activities):
            item = QTableWidgetItem(act.name)
            item.setData(Qt.ItemDataRole.UserRole, act.key)
            t.setItem(r, 0, item)
            for c, (_h, name) in enumerate(STEP_FIGURES, start=1):
                cell = QTableWidgetItem(figure_text(act, name))
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                t.setItem(r, c, cell)

    def _show_links(self) -> None:
        names = {a.key: a.name for a in self.figures.activities} if self.figures else {}
        rows = figures.links(self.db, self.campaign_id)
        self.links.setRowCount(len(rows))
        for r, link in enumerate(rows):
            step = names.get(link.activity, link.activity)
            texts = (link.url, step, f"{link.clicks:,}", f"{link.unique_clicks:,}")
            for c, text in enumerate(texts):
                self.links.setItem(r, c, QTableWidgetItem(text))

    # --- the funnel ------------------------------------------------------------------------
    def set_funnel_step(self, key: str | None) -> None:
        """The canvas selection changed: the funnel follows the path to ``key``."""
        self.funnel_key = key
        self._show_funnel()

    def _show_funnel(self) -> None:
        key = self.funnel_key
        if not key or self.figures is None or self.figures.activity(key) is None:
            self.funnel.show_steps(())
            return
        path = dashboard.path_to(self.db, self.campaign_id, key)
        self.funnel.show_steps(dashboard.funnel(self.db, self.campaign_id, path))

    def _step_row_chosen(self) -> None:
        rows = self.steps.selectionModel().selectedRows()
        if rows:
            self.set_funnel_step(self.steps.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))
            self.plot.step.setCurrentIndex(max(0, self.plot.step.findData(self.funnel_key)))

    # --- a participant ---------------------------------------------------------------------
    def _participant_chosen(self, row: object) -> None:
        self.show_participant(getattr(row, "id", None))

    def _trace_chosen(self, row: object) -> None:
        if row is not None:
            self.pathHighlighted.emit(self._path(self._timeline(row.participant_id)))

    def show_participant(self, participant_id: int | None) -> None:
        if participant_id is None:
            self.timeline.show_timeline(None)
            self.pathHighlighted.emit(None)
            return
        t = self._timeline(participant_id)
        self.timeline.show_timeline(t)
        self.pathHighlighted.emit(self._path(t))

    def _timeline(self, participant_id: int) -> dashboard.Timeline | None:
        try:
            return dashboard.timeline(self.db, participant_id)
        except UserError:  # gone meanwhile (the campaign deleted elsewhere)
            return None

    @staticmethod
    def _path(t: dashboard.Timeline | None) -> dict[str, str] | None:
        return None if t is None else {s.key: s.state for s in t.steps}

    # --- exports ---------------------------------------------------------------------------
    TABS = ("steps", "links", "traces", "participants")

    def _ask(self, kind: str, name_filter: str, suffix: str) -> None:
        from ..file_dialogs import save_file_name

        name = self.figures.name if self.figures else "dashboard"
        part = {"plot": "plot", "table": self.TABS[self.tabs.currentIndex()], "pdf": "report"}
        chosen = save_file_name(self, "Export", f"{name} {part[kind]}{suffix}", name_filter)
        if not chosen:
            return
        path = Path(chosen if chosen.lower().endswith(suffix) else chosen + suffix)
        try:
            done = {"plot": self.export_plot, "table": self.export_table, "pdf": self.export_pdf}
            said = done[kind](path)
        except UserError as exc:
            QMessageBox.warning(self, "Export", str(exc))
            return
        self.statusBar().showMessage(said, 8000)

    def export_plot(self, path: Path) -> str:
        size = save_plot(self.plot.plot, path)
        return f"Saved {path.name} ({size.width()}×{size.height()})"

    def export_table(self, path: Path) -> str:
        """The table shown as CSV: every row its filters match, not only those loaded."""
        tab = self.TABS[self.tabs.currentIndex()]
        if tab in ("steps", "links"):
            headings, rows = table_rows(self.steps if tab == "steps" else self.links)
            n = write_csv(path, headings, rows)
        else:
            table = self.traces if tab == "traces" else self.participants
            columns = table.model.columns
            n = write_csv(
                path,
                [c[0] for c in columns],
                (
                    [text(row) for _h, _k, text in columns]
                    for row in every_page(table.fetch_page, table.model.query)
                ),
            )
        return f"Saved {n:,} row{'' if n == 1 else 's'} to {path.name}"

    def export_pdf(self, path: Path) -> str:
        from .report_pdf import write_report

        pages = write_report(self.db, self.clock, self.campaign_id, path, self.days)
        return f"Saved the report to {path.name} ({pages} page{'' if pages == 1 else 's'})"

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.live is not None:
            self.live.stop()
        self.pathHighlighted.emit(None)
        super().closeEvent(event)
