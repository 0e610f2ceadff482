"""Executing one activity on a group of claimed traces: validity, filter, then the action.

Each step narrows the group and records outcomes; nothing here commits. The outcomes are
written by :class:`Outcome` with one statement per distinct result, not one per trace.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from . import filters, interactions, settings
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
    session: Session
    now: datetime
    plans: dict[int, CampaignPlan]
    channels: Channels
    handed_off: set[int]
    max_attempts: int
    outcome: Outcome = field(default_factory=Outcome)
    _settings: dict[str, Any] = field(default_factory=dict)

    def setting(self, key: str) -> Any:
        if key not in self._settings:
            self._settings[key] = settings.get(self.session, key)
        return self._settings[key]


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
