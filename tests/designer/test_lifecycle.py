"""The canvas starts and quits cleanly in its own interpreter: no thread left, no abort."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import sys
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
from engine import campaign_files, gallery
from engine.clock import SystemClock
from engine.db import Database
from designer.canvas.widget import CanvasWidget
db = Database(sys.argv[1])
with db.session() as s:
    cid = campaign_files.import_document(
        s, gallery.load_template("prioritize_hot_leads"), trust=True, now=SystemClock().now()
    ).id
window = CanvasWidget(db, cid)
window.show()
window.editor.add_node("sms", (400, 400), parent="welcome", trigger="mail_open")
window.editor.undo_stack.undo()
window.view.fit()
QTimer.singleShot(50, app.quit)
code = app.exec()
threads = [t for t in app.findChildren(QThread)]
window.close()
window.deleteLater()
app.processEvents()
db.dispose()
print("threads", len(threads))
sys.exit(code)
"""


def test_canvas_starts_and_quits_cleanly(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONFAULTHANDLER": "1"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path / 'j.db'}"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "threads 0" in done.stdout
    assert "Fatal" not in done.stderr and "Abort" not in done.stderr
