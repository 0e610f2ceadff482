"""Email throughput: the engine's whole email path against plain smtplib, same sink, same run.

    python bench/email.py [--messages 5000] [--rounds 10] [--json] [--quick]

``--quick`` (100 messages in two rounds) is what the test suite runs.

Pipeline: N due traces of a running campaign executed by the engine — audience checks,
Jinja rendering, CSS inlining, link tracking, the open pixel, MIME, SMTP over one
connection, outcomes committed. Baseline: smtplib sending N messages built beforehand,
over one connection. Both go to the same aiosmtpd sink, running in its own process on
loopback, and the two alternate in rounds, so the ratio compares like with like however
busy the machine running it is.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# This file is called email.py, and the folder of the script being run comes first on
# sys.path: left there, it would shadow the standard library's email package.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from email import policy
from email.message import EmailMessage

from sqlalchemy import func, insert, select

from engine import campaign_files, campaigns, records, settings
from engine.channels.base import OutboundEmail
from engine.channels.smtp import SMTPChannel, parse_smtp_url
from engine.clock import FixedClock
from engine.db import Database
from engine.executor import Executor
from engine.messages import MessageBuilder, Recipient
from engine.models import Campaign, Contact, Trace
from engine.plan import load_plan

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BATCH = 1000  # as engine.batch_size is set below
BODY = """<html><head><style>
  p { font-family: Arial, sans-serif; color: #333333; line-height: 1.5 }
  a.button { background: #875a7b; color: #ffffff; padding: 8px 16px }
</style></head><body>
<p>Hello {{ record.name }},</p>
<p>Our spring sale starts today: everything is 10% off until Sunday, and delivery is
free above 50 euros. We picked a few things we think you will like.</p>
<p><a class="button" href="https://shop.example.com/sale?utm_source=journeys">See the sale</a></p>
<p>Read <a href="https://blog.example.com/spring">what is new this season</a> or
<a href="https://shop.example.com/account">manage your account</a>.</p>
<p>See you soon,<br>The Shop team</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>
</body></html>"""

SINK = r"""
import asyncio, socket, sys
from aiosmtpd.controller import Controller

class Count:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        return "250 OK"

with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
c = Controller(Count(), hostname="127.0.0.1", port=port)
c.start()
print(port, flush=True)
for line in sys.stdin:  # "count" -> messages received so far; EOF -> stop
    print(Count.n, flush=True)
c.stop()
"""


class Sink:
    """aiosmtpd in a child process, so it never competes with us for the GIL."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SINK],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())

    def count(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("count\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def seed(db: Database, sizes: list[int], port: int) -> list[int]:
    """One draft campaign per round, each over its own slice of the contacts."""
    with db.session() as s:
        rows, start = [], 0
        for r, size in enumerate(sizes):
            rows += [
                {
                    "name": f"Contact {i}",
                    "email": f"c{i}@example.com",
                    "company": f"round {r}",
                    "created_at": NOW,
                    "updated_at": NOW,
                    "extra": {},
                }
                for i in range(start, start + size)
            ]
            start += size
        s.execute(insert(Contact), rows)
        settings.set_value(s, "smtp.url", f"smtp://127.0.0.1:{port}?tls=none")
        settings.set_value(s, "engine.batch_size", "1000")
    return [_campaign(db, r) for r in range(len(sizes))]


def _campaign(db: Database, r: int) -> int:
    doc = campaign_files.check_document(
        {
            "format": "journeys/campaign",
            "version": 1,
            "campaign": {
                "name": f"Bench {r}",
                "target": "contact",
                "filter": [["company", "=", f"round {r}"]],
            },
            "activities": [
                {
                    "key": "sale",
                    "name": "Spring sale",
                    "type": "email",
                    "trigger": "begin",
                    "delay": {"amount": 0, "unit": "hours"},
                    "email": {
                        "subject": "{{ record.name }}, the spring sale starts today",
                        "from": "The Shop <news@shop.example.com>",
                        "preheader": "10% off everything until Sunday",
                        "body_html": BODY,
                    },
                }
            ],
        }
    )
    with db.session() as s:
        return campaign_files.import_document(s, doc, trust=True, now=NOW).id


def start(db: Database, cid: int) -> None:
    with db.session() as s:
        campaigns.start(s, s.get(Campaign, cid), NOW)


def prebuilt(first: int, n: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(first, first + n):
        m = EmailMessage(policy=policy.SMTP)
        m["From"] = "The Shop <news@shop.example.com>"
        m["To"] = f"c{i}@example.com"
        m["Subject"] = f"Contact {i}, the spring sale starts today"
        m.set_content("Hello\n" * 20)
        m.add_alternative(BODY.replace("{{ record.name }}", f"Contact {i}"), subtype="html")
        out.append((f"c{i}@example.com", m.as_bytes()))
    return out


def baseline(port: int, messages: list[tuple[str, bytes]]) -> float:
    import smtplib

    began = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for to, data in messages:
            smtp.sendmail("news@shop.example.com", [to], data)
    return time.perf_counter() - began


def recipients(
    db: Database, cid: int, r: int
) -> tuple[dict[str, Any], dict[str, Any], list[Recipient]]:
    """What the engine hands the message builder: campaign, activity, contactable records."""
    with db.session() as s:
        plan = load_plan(s, cid)
        (act,) = plan.activities.values()
        ids = list(
            s.scalars(
                select(Contact.id).where(Contact.company == f"round {r}").order_by(Contact.id)
            )
        )
        recs = records.load_records(s, "contact", ids)
    people = [
        Recipient(trace_id=i, record_id=i, record=recs[i], record_name=recs[i]["name"],
                  to=recs[i]["email"])
        for i in ids
    ]  # fmt: skip
    return plan.info, {**act.info, "content": act.content}, people


def pipeline(db: Database, cid: int, r: int, port: int) -> float:
    """Rendered, tracked and sent: the message builder and the SMTP channel, batch by batch."""
    campaign, activity, people = recipients(db, cid, r)
    began = time.perf_counter()
    with db.session() as s:
        for first in range(0, len(people), BATCH):
            builder = MessageBuilder(
                s,
                campaign=campaign,
                activity=activity,
                base_url=settings.tracking_base_url(s),
                secret=settings.tracking_secret(s),
                now=NOW,
            )
            built = builder.emails(activity["content"], people[first : first + BATCH])
            channel = SMTPChannel(parse_smtp_url(f"smtp://127.0.0.1:{port}?tls=none"))
            try:
                deliveries = channel.send_emails(
                    s, [m for m in built if isinstance(m, OutboundEmail)]
                )
            finally:
                channel.close()
            assert all(d.status == "sent" for d in deliveries), deliveries[:3]
    return time.perf_counter() - began


def engine(db: Database, cid: int) -> tuple[float, int]:
    """The same through the executor: claims, audience checks and outcomes included."""
    start(db, cid)
    executor = Executor(db, FixedClock(NOW))
    began = time.perf_counter()
    executor.execute_due(NOW)
    elapsed = time.perf_counter() - began
    with db.session() as s:
        done = s.scalar(
            select(func.count()).where(Trace.campaign_id == cid, Trace.state == "processed")
        )
    return elapsed, int(done or 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=10, help="alternations of the measurements")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="a small run (the test suite's)")
    args = ap.parse_args()
    if args.quick:
        args.messages, args.rounds = 100, 2
    n, rounds = args.messages, max(1, min(args.rounds, args.messages))
    sizes = [n // rounds + (1 if r < n % rounds else 0) for r in range(rounds)]
    warmup = 20
    took = {"baseline": 0.0, "pipeline": 0.0, "engine": 0.0}
    processed = delivered = 0
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
            # Campaigns (and their contacts) by round: warm-up pipeline and engine, then
            # a pipeline and an engine campaign for every round.
            cids = seed(db, [warmup, warmup, *(size for size in sizes for _ in (0, 1))], sink.port)
            pipeline(db, cids[0], 0, sink.port)  # imports, caches, connections warm up
            engine(db, cids[1])
            baseline(sink.port, prebuilt(0, warmup))
            # Alternating in rounds spreads a busy machine's ups and downs over all three.
            for r, size in enumerate(sizes):
                took["baseline"] += baseline(sink.port, prebuilt(r * size, size))
                before = sink.count()
                took["pipeline"] += pipeline(db, cids[2 + 2 * r], 2 + 2 * r, sink.port)
                elapsed, done = engine(db, cids[3 + 2 * r])
                took["engine"] += elapsed
                processed += done
                delivered += sink.count() - before
            db.dispose()
    finally:
        sink.close()
    if processed != n or delivered != 2 * n:
        print(f"expected {n} traces processed and {2 * n} messages received, "
              f"got {processed} and {delivered}", file=sys.stderr)  # fmt: skip
        return 1
    rate = {k: n / v for k, v in took.items()}
    result = {
        "messages": n,
        "pipeline_per_s": round(rate["pipeline"], 1),
        "baseline_per_s": round(rate["baseline"], 1),
        "ratio": round(rate["pipeline"] / rate["baseline"], 3),
        "engine_per_s": round(rate["engine"], 1),
        "engine_ratio": round(rate["engine"] / rate["baseline"], 3),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{n} emails: rendered, tracked and sent {result['pipeline_per_s']}/s; "
            f"plain smtplib {result['baseline_per_s']}/s; ratio {result['ratio']}\n"
            f"through the whole engine (claims, checks, outcomes) {result['engine_per_s']}/s; "
            f"ratio {result['engine_ratio']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
