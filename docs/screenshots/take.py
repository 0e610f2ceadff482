"""Regenerate the README's screenshots from the real application.

    .venv/bin/python docs/screenshots/take.py [--dark]

Everything is real: a fresh SQLite database with the shipped sample audience and a
bundled template, the main window as ``journeys gui`` builds it, a test participant
launched and stepped through test mode. Runs offscreen (no display needed); the window
settings go to a temporary folder, never to the user's own.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[0] = str(ROOT)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication

from designer.main_window import APPLICATION, ORGANIZATION, MainWindow
from engine import campaign_files, gallery
from engine.clock import SystemClock
from engine.db import Database
from engine.records import import_csv

OUT = Path(__file__).resolve().parent
SIZE = (1600, 1000)


def settle(app: QApplication, ms: int = 300) -> None:
    """Let queued layouts, the first fit and timers run before grabbing.

    A local event loop, not ``app.exec()``: ``QApplication.quit()`` closes the windows.
    """
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def window_on(db: Database, app: QApplication) -> MainWindow:
    window = MainWindow(db, clock=SystemClock())
    window.resize(*SIZE)
    window.show()
    settle(app)
    return window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dark", action="store_true", help="also take dark-palette shots")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="journeys-shots-"))
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp / "settings"))
    app = QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    schemes = ["light", "dark"] if args.dark else ["light"]
    for scheme in schemes:
        suffix = "" if scheme == "light" else "-dark"
        if scheme == "dark":
            from designer import theme

            theme.appearance().set_preference(theme.DARK)
        # First run: an empty database shows the template gallery.
        empty = Database(f"sqlite:///{tmp / f'empty{suffix}.db'}")
        window = window_on(empty, app)
        if scheme == "light":  # the README shows the dark scheme on the main window only
            window.grab().save(str(OUT / "template-gallery.png"))
        window.close()
        empty.dispose()

        db = Database(f"sqlite:///{tmp / f'journeys{suffix}.db'}")
        now = SystemClock().now()
        with db.session() as s, gallery.sample_audience_path().open("rb") as csv:
            import_csv(s, "contact", csv, now=now)
        with db.session() as s:
            doc = gallery.load_template("tag_hot_contacts")
            campaign_files.import_document(s, doc, trust=True, now=now)
        window = window_on(db, app)
        window.campaigns.select(1)
        settle(app)
        assert window.canvas is not None
        window.canvas.scene.select_keys(["welcome"])
        settle(app, 600)
        window.grab().save(str(OUT / f"main-window-inspector{suffix}.png"))

        # Test mode: a test participant through the welcome email and a click.
        panel = window.test_panel
        window.docks["test"].raise_()
        window.canvas.scene.clearSelection()
        panel.records.setCurrentIndex(1)
        panel.launch_button.click()
        welcome = next(r for r in panel.rows if r["activity"] == "welcome")
        panel.select_trace(welcome["id"])
        panel.buttons["Run now"].click()
        panel.buttons["Clicked"].click()
        steps = {r["activity"]: r["id"] for r in panel.rows}
        panel.select_trace(steps["check_email"])
        panel.buttons["Cancel"].click()  # the bounce branch is off this participant's path
        panel.select_trace(steps["tag_hot"])
        panel.buttons["Run now"].click()
        panel.select_trace(welcome["id"])
        window.resizeDocks([window.docks["test"]], [330], Qt.Orientation.Vertical)
        settle(app)
        window.canvas.view.fit()
        settle(app, 600)
        if panel.error.text():
            raise SystemExit(f"test mode refused: {panel.error.text()}")
        if scheme == "light":
            window.grab().save(str(OUT / "test-mode.png"))
        window.close()
        db.dispose()
    print(f"screenshots written to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
