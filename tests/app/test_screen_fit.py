"""Every window and dialog fits the screen it opens on, buttons included (issue 26).

The offscreen screen is 800×800, smaller than every size those windows ask for (the
template gallery wanted 1060×820, which hid its Cancel button on a 1280×800 laptop).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRect, QTimer
from PySide6.QtWidgets import QAbstractButton, QAbstractScrollArea, QApplication, QWidget
from pytestqt.qtbot import QtBot

from designer import screen_fit
from designer.dashboard.overview import OverviewWindow
from designer.dashboard.window import DashboardWindow
from designer.dialogs.csv_import import CsvImportDialog
from designer.dialogs.gallery import choose_template
from designer.dialogs.settings_dialog import SettingsDialog
from designer.main_window import MainWindow
from engine.clock import FixedClock
from engine.db import Database
from tests.app.conftest import add_template


def room() -> QRect:
    screen = QApplication.primaryScreen()
    assert screen is not None
    return screen.availableGeometry()


def assert_fits(widget: QWidget) -> None:
    """The window and every visible button on it lie within the screen's free area."""
    free = room()
    frame = widget.frameGeometry()
    assert free.contains(frame), f"{widget.windowTitle()}: {frame} is not within {free}"
    assert widget.width() <= free.width() - screen_fit.FRAME_ALLOWANCE.width()
    assert widget.height() <= free.height() - screen_fit.FRAME_ALLOWANCE.height()
    # a tabbed dock's hidden title buttons count as visible: they have nothing on screen
    buttons = [
        b
        for b in widget.findChildren(QAbstractButton)
        if b.isVisible() and not b.visibleRegion().isEmpty()
    ]
    buttons = [b for b in buttons if not scrolled(b, widget)]
    assert buttons, "no button to check"
    for button in buttons:
        corner = button.mapTo(widget, button.rect().bottomRight())
        chain = []
        p = button
        while p is not None:
            chain.append(f"{type(p).__name__}:{p.objectName()}:{p.isWindow()}")
            p = p.parentWidget()
        assert widget.rect().contains(corner), f"{button.text()!r} is cut off at {corner} {chain}"


def scrolled(button: QWidget, top: QWidget) -> bool:
    """Inside a scroll area: reached by scrolling, so not judged by its position."""
    parent = button.parentWidget()
    while parent is not None and parent is not top:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def shown(qtbot: QtBot, widget: QWidget) -> QWidget:
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    widget.move(room().topLeft())  # where a window manager would keep it: on screen
    return widget


def test_the_screen_is_smaller_than_what_the_windows_ask_for(qtbot: QtBot) -> None:
    assert room().width() < 1060 and room().height() < 820


def test_every_window_and_dialog_fits_the_screen(
    qtbot: QtBot, database: Database, clock: FixedClock
) -> None:
    cid = add_template(database, "tag_hot_contacts", clock.now())
    builders: list[Callable[[], QWidget]] = [
        lambda: MainWindow(database, clock=clock),
        lambda: DashboardWindow(database, clock=clock, campaign_id=cid, follow=False),
        lambda: OverviewWindow(database, clock, follow=False),
        lambda: SettingsDialog(database, clock),
        lambda: CsvImportDialog(database, clock),
    ]
    for build in builders:
        widget = shown(qtbot, build())
        assert_fits(widget)
        widget.close()


def test_the_template_gallery_fits_with_its_cancel_button(
    qtbot: QtBot, database: Database, clock: FixedClock
) -> None:
    seen: list[str] = []
    poll = QTimer()

    def check() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            return  # the gallery is still drawing its thumbnails
        poll.stop()
        try:
            assert_fits(dialog)
            cancel = next(b for b in dialog.findChildren(QAbstractButton) if b.text() == "Cancel")
            seen.append(cancel.text())
        finally:
            dialog.close()

    poll.timeout.connect(check)
    poll.start(20)
    assert choose_template(None, database, clock) is None
    assert seen == ["Cancel"]
