"""The campaign dashboard as a PDF report to send around (issue 24).

Title and period, the KPI tiles against the period before, the journey diagram with
its counters (the canvas's own scene), every step's figures, the daily plot of what
each step did, and the link tracker: the figures the dashboard shows, from the same
engine queries. Drawn with QPdfWriter on A4, so it works offscreen with no window
(``journeys report CAMPAIGN --pdf FILE``); the text stays text (searchable, copyable).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter

from engine import db_files
from engine.api import dashboard, figures
from engine.clock import Clock
from engine.db import Database
from engine.errors import UserError

from ..canvas.scene import CampaignScene
from ..canvas.stats import load_stats
from ..document import CampaignDocument
from ..render import ensure_app, render_image
from .tiles import FLAT, change_text, value_text
from .window import figure_text

STEP_COLUMNS = (
    ("Sched.", "scheduled"),
    ("Done", "processed"),
    ("Rejected", "rejected"),
    ("Canceled", "canceled"),
    ("Error", "error"),
    ("Opened", "opened"),
    ("Clicked", "clicked"),
    ("Replied", "replied"),
    ("Bounced", "bounced"),
)
DPI = 300
MM = DPI / 25.4  # device pixels per millimetre


class Pages:
    """A pen moving down A4 pages: text, boxes and images, a new page when full."""

    def __init__(self, path: Path, title: str) -> None:
        self.writer = QPdfWriter(str(path))
        self.writer.setResolution(DPI)
        self.writer.setTitle(title)
        self.writer.setCreator("Journeys")
        self.writer.setPageLayout(
            QPageLayout(
                QPageSize(QPageSize.PageSizeId.A4),
                QPageLayout.Orientation.Portrait,
                QMarginsF(15, 15, 15, 15),
                QPageLayout.Unit.Millimeter,
            )
        )
        self.painter = QPainter()
        if not self.painter.begin(self.writer):
            raise UserError(f"cannot write {path}")
        self.painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.writer.pageLayout().paintRectPixels(DPI)
        self.width, self.height = float(rect.width()), float(rect.height())
        self.y = 0.0
        self.pages = 1

    def font(self, points: float, bold: bool = False) -> QFont:
        f = QFont("DejaVu Sans")
        f.setPointSizeF(points)
        f.setBold(bold)
        # No ligatures: "flow" stays four letters, so the PDF's text is found by search.
        f.setStyleStrategy(QFont.StyleStrategy.PreferNoShaping)
        return f

    def room(self, height: float) -> None:
        if self.y + height > self.height and self.y > 0:
            self.writer.newPage()
            self.pages += 1
            self.y = 0.0

    def text(
        self, line: str, points: float = 10, *, bold: bool = False, color: str = "#0F172A"
    ) -> None:
        self.painter.setFont(self.font(points, bold))
        flags = Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap
        area = QRectF(0, 0, self.width, self.height)
        h = self.painter.boundingRect(area, flags, line).height() * 1.1
        self.room(h)
        self.painter.setPen(QColor(color))
        self.painter.drawText(QRectF(0, self.y, self.width, h), flags, line)
        self.y += h

    def section(self, title: str, body_mm: float) -> None:
        """A heading kept on the same page as the first ``body_mm`` of what follows."""
        self.room(10 * MM + body_mm * MM)
        self.text(title, 12, bold=True)

    def gap(self, mm: float) -> None:
        self.y += mm * MM

    def tiles(self, rows: list[tuple[str, str, str, str]], per_row: int = 5) -> None:
        """KPI tiles: label, value, change line and its colour."""
        w, h, pad = self.width / per_row, 19 * MM, 1.5 * MM
        p = self.painter
        for i, (label, value, change, color) in enumerate(rows):
            if i % per_row == 0:
                self.room(h + pad)
                if i:
                    self.y += h + pad
            x = (i % per_row) * w
            box = QRectF(x + pad / 2, self.y, w - pad, h)
            p.setPen(QColor("#CBD5E1"))
            p.setBrush(QColor("#F8FAFC"))
            p.drawRoundedRect(box, 1.5 * MM, 1.5 * MM)
            inner = box.adjusted(2 * MM, 1.5 * MM, -2 * MM, -1.5 * MM)
            p.setPen(QColor("#334155"))
            p.setFont(self.font(7.5))
            p.drawText(inner, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, label)
            p.setPen(QColor("#0F172A"))
            p.setFont(self.font(13, True))
            p.drawText(inner, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, value)
            p.setPen(QColor(color))
            p.setFont(self.font(6.5))
            p.drawText(inner, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, change)
        self.y += h + pad

    def table(self, headings: list[str], rows: list[list[str]], points: float = 7) -> None:
        """A grid: each figure column as wide as its widest cell, the first (names)
        takes the rest; a smaller font when the figures would not fit."""
        p = self.painter
        pad = 1.6 * MM
        while True:
            p.setFont(self.font(points, True))
            metrics = p.fontMetrics()
            widths = [
                max(metrics.horizontalAdvance(r[c]) for r in [headings, *rows]) + 2 * pad
                for c in range(1, len(headings))
            ]
            if sum(widths) <= self.width * 0.7 or points <= 5:
                break
            points -= 0.5
        widths = [self.width - sum(widths), *widths]
        xs = [sum(widths[:i]) for i in range(len(widths))]
        h = metrics.height() * 1.5

        def line(cells: list[str], bold: bool, shade: bool) -> None:
            self.room(h)
            if shade:
                p.fillRect(QRectF(0, self.y, self.width, h), QColor("#F1F5F9"))
            p.setFont(self.font(points, bold))
            p.setPen(QColor("#0F172A"))
            for i, cell in enumerate(cells):
                align = Qt.AlignmentFlag.AlignVCenter | (
                    Qt.AlignmentFlag.AlignLeft if i == 0 else Qt.AlignmentFlag.AlignRight
                )
                r = QRectF(xs[i] + pad / 2, self.y, widths[i] - pad, h)
                text = p.fontMetrics().elidedText(
                    cell, Qt.TextElideMode.ElideMiddle, int(r.width())
                )
                p.drawText(r, align, text)
            self.y += h

        line(headings, True, True)
        for i, row in enumerate(rows):
            line(row, False, i % 2 == 1)

    def image(self, image: QImage, max_height_mm: float) -> None:
        if image.isNull() or not image.width():
            return
        scale = min(self.width / image.width(), max_height_mm * MM / image.height())
        w, h = image.width() * scale, image.height() * scale
        self.room(h)
        self.painter.drawImage(QRectF((self.width - w) / 2, self.y, w, h), image)
        self.y += h

    def finish(self) -> int:
        self.painter.end()
        return self.pages


def write_report(
    db: Database, clock: Clock, campaign_id: int, path: str | Path, days: int = 7
) -> int:
    """Write the campaign's report to ``path`` (a .pdf); the number of pages."""
    path = Path(path)
    if path.suffix.lower() != ".pdf":
        raise UserError(f"{path}: the report is a .pdf file")
    if not path.parent.is_dir():
        raise UserError(f"{path.parent}: no such folder")
    db_files.refuse_database_file(
        path, db.engine.url, action="overwritten by a report", hint="Choose another name."
    )
    days = dashboard.check_days(days)
    ensure_app()
    now = clock.now()
    fig = figures.campaign_figures(db, campaign_id)
    kpis = dashboard.kpis(db, campaign_id, now, days)
    series = figures.series(db, campaign_id, now)
    links = figures.links(db, campaign_id)
    tmp = path.with_name(f".{path.name}.part")
    pages: Pages | None = None
    try:
        pages = Pages(tmp, f"{fig.name} — Journeys report")
        pages.text(fig.name, 20, bold=True)
        span = "the last 24 hours" if days == 1 else f"the last {days} days"
        pages.text(
            f"Campaign #{fig.id} · {fig.state} · {span}: {when(kpis.start)} to {when(kpis.end)}"
            f" (against the {days}-day period before)",
            9,
            color=FLAT,
        )
        pages.text(f"Report made {when(now)} by Journeys", 8, color=FLAT)
        pages.gap(4)
        pages.tiles(
            [(k.label, value_text(k), *change_text(k)) for k in kpis.tiles],
        )
        pages.gap(4)
        pages.section("The journey", 60)
        pages.image(diagram(db, campaign_id, clock), 120)
        pages.gap(4)
        pages.section("Steps", 20)
        pages.table(
            ["Step", *(h for h, _ in STEP_COLUMNS)],
            [
                [a.name, *(figure_text(a, name) for _h, name in STEP_COLUMNS)]
                for a in fig.activities
            ],
        )
        pages.gap(4)
        pages.section("What the steps did, day by day (last 15 days)", 70)
        pages.image(daily_plot(series), 70)
        pages.gap(4)
        pages.section("Link tracker", 15)
        names = {a.key: a.name for a in fig.activities}
        if links:
            pages.table(
                ["URL", "Step", "Clicks", "Unique clicks"],
                [
                    [
                        link.url,
                        names.get(link.activity, link.activity),
                        f"{link.clicks:,}",
                        f"{link.unique_clicks:,}",
                    ]
                    for link in links
                ],
            )
        else:
            pages.text("No tracked link was clicked yet.", 9, color=FLAT)
        count = pages.finish()
        tmp.replace(path)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if pages is not None and pages.painter.isActive():
            pages.painter.end()
        if tmp.exists():
            tmp.unlink()
    return count


def when(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M")


def diagram(db: Database, campaign_id: int, clock: Clock) -> QImage:
    """The journey with its counters, as ``journeys render`` draws it."""
    document = CampaignDocument(db, campaign_id, clock)
    scene = CampaignScene(document)
    try:
        scene.set_stats(load_stats(db, campaign_id, clock.now()))
        scene.clearSelection()
        return render_image(scene, 2.0)
    finally:
        scene.clear()
        del scene


def daily_plot(series: figures.Series) -> QImage:
    """Processed (solid) and rejected (light) traces a day, every step summed: drawn
    directly with QPainter (no widget, so no display is needed)."""
    buckets = series.buckets
    done = [0] * len(buckets)
    refused = [0] * len(buckets)
    for act in series.activities.values():
        for i, n in enumerate(act.processed):
            done[i] += n
        for i, n in enumerate(act.rejected):
            refused[i] += n
    w, h, left, bottom = 2400, 800, 150, 90
    image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor("white"))
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont("DejaVu Sans")
    font.setPixelSize(34)
    font.setStyleStrategy(QFont.StyleStrategy.PreferNoShaping)
    p.setFont(font)
    top = max(1, max(d + r for d, r in zip(done, refused, strict=True)))
    plot_w, plot_h = w - left - 20, h - bottom - 40
    p.setPen(QColor("#94A3B8"))
    p.drawLine(QPointF(left, 40 + plot_h), QPointF(w - 20, 40 + plot_h))
    for frac in (0, 0.5, 1):
        y = 40 + plot_h * (1 - frac)
        p.drawText(
            QRectF(0, y - 16, left - 12, 32), Qt.AlignmentFlag.AlignRight, f"{round(top * frac):,}"
        )
    slot = plot_w / len(buckets)
    for i, at in enumerate(buckets):
        x = left + i * slot + slot * 0.15
        bw = slot * 0.7
        hd, hr = plot_h * done[i] / top, plot_h * refused[i] / top
        p.fillRect(QRectF(x, 40 + plot_h - hd, bw, hd), QColor("#16A34A"))
        p.fillRect(QRectF(x, 40 + plot_h - hd - hr, bw, hr), QColor("#FCA5A5"))
        if i % 2 == 0:
            p.setPen(QColor("#334155"))
            p.drawText(
                QRectF(x - slot * 0.3, 44 + plot_h, slot * 1.3, 40),
                Qt.AlignmentFlag.AlignHCenter,
                at.astimezone().strftime("%d %b"),
            )
    p.setPen(QColor("#16A34A"))
    p.drawText(QRectF(left, 0, plot_w, 40), Qt.AlignmentFlag.AlignLeft, "■ processed")
    p.setPen(QColor("#DC2626"))
    p.drawText(QRectF(left + 260, 0, plot_w, 40), Qt.AlignmentFlag.AlignLeft, "■ rejected")
    p.end()
    return image
