"""The SPEC E10 banner over the canvas: a running campaign's workflow was modified."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

TEXT = "Workflow modified — apply the changes to the people already in the journey?"


class UpdateBanner(QFrame):
    """Hidden until the window shows it; ``chosen(True)`` = Update participants."""

    chosen = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("update-banner")
        self.setStyleSheet(
            "#update-banner { background: #fff4ce; border-bottom: 1px solid #e0c060; }"
        )
        self.label = QLabel(TEXT)
        self.update_button = QPushButton("Update participants")
        self.skip_button = QPushButton("Don't update")
        self.update_button.clicked.connect(lambda: self.chosen.emit(True))
        self.skip_button.clicked.connect(lambda: self.chosen.emit(False))
        box = QHBoxLayout(self)
        box.setContentsMargins(10, 6, 10, 6)
        box.addWidget(self.label, 1)
        box.addWidget(self.update_button)
        box.addWidget(self.skip_button)
        self.hide()
