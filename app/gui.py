"""``journeys`` / ``journeys gui``: the designer's main window on the embedded engine.

The window lives in :mod:`designer.main_window`; this module wires the database and the
engine runner to it and owns the quit order. Before the window opens, the application is
told how to scale on high-DPI screens and which scheme (light or dark) to show.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from designer import theme
from designer.main_window import (
    APPLICATION,
    ORGANIZATION,
    MainWindow,
    describe_location,
    remembered_read_only,
)
from engine.clock import Clock
from engine.db import Database, default_url
from engine.runner import EngineRunner

__all__ = ["MainWindow", "describe_location", "run_gui"]


def _new_application() -> QApplication:
    """The QApplication, with high-DPI scaling set up first (it must precede it).

    Qt 6 scales by the screen's factor on its own; PassThrough keeps fractional factors
    (125 %, 150 %) exact instead of rounding them to 1x or 2x, so text and the canvas's
    sprites are drawn at the screen's true density.
    """
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication(sys.argv[:1])
    return app


def run_gui(db_url: str | None, read_only: bool = False) -> int:
    """Open the main window on ``db_url`` (default: the user's SQLite file) until it closes.

    The database is created or migrated first; engine errors (UserError, EngineFailure)
    propagate to the caller, which maps them to exit codes.
    """
    app = QApplication.instance() or _new_application()
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    theme.install()  # the remembered Light/Dark/System choice, followed live from now on
    read_only = read_only or remembered_read_only()
    db = Database(db_url or default_url(), read_only=read_only)
    # Read-only runs no engine: it looks at what other processes write.
    runner = None if read_only else EngineRunner(db, tracking=True)
    try:
        window = MainWindow(db, runner)
        window.show()
        if runner is not None:
            runner.start()
        code = app.exec()
        # Quit order: stop the engine and join its thread, then tear the window down.
        window.shutdown()
        window.deleteLater()
        return int(code)
    finally:
        if runner is not None:
            runner.stop()
        db.dispose()


def run_dashboard(db: Database, clock: Clock, campaign_id: int | None = None) -> int:
    """The managers' overview (``journeys dashboard``): no engine runs, nothing is edited;
    with ``--read-only`` the database itself is opened so that it cannot be written."""
    from designer.dashboard.overview import OverviewWindow

    app = QApplication.instance() or _new_application()
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    theme.install()
    window = OverviewWindow(db, clock)
    window.show()
    if campaign_id is not None:
        window.open_dashboard(campaign_id)
    code = app.exec()
    window.close()
    window.deleteLater()
    return int(code)
