"""A small world for engine tests: contacts, a campaign from a dict, passes, lookups."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from engine import campaign_files, campaigns, interactions
from engine.channels import Channels, configured_channels
from engine.clock import FixedClock
from engine.db import Database
from engine.executor import Executor, PassStats
from engine.models import Campaign, Contact, Participant, Trace
from engine.plan import load_plan
from engine.reporting import campaign_report


def email(
    key: str,
    *,
    parent: str | None = None,
    trigger: str = "begin",
    delay: int = 0,
    unit: str = "hours",
    body: str = "<p>Hi {{ record.name }}</p>",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.title(),
        "type": "email",
        "parent": parent,
        "trigger": trigger,
        "delay": {"amount": delay, "unit": unit},
        "email": {
            "subject": f"{key} for {{{{ record.name }}}}",
            "from": "Shop <shop@example.com>",
            "body_html": body,
        },
        **extra,
    }


def sms(
    key: str,
    *,
    parent: str | None = None,
    trigger: str = "begin",
    delay: int = 0,
    unit: str = "hours",
    body: str = "Hi {{ record.name }}",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.title(),
        "type": "sms",
        "parent": parent,
        "trigger": trigger,
        "delay": {"amount": delay, "unit": unit},
        "sms": {"body": body},
        **extra,
    }


def action(
    key: str,
    act: dict[str, Any],
    *,
    parent: str | None = None,
    trigger: str = "begin",
    delay: int = 0,
    unit: str = "hours",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.title(),
        "type": "server_action",
        "parent": parent,
        "trigger": trigger,
        "delay": {"amount": delay, "unit": unit},
        "action": act,
        **extra,
    }


def tag(name: str) -> dict[str, Any]:
    return {"kind": "update_record", "values": {"tags": {"add": [name]}}}


class World:
    def __init__(
        self,
        db: Database,
        clock: FixedClock,
        channels: Callable[[Any, datetime], Channels] = configured_channels,
    ) -> None:
        self.db = db
        self.clock = clock
        self.executor = Executor(db, clock, channels=channels)

    # --- data ----------------------------------------------------------------------------
    def contacts(self, *rows: dict[str, Any]) -> list[int]:
        now = self.clock.now()
        with self.db.session() as s:
            ids = []
            for r in rows:
                values = {"created_at": now, "updated_at": now, "extra": {}, **r}
                ids.append(s.execute(insert(Contact).values(**values)).inserted_primary_key[0])
            return ids

    def people(self, *names: str, **common: Any) -> list[int]:
        return self.contacts(
            *(
                {
                    "name": n,
                    "email": f"{n.lower()}@example.com",
                    "phone": "+3247000000" + str(i % 10),
                    **common,
                }
                for i, n in enumerate(names)
            )
        )

    def campaign(self, *activities: dict[str, Any], start: bool = True, **settings: Any) -> int:
        doc = {
            "format": "journeys/campaign",
            "version": 1,
            "campaign": {"name": "Test", "target": "contact", **settings},
            "activities": list(activities),
        }
        doc = campaign_files.check_document(doc)
        with self.db.session() as s:
            cid = campaign_files.import_document(s, doc, trust=True, now=self.clock.now()).id
        if start:
            self.start(cid)
        return cid

    def start(self, cid: int) -> int:
        with self.db.session() as s:
            return campaigns.start(s, s.get(Campaign, cid), self.clock.now())

    def stop(self, cid: int) -> None:
        with self.db.session() as s:
            campaigns.stop(s, s.get(Campaign, cid), self.clock.now())

    # --- time and passes ---------------------------------------------------------------
    def run(self, **advance: float) -> PassStats:
        if advance:
            self.clock.advance(**advance)
        return self.executor.run_pass()

    def at(self, when: datetime) -> PassStats:
        self.clock.set(when)
        return self.executor.run_pass()

    # --- lookups -------------------------------------------------------------------------
    def traces(self, cid: int, key: str | None = None) -> dict[str, dict[str, Any]]:
        """Traces of one activity (or all, keyed 'activity/name') by record name."""
        with self.db.read() as s:
            plan = load_plan(s, cid)
            keys = {a.id: a.key for a in plan.activities.values()}
            rows = s.execute(
                select(Trace, Contact.name)
                .join(Contact, Contact.id == Trace.record_id)
                .where(Trace.campaign_id == cid)
                .order_by(Trace.id)
            ).all()
        out: dict[str, dict[str, Any]] = {}
        for t, name in rows:
            k = keys[t.activity_id]
            if key is not None and k != key:
                continue
            label = name if key is not None else f"{k}/{name}"
            if t.is_test:
                label += " (test)"
            out[label] = {
                "state": t.state,
                "due": t.due_at,
                "message": t.message,
                "id": t.id,
                "done": t.done_at,
                "attempts": t.attempts,
            }
        return out

    def states(self, cid: int, key: str) -> dict[str, str]:
        return {n: t["state"] for n, t in self.traces(cid, key).items()}

    def messages(self, cid: int, key: str) -> dict[str, str | None]:
        return {n: t["message"] for n, t in self.traces(cid, key).items()}

    def participants(self, cid: int) -> dict[str, str]:
        with self.db.read() as s:
            rows = s.execute(
                select(Contact.name, Participant.state, Participant.is_test)
                .join(Contact, Contact.id == Participant.record_id)
                .where(Participant.campaign_id == cid)
            ).all()
        return {n + (" (test)" if t else ""): st for n, st, t in rows}

    def report(self, cid: int) -> dict[str, Any]:
        with self.db.read() as s:
            return campaign_report(s, cid)

    def interact(self, cid: int, key: str, name: str, kind: str, **kw: Any) -> Any:
        tid = self.traces(cid, key)[name]["id"]
        with self.db.session() as s:
            res = interactions.record(s, [tid], kind, self.clock.now(), **kw)
        self.executor.execute_due(self.clock.now())
        return res


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
