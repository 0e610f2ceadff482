"""The template gallery is a responsive grid: as many columns as fit, re-flowed on resize.

Cards keep a readable width (never below ``CARD_FLOOR``), their thumbnails follow the card
width, and the status line takes its colours from :mod:`designer.theme` (dark mode too).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from designer.dialogs.gallery import (
    CARD_FLOOR,
    CARD_MAX,
    CARD_MIN,
    THUMB_HEIGHT,
    THUMB_WIDTH,
    TemplateGallery,
    flow_columns,
)
from designer.theme import status_css
from engine.clock import FixedClock
from engine.db import Database


@pytest.fixture
def sdb(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
def gallery(qtbot: QtBot, sdb: Database, clock: FixedClock) -> TemplateGallery:
    widget = TemplateGallery(sdb, clock)
    qtbot.addWidget(widget)
    widget.resize(1100, 900)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.mark.parametrize(
    ("width", "columns"),
    [
        (150, 1),  # too narrow for one card: one column, at the smallest card width
        (470, 2),  # the main window's centre at its default size
        (700, 3),
        (1000, 3),  # four would fit: three by two reads better than four and two
        (1400, 6),  # one row
    ],
)
def test_flow_columns_fit_and_balance(width: int, columns: int) -> None:
    got, card = flow_columns(width, 6)
    assert got == columns
    assert CARD_FLOOR <= card <= CARD_MAX
    if width >= CARD_MIN:
        assert got * card + (got - 1) * 16 <= width  # the row fits
    rows = -(-6 // got)
    assert rows * got - 6 < got  # no empty row


def rows_of(gallery: TemplateGallery) -> list[list[str]]:
    """Card keys row by row, as laid out (by their y, then x)."""
    rows: dict[int, list[tuple[int, str]]] = {}
    for card in gallery.cards:
        rows.setdefault(card.y(), []).append((card.x(), card.key))
    return [[k for _, k in sorted(r)] for _, r in sorted(rows.items())]


def settle(qtbot: QtBot, gallery: TemplateGallery, width: int, columns: int) -> None:
    gallery.resize(width, 900)
    qtbot.waitUntil(lambda: gallery.columns == columns, timeout=3000)
    QApplication.processEvents()


@pytest.mark.parametrize(("width", "columns"), [(1100, 3), (560, 2), (330, 1)])
def test_cards_reflow_to_the_width_and_stay_inside_it(
    qtbot: QtBot, gallery: TemplateGallery, width: int, columns: int
) -> None:
    settle(qtbot, gallery, width, columns)
    layout = rows_of(gallery)
    assert [len(r) for r in layout] == [columns] * (6 // columns)
    viewport = gallery._scroll.viewport().width()
    for card in gallery.cards:
        assert card.geometry().right() < viewport, (card.key, card.geometry(), viewport)
        # The thumbnail fills the card's width at the template's aspect ratio.
        thumb = card.thumbnail
        assert thumb.width() == card.width() - 20
        assert abs(thumb.height() - thumb.width() * THUMB_HEIGHT / THUMB_WIDTH) <= 1
        pixmap = thumb.pixmap()
        assert not pixmap.isNull()
        shown = pixmap.width() / pixmap.devicePixelRatio()
        assert shown >= thumb.width() - 2 or pixmap.height() / pixmap.devicePixelRatio() >= (
            thumb.height() - 2
        )
        # Every line of the description is visible (nothing cut off at the bottom).
        text = card.description
        assert text.height() >= text.heightForWidth(text.width())


def test_growing_and_shrinking_reflows_back(qtbot: QtBot, gallery: TemplateGallery) -> None:
    settle(qtbot, gallery, 1100, 3)
    first = rows_of(gallery)
    settle(qtbot, gallery, 480, 2)
    assert rows_of(gallery) == [[c.key for c in gallery.cards[i : i + 2]] for i in range(0, 6, 2)]
    settle(qtbot, gallery, 1100, 3)
    assert rows_of(gallery) == first


def test_the_main_window_shows_the_gallery_in_columns_at_its_default_size(
    qtbot: QtBot, sdb: Database, tmp_path: object
) -> None:
    from designer.main_window import MainWindow

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path))
    window = MainWindow(sdb)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    gallery = window.gallery
    assert isinstance(gallery, TemplateGallery)
    qtbot.waitUntil(lambda: gallery.columns >= 2, timeout=3000)
    window.shutdown()


def test_status_colours_come_from_the_theme(qtbot: QtBot, gallery: TemplateGallery) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    gallery._say("no such template", error=True)
    assert gallery.status.isVisible()
    assert gallery.status.styleSheet() == status_css(True)
    gallery._say("30 sample contacts imported.")
    assert gallery.status.styleSheet() == status_css(False)
    light = gallery.status.styleSheet()
    original = app.palette()
    dark = QPalette(original)
    dark.setColor(QPalette.ColorRole.Window, QColor("#202124"))
    app.setPalette(dark)
    try:
        gallery._say("30 sample contacts imported.")
        assert gallery.status.styleSheet() == status_css(False) != light
    finally:
        app.setPalette(original)
