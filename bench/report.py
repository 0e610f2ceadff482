"""Reporting speed: a campaign's figures over a million traces, and how fast a write shows.

    python bench/report.py --traces 1000000 [--db URL] [--json] [--quick]

``--quick`` (5,000 traces) is what the test suite runs.

Prints one JSON object:

- ``report_ms``: the figures ``journeys report`` and a dashboard refresh read (counters,
  participants, the 15-day and 48-hour series, the link tracker), from the engine's
  figures API, median of several runs;
- ``naive_ms``: the same figures by grouped ``COUNT`` over the raw traces table, same run
  (``engine.reporting``), so the ratio can be compared across noisy machines;
- ``refresh_ms``: the median time from a write committed by another process to a change
  watcher in this one seeing it and reading the new figures;
- ``agree``: whether both ways gave the same figures (``speedup`` is their ratio);
- ``dashboard_ms``: the rest of a dashboard refresh (KPI tiles for 7 days against the 7
  before, the funnel along a three-step path, the first page of the traces and of the
  participants), median of several runs;
- ``pages_ms``: one 200-row page of the traces or participants table, by the orders and
  filters a user picks (newest, by done time, one state, deep in the list, a search that
  matches nothing so it reads every row, an order that sorts every row), each a median.
  The last two kinds are the ones a GUI reads in the background (``tables.indexed``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Replace this folder (first on sys.path) by the repository: bench/email.py must not
# shadow the standard library's email package.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import insert, select, text

from engine import campaign_files, reporting
from engine.api import dashboard, figures, tables
from engine.api.changes import ChangeWatcher
from engine.api.tables import Query
from engine.db import Database
from engine.models import Interaction, Link, Participant, Trace

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ACTIVITIES = ("welcome", "reminder", "offer", "text", "tag")
CHUNK = 20_000


def _document() -> dict[str, Any]:
    def mail(key: str, parent: str | None, trigger: str) -> dict[str, Any]:
        return {
            "key": key,
            "name": key.title(),
            "type": "email",
            "parent": parent,
            "trigger": trigger,
            "delay": {"amount": 1, "unit": "days"},
            "email": {
                "subject": "Hello",
                "from": "Shop <shop@example.com>",
                "body_html": '<p><a href="https://shop.example/sale">Sale</a></p>',
            },
        }

    return {
        "format": "journeys/campaign",
        "version": 1,
        "campaign": {"name": "Report bench", "target": "contact"},
        "activities": [
            mail("welcome", None, "begin"),
            mail("reminder", "welcome", "mail_not_open"),
            mail("offer", "welcome", "mail_open"),
            {
                "key": "text",
                "name": "Text",
                "type": "sms",
                "parent": "offer",
                "trigger": "mail_click",
                "delay": {"amount": 0, "unit": "hours"},
                "sms": {"body": "Thanks https://shop.example/sms"},
            },
            {
                "key": "tag",
                "name": "Tag",
                "type": "server_action",
                "parent": None,
                "trigger": "begin",
                "delay": {"amount": 0, "unit": "hours"},
                "action": {"kind": "update_record", "values": {"company": "Seen"}},
            },
        ],
    }


def seed(db: Database, traces: int) -> int:
    """A started-looking campaign with ``traces`` traces in every state over 20 days."""
    rng = random.Random(7)
    with db.session() as s:
        doc = campaign_files.check_document(_document())
        c = campaign_files.import_document(s, doc, trust=True, now=NOW)
        cid = c.id
        s.execute(text("UPDATE campaign SET state = 'running' WHERE id = :id"), {"id": cid})
        acts: dict[str, int] = {
            k: i
            for k, i in s.execute(
                text("SELECT key, id FROM activity WHERE campaign_id = :c"), {"c": cid}
            )
        }
        for key in ("welcome", "text"):
            s.execute(insert(Link).values(campaign_id=cid, activity_id=acts[key], url=key))
        links: dict[int, int] = {
            a: i for a, i in s.execute(text("SELECT activity_id, id FROM link"))
        }
    people = max(1, traces // len(ACTIVITIES))
    with db.session() as s:
        for start in range(0, people, CHUNK):
            s.execute(
                insert(Participant),
                [
                    {
                        "campaign_id": cid,
                        "record_id": i + 1,
                        "is_test": i % 500 == 0,
                        "state": ("running", "completed", "removed")[i % 3],
                        "joined_at": NOW - timedelta(days=20),
                    }
                    for i in range(start, min(people, start + CHUNK))
                ],
            )
        first_pid = s.scalar(select(Participant.id).order_by(Participant.id).limit(1)) or 1
    states = ["processed"] * 70 + ["rejected"] * 10 + ["scheduled"] * 10
    states += ["canceled"] * 5 + ["error"] * 5
    made = 0
    while made < traces:
        rows, clicks = [], []
        for n in range(made, min(traces, made + CHUNK)):
            person, act = divmod(n, len(ACTIVITIES))
            key = ACTIVITIES[act]
            state = rng.choice(states)
            done = NOW - timedelta(minutes=rng.randrange(20 * 24 * 60))
            processed = state == "processed"
            is_mail = key in ("welcome", "reminder", "offer")
            clicked = processed and key in ("welcome", "text") and rng.random() < 0.2
            rows.append(
                {
                    "campaign_id": cid,
                    "activity_id": acts[key],
                    "participant_id": first_pid + person % people,
                    "record_id": person % people + 1,
                    "is_test": (person % people) % 500 == 0,
                    "state": state,
                    "due_at": None if state == "scheduled" and n % 2 else done,
                    "anchor_at": done,
                    "done_at": None if state == "scheduled" else done,
                    "opened_at": done if processed and is_mail and rng.random() < 0.4 else None,
                    "clicked_at": done if clicked else None,
                    "replied_at": done if processed and is_mail and rng.random() < 0.05 else None,
                    "bounced_at": done if processed and rng.random() < 0.03 else None,
                    "created_at": done,
                }
            )
            if clicked:
                clicks.append((n, acts[key], done))
        with db.session() as s:
            s.execute(insert(Trace), rows)
            base = s.scalar(select(Trace.id).order_by(Trace.id.desc()).limit(1)) or 0
            first = base - len(rows) + 1
            if clicks:
                s.execute(
                    insert(Interaction),
                    [
                        {
                            "trace_id": first + (n - made),
                            "link_id": links[aid],
                            "type": "click" if aid == acts["welcome"] else "sms_click",
                            "at": at,
                        }
                        for n, aid, at in clicks
                    ],
                )
        made += len(rows)
    return cid


def naive_figures(db: Database, cid: int, now: datetime) -> dict[str, Any]:
    """Every figure of a dashboard refresh, counted over the raw traces table."""
    with db.read() as s:
        return {
            "report": reporting.campaign_report(s, cid),
            "daily": reporting.series(s, cid, now),
            "hourly": reporting.series(s, cid, now, hourly=True),
            "links": reporting.link_tracker(s, cid),
        }


def summary_figures(db: Database, cid: int, now: datetime) -> dict[str, Any]:
    """The same figures from the engine's figures API (the summary tables)."""
    daily = figures.series(db, cid, now)
    hourly = figures.series(db, cid, now, hourly=True)
    return {
        "report": figures.campaign_figures(db, cid).as_report(),
        "daily": {k: (v.processed, v.rejected) for k, v in daily.activities.items()},
        "hourly": {k: (v.processed, v.rejected) for k, v in hourly.activities.items()},
        "links": [asdict(f) for f in figures.links(db, cid)],
    }


def same(naive: dict[str, Any], summary: dict[str, Any]) -> bool:
    def series(by_key: dict[str, Any]) -> dict[str, Any]:
        return {
            k: (tuple(n for _b, n in v["processed"]), tuple(n for _b, n in v["rejected"]))
            for k, v in by_key.items()
            if any(n for _b, n in v["processed"] + v["rejected"])
        }

    return (
        naive["report"] == summary["report"]
        and series(naive["daily"]) == summary["daily"]
        and series(naive["hourly"]) == summary["hourly"]
        and naive["links"] == summary["links"]
    )


WRITER = """
import sys
sys.path[0] = {root!r}
from sqlalchemy import text
from engine.db import Database
db = Database({url!r}, migrate_schema=False)
for line in sys.stdin:
    with db.session() as s:
        s.execute(text("UPDATE trace SET state = 'processed' WHERE id = :id"), {{"id": int(line)}})
    print("done", flush=True)
"""


def refresh_ms(db: Database, url: str, cid: int, samples: int) -> float:
    """From another process's commit to this one seeing it and reading the new figures."""
    with db.read() as s:
        ids = list(
            s.scalars(
                select(Trace.id)
                .where(Trace.campaign_id == cid, Trace.state == "scheduled", ~Trace.is_test)
                .limit(samples)
            )
        )
    root = str(Path(__file__).resolve().parents[1])
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=root, url=url)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdin is not None and writer.stdout is not None
    watcher = ChangeWatcher(db)
    times = []
    try:
        for tid in ids:
            watcher.changed()
            before = figures.campaign_figures(db, cid)
            t0 = time.perf_counter()
            writer.stdin.write(f"{tid}\n")
            writer.stdin.flush()
            while True:  # what the dashboard's poll does, without its 1 s interval
                if watcher.changed():
                    after = figures.campaign_figures(db, cid)
                    if after != before:
                        break
                time.sleep(0.001)
            times.append((time.perf_counter() - t0) * 1000)
            writer.stdout.readline()
    finally:
        writer.stdin.close()
        writer.wait(timeout=30)
        watcher.close()
    return round(statistics.median(times), 1) if times else 0.0


def dashboard_refresh(db: Database, cid: int, now: datetime) -> None:
    dashboard.kpis(db, cid, now, 7)
    dashboard.funnel(db, cid, dashboard.path_to(db, cid, "offer"))
    tables.trace_page(db, cid, Query())
    tables.trace_total(db, cid, Query())
    tables.participant_page(db, cid, Query())
    tables.participant_total(db, cid, Query())


def pages_ms(db: Database, cid: int, runs: int, traces: int) -> dict[str, float]:
    deep = max(0, traces // 2)
    cases: dict[str, Callable[[], object]] = {
        "traces_newest": lambda: tables.trace_page(db, cid, Query()),
        "traces_by_done": lambda: tables.trace_page(db, cid, Query(sort="done_at")),
        "traces_rejected": lambda: tables.trace_page(db, cid, Query(state="rejected")),
        "traces_deep": lambda: tables.trace_page(db, cid, Query(), deep, tables.PAGE),
        "traces_search": lambda: tables.trace_page(db, cid, Query(search="nobody here")),
        "traces_by_record": lambda: tables.trace_page(db, cid, Query(sort="record")),
        "participants_newest": lambda: tables.participant_page(db, cid, Query()),
        "participants_by_steps": lambda: tables.participant_page(db, cid, Query(sort="steps")),
        "participants_search": lambda: tables.participant_page(
            db, cid, Query(search="nobody here")
        ),
    }
    return {name: median_ms(fn, runs) for name, fn in cases.items()}


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=1_000_000)
    ap.add_argument("--db", help="a database URL (default: a new SQLite file)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="a small run (the test suite's)")
    args = ap.parse_args()
    if args.quick:
        args.traces, args.runs = 5_000, 3
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'report.db'}"
        db = Database(url)
        t0 = time.perf_counter()
        cid = seed(db, args.traces)
        seed_s = time.perf_counter() - t0
        naive = naive_figures(db, cid, NOW)
        naive_ms = median_ms(lambda: naive_figures(db, cid, NOW), args.runs)
        summary = summary_figures(db, cid, NOW)
        report_ms = median_ms(lambda: summary_figures(db, cid, NOW), args.runs)
        result = {
            "traces": args.traces,
            "dialect": db.dialect,
            "seed_s": round(seed_s, 1),
            "report_ms": report_ms,
            "naive_ms": naive_ms,
            "speedup": round(naive_ms / report_ms, 1) if report_ms else None,
            "agree": same(naive, summary),
            "dashboard_ms": median_ms(lambda: dashboard_refresh(db, cid, NOW), args.runs),
            "pages_ms": pages_ms(db, cid, 3 if args.quick else args.runs, args.traces),
            "refresh_ms": refresh_ms(db, url, cid, 3 if args.quick else 10),
            "activities": len(naive["report"]["activities"]),
        }
        db.dispose()
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
