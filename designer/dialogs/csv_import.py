"""Import audience records from a CSV file: preview, column mapping, progress, errors.

The preview maps every header cell to a field the way ``engine.records.import_csv`` will,
so an unknown or read-only column is flagged before anything is imported. The import
itself is all or nothing: every problem is listed by row and column and nothing is written.
"""

from __future__ import annotations

import csv
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
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

from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.errors import UserError, ValidationError
from engine.fields import MODELS, ModelInfo
from engine.records import import_csv

PREVIEW_ROWS = 10
BAD = QColor("#FDE3E1")


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
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        file_row.addWidget(self.file_edit, 1)
        file_row.addWidget(browse)
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
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        layout.addWidget(self.result_label)
        self.errors = QListWidget()
        self.errors.setVisible(False)
        self.errors.setWordWrap(True)
        self.errors.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.errors, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.import_button = buttons.addButton("Import", QDialogButtonBox.ButtonRole.ActionRole)
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self.import_records)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(820, 620)

    @property
    def model(self) -> str:
        return str(self.model_box.currentData())

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Import records", "", "CSV files (*.csv);;All files (*)"
        )
        if name:
            self.load(name)

    def load(self, path: str | Path) -> None:
        """Show ``path`` in the preview, its header mapped to the chosen model's fields."""
        if not str(path).strip():
            return
        self.path = Path(path)
        self.file_edit.setText(str(self.path))
        self._refresh()

    def _refresh(self) -> None:
        self.errors.clear()
        self.errors.setVisible(False)
        self.result_label.clear()
        self.progress.setVisible(False)
        self.unknown_columns: list[str] = []
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
                item.setBackground(QBrush(BAD))
                item.setToolTip(problem)
                if title:
                    self.unknown_columns.append(title)
            self.table.setHorizontalHeaderItem(col, item)
        for r, cells in enumerate(body):
            for col in range(len(header)):
                cell = cells[col] if col < len(cells) else ""
                item = QTableWidgetItem(cell)
                if mapping[col][2]:
                    item.setBackground(QBrush(BAD))
                self.table.setItem(r, col, item)
        self.table.setVerticalHeaderLabels([str(n) for n in range(2, len(body) + 2)])
        self.table.resizeColumnsToContents()
        problems = [p for _, _, p in mapping if p]
        if problems:
            self.mapping_label.setText(
                "Fix these columns before importing:\n• " + "\n• ".join(problems)
            )
            self.mapping_label.setStyleSheet("color: #b42318;")
        else:
            self.mapping_label.setText(f"All {len(header)} columns map to fields.")
            self.mapping_label.setStyleSheet("color: #067647;")
        self.import_button.setEnabled(bool(header))

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress_seen.append((done, total))
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()

    def import_records(self) -> int | None:
        """Import the file; the number of records, or None (problems listed, nothing written)."""
        if self.path is None:
            return None
        self.errors.clear()
        self.errors.setVisible(False)
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.progress_seen: list[tuple[int, int]] = []
        model = self.model
        try:
            with self.db.session() as s:
                count = import_csv(
                    s, model, self.path, now=self.clock.now(), progress=self._on_progress
                )
        except ValidationError as exc:
            self.progress.setVisible(False)
            title = exc.title.replace(str(self.path), self.path.name)
            self._show_result(f"{title} — {len(exc.problems)} problem(s):", error=True)
            self.errors.addItems([f"{p.path}: {p.message}" for p in exc.problems])
            self.errors.setVisible(True)
            return None
        except UserError as exc:
            self.progress.setVisible(False)
            self._show_result(str(exc), error=True)
            return None
        self.progress.setMaximum(max(count, 1))
        self.progress.setValue(max(count, 1))
        self._show_result(f"{count} {MODELS[model].label.lower()} record(s) imported.")
        self.imported.emit(model, count)
        return count

    def _show_result(self, text: str, *, error: bool = False) -> None:
        self.result_label.setText(text)
        self.result_label.setStyleSheet("color: #b42318;" if error else "color: #067647;")
