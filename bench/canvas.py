"""Canvas speed: open a large campaign offscreen, paint it, pan it.

    python bench/canvas.py --activities 1000 [--json] [--repeat 3] [--quick]

``--quick`` (60 activities, one run) is what the test suite runs: every figure, no target.

A campaign of N activities (a random forest of email/SMS/server-action steps with valid
triggers and no stored positions, so the automatic layout runs too) is loaded from a
SQLite file and shown in a 1600x1000 view. Measured, the median of ``--repeat`` runs:

- ``first_frame_s``: build the scene from the loaded document and paint the first full
  frame (the whole journey fitted in the view, so every item is painted);
- ``paint_100_ms``: painting the view at 100% zoom (how work usually looks);
- ``pan_frame_ms``: one pan step at 100% — scroll 40 px and repaint the whole viewport
  (no blitting credited); ``pan_frame_fit_ms`` the same at the fitted zoom;
- ``open_s``: reading the campaign from the database into the document (reported apart,
  the baseline has no database).

In the same run, a bare ``QGraphicsScene`` with the same number of rectangles, texts and
paths (per activity: one card rectangle, three texts — name, trigger, counters — and two
paths — the link curve and the sparkline) is built and painted the same way:
``baseline_first_frame_s``; ``ratio`` = first_frame_s / baseline_first_frame_s.
Targets (issue 4): ratio under 3; a pan frame under 16 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# The repository root replaces this script's folder on the path: a sibling benchmark
# module named like a standard module (bench/email.py) must not shadow it.
sys.path[0] = str(Path(__file__).resolve().parents[1])
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import PySide6
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from designer.canvas import style
from designer.canvas.edges import link_path
from designer.canvas.scene import CampaignScene
from designer.canvas.stats import CanvasStats, NodeStats
from designer.canvas.view import CanvasView
from designer.document import CampaignDocument
from engine import campaign_files
from engine.catalog import CONTENT_KEY, triggers_for_parent
from engine.clock import FixedClock
from engine.db import Database

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VIEW_W, VIEW_H = 1600, 1000
CONTENT = {
    "email": {"subject": "Hello", "from": "Shop <shop@example.com>", "body_html": "<p>Hi</p>"},
    "sms": {"body": "Hi {{ record.name }}"},
    "server_action": {"kind": "update_record", "values": {"company": "ACME"}},
}


def campaign_doc(n: int, seed: int = 7) -> dict:
    """A forest: ~1 root in 40, each step under a random earlier one, a valid trigger."""
    rng = random.Random(seed)
    acts: list[dict] = []
    for i in range(n):
        type_ = rng.choice(("email", "email", "sms", "server_action"))
        parent = acts[rng.randrange(len(acts))] if acts and rng.random() > 0.025 else None
        trigger = rng.choice(triggers_for_parent(parent["type"] if parent else None))
        acts.append(
            {
                "key": f"step_{i}",
                "name": f"{type_.replace('_', ' ').title()} step {i}",
                "type": type_,
                "parent": parent["key"] if parent else None,
                "trigger": trigger,
                "delay": {"amount": rng.randint(0, 5), "unit": rng.choice(("hours", "days"))},
                CONTENT_KEY[type_]: CONTENT[type_],
            }
        )
    return {
        "format": "journeys/campaign",
        "version": 1,
        "campaign": {"name": "Bench", "target": "contact", "filter": [["email", "!=", None]]},
        "activities": acts,
    }


def fake_stats(keys: list[str], seed: int = 3) -> CanvasStats:
    rng = random.Random(seed)
    nodes = {
        k: NodeStats(
            rng.randint(0, 5000),
            rng.randint(0, 300),
            tuple(rng.randint(0, 50) for _ in range(15)),
            tuple(rng.randint(0, 8) for _ in range(15)),
        )
        for k in keys
    }
    return CanvasStats(nodes, 12345)


class Stopwatch:
    """Wall and CPU time of this process: painting is single-threaded CPU work, so on a
    busy machine the CPU figure is what the frame costs; both are reported."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def lap(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def show(view: QGraphicsView) -> QGraphicsView:
    view.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    view.resize(VIEW_W, VIEW_H)
    view.show()
    QApplication.processEvents()
    return view


def fit(view: QGraphicsView, rect: QRectF) -> None:
    view.fitInView(rect.adjusted(-40, -40, 40, 40))


def paint(view: QGraphicsView) -> None:
    view.viewport().repaint()


def pan_frames(view: QGraphicsView, frames: int = 30) -> tuple[float, float]:
    """Median (wall, CPU) milliseconds of one 40 px pan step with a full repaint."""
    bar = view.horizontalScrollBar()
    walls, cpus = [], []
    for i in range(frames):
        watch = Stopwatch()
        bar.setValue(bar.value() + (40 if i % 20 < 10 else -40))
        paint(view)
        wall, cpu = watch.lap()
        walls.append(wall * 1000)
        cpus.append(cpu * 1000)
    return statistics.median(walls), statistics.median(cpus)


def measure(
    scene: QGraphicsScene, view: QGraphicsView, rect: QRectF, watch: Stopwatch, home: QPointF
) -> dict[str, float]:
    """First full frame (fitted), pans at that zoom, then a paint and pans at 100%."""
    fit(view, rect)
    paint(view)
    first_wall, first_cpu = watch.lap()
    out = {"first": first_wall, "first_cpu": first_cpu}
    out["pan_fit"], out["pan_fit_cpu"] = pan_frames(view)
    view.resetTransform()
    view.centerOn(home)
    at = Stopwatch()
    paint(view)
    out["paint_100"], out["paint_100_cpu"] = at.lap()
    out["pan"], out["pan_cpu"] = pan_frames(view)
    view.close()
    scene.clear()
    return out


def ours(doc: CampaignDocument, stats: CanvasStats) -> dict[str, float]:
    """The designer's scene and view (grid, level of detail and all)."""
    watch = Stopwatch()
    scene = CampaignScene(doc)
    scene.set_stats(stats)
    view = show(CanvasView(scene))
    return measure(scene, view, scene.content_rect, watch, scene.start_item.pos() + QPointF(0, 300))


def baseline(
    positions: list[tuple[float, float, float, float]], texts: list[str]
) -> dict[str, float]:
    """The same count of plain items, no Python painting: what Qt does on its own."""
    watch = Stopwatch()
    scene = QGraphicsScene()
    pen, brush = QPen(QColor("#D3D8DE")), QBrush(QColor("white"))
    edge_pen = QPen(QColor("#8A96A3"), 1.0)
    w, h = style.CARD_W, style.CARD_H
    for (x, y, px, py), name in zip(positions, texts, strict=True):
        rect = QGraphicsRectItem(x - w / 2, y - h / 2, w, h)
        rect.setPen(pen)
        rect.setBrush(brush)
        scene.addItem(rect)
        for dy, text in ((-30, name), (-8, "2 hours after not opened"), (26, "123 processed")):
            item = QGraphicsSimpleTextItem(text)
            item.setPos(x - w / 2 + 48, y + dy)
            scene.addItem(item)
        link = QGraphicsPathItem(link_path(QPointF(px, py + h / 2), QPointF(x, y - h / 2)))
        link.setPen(edge_pen)
        scene.addItem(link)
        spark = QPainterPath(QPointF(x + 20, y + 40))
        for i in range(1, 15):
            spark.lineTo(x + 20 + i * 7, y + 40 - (i * 37 % 20))
        scene.addItem(QGraphicsPathItem(spark))
    view = show(QGraphicsView(scene))
    home = QPointF(positions[0][0], positions[0][1] + 300)
    return measure(scene, view, scene.itemsBoundingRect(), watch, home)


def median_of(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a small run (the test suite's)")
    args = parser.parse_args()
    if args.quick:
        args.activities, args.repeat = 60, 1
    _app = QApplication.instance() or QApplication(["bench"])
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        with db.session() as s:
            cid = campaign_files.import_document(
                s, campaign_doc(args.activities), trust=True, now=NOW
            ).id
        clock = FixedClock(NOW)
        doc, open_s = timed(lambda: CampaignDocument(db, cid, clock))
        assert isinstance(doc, CampaignDocument)
        stats = fake_stats(list(doc.nodes))
        probe = CampaignScene(doc)  # where each card lands, for the baseline's items
        positions = []
        for key, node in doc.nodes.items():
            x, y = probe.position_of(key)
            parent = probe.item_for_key[node.parent] if node.parent else probe.start_item
            positions.append((x, y, parent.pos().x(), parent.pos().y()))
        names = [n.name for n in doc.nodes.values()]
        probe.clear()
        del probe
        baseline(positions[:20], names[:20])  # warm font caches for both sides
        ours_runs, base_runs = [], []
        for _ in range(args.repeat):
            base_runs.append(baseline(positions, names))
            ours_runs.append(ours(doc, stats))
        db.dispose()
    first, base_first = median_of(ours_runs, "first"), median_of(base_runs, "first")
    first_cpu, base_cpu = median_of(ours_runs, "first_cpu"), median_of(base_runs, "first_cpu")

    def ms(runs: list[dict[str, float]], key: str, scale: float = 1.0) -> float:
        return round(median_of(runs, key) * scale, 2)

    result = {
        "activities": args.activities,
        "open_s": round(open_s, 4),
        "first_frame_s": round(first, 4),
        "baseline_first_frame_s": round(base_first, 4),
        "ratio": round(first / base_first, 3),
        "first_frame_cpu_s": round(first_cpu, 4),
        "baseline_first_frame_cpu_s": round(base_cpu, 4),
        "ratio_cpu": round(first_cpu / base_cpu, 3),
        "pan_frame_ms": ms(ours_runs, "pan"),
        "pan_frame_cpu_ms": ms(ours_runs, "pan_cpu"),
        "baseline_pan_frame_ms": ms(base_runs, "pan"),
        "baseline_pan_frame_cpu_ms": ms(base_runs, "pan_cpu"),
        "pan_frame_fit_ms": ms(ours_runs, "pan_fit"),
        "pan_frame_fit_cpu_ms": ms(ours_runs, "pan_fit_cpu"),
        "baseline_pan_frame_fit_ms": ms(base_runs, "pan_fit"),
        "baseline_pan_frame_fit_cpu_ms": ms(base_runs, "pan_fit_cpu"),
        "paint_100_ms": ms(ours_runs, "paint_100", 1000),
        "baseline_paint_100_ms": ms(base_runs, "paint_100", 1000),
        "view": [VIEW_W, VIEW_H],
        "baseline_items_per_activity": {"rect": 1, "text": 3, "path": 2},
        "repeat": args.repeat,
        "load_average": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "pyside6": PySide6.__version__,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:28} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
