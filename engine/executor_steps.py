"""Executing one activity on a group of claimed traces: validity, filter, then the action.

Each step narrows the group and records outcomes; nothing here commits. The outcomes are
written by :class:`Outcome` with one statement per distinct result, not one per trace.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, true, update
from sqlalchemy.orm import Session

from . import filters, interactions, settings
from .batch_work import BatchWork
from .catalog import INTERACTION_COLUMN, NOT_TRIGGERS
from .channels import Channels, Delivery
from .fields import MODELS
from .models import Trace, table
from .plan import ActivityPlan, CampaignPlan
from .sqlutil import ids_in

T = table(Trace)


class TraceRow(NamedTuple):
    id: int
    campaign_id: int
    activity_id: int
    participant_id: int
    parent_id: int | None
    record_id: int
    is_test: bool
    due_at: datetime
    attempts: int
    claimed_by: str | None


@dataclass
class Outcome:
    """Everything a batch decided, written at the end in few statements."""

    final: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    to_address: dict[int, str] = field(default_factory=dict)
    retries: list[tuple[int, datetime, int, str]] = field(default_factory=list)
    bounces: list[int] = field(default_factory=list)
    activity_of: dict[int, int] = field(default_factory=dict)
    # Left for a later batch without an attempt (the batch ran out of time).
    deferred: set[int] = field(default_factory=set)
    _written: set[int] = field(default_factory=set)

    def set(self, row: TraceRow, state: str, message: str | None = None) -> None:
        self.final[row.id] = (state, message)
        self.activity_of[row.id] = row.activity_id

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for state, _ in self.final.values():
            out[state] += 1
        if self.retries:
            out["retry"] += len(self.retries)
        return out

    def take(self, exclude: Collection[int]) -> Outcome:
        """The decisions not yet written (except ``exclude``), now counted as written.

        A batch writes what is final at every hand-off point, so a crash later in the
        batch cannot undo them; the rest of the batch keeps deciding into this object.
        """
        part = Outcome()
        for tid, value in self.final.items():
            if tid in self._written or tid in exclude:
                continue
            self._written.add(tid)
            part.final[tid] = value
            part.activity_of[tid] = self.activity_of[tid]
            if tid in self.to_address:
                part.to_address[tid] = self.to_address[tid]
        for entry in self.retries:
            if entry[0] not in self._written and entry[0] not in exclude:
                self._written.add(entry[0])
                part.retries.append(entry)
        part.bounces = [tid for tid in self.bounces if tid in part.final]
        return part

    def settled(self, tid: int) -> bool:
        return tid in self.final or tid in self.deferred or any(e[0] == tid for e in self.retries)

    def processed_by_activity(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = defaultdict(list)
        for tid, (state, _) in self.final.items():
            if state == "processed":
                out[self.activity_of[tid]].append(tid)
        return out

    def write(self, s: Session, now: datetime) -> None:
        grouped: dict[tuple[str, str | None], list[int]] = defaultdict(list)
        addressed: list[dict[str, Any]] = []
        for tid, (state, message) in self.final.items():
            if tid in self.to_address:
                addressed.append(
                    {"tid": tid, "st": state, "msg": message, "addr": self.to_address[tid]}
                )
            else:
                grouped[(state, message)].append(tid)
        done = {"done_at": now, "claimed_by": None, "claimed_at": None, "handoff": False}
        for (state, message), ids in grouped.items():
            s.execute(
                update(T).where(ids_in(s, T.c.id, ids)).values(state=state, message=message, **done)
            )
        if addressed:
            s.execute(
                update(T)
                .where(T.c.id == bindparam("tid"))
                .values(
                    state=bindparam("st"),
                    message=bindparam("msg"),
                    to_address=bindparam("addr"),
                    **done,
                ),
                addressed,
                execution_options={"synchronize_session": False},
            )
        if self.retries:
            s.execute(
                update(T)
                .where(T.c.id == bindparam("tid"))
                .values(
                    due_at=bindparam("due"),
                    attempts=bindparam("n"),
                    message=bindparam("msg"),
                    claimed_by=None,
                    claimed_at=None,
                    handoff=False,
                ),
                [{"tid": t, "due": d, "n": n, "msg": m} for t, d, n, m in self.retries],
                execution_options={"synchronize_session": False},
            )

    def apply_bounces(self, s: Session, now: datetime) -> None:
        """A permanent rejection at send time is a bounce, recorded at once (E5)."""
        if not self.bounces:
            return
        rows = s.execute(select(T.c.id, T.c.activity_id).where(T.c.id.in_(self.bounces))).all()
        by_kind: dict[str, list[int]] = defaultdict(list)
        from .models import Activity

        types = dict(
            s.execute(
                select(Activity.id, Activity.type).where(
                    Activity.id.in_({r.activity_id for r in rows})
                )
            ).all()
        )
        for tid, aid in rows:
            by_kind["sms_bounce" if types[aid] == "sms" else "bounce"].append(tid)
        for kind, ids in by_kind.items():
            interactions.record(s, ids, kind, now, detail="Rejected by the recipient's server")


@dataclass
class BatchContext:
    """What one batch's steps share: its unit of work, plans, channels and decisions.

    ``settle`` writes the decisions that are final (the executor's bookkeeping: outcomes,
    children, bounces, completions); :meth:`hand_off` calls it before every talk to the
    outside world. ``open_ids`` are traces in the middle of a chain of actions, whose
    outcome is not final yet. ``deadline`` (monotonic seconds) is the batch's time
    budget: once passed, sends that have not started are left for a later batch.
    """

    work: BatchWork
    now: datetime
    plans: dict[int, CampaignPlan]
    channels: Channels
    max_attempts: int
    settle: Callable[[BatchContext], None] = lambda ctx: None
    deadline: float | None = None
    group_size: int = 20
    outcome: Outcome = field(default_factory=Outcome)
    open_ids: set[int] = field(default_factory=set)
    chain_depth: int = 0
    _settings: dict[str, Any] = field(default_factory=dict)

    @property
    def session(self) -> Session:
        return self.work.session

    @property
    def in_chain(self) -> bool:
        return self.chain_depth > 0

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline

    def hand_off(self, in_flight: Iterable[int]) -> None:
        """Before talking to a server: write what is final, flag ``in_flight``, commit.

        Flagged traces are the only ones a crash from here on leaves "delivery unknown"
        (E13); nothing else of the batch waits on the network with a lock held.
        """
        if not self.work.splits:
            return
        ids = sorted(set(in_flight))
        session = self.work.session
        self.settle(self)
        for part in _parts(ids):
            session.execute(update(T).where(T.c.id.in_(part)).values(handoff=true()))
        self.work.commit()

    def setting(self, key: str) -> Any:
        if key not in self._settings:
            self._settings[key] = settings.get(self.session, key)
        return self._settings[key]


def _parts(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def retry_delay(attempt: int) -> timedelta:
    """Growing back-off: 5, 10, 20, 40 minutes… capped at 6 hours."""
    return min(timedelta(minutes=5 * 2 ** (attempt - 1)), timedelta(hours=6))


def apply_delivery(ctx: BatchContext, row: TraceRow, delivery: Delivery, address: str) -> None:
    out = ctx.outcome
    if delivery.status == "sent":
        out.set(row, "processed")
        out.to_address[row.id] = address
    elif delivery.status == "rejected":
        out.set(row, "processed", f"Bounced: {delivery.detail}" if delivery.detail else None)
        out.to_address[row.id] = address
        out.bounces.append(row.id)
    elif delivery.status == "transient":
        attempt = row.attempts + 1
        if attempt >= ctx.max_attempts:
            out.set(row, "error", f"Gave up after {attempt} attempts: {delivery.detail}")
        else:
            ctx.outcome.retries.append(
                (
                    row.id,
                    ctx.now + retry_delay(attempt),
                    attempt,
                    f"Attempt {attempt} failed, retrying: {delivery.detail}",
                )
            )
    elif delivery.status == "postponed":  # never tried: no attempt is counted
        out.retries.append(
            (
                row.id,
                ctx.now + retry_delay(1),
                row.attempts,
                f"Not attempted, trying again later: {delivery.detail}",
            )
        )
    else:
        out.set(row, "error", delivery.detail or "Delivery failed")


def execute_activity(
    ctx: BatchContext, plan: CampaignPlan, act: ActivityPlan, rows: list[TraceRow]
) -> None:
    out = ctx.outcome
    # 1. validity
    live: list[TraceRow] = []
    for r in rows:
        if act.expired(r.due_at, ctx.now):
            out.set(r, "canceled", "Expired")
        else:
            live.append(r)
    # 2. a "not" child whose interaction happened meanwhile (e.g. while stopped)
    if act.trigger in NOT_TRIGGERS and live:
        kind = NOT_TRIGGERS[act.trigger]
        col = T.c[INTERACTION_COLUMN[kind]]
        happened = set(
            ctx.session.scalars(
                select(T.c.id).where(
                    T.c.id.in_({r.parent_id for r in live if r.parent_id}), col.is_not(None)
                )
            )
        )
        word = {
            "open": "mail opened",
            "click": "mail clicked",
            "reply": "mail replied",
            "sms_click": "SMS clicked",
        }[kind]
        keep = []
        for r in live:
            if r.parent_id in happened:
                out.set(r, "canceled", f"Parent activity {word}")
            else:
                keep.append(r)
        live = keep
    # 3. filters (campaign + ancestors + own), one query
    if live:
        table = MODELS[plan.target].table
        conditions = [filters.compile_domain(d, plan.target, ctx.now) for d in act.filters]
        conditions.append(filters.active_condition(plan.target))
        ids = sorted({r.record_id for r in live})
        matching = set(
            ctx.session.scalars(
                select(table.c.id).where(ids_in(ctx.session, table.c.id, ids), *conditions)
            )
        )
        keep = []
        for r in live:
            if r.record_id in matching:
                keep.append(r)
            else:
                out.set(r, "rejected", "Rejected by activity filter")
        live = keep
    if not live:
        return
    # 4. the action
    from . import actions, delivery

    if act.type == "email":
        delivery.send_email_activity(ctx, plan, act, live)
    elif act.type == "sms":
        delivery.send_sms_activity(ctx, plan, act, live)
    else:
        actions.run_server_action(ctx, plan, act, act.content, live)
