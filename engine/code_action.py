"""The ``execute_code`` server action: run the sandbox on a group of traces, then apply.

The code runs once per record in a child process (:mod:`engine.sandbox`) that never
touches the database; this module applies what it asked for — field writes, tasks,
new records — in this process, validated by the same record writers as every other
action. Writes shared by many records become one UPDATE; everything is tried for the
group in one SAVEPOINT first, then record by record so one bad value fails only its
trace.

Log lines (``log(...)`` or ``print(...)``) are kept short and end up in the processed
trace's message as ``log: first | second``; only the last 500 characters are kept,
because a trace message is a status line, not a log file.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import Any

from . import delays, records
from .errors import UserError
from .executor_steps import BatchContext, TraceRow
from .fields import MODELS
from .plan import ActivityPlan, CampaignPlan
from .sandbox import CodeResult, Limits, run_code

log = logging.getLogger(__name__)

MAX_MESSAGE = 500

Done = tuple[TraceRow, dict[str, Any], CodeResult]


def run_execute_code(
    ctx: BatchContext,
    plan: CampaignPlan,
    act: ActivityPlan,
    action: dict[str, Any],
    rows: list[TraceRow],
    recs: Any,
) -> None:
    """Set every trace's outcome; never raises, because a re-run would run the code again."""
    try:
        _execute(ctx, plan, action, rows, recs)
    except Exception as exc:
        log.exception("execute_code failed for a batch of %d traces", len(rows))
        for r in rows:
            if r.id not in ctx.outcome.final:
                ctx.outcome.set(r, "error", f"execute_code: {_describe(exc)}")


def limits(ctx: BatchContext) -> Limits:
    return Limits(
        cpu_seconds=int(ctx.setting("sandbox.cpu_seconds")),
        memory_mb=int(ctx.setting("sandbox.memory_mb")),
    )


def _execute(
    ctx: BatchContext,
    plan: CampaignPlan,
    action: dict[str, Any],
    rows: list[TraceRow],
    recs: Any,
) -> None:
    info = records.get_model(plan.target)
    present: list[tuple[TraceRow, dict[str, Any]]] = []
    for r in rows:
        rec = recs.get(r.record_id)
        if rec is None:  # deleted since it was claimed
            ctx.outcome.set(r, "rejected", "Rejected by activity filter")
        else:
            present.append((r, rec))
    if not present:
        return
    # The sandbox may run for seconds: no lock meanwhile. Its writes are applied after,
    # so on its own it is simply run again after a crash; inside a chain it is flagged.
    bounds = limits(ctx)
    ctx.hand_off(r.id for r in rows if ctx.in_chain)
    results = run_code(
        action.get("code") or "",
        [rec for _, rec in present],
        model=plan.target,
        writable=[name for name, f in info.fields.items() if not f.readonly],
        now=ctx.now.isoformat(),
        limits=bounds,
    )
    done: list[Done] = []
    for (r, rec), result in zip(present, results, strict=True):
        if result.error is not None:
            ctx.outcome.set(r, "error", _message(f"execute_code: {result.error}", result.log))
        else:
            done.append((r, rec, result))
    _apply(ctx, plan, done)


def _apply(ctx: BatchContext, plan: CampaignPlan, done: list[Done]) -> None:
    if not done:
        return
    try:
        with ctx.session.begin_nested():
            _write(ctx, plan, done)
    except Exception:  # find the culprits: each record alone, in its own SAVEPOINT
        for item in done:
            _apply_one(ctx, plan, item)
        return
    for r, _, result in done:
        ctx.outcome.set(r, "processed", _message(None, result.log))


def _apply_one(ctx: BatchContext, plan: CampaignPlan, item: Done) -> None:
    r, _, result = item
    try:
        with ctx.session.begin_nested():
            _write(ctx, plan, [item])
    except Exception as exc:
        ctx.outcome.set(r, "error", _message(f"execute_code: {_describe(exc)}", result.log))
        return
    ctx.outcome.set(r, "processed", _message(None, result.log))


def _write(ctx: BatchContext, plan: CampaignPlan, done: list[Done]) -> None:
    """Writes grouped by identical values (one UPDATE each), then new records and tasks."""
    same_values: dict[str, list[int]] = defaultdict(list)
    new_records: dict[str, list[dict[str, Any]]] = defaultdict(list)
    tasks: list[dict[str, Any]] = []
    users: dict[str, int | None] = {}
    for r, rec, result in done:
        if result.writes:
            same_values[json.dumps(result.writes, sort_keys=True)].append(r.record_id)
        for call in result.calls:
            if call.get("call") == "create_record":
                new_records[str(call.get("model"))].append(dict(call.get("values") or {}))
            elif call.get("call") == "create_task":
                tasks.append(_task(ctx, plan, r, rec, result, call, users))
    for values, ids in same_values.items():
        records.write_values(ctx.session, plan.target, ids, json.loads(values), now=ctx.now)
    for model, rows in new_records.items():
        if model not in MODELS:
            known = ", ".join(MODELS)
            raise ValueError(f"create_record: unknown model {model!r} (expected one of {known})")
        records.create_records(ctx.session, model, rows, now=ctx.now)
    records.create_tasks(ctx.session, tasks, now=ctx.now)


def _task(
    ctx: BatchContext,
    plan: CampaignPlan,
    r: TraceRow,
    rec: dict[str, Any],
    result: CodeResult,
    call: dict[str, Any],
    users: dict[str, int | None],
) -> dict[str, Any]:
    ref: Any = str(call.get("assignee") or "salesperson").strip()
    if ref.lower() == "salesperson":  # the salesperson as the code left it
        ref = result.writes.get("salesperson", rec.get("salesperson"))
        if isinstance(ref, dict):
            ref = ref.get("id")
    assignee = None
    if ref not in (None, ""):
        key = str(ref)
        if key not in users:
            found = records.resolve_users(ctx.session, [ref], salesperson_ids={0: None})
            users[key] = found[0][0] if found[0] else None
        assignee = users[key]
    due = delays.add(ctx.now, int(call.get("due_in_days") or 0), "days")
    return {
        "kind": call.get("kind") or "todo",
        "summary": str(call.get("summary") or "")[:512],
        "note": str(call.get("note") or ""),
        "due_date": due.date(),
        "assignee_id": assignee,
        "res_model": plan.target,
        "res_id": r.record_id,
        "trace_id": r.id,
    }


def _message(error: str | None, lines: list[str]) -> str | None:
    """The trace message: the error, or the log lines; the end is what matters most."""
    parts = ([error] if error else []) + (["log: " + " | ".join(lines)] if lines else [])
    text = "; ".join(parts)
    if not text:
        return None
    if error and len(text) > MAX_MESSAGE:
        return text[: MAX_MESSAGE - 1] + "…"
    return text if len(text) <= MAX_MESSAGE else "log: …" + text[-(MAX_MESSAGE - 6) :]


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValueError | UserError):
        return str(exc)
    orig = getattr(exc, "orig", None)
    return f"{type(exc).__name__}: {orig or exc}"
