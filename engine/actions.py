"""Server actions (SPEC §3) executed set-based on a group of traces.

Each action first runs for the whole group inside a SAVEPOINT; if that fails, it runs
again trace by trace, each in its own SAVEPOINT, so the one bad record ends in ``error``
and the others go on (E4).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from . import delays, records, templating
from .code_action import run_execute_code
from .executor_steps import BatchContext, TraceRow
from .models import User
from .plan import ActivityPlan, CampaignPlan
from .webhook import run_webhook

MAX_NESTING = 5

Runner = Callable[..., None]


class LazyRecords:
    """Records loaded on first use: most bulk actions never need their contents."""

    def __init__(self, ctx: BatchContext, model: str, ids: list[int]) -> None:
        self._ctx, self._model, self._ids = ctx, model, ids
        self._data: dict[int, dict[str, Any]] | None = None

    def load(self) -> None:
        if self._data is None:
            self._data = records.load_records(self._ctx.session, self._model, self._ids)

    def get(self, record_id: int, default: Any = None) -> Any:
        self.load()
        assert self._data is not None
        return self._data.get(record_id, default)


class ActionError(Exception):
    """A failure that belongs to the traces, reported as their error message."""


def run_server_action(
    ctx: BatchContext,
    plan: CampaignPlan,
    act: ActivityPlan,
    action: dict[str, Any],
    rows: list[TraceRow],
) -> None:
    if not act.trusted and action.get("kind") in ("execute_code", "webhook"):
        for r in rows:
            ctx.outcome.set(r, "error", "Action disabled: imported from a file and not yet trusted")
        return
    recs = LazyRecords(ctx, plan.target, [r.record_id for r in rows])
    survivors = _run(ctx, plan, act, action, rows, recs, depth=0)
    for r in survivors:
        if r.id not in ctx.outcome.final and r.id not in ctx.outcome.deferred:
            ctx.outcome.set(r, "processed")
    ctx.open_ids.difference_update(r.id for r in rows)


def _run(
    ctx: BatchContext,
    plan: CampaignPlan,
    act: ActivityPlan,
    action: dict[str, Any],
    rows: list[TraceRow],
    recs: LazyRecords,
    *,
    depth: int,
) -> list[TraceRow]:
    """Run one action; returns the rows it succeeded for (failures get their outcome)."""
    kind = action.get("kind", "")
    if kind == "run_actions":
        return _run_saved(ctx, plan, act, action, rows, recs, depth=depth)
    if kind in ("send_email", "send_sms"):
        from . import delivery

        send = delivery.send_email_activity if kind == "send_email" else delivery.send_sms_activity
        send(ctx, plan, act, rows, content=action)
        return _succeeded(ctx, rows)
    runner = RUNNERS.get(kind)
    if runner is None:
        for r in rows:
            ctx.outcome.set(r, "error", f"unknown action kind {kind!r}")
        return []
    if kind in SELF_REPORTING:
        runner(ctx, plan, act, action, rows, recs)
        return _succeeded(ctx, rows)
    try:
        with ctx.session.begin_nested():
            runner(ctx, plan, act, action, rows, recs)
        return rows
    except Exception:
        if len(rows) == 1:
            pass
        else:
            ok: list[TraceRow] = []
            for r in rows:
                ok += _run(ctx, plan, act, action, [r], recs, depth=depth)
            return ok
    # A single row failed: run again to capture the message.
    try:
        with ctx.session.begin_nested():
            runner(ctx, plan, act, action, rows, recs)
        return rows
    except Exception as exc:
        ctx.outcome.set(rows[0], "error", f"{kind}: {_describe(exc)}")
        return []


def _succeeded(ctx: BatchContext, rows: list[TraceRow]) -> list[TraceRow]:
    """Rows an outcome-setting action left processed (or unset), and not due for a retry."""
    retrying = {tid for tid, *_ in ctx.outcome.retries}
    return [
        r
        for r in rows
        if r.id not in retrying
        and r.id not in ctx.outcome.deferred
        and ctx.outcome.final.get(r.id, ("processed",))[0] == "processed"
    ]


def _describe(exc: Exception) -> str:
    if isinstance(exc, ActionError | ValueError | templating.TemplateProblem):
        return str(exc)
    orig = getattr(exc, "orig", None)
    return f"{type(exc).__name__}: {orig or exc}"


def _run_saved(ctx, plan, act, action, rows, recs, *, depth):
    # The traces' outcomes are not final until the whole chain has run: a hand-off
    # point inside it must not write them yet.
    ctx.open_ids.update(r.id for r in rows)
    ctx.chain_depth += 1
    try:
        return _run_chain(ctx, plan, act, action, rows, recs, depth=depth)
    finally:
        ctx.chain_depth -= 1


def _run_chain(ctx, plan, act, action, rows, recs, *, depth):
    if depth >= MAX_NESTING:
        for r in rows:
            ctx.outcome.set(r, "error", "run_actions: saved actions nest too deeply")
        return []
    for name in action.get("actions") or []:
        saved = plan.saved_actions.get(name)
        if saved is None:
            for r in rows:
                ctx.outcome.set(r, "error", f"run_actions: no saved action named {name!r}")
            return []
        sub, trusted = saved
        if not trusted and sub.get("kind") in ("execute_code", "webhook"):
            for r in rows:
                ctx.outcome.set(r, "error", f"run_actions: {name!r} is disabled until trusted")
            return []
        rows = _run(ctx, plan, act, sub, rows, recs, depth=depth + 1)
        if not rows:
            break
    return rows


# --- the actions ------------------------------------------------------------------------


def _context(plan: CampaignPlan, act: ActivityPlan, rec: dict[str, Any]) -> dict[str, Any]:
    return {"record": rec, "campaign": plan.info, "activity": act.info}


def _render_values(values: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, str) and templating.is_template(value):
            out[key] = templating.render(value, ctx)
        else:
            out[key] = value
    return out


def _has_templates(values: dict[str, Any]) -> bool:
    return any(isinstance(v, str) and templating.is_template(v) for v in values.values())


def _update_record(ctx, plan, act, action, rows, recs) -> None:
    values = dict(action.get("values") or {})
    ids = [r.record_id for r in rows]
    if not _has_templates(values):
        records.write_values(ctx.session, plan.target, ids, values, now=ctx.now)
        return
    for r in rows:
        rendered = _render_values(values, _context(plan, act, recs.get(r.record_id, {})))
        records.write_values(ctx.session, plan.target, [r.record_id], rendered, now=ctx.now)


def _create_record(ctx, plan, act, action, rows, recs) -> None:
    model = action.get("model") or ""
    values = dict(action.get("values") or {})
    new_rows = [
        _render_values(values, _context(plan, act, recs.get(r.record_id, {}))) for r in rows
    ]
    records.create_records(ctx.session, model, new_rows, now=ctx.now)


def _user_ids(ctx: BatchContext, emails: list[str]) -> dict[str, int]:
    wanted = {e.strip().lower() for e in emails if e and e != "salesperson"}
    if not wanted:
        return {}
    found = {
        email.lower(): uid
        for uid, email in ctx.session.execute(
            select(User.id, User.email).where(func.lower(User.email).in_(wanted))
        )
    }
    missing = sorted(wanted - set(found))
    if missing:
        raise ActionError(f"no user with email {', '.join(missing)}")
    return found


def _salesperson_id(rec: dict[str, Any]) -> int | None:
    sp = rec.get("salesperson")
    return sp.get("id") if isinstance(sp, dict) else None


def _create_activity(ctx, plan, act, action, rows, recs) -> None:
    assignee = action.get("assignee") or "salesperson"
    users = _user_ids(ctx, [assignee])
    due_in = action.get("due_in") or {"amount": 0, "unit": "days"}
    due: datetime = delays.add(ctx.now, int(due_in.get("amount", 0)), due_in.get("unit", "days"))
    tasks = []
    for r in rows:
        rec = recs.get(r.record_id, {})
        tctx = _context(plan, act, rec)
        tasks.append(
            {
                "kind": action.get("activity_type") or "todo",
                "summary": templating.render(action.get("summary") or "", tctx)[:512],
                "note": templating.render(action.get("note") or "", tctx),
                "due_date": due.date(),
                "assignee_id": _salesperson_id(rec)
                if assignee == "salesperson"
                else users[assignee.strip().lower()],
                "res_model": plan.target,
                "res_id": r.record_id,
                "trace_id": r.id,
            }
        )
    records.create_tasks(ctx.session, tasks, now=ctx.now)


def _follower_pairs(ctx, action, rows, recs) -> list[tuple[int, int]]:
    refs = list(action.get("users") or [])
    users = _user_ids(ctx, refs)
    pairs: set[tuple[int, int]] = set()
    for r in rows:
        for ref in refs:
            uid = (
                _salesperson_id(recs.get(r.record_id, {}))
                if ref == "salesperson"
                else users[ref.strip().lower()]
            )
            if uid is not None:
                pairs.add((r.record_id, uid))
    return sorted(pairs)


def _add_followers(ctx, plan, act, action, rows, recs) -> None:
    records.add_followers(ctx.session, plan.target, _follower_pairs(ctx, action, rows, recs))


def _remove_followers(ctx, plan, act, action, rows, recs) -> None:
    records.remove_followers(ctx.session, plan.target, _follower_pairs(ctx, action, rows, recs))


RUNNERS: dict[str, Runner] = {
    "update_record": _update_record,
    "create_record": _create_record,
    "create_activity": _create_activity,
    "add_followers": _add_followers,
    "remove_followers": _remove_followers,
    "execute_code": run_execute_code,
    "webhook": run_webhook,
}
# These set each trace's outcome themselves and never raise: running them again trace by
# trace (what a failed group gets) would run the code or post the webhook twice.
SELF_REPORTING = frozenset({"execute_code", "webhook"})
