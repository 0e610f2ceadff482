"""The mouse wheel over the inspector scrolls the inspector.

A form in a scroll area is full of widgets that take the wheel for themselves: the
preview's tab bar switched tabs, combo boxes and spin boxes changed the step being
edited, and the HTML editor kept every turn of the wheel even when it had nothing left
to scroll. Here a widget takes the wheel only when the user is working in it (it has the
keyboard focus) and, for a text area, only while it can still scroll that way.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollArea,
    QSlider,
    QTabBar,
    QWidget,
)

# Widgets whose value or page the wheel would change under a passing pointer.
VALUE_WIDGETS = (QTabBar, QComboBox, QAbstractSpinBox, QSlider)


class WheelGuard(QObject):
    """Installed on every widget of an inspector page (see :meth:`guard`)."""

    def __init__(self, scroll: QScrollArea) -> None:
        super().__init__(scroll)
        self.scroll = scroll

    def guard(self, page: QWidget) -> None:
        for widget in [page, *page.findChildren(QWidget)]:
            if isinstance(widget, VALUE_WIDGETS):
                widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # not by the wheel
                widget.installEventFilter(self)
            elif isinstance(widget, QAbstractScrollArea):
                widget.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.Wheel or not isinstance(event, QWheelEvent):
            return False
        if isinstance(watched, VALUE_WIDGETS):
            if watched.hasFocus():
                return False
        else:
            area = watched.parent()
            if isinstance(area, QAbstractScrollArea) and _can_scroll(area, event):
                return False
        QApplication.sendEvent(self.scroll.verticalScrollBar(), event)
        return True


def _can_scroll(area: QAbstractScrollArea, event: QWheelEvent) -> bool:
    """Whether ``area`` can still move the way the wheel turns."""
    bar = area.verticalScrollBar()
    delta = event.angleDelta().y()
    if bar.maximum() == bar.minimum() or delta == 0:
        return False
    return bar.value() > bar.minimum() if delta > 0 else bar.value() < bar.maximum()
