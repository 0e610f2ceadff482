"""Windows and dialogs sized to the screen they open on, never past its edges.

A size chosen for a large monitor (the template gallery wants 1060×820) put its Cancel
button off a 1280×800 laptop screen, where the task bar and the title bar take their
share too. Every top-level window asks for its preferred size through :func:`fit` and
gets at most what the screen has free.
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

# What the window manager adds around a window (title bar, borders), which
# availableGeometry() does not include and a widget's size() does not count.
FRAME_ALLOWANCE = QSize(16, 48)


def available(widget: QWidget) -> QSize:
    """The room a top-level window's *contents* have on the screen it opens on."""
    anchor = widget.parentWidget().window() if widget.parentWidget() else widget
    screen: QScreen | None = anchor.screen() or QGuiApplication.primaryScreen()
    if screen is None:  # no screen at all (should not happen, even offscreen)
        return QSize(16_777_215, 16_777_215)
    room = screen.availableGeometry().size() - FRAME_ALLOWANCE
    return room.expandedTo(QSize(320, 240))


def fit(widget: QWidget, width: int, height: int) -> None:
    """Resize ``widget`` to ``width``×``height``, or less when its screen is smaller.

    The minimum size is capped too: a layout's minimum larger than the screen would
    otherwise win over the resize and push buttons out of sight.
    """
    room = available(widget)
    if widget.minimumWidth() > room.width() or widget.minimumHeight() > room.height():
        widget.setMinimumSize(widget.minimumSize().boundedTo(room))
    widget.resize(QSize(width, height).boundedTo(room))
