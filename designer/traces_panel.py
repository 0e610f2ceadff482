"""The bottom dock: the open campaign's traces (who is where, when) as a plain table."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from engine.db import Database

from . import campaign_ops

COLUMNS = ("Activity", "Record", "State", "Due", "Done", "Message")
FIELDS = ("activity", "record", "state", "due", "done_at", "message")


class TracesPanel(QTableWidget):
    def __init__(self, db: Database) -> None:
        super().__init__(0, len(COLUMNS))
        self.db = db
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

    def load(self, campaign_id: int) -> None:
        rows = campaign_ops.recent_traces(self.db, campaign_id) if campaign_id else []
        self.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, name in enumerate(FIELDS):
                value = row.get(name)
                text = "" if value is None else str(value)
                if name in ("due", "done_at"):
                    text = text[:16].replace("T", " ")
                self.setItem(r, c, QTableWidgetItem(text))
