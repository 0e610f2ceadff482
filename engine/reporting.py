"""Statistics (SPEC §6): grouped queries, test participants excluded everywhere."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, false, func, select
from sqlalchemy.orm import Session

from .fields import MODELS
from .models import (
    Activity,
    Campaign,
    Interaction,
    Link,
    Participant,
    ParticipantStat,
    Trace,
    table,
)

T = table(Trace)
P = table(Participant)
A = table(Activity)
I = table(Interaction)  # noqa: E741
L = table(Link)

STATE_KEYS = ("scheduled", "waiting", "processed", "rejected", "canceled", "error")


def participant_counts(session: Session, campaign_id: int) -> dict[str, int]:
    out = {"running": 0, "completed": 0, "removed": 0, "test": 0}
    rows = session.execute(
        select(P.c.state, P.c.is_test, func.count())
        .where(P.c.campaign_id == campaign_id)
        .group_by(P.c.state, P.c.is_test)
    ).all()
    for state, is_test, n in rows:
        if is_test:
            out["test"] += n
        else:
            out[state] = out.get(state, 0) + n
    return out


def activity_counters(session: Session, campaign_id: int) -> dict[str, dict[str, int]]:
    """Per activity key: trace states and message statistics, one grouped query."""
    acts = session.execute(
        select(A.c.id, A.c.key, A.c.type)
        .where(A.c.campaign_id == campaign_id)
        .order_by(A.c.sequence, A.c.id)
    ).all()
    counters: dict[int, dict[str, int]] = {}
    for aid, _key, typ in acts:
        base = dict.fromkeys(STATE_KEYS, 0)
        if typ == "email":
            base.update(sent=0, opened=0, clicked=0, replied=0, bounced=0)
        elif typ == "sms":
            base.update(sent=0, clicked=0, bounced=0)
        counters[aid] = base
    processed = T.c.state == "processed"

    def n(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    rows = session.execute(
        select(
            T.c.activity_id,
            n(and_(T.c.state == "scheduled")),
            n(and_(T.c.state == "scheduled", T.c.due_at.is_(None))),
            n(processed),
            n(T.c.state == "rejected"),
            n(T.c.state == "canceled"),
            n(T.c.state == "error"),
            n(and_(processed, T.c.opened_at.is_not(None))),
            n(and_(processed, T.c.clicked_at.is_not(None))),
            n(and_(processed, T.c.replied_at.is_not(None))),
            n(and_(processed, T.c.bounced_at.is_not(None))),
        )
        .where(T.c.campaign_id == campaign_id, T.c.is_test == false())
        .group_by(T.c.activity_id)
    ).all()
    for aid, sched, waiting, proc, rej, canc, err, opened, clicked, replied, bounced in rows:
        c = counters.get(aid)
        if c is None:
            continue
        c.update(
            scheduled=sched or 0,
            waiting=waiting or 0,
            processed=proc or 0,
            rejected=rej or 0,
            canceled=canc or 0,
            error=err or 0,
        )
        if "sent" in c:
            c["sent"] = proc or 0
            c["clicked"], c["bounced"] = clicked or 0, bounced or 0
            if "opened" in c:
                c["opened"], c["replied"] = opened or 0, replied or 0
    return {key: counters[aid] for aid, key, _ in acts}


def campaign_report(session: Session, campaign_id: int) -> dict[str, Any]:
    c = session.get(Campaign, campaign_id)
    assert c is not None
    return {
        "campaign": {"id": c.id, "name": c.name, "state": c.state},
        "participants": participant_counts(session, campaign_id),
        "activities": activity_counters(session, campaign_id),
    }


def _bucket(at: datetime, hourly: bool) -> str:
    return at.strftime("%Y-%m-%dT%H:00") if hourly else at.strftime("%Y-%m-%d")


def series(
    session: Session, campaign_id: int, now: datetime, *, hourly: bool = False
) -> dict[str, dict[str, list[tuple[str, int]]]]:
    """Processed and rejected per day (last 15 days) or per hour (last 48 hours)."""
    if hourly:
        start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=47)
        buckets = [_bucket(start + timedelta(hours=i), True) for i in range(48)]
    else:
        start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=14)
        buckets = [_bucket(start + timedelta(days=i), False) for i in range(15)]
    rows = session.execute(
        select(A.c.key, T.c.state, T.c.done_at)
        .join(A, A.c.id == T.c.activity_id)
        .where(
            T.c.campaign_id == campaign_id,
            T.c.is_test == false(),
            T.c.state.in_(("processed", "rejected")),
            T.c.done_at >= start,
            T.c.done_at <= now,
        )
    ).all()
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: {"processed": defaultdict(int), "rejected": defaultdict(int)}
    )
    for key, state, at in rows:
        counts[key][state][_bucket(at, hourly)] += 1
    keys = session.scalars(
        select(A.c.key).where(A.c.campaign_id == campaign_id).order_by(A.c.sequence, A.c.id)
    ).all()
    return {
        key: {
            state: [(b, counts[key][state].get(b, 0)) for b in buckets]
            for state in ("processed", "rejected")
        }
        for key in keys
    }


def traces(
    session: Session,
    campaign_id: int,
    *,
    activity_key: str | None = None,
    state: str | None = None,
    include_test: bool = False,
    participant_id: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    c = session.get(Campaign, campaign_id)
    assert c is not None
    info = MODELS[c.target]
    rec = info.table
    name_col = rec.c[info.display_field]
    q = (
        select(
            T.c.id,
            A.c.key,
            T.c.record_id,
            name_col,
            T.c.state,
            T.c.due_at,
            T.c.message,
            T.c.done_at,
            T.c.is_test,
            T.c.to_address,
            T.c.opened_at,
            T.c.clicked_at,
            T.c.replied_at,
            T.c.bounced_at,
        )
        .join(A, A.c.id == T.c.activity_id)
        .outerjoin(rec, rec.c.id == T.c.record_id)
        .where(T.c.campaign_id == campaign_id)
        .order_by(T.c.id)
    )
    if not include_test:
        q = q.where(T.c.is_test == false())
    if activity_key:
        q = q.where(A.c.key == activity_key)
    if participant_id is not None:
        q = q.where(T.c.participant_id == participant_id)
    if state:
        q = (
            q.where(T.c.state == state)
            if state != "waiting"
            else q.where(T.c.state == "scheduled", T.c.due_at.is_(None))
        )
    if limit:
        q = q.limit(limit)

    def iso(v: datetime | None) -> str | None:
        return v.isoformat() if v else None

    return [
        {
            "id": r.id,
            "activity": r.key,
            "record_id": r.record_id,
            "record": r[3] if r[3] is not None else f"(deleted {r.record_id})",
            "state": r.state,
            "due": iso(r.due_at),
            "message": r.message,
            "processed_at": iso(r.done_at) if r.state == "processed" else None,
            "done_at": iso(r.done_at),
            "test": bool(r.is_test),
            "to": r.to_address,
            "opened_at": iso(r.opened_at),
            "clicked_at": iso(r.clicked_at),
            "replied_at": iso(r.replied_at),
            "bounced_at": iso(r.bounced_at),
        }
        for r in session.execute(q)
    ]


def link_tracker(session: Session, campaign_id: int) -> list[dict[str, Any]]:
    clicks = (
        select(
            I.c.link_id,
            func.count().label("clicks"),
            func.count(func.distinct(I.c.trace_id)).label("unique_clicks"),
        )
        .join(T, T.c.id == I.c.trace_id)
        .where(I.c.type.in_(("click", "sms_click")), T.c.is_test == false())
        .group_by(I.c.link_id)
    ).subquery()
    rows = session.execute(
        select(
            L.c.id,
            A.c.key,
            L.c.url,
            func.coalesce(clicks.c.clicks, 0),
            func.coalesce(clicks.c.unique_clicks, 0),
        )
        .join(A, A.c.id == L.c.activity_id)
        .outerjoin(clicks, clicks.c.link_id == L.c.id)
        .where(L.c.campaign_id == campaign_id)
        .order_by(L.c.id)
    ).all()
    return [
        {"id": r[0], "activity": r[1], "url": r[2], "clicks": r[3], "unique_clicks": r[4]}
        for r in rows
    ]


def campaign_list(session: Session) -> list[dict[str, Any]]:
    # Joined counts from the trigger-kept summary: the list refreshes on every change, and
    # counting a million participants each time would freeze it.
    PS = table(ParticipantStat)
    counts: dict[int, int] = {
        cid: int(n or 0)
        for cid, n in session.execute(
            select(PS.c.campaign_id, func.sum(PS.c.n))
            .where(PS.c.is_test == false())
            .group_by(PS.c.campaign_id)
        )
    }
    return [
        {
            "id": c.id,
            "name": c.name,
            "state": c.state,
            "target": c.target,
            "participants": counts.get(c.id, 0),
            "archived": c.archived,
            "updated_at": c.updated_at.isoformat(),
        }
        for c in session.scalars(select(Campaign).order_by(Campaign.id))
    ]
