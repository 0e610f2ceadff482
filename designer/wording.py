"""Words for what the canvas and the inspector show: triggers, delays, filters.

Kept apart from the drawing code so the inspector, the problems panel and exported
diagrams describe a step in the same words ("2 days after not opened").
"""

from __future__ import annotations

import json
from typing import Any

from engine import catalog, delays
from engine.fields import MODELS

from .document import Delay

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
