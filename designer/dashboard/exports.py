"""Figures to share (issue 24): a plot as PNG or SVG, a table as CSV.

A CSV of the traces or participants holds every row the table's filters match, read
from the engine a page at a time (the view only ever loads what is scrolled to). Each
file is written beside its target and moved into place, so a failed export never
leaves half a file where a good one was.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from PySide6.QtCore import QRectF, QSize
from PySide6.QtWidgets import QTableWidget

from engine.api.tables import MAX_PAGE, Query
from engine.errors import UserError

PLOT_FORMATS = (".png", ".svg")


@contextmanager
def replacing(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """A file opened beside ``path`` that replaces it only once completely written."""
    folder = path.parent
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise UserError(f"cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as out:
            yield out
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_csv(path: str | Path, headings: Sequence[str], rows: Iterable[Sequence[str]]) -> int:
    """Headings then rows; the number of rows written."""
    path = Path(path)
    count = 0
    with replacing(path) as out:
        writer = csv.writer(out)
        writer.writerow(headings)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def table_rows(table: QTableWidget) -> tuple[list[str], list[list[str]]]:
    """A table widget's headings and cells as shown."""
    headings = [
        table.horizontalHeaderItem(c).text() if table.horizontalHeaderItem(c) else ""
        for c in range(table.columnCount())
    ]
    rows = [
        [table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]
    return headings, rows


def every_page(fetch: Callable[[Query, int, int], Sequence[Any]], query: Query) -> Iterator[Any]:
    """Every row ``query`` matches, a large page at a time, in the table's order."""
    offset = 0
    while True:
        page = fetch(query, offset, MAX_PAGE)
        yield from page
        if len(page) < MAX_PAGE:
            return
        offset += len(page)


def save_plot(plot_widget: Any, path: str | Path, width: int = 1600) -> QSize:
    """A plot as PNG (``width`` pixels wide) or SVG (vector), by the file's suffix.

    The plot's own scene is drawn into the file (pyqtgraph's SVG exporter fails on the
    paths Qt 6 writes), so the file shows what the window shows, axes and labels too."""
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtSvg import QSvgGenerator

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PLOT_FORMATS:
        raise UserError(f"{path}: a plot is saved as a .png or .svg file")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: no such folder")
    source = QRectF(plot_widget.viewport().rect())
    tmp = path.with_name(f".{path.name}.part{suffix}")
    try:
        painter = QPainter()
        if suffix == ".png":
            size = QSize(width, round(width * source.height() / max(1.0, source.width())))
            image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
            image.fill(QColor("white"))
            painter.begin(image)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            plot_widget.render(painter, QRectF(0, 0, size.width(), size.height()), source.toRect())
            painter.end()
            if not image.save(str(tmp), "PNG"):
                raise UserError(f"cannot write {path}")
        else:
            size = source.size().toSize()
            svg = QSvgGenerator()
            svg.setFileName(str(tmp))
            svg.setSize(size)
            svg.setViewBox(QRectF(0, 0, size.width(), size.height()))
            svg.setTitle("Journeys plot")
            if not painter.begin(svg):
                raise UserError(f"cannot write {path}")
            plot_widget.render(painter, QRectF(0, 0, size.width(), size.height()), source.toRect())
            painter.end()
        os.replace(tmp, path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return size
