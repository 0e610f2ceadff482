"""Edits of a campaign's activity tree, as the designer makes them (one call per edit).

The designer commits every edit at once (a killed app loses nothing), so each function
here is one small, set-based write addressed by activity *keys* — the stable identity the
designer, campaign files and undo history share; row ids change when an undo restores a
deleted activity. Structural rules (SPEC §3) are checked here too, not only in the
designer, so no caller can store a tree the engine cannot run.

Edits of a started campaign follow E10 as :mod:`engine.campaigns` does: new activities
are marked ``pending_update = "new"``; a changed delay, trigger or parent marks
``"changed"`` so the "Update participants" banner appears.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from . import catalog, delays, limits
from .campaigns import _has_started, set_delay
from .errors import UserError
from .models import Activity, Campaign, table
from .notes import check_notes

A = table(Activity)
KEY_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")  # used with fullmatch: "key\n" is no key
KEY_MAX = 64

# Columns an edit may set directly; structure (parent, trigger) goes through set_parent.
EDITABLE = frozenset(
    {
        "name",
        "trigger",
        "delay_amount",
        "delay_unit",
        "validity_amount",
        "validity_unit",
        "filter",
        "content",
        "trusted",
    }
)
CAMPAIGN_EDITABLE = frozenset(
    {"name", "description", "filter", "unique_field", "engagement_window_days", "notes"}
)


# --- rules shared with the designer's in-memory checks ------------------------------------


def check_key(key: str) -> None:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key) or len(key) > KEY_MAX:
        raise UserError(
            f"{key!r} is not a valid activity key (lower-case letters, digits, '_' and '-', "
            f"at most {KEY_MAX} characters, starting with a letter or digit)"
        )


def check_trigger(trigger: str, parent_type: str | None) -> None:
    """Refuse a trigger its parent cannot fire (a bounce of an SMS, a begin with a parent)."""
    if trigger not in catalog.TRIGGER_PARENTS:
        raise UserError(f"unknown trigger {trigger!r}")
    allowed = catalog.triggers_for_parent(parent_type)
    if trigger not in allowed:
        words = catalog.TRIGGER_WORDS[trigger]
        if parent_type is None:
            raise UserError(f"an activity without a parent runs at the beginning, not {words!r}")
        kind = {"email": "an email", "sms": "an SMS"}.get(parent_type, "a server action")
        raise UserError(
            f"a child of {kind} cannot run on {words!r}; valid triggers: {', '.join(allowed)}"
        )


def creates_cycle(parents: Mapping[str, str | None], key: str, new_parent: str | None) -> bool:
    """True when ``new_parent`` is ``key`` itself or one of its descendants."""
    seen: set[str] = set()
    walk = new_parent
    while walk is not None and walk not in seen:
        if walk == key:
            return True
        seen.add(walk)
        walk = parents.get(walk)
    return False


def check_delay(amount: Any, unit: Any, what: str = "delay") -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise UserError(f"the {what} must be a whole number of at least 0, not {amount!r}")
    if unit not in delays.UNITS:
        raise UserError(f"unknown {what} unit {unit!r} (expected {', '.join(delays.UNITS)})")
    if amount > limits.max_delay(unit):
        raise UserError(f"the {what} must be {limits.delay_bound_words(unit)}, not {amount}")


def check_window(days: Any) -> None:
    """``engagement_window_days``: a whole number of days within the bounds of limits."""
    low, high = limits.MIN_WINDOW_DAYS, limits.MAX_WINDOW_DAYS
    if not isinstance(days, int) or isinstance(days, bool) or not low <= days <= high:
        raise UserError(
            f"the engagement window must be a whole number of days from {low} to {high} "
            f"({limits.YEARS} years), not {days!r}"
        )


# --- writes --------------------------------------------------------------------------------


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise UserError(f"no campaign with id {campaign_id}")
    return campaign


def _tree(session: Session, campaign_id: int) -> dict[str, tuple[int, str, str | None]]:
    """key -> (id, type, parent key) for the whole campaign, in one query."""
    rows = session.execute(
        select(A.c.id, A.c.key, A.c.type, A.c.parent_id).where(A.c.campaign_id == campaign_id)
    ).all()
    key_of = {aid: key for aid, key, _t, _p in rows}
    return {key: (aid, typ, key_of.get(pid)) for aid, key, typ, pid in rows}


def insert_activities(
    session: Session, campaign_id: int, rows: Sequence[Mapping[str, Any]], now: datetime
) -> None:
    """Insert activities given with their ``parent`` as a key (existing or among ``rows``).

    Rows without a ``sequence`` are appended after the campaign's last activity; an undo
    passes the original sequence so the campaign file comes back in the same order.
    """
    campaign = _campaign(session, campaign_id)
    tree = _tree(session, campaign_id)
    parents = {k: p for k, (_i, _t, p) in tree.items()}
    types = {k: t for k, (_i, t, _p) in tree.items()}
    for row in rows:
        check_key(row["key"])
        if row["key"] in types:
            raise UserError(f"the campaign already has an activity {row['key']!r}")
        types[row["key"]] = row["type"]
        parents[row["key"]] = row.get("parent")
    for row in rows:
        parent = row.get("parent")
        if parent is not None and parent not in types:
            raise UserError(f"activity {row['key']!r} names an unknown parent {parent!r}")
        check_trigger(row["trigger"], types[parent] if parent is not None else None)
        if creates_cycle(parents, row["key"], parent):
            raise UserError(f"activity {row['key']!r} would be its own ancestor")
        check_delay(row.get("delay_amount", 0), row.get("delay_unit", "hours"))
        if row.get("validity_amount") is not None:
            check_delay(row["validity_amount"], row.get("validity_unit"), "validity")
    if len(tree) + len(rows) > limits.MAX_ACTIVITIES:
        raise UserError(f"a campaign has at most {limits.MAX_ACTIVITIES} activities")
    last = session.scalar(
        select(func.coalesce(func.max(A.c.sequence), -1)).where(A.c.campaign_id == campaign_id)
    )
    next_seq = int(last if last is not None else -1) + 1
    pending = "new" if _has_started(campaign) else None
    made: dict[str, Activity] = {}
    for row in rows:
        values = {k: v for k, v in row.items() if k != "parent"}
        if values.get("sequence") is None:
            values["sequence"], next_seq = next_seq, next_seq + 1
        made[row["key"]] = Activity(
            campaign_id=campaign_id,
            created_at=now,
            updated_at=now,
            pending_update=pending,
            **values,
        )
    session.add_all(made.values())
    session.flush()
    ids = {k: i for k, (i, _t, _p) in tree.items()} | {k: a.id for k, a in made.items()}
    links = [
        {"aid": made[r["key"]].id, "pid": ids[r["parent"]]}
        for r in rows
        if r.get("parent") is not None
    ]
    if links:
        session.execute(
            update(A).where(A.c.id == bindparam("aid")).values(parent_id=bindparam("pid")),
            links,
            execution_options={"synchronize_session": False},
        )
    campaign.updated_at = now


def delete_activities(
    session: Session, campaign_id: int, keys: Iterable[str], now: datetime
) -> None:
    """Delete activities by key; their traces, and any descendant left out of ``keys``,
    go with them (foreign keys cascade). The designer lists descendants itself so that
    undo can restore them."""
    keys = list(keys)
    if not keys:
        return
    session.execute(
        delete(A).where(A.c.campaign_id == campaign_id, A.c.key.in_(keys)),
        execution_options={"synchronize_session": False},
    )
    _campaign(session, campaign_id).updated_at = now


def move_activities(
    session: Session,
    campaign_id: int,
    positions: Mapping[str, tuple[float, float] | None],
) -> None:
    """Store canvas positions (None: laid out automatically), one executemany."""
    if not positions:
        return
    session.execute(
        update(A)
        .where(A.c.campaign_id == campaign_id, A.c.key == bindparam("k"))
        .values(position_x=bindparam("x"), position_y=bindparam("y")),
        [
            {"k": key, "x": None if pos is None else pos[0], "y": None if pos is None else pos[1]}
            for key, pos in positions.items()
        ],
        execution_options={"synchronize_session": False},
    )


def _activity(session: Session, campaign_id: int, key: str) -> Activity:
    act = session.scalar(
        select(Activity).where(Activity.campaign_id == campaign_id, Activity.key == key)
    )
    if act is None:
        raise UserError(f"no activity {key!r} in this campaign")
    return act


def _mark_changed(session: Session, act: Activity) -> None:
    campaign = session.get(Campaign, act.campaign_id)
    if campaign is not None and _has_started(campaign) and act.pending_update is None:
        act.pending_update = "changed"


def update_activity(
    session: Session, campaign_id: int, key: str, values: Mapping[str, Any], now: datetime
) -> None:
    """Set columns of one activity; a delay goes through :func:`campaigns.set_delay` (E10)."""
    unknown = set(values) - EDITABLE
    if unknown:
        raise UserError(f"these activity fields cannot be edited: {', '.join(sorted(unknown))}")
    if "name" in values and not str(values["name"]).strip():
        raise UserError("an activity needs a name")
    act = _activity(session, campaign_id, key)
    if "trigger" in values and values["trigger"] != act.trigger:
        parent_type = None
        if act.parent_id is not None:
            parent_type = session.scalar(select(A.c.type).where(A.c.id == act.parent_id))
        check_trigger(values["trigger"], parent_type)
        act.trigger = values["trigger"]
        _mark_changed(session, act)
    if "delay_amount" in values or "delay_unit" in values:
        amount = values.get("delay_amount", act.delay_amount)
        unit = values.get("delay_unit", act.delay_unit)
        check_delay(amount, unit)
        set_delay(session, act, amount, unit, now)
    if "validity_amount" in values or "validity_unit" in values:
        amount, unit = values.get("validity_amount"), values.get("validity_unit")
        if amount is not None:
            check_delay(amount, unit, "validity")
        act.validity_amount, act.validity_unit = amount, unit if amount is not None else None
    for name in ("name", "filter", "content", "trusted"):
        if name in values:
            setattr(act, name, values[name])
    act.updated_at = now
    _campaign(session, campaign_id).updated_at = now


def set_parent(
    session: Session,
    campaign_id: int,
    key: str,
    parent_key: str | None,
    trigger: str,
    now: datetime,
) -> None:
    """Re-attach ``key`` under ``parent_key`` (None: a root) with ``trigger``; no cycles."""
    tree = _tree(session, campaign_id)
    if key not in tree:
        raise UserError(f"no activity {key!r} in this campaign")
    if parent_key is not None and parent_key not in tree:
        raise UserError(f"no activity {parent_key!r} in this campaign")
    check_trigger(trigger, tree[parent_key][1] if parent_key is not None else None)
    parents = {k: p for k, (_i, _t, p) in tree.items()}
    if creates_cycle(parents, key, parent_key):
        raise UserError(f"{parent_key!r} comes after {key!r}; the journey cannot loop back")
    act = _activity(session, campaign_id, key)
    new_parent_id = tree[parent_key][0] if parent_key is not None else None
    if (act.parent_id, act.trigger) == (new_parent_id, trigger):
        return
    act.parent_id, act.trigger, act.updated_at = new_parent_id, trigger, now
    _mark_changed(session, act)
    _campaign(session, campaign_id).updated_at = now


def update_campaign(
    session: Session, campaign_id: int, values: Mapping[str, Any], now: datetime
) -> None:
    """Set the campaign's own fields (name, description, filter, unique field, window,
    notes)."""
    unknown = set(values) - CAMPAIGN_EDITABLE
    if unknown:
        raise UserError(f"these campaign fields cannot be edited: {', '.join(sorted(unknown))}")
    if "name" in values and not str(values["name"]).strip():
        raise UserError("the campaign name cannot be empty")
    if "engagement_window_days" in values:
        check_window(values["engagement_window_days"])
    values = dict(values)
    if "notes" in values:  # stored as NULL when there are none, as before notes existed
        values["notes"] = check_notes(values["notes"]) or None
    campaign = _campaign(session, campaign_id)
    for name, value in values.items():
        setattr(campaign, name, value)
    campaign.updated_at = now
