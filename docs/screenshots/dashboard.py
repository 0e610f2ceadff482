"""The dashboard screenshots: a demo campaign (600 contacts through the Odoo flow over two
weeks, driven by the command line and recorded interactions), then the real dashboard.

    .venv/bin/python docs/screenshots/dashboard.py [WIDTH HEIGHT [TAB]]   # offscreen or Xvfb

TAB (traces or participants) shows that table sorted by record, with its first row
chosen, and saves dashboard-TAB.png in the temporary folder (to look at, not for the
README).
"""

import csv
import os
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta

sys.path[0] = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy import select

from app.cli import main as cli
from engine import interactions
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Activity, Campaign, Trace

DB = os.path.join(tempfile.gettempdir(), "journeys-dashboard-demo.db")
URL = f"sqlite:///{DB}"
NOW = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
rng = random.Random(7)


def run(*a: str, now: datetime | None = None) -> None:
    argv = ["--db", URL] + (["--now", now.isoformat()] if now else []) + list(a)
    code = cli(argv)
    assert code == 0, a


if not os.path.exists(DB):
    names = [
        "Ann",
        "Bob",
        "Cid",
        "Dee",
        "Eve",
        "Fay",
        "Gus",
        "Hal",
        "Ivy",
        "Jon",
        "Kim",
        "Lea",
        "Max",
        "Nia",
        "Oli",
        "Pia",
        "Quinn",
        "Rex",
        "Sue",
        "Tom",
    ]
    with open(DB + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "email", "phone", "country", "tags"])
        for i in range(600):
            n = f"{rng.choice(names)} {chr(65 + i % 26)}{i}"
            w.writerow(
                [
                    n,
                    f"c{i}@example.com" if i % 13 else "",
                    f"+3247{i:07d}",
                    "BE" if i % 9 else "FR",
                    "VIP" if i % 5 == 0 else "",
                ]
            )
    run("records", "import", "contact", DB + ".csv")
    run(
        "import",
        os.path.join(sys.path[0], "tests", "data", "odoo_flow.journey.json"),
        now=NOW - timedelta(days=16),
    )
    db = Database(URL)
    with db.read() as s:
        cid = s.scalar(select(Campaign.id))
    start = NOW - timedelta(days=14)
    run("start", str(cid), now=start)
    t = start
    while t < NOW:
        run("run", now=t)
        with db.session() as s:
            acts = dict(
                s.execute(
                    select(Activity.key, Activity.id).where(Activity.campaign_id == cid)
                ).all()
            )
            sent = s.scalars(
                select(Trace.id).where(
                    Trace.activity_id == acts["welcome"],
                    Trace.state == "processed",
                    Trace.opened_at.is_(None),
                )
            ).all()
            for tid in rng.sample(sent, min(len(sent), rng.randint(5, 25))):
                kind = rng.choice(["open", "open", "click", "reply"])
                interactions.record(s, [tid], kind, t)
            sms = s.scalars(
                select(Trace.id).where(
                    Trace.activity_id == acts["reply_sms"],
                    Trace.state == "processed",
                    Trace.clicked_at.is_(None),
                )
            ).all()
            for tid in rng.sample(sms, min(len(sms), rng.randint(0, 4))):
                interactions.record(s, [tid], "sms_click", t)
        t += timedelta(hours=rng.choice([5, 7, 11]))
    run("run", now=NOW)
    db.dispose()

OUT = os.path.dirname(os.path.abspath(__file__))
app = QApplication(sys.argv[:1])
from designer.main_window import MainWindow  # after the QApplication

W, H = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (1600, 1000)
TAB = sys.argv[3] if len(sys.argv) > 3 else ""
win = MainWindow(Database(URL), clock=FixedClock(NOW))
win.resize(W, H)
win.show()


def opened() -> None:
    win.campaigns.select(1)
    QTimer.singleShot(800, dashboard)


def dashboard() -> None:
    win.actions_by_name["dashboard"].trigger()
    d = win.dashboard.window
    d.resize(W, H)
    win.canvas.scene.select_keys(["click_sms"])
    if TAB:
        table = d.traces if TAB == "traces" else d.participants
        d.tabs.setCurrentIndex(2 if TAB == "traces" else 3)
        table.view.horizontalHeader().setSortIndicator(1, Qt.SortOrder.AscendingOrder)
        table.model.wait()
        table.view.selectRow(0)
        out = os.path.join(tempfile.gettempdir(), f"dashboard-{TAB}.png")
        QTimer.singleShot(800, lambda: save(d, out))
        return
    QTimer.singleShot(800, lambda: save(d, "dashboard.png"))


def save(widget: QWidget, name: str) -> None:
    app.processEvents()
    widget.grab().save(os.path.join(OUT, name))
    print("saved", name)
    app.quit()


QTimer.singleShot(500, opened)
app.exec()
win.shutdown()
