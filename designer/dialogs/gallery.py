"""The template gallery (issue 4, items 6 and 8): the first thing an empty database shows.

Each template is a card with its name, target, description and a thumbnail drawn by the
same scene as the canvas (``designer.render``), so the picture is the journey the user gets.
Thumbnails are drawn once per process from a scratch SQLite file, never the user's database.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from designer import screen_fit, theme
from designer.canvas import style
from designer.theme import status_css
from engine import campaign_files, gallery
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.errors import UserError
from engine.fields import model_info
from engine.records import import_csv

THUMB_WIDTH, THUMB_HEIGHT = 300, 170  # the thumbnail's aspect; drawn at twice this size
CARD_MIN, CARD_MAX, CARD_FLOOR = 200, 340, 170  # card widths: wished, largest, smallest
CARD_MARGIN = 10
SPACING = 16
_thumbnails: dict[tuple[str, bool], QPixmap] = {}  # (template key, dark) -> drawing


def template_thumbnails(dark: bool = False) -> dict[str, QPixmap]:
    """One pixmap per template key in the light or dark canvas colours, drawn on first
    use and kept for the process."""
    from designer.render import render_campaign

    keys = gallery.template_keys()
    if all((k, dark) in _thumbnails for k in keys):
        return {k: _thumbnails[k, dark] for k in keys}
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="journeys-thumbs-") as folder:
        scratch = Database(f"sqlite:///{Path(folder) / 'thumbs.db'}")
        try:
            for key in keys:
                with scratch.session() as s:
                    cid = campaign_files.import_document(
                        s, gallery.load_template(key), trust=True, now=clock.now()
                    ).id
                png = Path(folder) / f"{key}.png"
                render_campaign(scratch, cid, png, clock, dark=dark)
                pixmap = QPixmap(str(png))
                _thumbnails[key, dark] = pixmap.scaled(
                    THUMB_WIDTH * 2,
                    THUMB_HEIGHT * 2,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
        finally:
            scratch.dispose()
    return {k: _thumbnails[k, dark] for k in keys}


def flow_columns(width: int, count: int, spacing: int = SPACING) -> tuple[int, int]:
    """Columns and card width for ``count`` cards in ``width`` pixels.

    As many columns as cards of ``CARD_MIN`` fit, then balanced (six cards that would
    fit four to a row go three by two rather than four and two), cards grown up to
    ``CARD_MAX`` to fill the row; never narrower than the width allows for one column.
    """
    if count <= 0:
        return 1, CARD_MIN
    fit = max(1, min(count, (width + spacing) // (CARD_MIN + spacing)))
    rows = -(-count // fit)
    columns = -(-count // rows)
    card = (width - spacing * (columns - 1)) // columns
    return columns, max(CARD_FLOOR, min(CARD_MAX, card))


class TemplateCard(QFrame):
    """One template: thumbnail, name, target, description and "Use this template"."""

    chosen = Signal(str)

    def __init__(self, info: dict[str, Any], pixmap: QPixmap, parent: QWidget | None = None):
        super().__init__(parent)
        self.key: str = info["key"]
        self.pixmap = pixmap
        self.card_width = 0
        self.setObjectName("templateCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#templateCard { border: 1px solid palette(mid); border-radius: 8px;"
            " background: palette(base); }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(CARD_MARGIN, CARD_MARGIN, CARD_MARGIN, CARD_MARGIN)
        self.thumbnail = QLabel()
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setToolTip(f"The journey {info['name']!r} creates")
        layout.addWidget(self.thumbnail)
        self.title = QLabel(info["name"])
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-size: 13pt; font-weight: 600;")
        layout.addWidget(self.title)
        target = QLabel(f"Target: {model_info(info['target']).label}s")
        target.setStyleSheet("color: palette(placeholder-text);")
        layout.addWidget(target)
        self.description = QLabel(info["description"])
        self.description.setWordWrap(True)
        self.description.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.description)
        layout.addStretch(1)
        self.button = QPushButton("Use this template")
        self.button.clicked.connect(lambda: self.chosen.emit(self.key))
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignRight)
        self.set_pixmap(pixmap, dark=False)
        self.set_card_width(THUMB_WIDTH + 2 * CARD_MARGIN)

    def set_pixmap(self, pixmap: QPixmap, *, dark: bool) -> None:
        """The journey's drawing, on the canvas colour of the scheme it was drawn in."""
        self.pixmap = pixmap
        canvas = (style.DARK if dark else style.LIGHT).canvas.name()
        self.thumbnail.setStyleSheet(f"background: {canvas}; border-radius: 6px;")
        width, self.card_width = self.card_width, 0
        if width:
            self.set_card_width(width)  # rescales the new drawing

    def set_card_width(self, width: int) -> None:
        """Size the card, its thumbnail (same aspect) and the text wrapped inside."""
        if width == self.card_width:
            return
        self.card_width = width
        self.setFixedWidth(width)
        inner = width - 2 * CARD_MARGIN
        size = QSize(inner, round(inner * THUMB_HEIGHT / THUMB_WIDTH))
        self.thumbnail.setFixedSize(size)
        if not self.pixmap.isNull():
            ratio = self.devicePixelRatioF()
            shown = self.pixmap.scaled(
                size * ratio,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            shown.setDevicePixelRatio(ratio)
            self.thumbnail.setPixmap(shown)
        # Wrapped labels report no height-for-width to the grid: give them their height.
        for label in (self.title, self.description):
            label.setFixedWidth(inner)
            wrapped = label.fontMetrics().boundingRect(
                0, 0, inner, 10_000, Qt.TextFlag.TextWordWrap, label.text()
            )
            label.setMinimumHeight(wrapped.height() + 4)


class TemplateGallery(QWidget):
    """The six templates as cards; choosing one creates a draft campaign from it."""

    campaignCreated = Signal(int)
    sampleImported = Signal(int)  # number of contacts
    failed = Signal(str)

    def __init__(self, db: Database, clock: Clock | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.db = db
        self.clock: Clock = clock or SystemClock()
        outer = QVBoxLayout(self)
        heading = QLabel("Start a journey from a template")
        heading.setStyleSheet("font-size: 18pt; font-weight: 600;")
        heading.setWordWrap(True)
        outer.addWidget(heading)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        outer.addWidget(self.intro)
        row = QHBoxLayout()
        self.sample_button = QPushButton("Import sample audience")
        self.sample_button.clicked.connect(self.import_sample_audience)
        row.addWidget(self.sample_button)
        self.csv_button = QPushButton("Import records from CSV…")
        self.csv_button.clicked.connect(self.open_csv_import)
        row.addWidget(self.csv_button)
        row.addStretch(1)
        outer.addLayout(row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        outer.addWidget(self.status)
        self.refresh_audience()

        grid_host = QWidget()
        grid = QGridLayout(grid_host)
        grid.setSpacing(SPACING)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.cards: list[TemplateCard] = []
        for info in gallery.list_templates():
            card = TemplateCard(info, QPixmap())
            card.chosen.connect(self.use_template)
            self.cards.append(card)
        self._show_scheme(theme.is_dark())
        theme.appearance().changed.connect(self._show_scheme)
        self._grid = grid
        self.columns = 0
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(grid_host)
        self._scroll = scroll
        outer.addWidget(scroll, 1)
        self._reflow()
        scroll.installEventFilter(self)

    def _show_scheme(self, dark: bool) -> None:
        thumbs = template_thumbnails(dark)
        for card in self.cards:
            card.set_pixmap(thumbs.get(card.key, QPixmap()), dark=dark)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and watched is self._scroll:
            self._reflow()
        return super().eventFilter(watched, event)

    def _available_width(self) -> int:
        """The scroll area's width less a vertical scroll bar, shown or not (so that one
        appearing cannot change the columns and make itself disappear again)."""
        bar = self._scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        return self._scroll.width() - 2 * self._scroll.frameWidth() - bar - 4

    def _reflow(self) -> None:
        """Lay the cards out in as many columns as the width allows, all of one width."""
        columns, width = flow_columns(self._available_width(), len(self.cards))
        for card in self.cards:
            card.set_card_width(width)
        if columns == self.columns:
            return
        self.columns = columns
        for card in self.cards:
            self._grid.removeWidget(card)
        for index, card in enumerate(self.cards):
            self._grid.addWidget(card, index // columns, index % columns)

    def use_template(self, key: str) -> int | None:
        """Create a draft campaign from template ``key``; its id, or None on failure."""
        try:
            with self.db.session() as s:
                campaign_id = campaign_files.import_document(
                    s, gallery.load_template(key), trust=True, now=self.clock.now()
                ).id
        except UserError as exc:
            self._say(str(exc), error=True)
            return None
        self.campaignCreated.emit(campaign_id)
        return campaign_id

    def refresh_audience(self) -> None:
        """Word the intro and the sample button after what the database holds now."""
        try:
            with self.db.read() as s:
                seen = gallery.audience(s)
        except UserError as exc:
            self._say(str(exc), error=True)
            return
        intro = "Each template is a complete campaign you can adapt. "
        if seen.contacts == 0:
            intro += "No contacts yet? Import the sample audience to try a journey safely."
        else:
            n = seen.contacts
            intro += f"{n:,} contact{'' if n == 1 else 's'} in this database."
        self.intro.setText(intro)
        self.sample_button.setEnabled(not seen.sample_imported)
        self.sample_button.setToolTip(
            "The sample audience is already imported."
            if seen.sample_imported
            else f"Imports {gallery.sample_audience_path().name}: {seen.sample_size} contacts"
        )

    def import_sample_audience(self) -> int:
        """Import the shipped sample contacts once; how many (0 when refused or already in)."""
        try:
            with self.db.session() as s:
                count = 0
                if not gallery.audience(s).sample_imported:
                    path = gallery.sample_audience_path()
                    count = import_csv(s, "contact", path, now=self.clock.now())
        except UserError as exc:
            self._say(str(exc), error=True)
            return 0
        self.refresh_audience()
        if not count:
            self._say("The sample audience is already imported.")
            return 0
        self._say(f"{count} sample contacts imported.")
        self.sampleImported.emit(count)
        return count

    def open_csv_import(self) -> None:
        from .csv_import import CsvImportDialog

        dialog = CsvImportDialog(self.db, self.clock, self)
        dialog.imported.connect(lambda model, n: self._say(f"{n} {model} record(s) imported."))
        dialog.imported.connect(self.refresh_audience)
        dialog.exec()

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(status_css(error))
        self.status.setVisible(bool(text))
        if error:
            self.failed.emit(text)


def choose_template(parent: QWidget | None, db: Database, clock: Clock | None = None) -> int | None:
    """Show the gallery in a modal dialog; the new campaign's id, or None if cancelled."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("New campaign from template")
    layout = QVBoxLayout(dialog)
    view = TemplateGallery(db, clock, dialog)
    layout.addWidget(view)
    close = QPushButton("Cancel")
    close.clicked.connect(dialog.reject)
    layout.addWidget(close, 0, Qt.AlignmentFlag.AlignRight)
    created: list[int] = []

    def done(campaign_id: int) -> None:
        created.append(campaign_id)
        dialog.accept()

    view.campaignCreated.connect(done)
    screen_fit.fit(dialog, 1060, 820)
    dialog.exec()
    return created[0] if created else None
