"""Email and SMS activities (SPEC E5): who can be contacted, render, hand to the channel.

Checks run in the order a person would expect to read them on a trace: no valid address,
opted out or suppressed, duplicate within this activity, template error, then delivery.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from . import records, settings, templating
from .executor_steps import BatchContext, TraceRow, apply_delivery
from .fields import MODELS
from .messages import MessageBuilder, Recipient
from .models import Trace, table
from .plan import ActivityPlan, CampaignPlan
from .traces import chunks

T = table(Trace)


def _recipients(
    ctx: BatchContext,
    plan: CampaignPlan,
    act: ActivityPlan,
    rows: list[TraceRow],
    *,
    kind: str,
) -> list[tuple[TraceRow, Recipient]]:
    """The rows that may be contacted, with their normalised address; others get outcomes."""
    info = MODELS[plan.target]
    out = ctx.outcome
    recs = records.load_records(ctx.session, plan.target, [r.record_id for r in rows])
    field = info.email_field if kind == "email" else info.phone_field
    opt_field = info.opt_out_email_field if kind == "email" else info.opt_out_sms_field
    test_to = ctx.setting("test.recipient_email" if kind == "email" else "test.recipient_phone")
    region = ctx.setting("sms.default_region")
    label = "email address" if kind == "email" else "phone number"

    candidates: list[tuple[TraceRow, dict[str, Any], str, bool]] = []
    for r in rows:
        rec = recs.get(r.record_id)
        if rec is None:
            out.set(r, "rejected", "Rejected by activity filter")
            continue
        redirected = bool(r.is_test and test_to)
        raw = test_to if redirected else (rec.get(field) if field else None)
        if kind == "email":
            addr = records.normalize_address(raw) if raw else None
        else:
            addr = records.normalize_phone(raw, region=_region(rec, region)) if raw else None
        if not addr:
            out.set(r, "canceled", f"No valid {label}")
            continue
        if not redirected and opt_field and rec.get(opt_field):
            out.set(r, "canceled", "Opted out")
            continue
        candidates.append((r, rec, addr, redirected))

    suppressed = records.suppressed(
        ctx.session,
        kind if kind == "email" else "phone",
        {addr for _, _, addr, redirected in candidates if not redirected},
    )
    # Addresses that already received this activity's message in this campaign.
    real_addrs = sorted({addr for r, _, addr, _ in candidates if not r.is_test})
    already: set[str] = set()
    for part in chunks(real_addrs):
        already.update(
            ctx.session.scalars(
                select(T.c.to_address).where(
                    T.c.activity_id == act.id,
                    T.c.state == "processed",
                    T.c.is_test == false(),
                    T.c.to_address.in_(part),
                )
            )
        )
    result: list[tuple[TraceRow, Recipient]] = []
    for r, rec, addr, redirected in candidates:
        if not redirected and addr in suppressed:
            out.set(r, "canceled", "Opted out")
            continue
        if not r.is_test:
            if addr in already:
                out.set(r, "canceled", "Duplicate")
                continue
            already.add(addr)
        result.append(
            (
                r,
                Recipient(
                    trace_id=r.id,
                    record_id=r.record_id,
                    record=rec,
                    record_name=records.display_name(plan.target, rec),
                    to=addr,
                    is_test=r.is_test,
                ),
            )
        )
    return result


def _region(rec: dict[str, Any], default: str | None) -> str | None:
    country = rec.get("country")
    return country.upper() if isinstance(country, str) and len(country) == 2 else default


def _builder(ctx: BatchContext, plan: CampaignPlan, act: ActivityPlan) -> MessageBuilder:
    return MessageBuilder(
        ctx.session,
        campaign=plan.info,
        activity=act.info,
        base_url=settings.tracking_base_url(ctx.session),
        secret=settings.tracking_secret(ctx.session),
        now=ctx.now,
    )


def send_email_activity(
    ctx: BatchContext,
    plan: CampaignPlan,
    act: ActivityPlan,
    rows: list[TraceRow],
    content: dict[str, Any] | None = None,
) -> None:
    _send(ctx, plan, act, rows, content or act.content, kind="email")


def send_sms_activity(
    ctx: BatchContext,
    plan: CampaignPlan,
    act: ActivityPlan,
    rows: list[TraceRow],
    content: dict[str, Any] | None = None,
) -> None:
    _send(ctx, plan, act, rows, content or act.content, kind="sms")


def _send(
    ctx: BatchContext,
    plan: CampaignPlan,
    act: ActivityPlan,
    rows: list[TraceRow],
    content: dict[str, Any],
    *,
    kind: str,
) -> None:
    """Render and hand over in small groups, each flagged and committed before it leaves.

    A crash can then leave at most one group "delivery unknown"; every other trace of
    the batch is either settled or still plainly scheduled. Inside a chain of actions
    the earlier steps' writes are committed with the first group, so the whole chain's
    traces are flagged at once: a chain is never re-run after its first hand-off.
    """
    pairs = _recipients(ctx, plan, act, rows, kind=kind)
    if not pairs:
        return
    channel = ctx.channels.email if kind == "email" else ctx.channels.sms
    outside = not channel.transactional
    size = ctx.group_size if outside and not ctx.in_chain else len(pairs)
    if outside and ctx.in_chain:
        ctx.hand_off(r.id for r in rows)
    for start in range(0, len(pairs), size):
        group = pairs[start : start + size]
        if outside and not ctx.in_chain and ctx.out_of_time():
            ctx.outcome.deferred.update(row.id for row, _ in pairs[start:])
            return
        sendable = _build(ctx, plan, act, group, content, kind=kind)
        if not sendable:
            continue
        if outside and not ctx.in_chain:
            ctx.hand_off(row.id for row, _ in sendable)
        messages = [m for _, m in sendable]
        with ctx.work.reading() if outside else _same(ctx) as session:
            deliveries = (
                channel.send_emails(session, messages)
                if kind == "email"
                else channel.send_sms(session, messages)
            )
        for (row, msg), delivery in zip(sendable, deliveries, strict=True):
            apply_delivery(ctx, row, delivery, msg.to)


def _build(
    ctx: BatchContext,
    plan: CampaignPlan,
    act: ActivityPlan,
    pairs: list[tuple[TraceRow, Recipient]],
    content: dict[str, Any],
    *,
    kind: str,
) -> list[tuple[TraceRow, Any]]:
    builder = _builder(ctx, plan, act)
    recipients = [p[1] for p in pairs]
    built: list[Any] = (
        builder.emails(content, recipients) if kind == "email" else builder.sms(content, recipients)
    )
    sendable = []
    for (row, _), msg in zip(pairs, built, strict=True):
        if isinstance(msg, templating.TemplateProblem):
            ctx.outcome.set(row, "error", f"Template error: {msg}")
        else:
            sendable.append((row, msg))
    return sendable


@contextmanager
def _same(ctx: BatchContext) -> Iterator[Session]:
    """A transactional channel (the outbox) writes in the batch's own transaction."""
    yield ctx.session
