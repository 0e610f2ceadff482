"""Words for what the canvas and the inspector show: triggers, delays, filters.

Kept apart from the drawing code so the inspector, the problems panel and exported
diagrams describe a step in the same words ("2 days after not opened").
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from engine import catalog, delays
from engine.fields import MODELS

from .document import TYPE_LABELS, Delay

# Edge labels: the trigger in a word or two (begin edges leave the Start node unlabelled).
EDGE_WORDS = {**catalog.TRIGGER_WORDS, "activity": "then", "begin": ""}

# Trigger families, for colours: what the recipient did, did not do, or a failure.
POSITIVE = {"mail_open", "mail_click", "mail_reply", "sms_click"}
NEGATIVE = {"mail_not_open", "mail_not_click", "mail_not_reply", "sms_not_click"}
FAILURE = {"mail_bounce", "sms_bounce"}

TARGET_LABELS = {"contact": "Contacts", "lead": "Leads", "event_registration": "Attendees"}


def trigger_phrase(trigger: str, delay: Delay) -> str:
    """When a step runs, in words: "2 hours after start", "When clicked"."""
    words = catalog.TRIGGER_WORDS.get(trigger, trigger)
    wait = delays.describe(delay.amount, delay.unit)
    if trigger == "begin":
        return "At the start" if delay.amount == 0 else f"{wait} after start"
    if trigger == "activity":
        return "Right after the previous step" if delay.amount == 0 else f"{wait} after previous"
    if trigger in catalog.NOT_TRIGGERS:
        return f"If {words}" if delay.amount == 0 else f"{wait} after {words}"
    if delay.amount == 0:
        return f"When {words}"
    return f"{wait} after {words}"


def step_name(type_: str, trigger: str, taken: Iterable[str] = ()) -> str:
    """A new step's name from what it is and when it runs ("SMS after clicked", "Email
    if not opened"), numbered when a sibling already has it: read on a card, in the Test
    dock or in a trace list, it says more than "New sms" ever did."""
    kind = TYPE_LABELS.get(type_, type_)
    words = catalog.TRIGGER_WORDS.get(trigger, trigger)
    if trigger == "begin":
        base = f"{kind} at start"
    elif trigger == "activity":
        base = f"{kind} after previous step"
    elif trigger in catalog.NOT_TRIGGERS or trigger in FAILURE:
        base = f"{kind} if {words}"
    else:
        base = f"{kind} after {words}"
    used = set(taken)
    if base not in used:
        return base
    n = 2
    while f"{base} {n}" in used:
        n += 1
    return f"{base} {n}"


def edge_label(trigger: str) -> str:
    return EDGE_WORDS.get(trigger, trigger)


def _label(target: str, path: str) -> str:
    model = MODELS.get(target)
    head = path.split(".", 1)[0]
    field = model.field(head) if model else None
    label = field.label if field else head.replace("_", " ").capitalize()
    if "." in path:
        label += " " + path.split(".", 1)[1].replace("_", " ")
    return label


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, dict) and "now" in value:
        return f"now {value['now']}"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _leaf(target: str, leaf: list[Any]) -> str:
    path, op, value = leaf
    label = _label(target, str(path))
    if value is None or value is False:
        if op == "=":
            return f"{label}: no" if value is False else f"no {label.lower()}"
        if op == "!=":
            return f"{label}: yes" if value is False else f"{label} is set"
    if value is True and op in ("=", "!="):
        return f"{label}: {'yes' if op == '=' else 'no'}"
    words = {"in": "in", "not in": "not in", "ilike": "contains", "like": "contains"}
    return f"{label} {words.get(op, op)} {_value(value)}"


def domain_summary(domain: list[Any], target: str) -> str:
    """A short reading of a domain: "Email is set · Opt out email: no · Lists in VIP"."""
    if not domain:
        return "All records"
    items = list(domain)

    def term() -> str:
        if not items:
            return "…"
        head = items.pop(0)
        if head == "|":
            return f"({term()} or {term()})"
        if head == "&":
            return f"{term()} and {term()}"
        if head == "!":
            return f"not {term()}"
        if isinstance(head, list | tuple) and len(head) == 3:
            return _leaf(target, list(head))
        return str(head)

    parts = []
    while items:
        parts.append(term())
    return " · ".join(parts)


def target_label(target: str) -> str:
    return TARGET_LABELS.get(target, target.replace("_", " ").capitalize())


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def counter_lines(kind: str, processed: int, rejected: int, figures: Any = None) -> list[str]:
    """A card's counter rows: messages say what recipients did, as a share of those sent.

    ``figures`` is an :class:`engine.api.figures.ActivityFigures` (None: counts only).
    Email has three rows (sent and rejected, opened and clicked, replied and bounced),
    SMS two, every other step its processed and rejected counts. Rows are sized for
    common figures; longer ones are elided and the counters' tooltip has them all.
    """
    if kind not in ("email", "sms"):
        return [f"{processed:,} processed", f"{rejected:,} rejected"]
    f = figures
    sent = processed
    opened, clicked, replied, bounced = (
        (f.opened, f.clicked, f.replied, f.bounced) if f is not None else (0, 0, 0, 0)
    )
    if kind == "sms":
        return [
            f"{sent:,} sent · {rejected:,} rejected",
            f"{_pct(clicked, sent)} clicked · {_pct(bounced, sent)} bounced",
        ]
    return [
        f"{sent:,} sent · {rejected:,} rejected",
        f"{_pct(opened, sent)} opened · {_pct(clicked, sent)} clicked",
        f"{_pct(replied, sent)} replied · {_pct(bounced, sent)} bounced",
    ]


def figures_tooltip(kind: str, figures: Any) -> str:
    """Every figure of a step, with rates, for the card's counters tooltip."""
    f = figures
    rows = [
        ("Scheduled", f"{f.scheduled:,}" + (f" ({f.waiting:,} waiting)" if f.waiting else "")),
        ("Processed" if kind not in ("email", "sms") else "Sent", f"{f.processed:,}"),
        ("Rejected", f"{f.rejected:,}"),
        ("Canceled", f"{f.canceled:,}"),
        ("Error", f"{f.error:,}"),
    ]
    for name in f.message_figures[1:]:
        value = getattr(f, name)
        rows.append((name.title(), f"{value:,} ({_pct(value, f.sent)} of sent)"))
    return "\n".join(f"{label}: {value}" for label, value in rows)
