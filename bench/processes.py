"""What the process-level benchmarks share: a database made through the command line, with
an audience and a one-email campaign, and ``journeys`` commands run as real processes.

Imported by scripts whose own folder is replaced on ``sys.path`` by the repository root,
so it is imported as ``bench.processes``.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BODY = '<p>Hi</p><p><a href="https://shop.example.com/offer">Offer</a></p>'


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def journeys(db: str, *args: str) -> str:
    """Run one command to its end; its standard output, or SystemExit with its error."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "--db", db, *args],
        capture_output=True,
        text=True,
        env=env(),
        cwd=ROOT,
        timeout=120,
    )
    if done.returncode != 0:
        raise SystemExit(f"journeys {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def spawn(db: str, *args: str) -> subprocess.Popen[str]:
    """A long-running command (worker, serve) in the background, its output discarded."""
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--db", db, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env(),
        cwd=ROOT,
    )


def one_email_database(folder: Path, name: str, people: int, **settings: str) -> str:
    """A fresh SQLite file: ``people`` contacts and a started campaign ``name`` sending
    one email with one tracked link; ``settings`` as ``key=value`` (dots as ``__``)."""
    db = str(folder / "journeys.db")
    audience = folder / "people.csv"
    with audience.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["name", "email"])
        out.writerows([f"P{i:05d}", f"p{i:05d}@example.com"] for i in range(people))
    campaign = folder / "bench.journey.json"
    campaign.write_text(json.dumps(_campaign(name)))
    journeys(db, "init")
    journeys(db, "records", "import", "contact", str(audience))
    journeys(db, "import", str(campaign))
    for key, value in settings.items():
        journeys(db, "settings", key.replace("__", "."), value)
    journeys(db, "start", name)
    return db


def _campaign(name: str) -> dict[str, object]:
    return {
        "format": "journeys/campaign",
        "version": 1,
        "campaign": {"name": name, "target": "contact"},
        "activities": [
            {
                "key": "mail",
                "name": "Mail",
                "type": "email",
                "trigger": "begin",
                "delay": {"amount": 0, "unit": "hours"},
                "email": {
                    "subject": "Hello {{ record.name }}",
                    "from": "Shop <shop@example.com>",
                    "body_html": BODY,
                },
            }
        ],
    }
