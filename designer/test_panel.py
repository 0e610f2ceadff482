"""Test mode (SPEC E11): follow one record through the campaign, step by step.

Choose a record, launch a test participant, then run or cancel each scheduled step and
simulate what the recipient does with each sent message. The participant's path is
highlighted on the canvas and the selected step's message is previewed.

The highlight is view state on the scene's items, so it is applied again whenever the
scene makes its items anew (``CampaignScene.rebuilt``: an edit, an undo, a reload) and
cleared when the test participant is gone, cleared by the user, or the campaign changes.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable
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
from shiboken6 import Shiboken

from engine import test_path
from engine.api import testing
from engine.api.interactions import record_on_trace
from engine.clock import Clock
from engine.db import Database
from engine.errors import UserError

from . import theme
from .theme import status_css

COLUMNS = ("Activity", "State", "Due", "Message")
FIELDS = ("activity", "state", "due", "message")
RECORD_LIMIT = 200
DIMMED = 0.3

# Button label -> interaction kind, per message type.
EMAIL_ACTIONS = {"Opened": "open", "Clicked": "click", "Replied": "reply", "Bounced": "bounce"}
SMS_ACTIONS = {"Clicked": "sms_click", "Bounced": "sms_bounce"}
ACTIONS_BY_TYPE = {"email": EMAIL_ACTIONS, "sms": SMS_ACTIONS}
BUTTON_TIPS = {
    "Run now": "Run the selected step now instead of waiting for its delay",
    "Cancel": "Cancel the selected step (what follows it will not run)",
    "Opened": "Simulate the recipient opening the selected message",
    "Clicked": "Simulate the recipient clicking a link in the selected message",
    "Replied": "Simulate the recipient replying to the selected email",
    "Bounced": "Simulate the selected message bouncing",
}


def highlight(scene: Any, keys: set[str]) -> None:
    """Dim every activity (and its incoming link) of ``scene`` not in ``keys``."""
    if scene is None or not Shiboken.isValid(scene):  # gone with its canvas
        return
    for key, item in scene.item_for_key.items():
        item.setOpacity(1.0 if key in keys else DIMMED)
    for key, edge in getattr(scene, "edge_for_key", {}).items():
        edge.setOpacity(1.0 if key in keys else DIMMED)


def clear_highlight(scene: Any) -> None:
    highlight(scene, set(getattr(scene, "item_for_key", {})) if scene is not None else set())


class RecordChooser(QComboBox):
    """A combo box that reads its records again each time its list opens."""

    def __init__(self, before_popup: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._before_popup = before_popup

    def showPopup(self) -> None:
        self._before_popup()
        super().showPopup()


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
        self.names: dict[str, str] = {}  # key -> the step's name, as the canvas shows it

        self.records = RecordChooser(self._before_popup)
        self.records.setMinimumContentsLength(16)
        self.records.setToolTip("The record to send through the campaign as a test")
        self.launch_button = QPushButton("Launch test")
        self.launch_button.clicked.connect(self.launch)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip(
            "Stop following this test participant: the canvas is shown in full again "
            "(its steps stay recorded)"
        )
        self.clear_button.clicked.connect(self.clear_test)
        top = QHBoxLayout()
        top.addWidget(QLabel("Record:"))
        top.addWidget(self.records, 1)
        top.addWidget(self.launch_button)
        top.addWidget(self.clear_button)

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

        # One row of controls, so that the steps get the height of a short bottom dock.
        self.buttons: dict[str, QPushButton] = {}
        for label in ("Run now", "Cancel", "Opened", "Clicked", "Replied", "Bounced"):
            button = QPushButton(label)
            button.clicked.connect(lambda _=False, name=label: self.act(name))
            self.buttons[label] = button
            button.setToolTip(BUTTON_TIPS[label])
            if label == "Opened":
                top.addSpacing(12)
                top.addWidget(QLabel("Simulate:"))
            elif label == "Run now":
                top.addSpacing(12)
                top.addWidget(QLabel("Step:"))
            top.addWidget(button)

        self.preview = QTextBrowser()
        theme.paper(self.preview)
        self.preview.setOpenExternalLinks(False)
        self.preview.setOpenLinks(False)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(status_css(True))
        self.error.setVisible(False)

        split = QSplitter(Qt.Orientation.Horizontal)  # steps beside the message preview
        split.addWidget(self.table)
        split.addWidget(self.preview)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(self.error)
        self._update_buttons()

    # --- campaign --------------------------------------------------------------------------
    def set_campaign(self, campaign_id: int, target_model: str, scene: Any = None) -> None:
        """Follow another campaign (0: none) drawn in ``scene``; any test is forgotten."""
        self._follow_scene(scene)
        self.campaign_id = campaign_id
        self.target_model = target_model
        self.participant_id = None
        self.records.clear()
        self.types = {}
        self._show_error("")
        if campaign_id and target_model:
            self._load_records()
            self._load_types()
        self.refresh()

    def _load_records(self) -> None:
        """The records one can test with, keeping the one chosen."""
        chosen = self.records.currentData()
        try:
            rows = testing.records(self.db, self.target_model, RECORD_LIMIT)
        except UserError as e:
            rows = []
            self._show_error(str(e))
        self.records.clear()
        for row in rows:
            label = row.get("name") or row.get("email") or f"#{row['id']}"
            self.records.addItem(f"{label} (#{row['id']})", row["id"])
        if chosen is not None and self.records.findData(chosen) >= 0:
            self.records.setCurrentIndex(self.records.findData(chosen))
        self._update_buttons()

    def _before_popup(self) -> None:
        """Records imported meanwhile (File ▸ Import Records) are offered too."""
        if self.campaign_id and self.target_model:
            self._load_records()

    def _follow_scene(self, scene: Any) -> None:
        """Re-apply the highlight whenever ``scene`` remakes its items; let the old go."""
        old, self.scene = self.scene, scene
        if old is not None and Shiboken.isValid(old):
            if old is not scene:
                clear_highlight(old)
            if hasattr(old, "rebuilt"):  # connected below when it was set
                with contextlib.suppress(RuntimeError, TypeError):
                    old.rebuilt.disconnect(self._on_scene_rebuilt)
        if scene is not None and hasattr(scene, "rebuilt"):
            scene.rebuilt.connect(self._on_scene_rebuilt)

    def _load_types(self) -> None:
        if not self.campaign_id:
            self.types, self.names = {}, {}
            return
        kinds = testing.step_kinds(self.db, self.campaign_id)
        self.types, self.names = kinds.types, kinds.names

    def _on_scene_rebuilt(self) -> None:
        self.reload()

    def reload(self) -> None:
        """Read the test participant's steps again (after an edit, or an engine pass)."""
        if self.participant_id is not None:
            self._load_types()
        current = self.current_row()
        self.refresh(current["id"] if current else None)

    def clear_test(self) -> None:
        """Stop following the test participant: no steps listed, nothing dimmed."""
        self.participant_id = None
        self._show_error("")
        self.refresh()

    # --- actions ---------------------------------------------------------------------------
    def launch(self) -> None:
        record_id = self.records.currentData()
        if not self.campaign_id or record_id is None:
            self._show_error("choose a record to test")
            return

        def run() -> None:
            self.participant_id = testing.launch(
                self.db, self.clock, self.campaign_id, int(record_id)
            )

        self._guard(run)

    def act(self, label: str) -> None:
        row = self.current_row()
        if row is None:
            self._show_error("select a step first")
            return
        trace_id = row["id"]

        def run() -> None:
            if label not in ("Run now", "Cancel"):
                kinds = ACTIONS_BY_TYPE.get(self.types.get(row["activity"], ""), {})
                if label not in kinds:
                    raise UserError(f"{label!r} does not apply to this step")
                if not record_on_trace(self.db, self.clock, trace_id, kinds[label]).recorded:
                    raise UserError(f"{label.lower()} was not recorded (message not sent?)")
                return
            move = testing.run_now if label == "Run now" else testing.cancel
            move(self.db, self.clock, trace_id)

        self._guard(run, keep=trace_id)

    def run_to(self, key: str) -> None:
        """Run Test to Here: walk the test participant (launched first if there is none)
        down every step to ``key``, simulating each branch's event on the way."""
        if self.participant_id is None:
            self.launch()
            if self.participant_id is None:
                return  # launching was refused: its reason is shown
        participant_id = self.participant_id

        def run() -> None:
            test_path.run_test_to(self.db, self.clock, participant_id, key)

        self._guard(run)
        target = next((r["id"] for r in reversed(self.rows) if r["activity"] == key), None)
        if target is not None:
            self.select_trace(target)

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
                item = QTableWidgetItem(text)
                if name == "activity":
                    item.setText(self.names.get(text, text))
                    item.setToolTip(text)
                self.table.setItem(r, c, item)
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
        rows = testing.steps(self.db, self.campaign_id, self.participant_id)
        if rows is None:  # deleted meanwhile
            self.participant_id = None
            return []
        return rows

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
        self.clear_button.setEnabled(self.participant_id is not None)

    def _show_preview(self, row: dict[str, Any] | None) -> None:
        if row is None:
            self.preview.clear()
            return
        found = testing.sent_message(self.db, row["id"])
        if found is None:
            note = "No message for this step yet."
            if row["state"] == "scheduled" and self.types.get(row["activity"]) in ACTIONS_BY_TYPE:
                note = "The message will appear here once the step has run."
            self.preview.setHtml(f"<p><i>{html.escape(note)}</i></p>")
            return
        head = f"<p><b>To:</b> {html.escape(found.to)}"
        if found.subject:
            head += f"<br><b>Subject:</b> {html.escape(found.subject)}"
        head += "</p><hr>"
        body = found.body
        content = body if found.channel == "email" else f"<pre>{html.escape(body)}</pre>"
        self.preview.setHtml(head + content)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
