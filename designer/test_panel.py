"""Test mode (SPEC E11): follow one record through the campaign, step by step.

Choose a record, launch a test participant, then run or cancel each scheduled step and
simulate what the recipient does with each sent message. The participant's path is
highlighted on the canvas and the selected step's message is previewed.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select

from engine import campaigns, interactions, reporting
from engine.clock import Clock
from engine.db import Database
from engine.errors import UserError
from engine.executor import Executor
from engine.models import Activity, Campaign, OutboxMessage, Trace
from engine.records.read import list_records

COLUMNS = ("Activity", "State", "Due", "Message")
FIELDS = ("activity", "state", "due", "message")
RECORD_LIMIT = 200
DIMMED = 0.3

# Button label -> interaction kind, per message type.
EMAIL_ACTIONS = {"Opened": "open", "Clicked": "click", "Replied": "reply", "Bounced": "bounce"}
SMS_ACTIONS = {"Clicked": "sms_click", "Bounced": "sms_bounce"}
ACTIONS_BY_TYPE = {"email": EMAIL_ACTIONS, "sms": SMS_ACTIONS}


def highlight(scene: Any, keys: set[str]) -> None:
    """Dim every activity (and its incoming link) of ``scene`` not in ``keys``."""
    if scene is None:
        return
    for key, item in scene.item_for_key.items():
        item.setOpacity(1.0 if key in keys else DIMMED)
    for key, edge in getattr(scene, "edge_for_key", {}).items():
        edge.setOpacity(1.0 if key in keys else DIMMED)


def clear_highlight(scene: Any) -> None:
    highlight(scene, set(getattr(scene, "item_for_key", {})) if scene is not None else set())


class TestPanel(QWidget):
    __test__ = False  # not a pytest class

    def __init__(self, db: Database, clock: Clock, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.clock = clock
        self.campaign_id = 0
        self.target_model = ""
        self.scene: Any = None
        self.participant_id: int | None = None
        self.rows: list[dict[str, Any]] = []
        self.types: dict[str, str] = {}

        self.records = QComboBox()
        self.records.setMinimumContentsLength(20)
        self.launch_button = QPushButton("Launch test")
        self.launch_button.clicked.connect(self.launch)
        top = QHBoxLayout()
        top.addWidget(QLabel("Record:"))
        top.addWidget(self.records, 1)
        top.addWidget(self.launch_button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self.buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        for label in ("Run now", "Cancel", "Opened", "Clicked", "Replied", "Bounced"):
            button = QPushButton(label)
            button.clicked.connect(lambda _=False, name=label: self.act(name))
            self.buttons[label] = button
            actions.addWidget(button)
        actions.addStretch(1)

        self.preview = QTextBrowser()
        self.preview.setOpenExternalLinks(False)
        self.preview.setOpenLinks(False)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020")
        self.error.setVisible(False)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.preview)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(split, 1)
        layout.addWidget(self.error)
        self._update_buttons()

    # --- campaign --------------------------------------------------------------------------
    def set_campaign(self, campaign_id: int, target_model: str, scene: Any = None) -> None:
        if self.scene is not None and self.scene is not scene:
            clear_highlight(self.scene)
        self.campaign_id = campaign_id
        self.target_model = target_model
        self.scene = scene
        self.participant_id = None
        self.records.clear()
        self._show_error("")
        if campaign_id and target_model:
            try:
                with self.db.read() as s:
                    rows = list_records(s, target_model, limit=RECORD_LIMIT)
                    self.types = dict(
                        s.execute(
                            select(Activity.key, Activity.type).where(
                                Activity.campaign_id == campaign_id
                            )
                        ).all()
                    )
            except UserError as e:
                rows = []
                self._show_error(str(e))
            for row in rows:
                label = row.get("name") or row.get("email") or f"#{row['id']}"
                self.records.addItem(f"{label} (#{row['id']})", row["id"])
        self.refresh()

    # --- actions ---------------------------------------------------------------------------
    def launch(self) -> None:
        record_id = self.records.currentData()
        if not self.campaign_id or record_id is None:
            self._show_error("choose a record to test")
            return

        def run() -> None:
            now = self.clock.now()
            with self.db.session() as s:
                campaign = s.get(Campaign, self.campaign_id)
                if campaign is None:
                    raise UserError(f"no campaign with id {self.campaign_id}")
                self.participant_id = campaigns.launch_test(s, campaign, int(record_id), now)
            self._execute(now)

        self._guard(run)

    def act(self, label: str) -> None:
        row = self.current_row()
        if row is None:
            self._show_error("select a step first")
            return
        trace_id = row["id"]

        def run() -> None:
            now = self.clock.now()
            with self.db.session() as s:
                if label == "Run now":
                    campaigns.run_trace_now(s, trace_id, now)
                elif label == "Cancel":
                    campaigns.cancel_trace(s, trace_id, now)
                else:
                    kinds = ACTIONS_BY_TYPE.get(self.types.get(row["activity"], ""), {})
                    if label not in kinds:
                        raise UserError(f"{label!r} does not apply to this step")
                    result = interactions.record(s, [trace_id], kinds[label], now)
                    if not result.recorded:
                        raise UserError(f"{label.lower()} was not recorded (message not sent?)")
            self._execute(now)

        self._guard(run, keep=trace_id)

    def _execute(self, now: Any) -> None:
        Executor(self.db, self.clock).execute_due(now)

    def _guard(self, fn: Any, keep: int | None = None) -> None:
        self._show_error("")
        try:
            fn()
        except UserError as e:
            self._show_error(str(e))
        self.refresh(keep)

    # --- view ------------------------------------------------------------------------------
    def refresh(self, keep: int | None = None) -> None:
        self.rows = self._load_rows()
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.rows))
        select_row = -1
        for r, row in enumerate(self.rows):
            for c, name in enumerate(FIELDS):
                value = row.get(name)
                text = "" if value is None else str(value)
                if name == "due":
                    text = text[:16].replace("T", " ") if value else "(waiting)"
                    if row["state"] != "scheduled":
                        text = ""
                self.table.setItem(r, c, QTableWidgetItem(text))
            if row["id"] == keep:
                select_row = r
        self.table.blockSignals(False)
        if select_row >= 0:
            self.table.selectRow(select_row)
        else:
            self.table.clearSelection()
        self._selection_changed()
        if self.participant_id is None:
            clear_highlight(self.scene)
        else:
            highlight(self.scene, self.path_keys())

    def _load_rows(self) -> list[dict[str, Any]]:
        if not self.campaign_id or self.participant_id is None:
            return []
        with self.db.read() as s:
            ids = set(
                s.scalars(select(Trace.id).where(Trace.participant_id == self.participant_id))
            )
            rows = reporting.traces(s, self.campaign_id, include_test=True)
        return [r for r in rows if r["id"] in ids]

    def path_keys(self) -> set[str]:
        """Activities the test participant has reached (canceled steps excluded)."""
        return {r["activity"] for r in self.rows if r["state"] != "canceled"}

    def current_row(self) -> dict[str, Any] | None:
        selected = self.table.selectionModel().selectedRows()
        if not selected:
            return None
        index = selected[0].row()
        return self.rows[index] if 0 <= index < len(self.rows) else None

    def select_trace(self, trace_id: int) -> None:
        for r, row in enumerate(self.rows):
            if row["id"] == trace_id:
                self.table.selectRow(r)
                self._selection_changed()
                return

    def _selection_changed(self) -> None:
        self._update_buttons()
        self._show_preview(self.current_row())

    def _update_buttons(self) -> None:
        row = self.current_row()
        scheduled = row is not None and row["state"] == "scheduled"
        self.buttons["Run now"].setEnabled(scheduled)
        self.buttons["Cancel"].setEnabled(scheduled)
        kinds: dict[str, str] = {}
        if row is not None and row["state"] == "processed":
            kinds = ACTIONS_BY_TYPE.get(self.types.get(row["activity"], ""), {})
        for label in ("Opened", "Clicked", "Replied", "Bounced"):
            self.buttons[label].setEnabled(label in kinds)
        self.launch_button.setEnabled(bool(self.campaign_id) and self.records.count() > 0)

    def _show_preview(self, row: dict[str, Any] | None) -> None:
        if row is None:
            self.preview.clear()
            return
        with self.db.read() as s:
            msg = s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.trace_id == row["id"])
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            ).first()
            found = None
            if msg is not None:
                found = (msg.to, msg.subject, msg.body, msg.channel)
        if found is None:
            note = "No message for this step yet."
            if row["state"] == "scheduled" and self.types.get(row["activity"]) in ACTIONS_BY_TYPE:
                note = "The message will appear here once the step has run."
            self.preview.setHtml(f"<p><i>{html.escape(note)}</i></p>")
            return
        to, subject, body, channel = found
        head = f"<p><b>To:</b> {html.escape(to)}"
        if subject:
            head += f"<br><b>Subject:</b> {html.escape(subject)}"
        head += "</p><hr>"
        content = body if channel == "email" else f"<pre>{html.escape(body)}</pre>"
        self.preview.setHtml(head + content)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
