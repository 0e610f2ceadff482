"""The funnel along a path of the journey: who entered, then who reached each step.

The path is the one to the step selected on the canvas (from the journey's first step
down to it), so a marketer picks a funnel by clicking a card.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.api.dashboard import FunnelStep

from ..canvas import style

ROW, GAP, LABEL_W = 30, 6, 190


def short_text(step: FunnelStep) -> str:
    """What fits beside a bar: the count and its share of those who entered."""
    if step.of_first is None or not step.key:
        return f"{step.reached:,}"
    return f"{step.reached:,} · {step.of_first:.1f} %"


def step_text(step: FunnelStep) -> str:
    parts = [f"{step.reached:,}"]
    if step.of_first is not None and step.key:
        parts.append(f"{step.of_first:.1f} % of entered")
    if step.of_previous is not None:
        parts.append(f"{step.of_previous:.1f} % of the step before")
    return parts[0] + (f"  ({', '.join(parts[1:])})" if parts[1:] else "")


class FunnelView(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.steps: tuple[FunnelStep, ...] = ()
        self.hint = (
            "Select a step (on the canvas or in the table above): "
            "the funnel follows the path to it."
        )
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def show_steps(self, steps: tuple[FunnelStep, ...]) -> None:
        self.steps = steps
        self.setToolTip("\n".join(f"{s.name}: {step_text(s)}" for s in steps))
        self.updateGeometry()
        self.update()

    def lines(self) -> list[str]:
        """What the funnel reads, step by step (for tests and accessibility)."""
        return [f"{s.name}: {step_text(s)}" for s in self.steps]

    def sizeHint(self) -> QSize:
        return QSize(480, max(1, len(self.steps)) * (ROW + GAP) + GAP)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, self.sizeHint().height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        if len(self.steps) <= 1:
            p.setPen(pal.color(pal.ColorRole.PlaceholderText))
            p.drawText(
                self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.hint
            )
            return
        top = max(1, self.steps[0].reached)
        metrics = p.fontMetrics()
        texts = [short_text(s) for s in self.steps]
        text_w = max(metrics.horizontalAdvance(t) for t in texts) + 16
        width = max(40.0, self.width() - LABEL_W - text_w - 8.0)
        for i, (s, text) in enumerate(zip(self.steps, texts, strict=True)):
            y = GAP + i * (ROW + GAP)
            p.setPen(pal.color(pal.ColorRole.WindowText))
            p.drawText(
                QRectF(8, y, LABEL_W - 12, ROW),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                metrics.elidedText(s.name, Qt.TextElideMode.ElideRight, LABEL_W - 12),
            )
            w = max(2.0, width * s.reached / top) if s.reached else 0.0
            color = QColor(style.TYPE_COLORS.get(s.type, style.TYPE_COLORS["start"]))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawRoundedRect(QRectF(LABEL_W, y, w, ROW), 4, 4)
            p.setPen(pal.color(pal.ColorRole.WindowText))
            p.drawText(
                QRectF(LABEL_W + w + 8, y, text_w, ROW),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                text,
            )
        p.end()
