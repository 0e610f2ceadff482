"""Per-step plots: processed ("success") and rejected traces per day over 15 days or per
hour over 48 hours (Odoo's activity graph), with the values of the bucket under the mouse.

pyqtgraph draws the bars; the engine gives the series (:func:`engine.api.figures.series`),
one query for every step of the campaign.
"""

from __future__ import annotations

from datetime import datetime

import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.api.figures import ActivitySeries, Series

from ..canvas import style
from .tables import refill

ALL = ""  # the combo's "every step" entry


def bucket_label(at: datetime, hourly: bool) -> str:
    local = at.astimezone()
    return local.strftime("%a %d %b %H:00") if hourly else local.strftime("%a %d %b")


def summed(series: Series) -> ActivitySeries:
    """Every step's series added up."""
    n = len(series.buckets)
    p, r = [0] * n, [0] * n
    for s in series.activities.values():
        for i in range(n):
            p[i] += s.processed[i]
            r[i] += s.rejected[i]
    return ActivitySeries(series.buckets, tuple(p), tuple(r), series.hourly)


class StepPlot(QWidget):
    """One plot, for the step picked in its combo (or all steps)."""

    def __init__(self) -> None:
        super().__init__()
        self.series: Series | None = None
        self.shown: ActivitySeries | None = None
        self.step = QComboBox()
        self.step.currentIndexChanged.connect(self._draw)
        self.period = QComboBox()
        self.period.addItem("Daily, 15 days", False)
        self.period.addItem("Hourly, 48 hours", True)
        self.hover = QLabel(" ")
        self.plot = pg.PlotWidget(background=self.palette().base().color())
        ink = self.palette().text().color()
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(ink)
            self.plot.getAxis(axis).setPen(style.pen(style.SPARK_AXIS))
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(y=True, alpha=0.2)
        self.plot.setMinimumHeight(170)
        self.plot.addLegend(offset=(8, 4), labelTextColor=ink)
        self.plot.scene().sigMouseMoved.connect(self._moved)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Step"))
        bar.addWidget(self.step, 1)
        bar.addWidget(self.period)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(bar)
        box.addWidget(self.plot, 1)
        box.addWidget(self.hover)

    @property
    def hourly(self) -> bool:
        return bool(self.period.currentData())

    def set_steps(self, steps: list[tuple[str, str]]) -> None:
        refill(self.step, "All steps", ALL, steps)
        self._draw()  # the step shown may have changed (another campaign's steps)

    def show_series(self, series: Series) -> None:
        self.series = series
        self._draw()

    def _draw(self) -> None:
        if self.series is None:
            return
        key = self.step.currentData()
        s = summed(self.series) if not key else self.series.of(key)
        self.shown = s
        self.plot.clear()
        xs = list(range(len(s.buckets)))
        processed = pg.BarGraphItem(
            x=xs, height=list(s.processed), width=0.8, brush=style.PROCESSED, name="Success"
        )
        rejected = pg.BarGraphItem(
            x=xs,
            y0=list(s.processed),
            height=list(s.rejected),
            width=0.8,
            brush=style.REJECTED,
            name="Rejected",
        )
        self.plot.addItem(processed)
        self.plot.addItem(rejected)
        step = 6 if s.hourly else 2
        ticks = [(i, bucket_label(b, s.hourly)) for i, b in enumerate(s.buckets) if i % step == 0]
        self.plot.getAxis("bottom").setTicks([ticks])
        top = max((p + r for p, r in zip(s.processed, s.rejected, strict=True)), default=0)
        self.plot.setYRange(0, max(1, top) * 1.1)
        self.plot.setXRange(-0.6, len(xs) - 0.4, padding=0)
        self.hover.setText("Point at a bar for its values")

    def describe(self, i: int) -> str:
        s = self.shown
        if s is None or not 0 <= i < len(s.buckets):
            return ""
        return (
            f"{bucket_label(s.buckets[i], s.hourly)}: {s.processed[i]:,} success, "
            f"{s.rejected[i]:,} rejected"
        )

    def _moved(self, pos: QPointF) -> None:
        vb = self.plot.getPlotItem().getViewBox()
        if not self.plot.sceneBoundingRect().contains(pos):
            return
        x = vb.mapSceneToView(pos).x()
        text = self.describe(round(x))
        if text:
            self.hover.setText(text)
            self.plot.setToolTip(text)
