"""The managers' screenshots: the overview of every campaign, opened read-only, and the
first page of a campaign's PDF report.

    .venv/bin/python docs/screenshots/dashboard.py          # seeds the demo database first
    .venv/bin/python docs/screenshots/overview.py [WIDTH HEIGHT]

The demo database gets three template campaigns beside the Odoo flow (one running), then
``journeys dashboard --read-only`` opens on it; the report page is drawn from the PDF by
``pdftoppm`` (poppler-utils) when it is installed.
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path[0] = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.cli import main as cli

DEMO = os.path.join(tempfile.gettempdir(), "journeys-dashboard-demo.db")
DB = os.path.join(tempfile.gettempdir(), "journeys-overview-demo.db")
URL = f"sqlite:///{DB}"
OUT = os.path.dirname(os.path.abspath(__file__))
W, H = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (1600, 1000)

if not os.path.exists(DEMO):
    sys.exit(f"{DEMO} is missing: run docs/screenshots/dashboard.py first")
for suffix in ("", "-wal", "-shm"):
    if os.path.exists(DB + suffix):
        os.chmod(DB + suffix, 0o644)
        os.remove(DB + suffix)
shutil.copyfile(DEMO, DB)
for key in ("tag_hot_contacts", "welcome_flow", "double_opt_in"):
    cli(["--db", URL, "--now", "2026-12-01T09:00:00Z", "new", "--template", key])
cli(["--db", URL, "--now", "2026-12-01T09:00:00Z", "start", "2"])
cli(["--db", URL, "--now", "2026-12-07T15:00:00Z", "run", "--until-idle"])
app = QApplication(sys.argv[:1])  # before the report: it draws with this one
pdf = os.path.join(tempfile.gettempdir(), "journeys-report.pdf")
cli(["--db", URL, "--now", "2026-12-07T15:30:00Z", "report", "1", "--pdf", pdf])
if shutil.which("pdftoppm"):
    page = os.path.join(OUT, "report-page")
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", "-singlefile", pdf, page])
    print("saved report-page.png")
else:
    print("pdftoppm not found (apt-get install poppler-utils): no report-page.png")


def shot() -> None:
    window = next(w for w in app.topLevelWidgets() if w.objectName() == "overview-window")
    window.resize(W, int(H * 0.55))

    def save() -> None:
        window.grab().save(os.path.join(OUT, "overview.png"))
        print("saved overview.png")
        app.quit()

    QTimer.singleShot(600, save)


QTimer.singleShot(800, shot)
cli(["--db", URL, "--now", "2026-12-07T15:30:00Z", "--read-only", "dashboard"])
