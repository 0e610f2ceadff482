"""Engine throughput: sync and execution of a two-step server-action journey.

    python bench/engine.py --contacts 100000 [--json] [--quick]

``--quick`` (500 contacts) is what the test suite runs.

Reports participants synced per second, traces executed per second, peak memory, and in
the same run the raw SQLite ``executemany`` insert rate of equivalent trace rows, so the
ratio can be compared across noisy machines.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# Replace this folder (first on sys.path) by the repository: bench/email.py must not
# shadow the standard library's email package.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import insert

from engine import campaigns
from engine.clock import FixedClock
from engine.db import Database
from engine.executor import Executor
from engine.models import Activity, Campaign, Contact, Trace

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def seed(db: Database, n: int) -> int:
    rows = [
        {
            "name": f"Contact {i}",
            "email": f"c{i}@example.com",
            "created_at": NOW,
            "updated_at": NOW,
            "extra": {},
        }
        for i in range(n)
    ]
    with db.session() as s:
        for i in range(0, n, 20000):
            s.execute(insert(Contact), rows[i : i + 20000])
        c = Campaign(
            name="Bench",
            target="contact",
            filter=[["email", "!=", None]],
            created_at=NOW,
            updated_at=NOW,
            file_extras={},
        )
        s.add(c)
        s.flush()
        first = Activity(
            campaign_id=c.id,
            key="first",
            name="First",
            type="server_action",
            trigger="begin",
            delay_amount=0,
            delay_unit="hours",
            sequence=0,
            content={"kind": "update_record", "values": {"company": "Step 1"}},
            created_at=NOW,
            updated_at=NOW,
            filter=[],
        )
        s.add(first)
        s.flush()
        s.add(
            Activity(
                campaign_id=c.id,
                key="second",
                name="Second",
                type="server_action",
                trigger="activity",
                parent_id=first.id,
                delay_amount=0,
                delay_unit="hours",
                sequence=1,
                filter=[],
                content={"kind": "update_record", "values": {"language": "fr"}},
                created_at=NOW,
                updated_at=NOW,
            )
        )
        return c.id


def baseline_inserts(folder: Path, n: int) -> float:
    """Raw sqlite3 executemany of n trace rows into the same table, same pragmas."""
    db = Database(f"sqlite:///{folder / 'baseline.db'}")
    db.dispose()
    conn = sqlite3.connect(folder / "baseline.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=OFF"):
        conn.execute(f"PRAGMA {pragma}")
    now = NOW.replace(tzinfo=None).isoformat(sep=" ")
    rows = [(1, 1, 1, i, now, now, now) for i in range(n)]
    cols = ", ".join(Trace.__table__.c.keys())
    del cols
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO trace (campaign_id, activity_id, participant_id, record_id, is_test, "
        "state, due_at, anchor_at, created_at, attempts, handoff) "
        "VALUES (?, ?, ?, ?, 0, 'scheduled', ?, ?, ?, 0, 0)",
        rows,
    )
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=None, help="engine batch size")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="a small run (the test suite's)")
    args = ap.parse_args()
    if args.quick:
        args.contacts = 500
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db = Database(f"sqlite:///{folder / 'bench.db'}")
        clock = FixedClock(NOW)
        cid = seed(db, args.contacts)
        t0 = time.perf_counter()
        with db.session() as s:
            joined = campaigns.start(s, s.get(Campaign, cid), NOW)
        sync_s = time.perf_counter() - t0
        ex = Executor(db, clock, batch_size=args.batch)
        t1 = time.perf_counter()
        stats = ex.execute_due(NOW)
        exec_s = time.perf_counter() - t1
        db.dispose()
        baseline = baseline_inserts(folder, stats.executed or 1)
    traces_per_s = stats.executed / exec_s if exec_s else 0.0
    result = {
        "contacts": args.contacts,
        "joined": joined,
        "traces": stats.executed,
        "outcomes": dict(stats.by_state),
        "sync_s": round(sync_s, 3),
        "sync_per_s": round(joined / sync_s, 1),
        "execute_s": round(exec_s, 3),
        "traces_per_s": round(traces_per_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "baseline_inserts_per_s": round(baseline, 1),
        "ratio": round(traces_per_s / baseline, 4),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:>24}: {v}")


if __name__ == "__main__":
    main()
