"""The SPEC E10 banner over the canvas: a running campaign's workflow was modified."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from . import theme

TEXT = "Workflow modified — apply the changes to the people already in the journey?"
# (background, bottom border, text): a pale amber on light, a deep amber on dark.
COLORS = {False: ("#FFF4CE", "#E0C060", "#3D2E00"), True: ("#3A3018", "#7A6424", "#F6E7B4")}


def banner_css(dark: bool) -> str:
    background, border, text = COLORS[dark]
    return (
        f"#update-banner {{ background: {background}; border-bottom: 1px solid {border}; }}"
        f" #update-banner > QLabel {{ color: {text}; }}"
    )


class UpdateBanner(QFrame):
    """Hidden until the window shows it; ``chosen(True)`` = Update participants."""

    chosen = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("update-banner")
        self.label = QLabel(TEXT)
        # Wrapped, and no wider than it is given: unwrapped, this sentence and its two
        # buttons asked the central area for ~800 px, and at 1280×800 the window took
        # them from the docks (campaign names cut, Rename gone) and never gave them back.
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setMinimumWidth(120)
        self.update_button = QPushButton("Update participants")
        self.skip_button = QPushButton("Don't update")
        self.update_button.clicked.connect(lambda: self.chosen.emit(True))
        self.skip_button.clicked.connect(lambda: self.chosen.emit(False))
        box = QHBoxLayout(self)
        box.setContentsMargins(10, 6, 10, 6)
        box.addWidget(self.label, 1)
        box.addWidget(self.update_button)
        box.addWidget(self.skip_button)
        self.restyle()
        self.hide()

    def restyle(self) -> None:
        """Colours for the scheme in force (called again on every palette change)."""
        sheet = banner_css(theme.is_dark())
        if sheet != self.styleSheet():  # a style sheet change re-polishes: only if needed
            self.setStyleSheet(sheet)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.restyle()
