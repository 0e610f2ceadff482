"""Does the dashboard freeze while another process writes 100,000 traces a minute?

    python bench/live_gui.py [--traces 200000] [--rate 100000] [--seconds 30]
                             [--tab steps|traces|participants] [--sort COLUMN] [--json] [--quick]

A campaign is seeded (as bench/report.py does), the real dashboard window opens offscreen
and follows the database by itself, and a second process marks scheduled traces
processed at ``--rate`` per minute, in small commits. A 10 ms timer on the GUI thread
records how late each tick comes. ``--tab`` shows the traces or participants table
instead of the steps, listed in ``--sort`` order (``record`` sorts every row, so its
pages are read in the background). Prints one JSON object:

- ``written`` and ``rate_per_min``: what the writer really did;
- ``refreshes``: dashboard refreshes while it wrote (it polls once a second);
- ``stall_max_ms`` and ``stall_p99_ms``: the GUI thread's longest and 99th-percentile
  lateness (a "freeze" is a long one);
- ``lag_ms``: from the writer's last commit to the dashboard showing its total.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

from bench.report import NOW, seed
from engine.api import figures
from engine.clock import FixedClock
from engine.db import Database

WRITER = """
import sys, time
sys.path[0] = {root!r}
from sqlalchemy import text
from engine.db import Database
db = Database({url!r}, migrate_schema=False)
with db.read() as s:
    ids = [r[0] for r in s.execute(text(
        "SELECT id FROM trace WHERE state = 'scheduled' AND NOT is_test ORDER BY id"))]
per_s, batch, written = {rate} / 60.0, max(1, int({rate} / 600)), 0
start = time.monotonic()
while ids and time.monotonic() - start < {seconds}:
    chunk, ids = ids[:batch], ids[batch:]
    with db.session() as s:
        s.execute(text("UPDATE trace SET state = 'processed', done_at = :t WHERE id IN ("
                       + ",".join(map(str, chunk)) + ")"), {{"t": {now!r}}})
    written += len(chunk)
    ahead = written / per_s - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
print(written, time.monotonic() - start, flush=True)
"""


TABS = ("steps", "links", "traces", "participants")  # the dashboard's tabs, in order


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=200_000)
    ap.add_argument("--rate", type=int, default=100_000, help="traces a minute")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--tab", choices=TABS, default="steps")
    ap.add_argument("--sort", default="id", help="the table's order (with --tab)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="a small run (the test suite's)")
    args = ap.parse_args()
    if args.quick:
        args.traces, args.seconds = 20_000, 4.0
    app = QApplication(sys.argv[:1])
    from designer.dashboard import DashboardWindow  # after the QApplication

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'live.db'}"
        db = Database(url)
        cid = seed(db, args.traces)
        dash = DashboardWindow(db, FixedClock(NOW), cid)
        dash.resize(1280, 800)
        dash.show()
        dash.tabs.setCurrentIndex(TABS.index(args.tab))
        if args.tab in ("traces", "participants"):
            table = dash.traces if args.tab == "traces" else dash.participants
            table.model.reload(replace(table.model.query, sort=args.sort))
            table.model.wait()
        app.processEvents()
        late: list[float] = []
        clock = QElapsedTimer()
        clock.start()
        last = [clock.elapsed()]

        def tick() -> None:
            now = clock.elapsed()
            late.append(max(0.0, now - last[0] - 10))
            last[0] = now

        timer = QTimer(interval=10, timeout=tick)
        timer.start()
        root = str(Path(__file__).resolve().parents[1])
        code = WRITER.format(
            root=root, url=url, rate=args.rate, seconds=args.seconds, now=NOW.isoformat()
        )
        before = dash.refreshes
        writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        while writer.poll() is None:
            app.processEvents()
            time.sleep(0.002)
        assert writer.stdout is not None
        written_s, took_s = writer.stdout.read().split()
        written, took = int(written_s), float(took_s)
        done_at = time.perf_counter()
        want = figures.campaign_figures(db, cid)
        while dash.figures != want and time.perf_counter() - done_at < 10:
            app.processEvents()
            time.sleep(0.002)
        lag = (time.perf_counter() - done_at) * 1000
        timer.stop()
        refreshes = dash.refreshes - before
        dash.close()
        db.dispose()
    ordered = sorted(late)
    result = {
        "traces": args.traces,
        "tab": args.tab,
        "sort": args.sort,
        "written": written,
        "rate_per_min": round(written / took * 60) if took else 0,
        "refreshes": refreshes,
        "stall_max_ms": round(ordered[-1], 1) if ordered else 0.0,
        "stall_p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 1) if ordered else 0.0,
        "stall_median_ms": round(statistics.median(ordered), 1) if ordered else 0.0,
        "lag_ms": round(lag, 1),
    }
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
