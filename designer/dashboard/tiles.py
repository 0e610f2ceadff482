"""KPI tiles: a figure over the chosen period, and how it moved against the period before.

A rate's change is in percentage points; a count's in percent. Whether a rise is good
depends on the figure (more opens yes, more bounces no), so the colour says that, and
the arrow only says the direction.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from engine.api.dashboard import Kpi, Kpis

WORSE_WHEN_UP = {"removed", "bounced", "unsubscribed"}
GOOD, BAD, FLAT = "#15803D", "#B91C1C", "#64748B"


def value_text(k: Kpi) -> str:
    if k.value is None:
        return "–"
    return f"{k.value:.1f} %" if k.percent else f"{int(k.value):,}"


def change_text(k: Kpi) -> tuple[str, str]:
    """The change line and its colour."""
    previous = "–" if k.previous is None else value_text(replace_value(k, k.previous))
    c = k.change
    if c is None:
        return f"previous: {previous}", FLAT
    if abs(c) < 0.05:
        return f"= previous ({previous})", FLAT
    arrow = "▲" if c > 0 else "▼"
    unit = " pts" if k.percent else " %"
    good = (c > 0) != (k.key in WORSE_WHEN_UP)
    return f"{arrow} {abs(c):.1f}{unit} vs {previous}", GOOD if good else BAD


def replace_value(k: Kpi, value: float) -> Kpi:
    return Kpi(k.key, k.label, value, None, k.percent)


class KpiTile(QFrame):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("kpi-tile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label, self.value, self.change = QLabel(), QLabel(), QLabel()
        self.label.setObjectName("kpi-label")
        self.value.setObjectName("kpi-value")
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.value.setFont(font)
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 6, 10, 6)
        box.setSpacing(1)
        for w in (self.label, self.value, self.change):
            box.addWidget(w)

    def show_kpi(self, k: Kpi, days: int) -> None:
        self.label.setText(k.label)
        self.value.setText(value_text(k))
        text, color = change_text(k)
        self.change.setText(text)
        self.change.setStyleSheet(f"color: {color};")
        span = "day" if days == 1 else f"{days} days"
        self.setToolTip(
            (k.help + "\n" if k.help else "") + f"The last {span}, against the {span} before"
        )


class KpiTiles(QWidget):
    """The tiles in rows of ``per_row``."""

    def __init__(self, per_row: int = 5) -> None:
        super().__init__()
        self.per_row = per_row
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(6)
        self.tiles: dict[str, KpiTile] = {}

    def show_kpis(self, kpis: Kpis) -> None:
        for i, k in enumerate(kpis.tiles):
            tile = self.tiles.get(k.key)
            if tile is None:
                tile = self.tiles[k.key] = KpiTile()
                self.grid.addWidget(tile, i // self.per_row, i % self.per_row)
            tile.show_kpi(k, kpis.days)

    def texts(self) -> dict[str, tuple[str, str]]:
        """Each tile's value and change line (for tests and accessibility)."""
        return {k: (t.value.text(), t.change.text()) for k, t in self.tiles.items()}
