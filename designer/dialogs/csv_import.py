"""Import audience records from a CSV file: preview, column mapping, progress, errors.

The preview maps every header cell to a field the way ``engine.records.import_csv`` will,
so an unknown or read-only column is flagged before anything is imported. The import runs
in a worker thread (:mod:`designer.background`), so the window stays live and the import
can be cancelled. It is all or nothing, in one transaction: every problem is listed by
row and column and nothing is written; a cancelled import (or a closed dialog) leaves
nothing behind either.
"""

from __future__ import annotations

import csv
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import cast

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine import db_files
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.errors import UserError, ValidationError
from engine.fields import MODELS, ModelInfo
from engine.records import import_csv

from .. import file_dialogs, screen_fit
from ..background import BackgroundTask, TaskContext
from ..theme import status_color, status_css

PREVIEW_ROWS = 10
CLOSE_GRACE_MS = 3000  # how long closing waits for a cancelled import to stop


def bad_cell_brush() -> QBrush:
    """A wash of the error colour, readable under the text in light and dark schemes."""
    colour = QColor(status_color("error"))
    colour.setAlpha(56)
    return QBrush(colour)


def map_header(info: ModelInfo, header: list[str]) -> list[tuple[str, str | None, str]]:
    """``(title, field label or None, problem)`` per header cell, as the import reads it."""
    out: list[tuple[str, str | None, str]] = []
    for cell in header:
        title = cell.strip()
        key = title if title in info.fields else title.lower()
        if not title:
            out.append((title, None, "no field name: the column is ignored"))
        elif title.startswith("extra.") and "extra" in info.fields:
            out.append((title, f"Extra data: {title[6:]}", ""))
        elif key not in info.fields:
            out.append((title, None, f"unknown field {title!r} for {info.label.lower()}s"))
        elif info.fields[key].readonly:
            out.append((title, None, f"{title!r} is set by Journeys and cannot be imported"))
        else:
            out.append((title, info.fields[key].label, ""))
    return out


class CsvImportDialog(QDialog):
    """Choose a model and a file, check the preview, import with progress."""

    imported = Signal(str, int)  # model, number of records

    def __init__(
        self,
        db: Database,
        clock: Clock | None = None,
        parent: QWidget | None = None,
        *,
        model: str = "contact",
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self.path: Path | None = None
        self.task: BackgroundTask | None = None
        self.progress_seen: list[tuple[str, int, int]] = []  # as reported, for tests
        self.last_progress: tuple[str, int, int] | None = None
        self.importing_model = model
        self.unknown_columns: list[str] = []
        self.setWindowTitle("Import records from CSV")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.model_box = QComboBox()
        for name, info in MODELS.items():
            self.model_box.addItem(f"{info.label}s", name)
        self.model_box.setCurrentIndex(max(0, self.model_box.findData(model)))
        self.model_box.currentIndexChanged.connect(self._refresh)
        form.addRow("Import into", self.model_box)
        file_row = QHBoxLayout()
        self.file_edit = QLineEdit()
        self.file_edit.setPlaceholderText("A CSV file whose first row names the fields")
        self.file_edit.editingFinished.connect(lambda: self.load(self.file_edit.text()))
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(self.browse_button)
        form.addRow("File", file_row)
        layout.addLayout(form)

        layout.addWidget(
            QLabel(f"Preview of the first {PREVIEW_ROWS} rows (numbered as in a spreadsheet):")
        )
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(220)
        layout.addWidget(self.table, 2)
        self.mapping_label = QLabel()
        self.mapping_label.setWordWrap(True)
        layout.addWidget(self.mapping_label)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.progress.setTextVisible(True)
        progress_row.addWidget(self.progress, 1)
        self.cancel_button = QPushButton("Cancel import")
        self.cancel_button.setToolTip("Stop the import: nothing is imported")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_import)
        progress_row.addWidget(self.cancel_button)
        layout.addLayout(progress_row)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setVisible(False)
        layout.addWidget(self.result_label)
        self.errors = QListWidget()
        self.errors.setVisible(False)
        self.errors.setWordWrap(True)
        self.errors.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.errors, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setToolTip("Closing during an import cancels it: nothing is imported")
        self.import_button = buttons.addButton("Import", QDialogButtonBox.ButtonRole.ActionRole)
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self.import_records)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        # Return in the file field loads the file (editingFinished); no button may take it
        # as "press the default": Browse would open a file dialog, Close would close.
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)
        screen_fit.fit(self, 820, 620)

    @property
    def model(self) -> str:
        return str(self.model_box.currentData())

    def _browse(self) -> None:
        name = file_dialogs.open_file_name(
            self, "Import records", "", "CSV files (*.csv);;All files (*)"
        )
        if name:
            self.load(name)

    def load(self, path: str | Path) -> None:
        """Show ``path`` in the preview, its header mapped to the chosen model's fields."""
        if not str(path).strip():
            return
        try:
            refuse_database(self.db, path)
        except UserError as exc:  # refused unread: opening it would drop the db's locks
            self.path = None
            self.file_edit.setText(str(path))
            self._refresh()
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.mapping_label.setText("")
            self.import_button.setEnabled(False)
            self._show_result(str(exc), error=True)
            return
        self.path = Path(path)
        self.file_edit.setText(str(self.path))
        self._refresh()

    def _refresh(self) -> None:
        if self.running:
            return  # the file and model are locked while their import runs
        self.errors.clear()
        self.errors.setVisible(False)
        self._show_result("")
        self.progress.setVisible(False)
        self.unknown_columns = []
        if self.path is None:
            return
        try:
            with self.path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
                rows = [r for _, r in zip(range(PREVIEW_ROWS + 1), csv.reader(f), strict=False)]
        except (OSError, csv.Error) as exc:
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self._show_result(f"Cannot read {self.path.name}: {exc}", error=True)
            self.import_button.setEnabled(False)
            return
        header, body = (rows[0], rows[1:]) if rows else ([], [])
        mapping = map_header(MODELS[self.model], header)
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setRowCount(len(body))
        for col, (title, label, problem) in enumerate(mapping):
            item = QTableWidgetItem(f"{title}\n→ {label}" if label else f"{title}\n⚠ not imported")
            if problem:
                item.setBackground(bad_cell_brush())
                item.setToolTip(problem)
                if title:
                    self.unknown_columns.append(title)
            self.table.setHorizontalHeaderItem(col, item)
        for r, cells in enumerate(body):
            for col in range(len(header)):
                cell = cells[col] if col < len(cells) else ""
                item = QTableWidgetItem(cell)
                if mapping[col][2]:
                    item.setBackground(bad_cell_brush())
                self.table.setItem(r, col, item)
        self.table.setVerticalHeaderLabels([str(n) for n in range(2, len(body) + 2)])
        self.table.resizeColumnsToContents()
        problems = [p for _, _, p in mapping if p]
        if not header:
            self.mapping_label.setText(
                f"{self.path.name} is empty: its first row must name the fields."
            )
            self.mapping_label.setStyleSheet(status_css(True))
        elif problems:
            self.mapping_label.setText(
                "Fix these columns before importing:\n• " + "\n• ".join(problems)
            )
            self.mapping_label.setStyleSheet(status_css(True))
        else:
            self.mapping_label.setText(f"All {len(header)} columns map to fields.")
            self.mapping_label.setStyleSheet(status_css(False))
        self.import_button.setEnabled(bool(header))

    # --- importing (the work runs in a worker thread) ----------------------------------
    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done

    def import_records(self) -> BackgroundTask | None:
        """Start importing the file in the background; the task, or None when not possible.

        The outcome shows in the dialog; ``imported`` is emitted on success.
        """
        if self.path is None or self.running:
            return None
        self.errors.clear()
        self.errors.setVisible(False)
        self._show_result("")
        self.progress.setRange(0, 0)  # busy until the first report says how many rows
        self.progress.setFormat("Reading the file…")
        self.progress.setVisible(True)
        self.progress_seen = []
        self.last_progress = None
        model, path = self.model, self.path
        self.importing_model = model
        task = BackgroundTask(
            partial(run_import, self.db, model, path, self.clock.now()), name="CSV import"
        )
        task.progressed.connect(self._on_progress)
        task.succeeded.connect(self._on_imported)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(self._on_cancelled)
        task.finished.connect(self._on_finished)
        self.destroyed.connect(task.cancel)  # a dialog gone without closing: no import
        self.task = task
        self._set_running(True)
        task.start()
        return task

    def cancel_import(self) -> None:
        """Ask the running import to stop; the dialog says what happened once it has."""
        if not self.running:
            return
        assert self.task is not None
        self.task.cancel()
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self.progress.setFormat("Cancelling…")

    def _set_running(self, running: bool) -> None:
        for widget in (self.model_box, self.file_edit, self.browse_button, self.import_button):
            widget.setEnabled(not running)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)
        self.cancel_button.setText("Cancel import")

    def _on_progress(self, value: object) -> None:
        phase, done, total = cast(tuple[str, int, int], value)
        self.progress_seen.append((phase, done, total))
        self.last_progress = (phase, done, total)
        if self.task is not None and self.task.cancel_requested:
            return  # keep saying "Cancelling…"
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if phase == "checking":
            self.progress.setFormat(f"Step 1 of 2 — checking rows: {done:,} of {total:,}")
        else:
            self.progress.setFormat(f"Step 2 of 2 — writing records: {done:,} of {total:,}")

    def _on_imported(self, count: object) -> None:
        n = int(cast(int, count))
        model = self.importing_model
        self.progress.setRange(0, max(n, 1))
        self.progress.setValue(max(n, 1))
        self.progress.setFormat(f"{n:,} imported")
        text = f"{n:,} {MODELS[model].label.lower()} record(s) imported."
        if self.task is not None and self.task.cancel_requested:
            text += " The import had finished before it could be cancelled."
        self._show_result(text)
        self.imported.emit(model, n)

    def _on_failed(self, message: str, error: object) -> None:
        self.progress.setVisible(False)
        if isinstance(error, ValidationError) and self.path is not None:
            title = error.title.replace(str(self.path), self.path.name)
            self._show_result(f"{title} — {len(error.problems)} problem(s):", error=True)
            self.errors.addItems([f"{p.path}: {p.message}" for p in error.problems])
            self.errors.setVisible(True)
            return
        self._show_result(f"Import failed: {message}. Nothing was imported.", error=True)

    def _on_cancelled(self) -> None:
        self.progress.setVisible(False)
        where = ""
        if self.last_progress is not None:
            phase, done, total = self.last_progress
            where = (
                f" while checking the rows ({done:,} of {total:,} checked)"
                if phase == "checking"
                else f" while writing ({done:,} of {total:,} records written, then undone)"
            )
        self.result_label.setText(
            f"Import cancelled{where}: nothing was imported — an import is all or nothing."
        )
        self.result_label.setStyleSheet(f"color: {status_color('warning')};")
        self.result_label.setVisible(True)

    def _on_finished(self) -> None:
        self._set_running(False)
        if self.task is not None:
            self.destroyed.disconnect(self.task.cancel)

    def done(self, result: int) -> None:
        """Closing stops a running import (nothing is imported), then closes."""
        if self.task is not None and not self.task.done:
            # Cancelling is checked every thousand rows; an import still busy after the
            # grace period stops on its own and rolls back, unseen.
            self.task.shutdown(CLOSE_GRACE_MS)
            self._set_running(False)
            self.progress.setVisible(False)
        super().done(result)

    def _show_result(self, text: str, *, error: bool = False) -> None:
        self.result_label.setText(text)
        self.result_label.setStyleSheet(status_css(error))
        self.result_label.setVisible(bool(text))


def run_import(db: Database, model: str, path: Path, now: datetime, ctx: TaskContext) -> int:
    """The import as the worker thread runs it: its own session, one transaction.

    Progress goes out as ``(phase, done, total)``; a cancel raises out of the next report
    and the session rolls back, so a cancelled import leaves nothing behind.
    """

    def checking(done: int, total: int) -> None:
        ctx.report(("checking", done, total))

    def progress(done: int, total: int) -> None:
        ctx.report(("importing", done, total))

    refuse_database(db, path)
    with db.session() as s:
        return import_csv(s, model, path, now=now, progress=progress, checking=checking)


def refuse_database(db: Database, path: str | Path) -> None:
    """A UserError when ``path`` is one of the database's own files (never opened)."""
    db_files.refuse_database_file(
        path, db.engine.url, action="imported", hint="Choose a CSV file of records."
    )
