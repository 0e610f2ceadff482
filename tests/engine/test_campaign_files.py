"""Campaign files (SPEC §7): strict reading, complete deterministic writing, safe import."""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine import campaign_files as cf
from engine.db import Database
from engine.errors import Problem, UserError, ValidationError
from engine.models import Activity, Campaign, SavedAction
from engine.validation import validate_campaign, validate_document
from tests.conftest import T0


def base_doc() -> dict[str, Any]:
    """A small valid campaign: an email and a bounce action under it."""
    return {
        "format": "journeys/campaign",
        "version": 1,
        "campaign": {"name": "Welcome", "target": "contact"},
        "activities": [
            {
                "key": "welcome",
                "name": "Welcome email",
                "type": "email",
                "trigger": "begin",
                "delay": {"amount": 2, "unit": "hours"},
                "email": {
                    "subject": "Hi {{ record.name }}",
                    "from": "Shop <shop@example.com>",
                    "body_html": "<p>Hi {{ record.name }}</p>",
                },
            },
            {
                "key": "bounced",
                "name": "Opt out bounces",
                "type": "server_action",
                "parent": "welcome",
                "trigger": "mail_bounce",
                "delay": {"amount": 0, "unit": "hours"},
                "action": {"kind": "update_record", "values": {"opt_out_email": True}},
            },
        ],
    }


def complete_doc() -> dict[str, Any]:
    """Every activity type, every action kind, validity, filters, positions, extras."""
    email = {
        "subject": "Welcome, {{ record.name }}!",
        "from": "Shop <shop@example.com>",
        "reply_to": "sales@example.com",
        "preheader": "Your gift inside — 10 % off",
        "body_html": '<p>Bonjour {{ record.name }} 👋</p>\n<p><a href="{{ unsubscribe_url }}">'
        "Unsubscribe</a></p>",
    }

    def act(
        key: str,
        atype: str,
        parent: str | None,
        trigger: str,
        content: dict[str, Any],
        **extra: Any,
    ) -> dict[str, Any]:
        ckey = {"email": "email", "sms": "sms", "server_action": "action"}[atype]
        return {
            "key": key,
            "name": key.replace("_", " ").title(),
            "type": atype,
            "parent": parent,
            "trigger": trigger,
            "delay": extra.pop("delay", {"amount": 1, "unit": "days"}),
            "validity": extra.pop("validity", None),
            "filter": extra.pop("filter", []),
            ckey: content,
            "position": extra.pop("position", None),
        }

    return {
        "format": "journeys/campaign",
        "version": 1,
        "campaign": {
            "name": "Everything",
            "description": "A campaign using every feature of the file format.",
            "target": "contact",
            "filter": [["email", "!=", None], "|", ["tags", "in", ["VIP"]], ["country", "=", "BE"]],
            "unique_field": "email",
            "engagement_window_days": 14,
        },
        "activities": [
            act(
                "welcome",
                "email",
                None,
                "begin",
                email,
                validity={"amount": 3, "unit": "days"},
                position={"x": 0, "y": 0},
            ),
            act(
                "text",
                "sms",
                None,
                "begin",
                {"body": "Hi {{ record.name }}, see {{ view_online_url }}"},
                delay={"amount": 2, "unit": "weeks"},
                position={"x": 320.5, "y": -12.25},
            ),
            act(
                "tag",
                "server_action",
                "welcome",
                "mail_click",
                {
                    "kind": "update_record",
                    "values": {
                        "tags": {"add": ["Hot"], "remove": ["Cold"]},
                        "description": "clicked {{ activity.name }}",
                    },
                },
                filter=[["opt_out_email", "=", False]],
            ),
            act(
                "lead",
                "server_action",
                "welcome",
                "mail_reply",
                {
                    "kind": "create_record",
                    "model": "lead",
                    "values": {"name": "Interest from {{ record.name }}", "priority": 2},
                },
            ),
            act(
                "call",
                "server_action",
                "welcome",
                "mail_not_open",
                {
                    "kind": "create_activity",
                    "activity_type": "call",
                    "summary": "Call {{ record.name }}",
                    "note": "No open after a day",
                    "due_in": {"amount": 2, "unit": "days"},
                    "assignee": "boss@example.com",
                },
            ),
            act(
                "again",
                "server_action",
                "welcome",
                "mail_not_click",
                {"kind": "send_email", **email},
            ),
            act(
                "sms_again",
                "server_action",
                "text",
                "sms_not_click",
                {"kind": "send_sms", "body": "Last chance!"},
            ),
            act(
                "follow",
                "server_action",
                "text",
                "sms_click",
                {"kind": "add_followers", "users": ["salesperson", "boss@example.com"]},
            ),
            act(
                "unfollow",
                "server_action",
                "text",
                "sms_bounce",
                {"kind": "remove_followers", "users": ["salesperson"]},
            ),
            act(
                "code",
                "server_action",
                "welcome",
                "mail_bounce",
                {"kind": "execute_code", "code": "record['description'] = 'bounced'\n"},
            ),
            act(
                "hook",
                "server_action",
                "welcome",
                "mail_open",
                {
                    "kind": "webhook",
                    "url": "https://hooks.example.com/in",
                    "fields": ["email"],
                    "secret": "crm-webhook",
                    "timeout_s": 5,
                },
            ),
            act(
                "saved",
                "server_action",
                "hook",
                "activity",
                {"kind": "run_actions", "actions": ["notify", "tidy"]},
            ),
        ],
        "saved_actions": {
            "tidy": {"kind": "update_record", "values": {"lists": ["Customers"]}},
            "notify": {
                "kind": "webhook",
                "url": "http://localhost:9000/x",
                "fields": [],
                "secret": None,
                "timeout_s": 10,
            },
        },
        "x-editor": {"zoom": 1.5, "notes": ["ünïcödé"]},
        "x-author": "Ann",
    }


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def import_doc(
    db: Database, doc: dict[str, Any], *, trust: bool = False, name: str | None = None
) -> int:
    with db.session() as s:
        return cf.import_document(s, doc, trust=trust, now=T0, name=name).id


def export_text(db: Database, campaign_id: int) -> str:
    with db.session() as s:
        return cf.dumps(cf.export_document(s, campaign_id))


# --- writing and round trips ---------------------------------------------------------------


def test_complete_file_round_trips_byte_for_byte(db: Database) -> None:
    text = cf.dumps(complete_doc())
    assert cf.dumps(cf.load_text(text)) == text
    first = export_text(db, import_doc(db, cf.load_text(text)))
    assert first == text
    second = export_text(db, import_doc(db, cf.load_text(first)))
    # the name is taken by the first import now: the copy is told apart as file managers do
    assert second == first.replace('"Everything"', '"Everything (2)"', 1)


def test_dumps_is_deterministic_whatever_the_key_order() -> None:
    doc = complete_doc()
    shuffled = json.loads(json.dumps(doc))
    rng = random.Random(7)

    def shuffle(value: Any) -> Any:
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            return {k: shuffle(v) for k, v in items}
        if isinstance(value, list):
            return [shuffle(v) for v in value]
        return value

    shuffled = shuffle(shuffled)
    # Free-form objects (update_record values, x- data) keep the order they were written in.
    shuffled["activities"] = [
        a
        if a.get("key") not in ("tag", "lead")
        else next(b for b in doc["activities"] if b["key"] == a["key"])
        for a in shuffled["activities"]
    ]
    for key in ("x-editor", "x-author"):
        shuffled[key] = doc[key]
    assert cf.dumps(shuffled) == cf.dumps(doc)


def test_file_layout_follows_the_spec() -> None:
    text = cf.dumps(cf.load_text(json.dumps(base_doc())))
    assert text.endswith("}\n") and not text.endswith("\n\n")
    lines = text.splitlines()
    assert lines[:3] == ["{", '  "format": "journeys/campaign",', '  "version": 1,']
    assert '      "delay": {"amount": 2, "unit": "hours"},' in lines
    top = [m.group(1) for line in lines if (m := re.match(r'^  "([^"]+)":', line))]
    assert top == ["format", "version", "campaign", "activities", "saved_actions"]
    assert max(len(line) for line in lines if "body_html" not in line) <= 100


def test_non_ascii_is_written_as_is_and_x_keys_sort_last() -> None:
    text = cf.dumps(complete_doc())
    assert "ünïcödé" in text and "👋" in text
    keys = list(json.loads(text))
    assert keys == [
        "format",
        "version",
        "campaign",
        "activities",
        "saved_actions",
        "x-author",
        "x-editor",
    ]
    assert list(json.loads(text)["saved_actions"]) == ["notify", "tidy"]


def test_minimal_file_gets_every_default() -> None:
    doc = cf.load_text(json.dumps(base_doc()))
    assert doc["campaign"] == {
        "name": "Welcome",
        "description": "",
        "target": "contact",
        "filter": [],
        "unique_field": None,
        "engagement_window_days": 30,
    }
    welcome, bounced = doc["activities"]
    assert welcome["parent"] is None
    assert welcome["validity"] is None and welcome["filter"] == [] and welcome["position"] is None
    assert welcome["email"]["reply_to"] is None and welcome["email"]["preheader"] == ""
    assert bounced["action"] == {"kind": "update_record", "values": {"opt_out_email": True}}
    assert doc["saved_actions"] == {}


def test_action_defaults() -> None:
    assert cf.normalize_action({"kind": "webhook", "url": "https://x.example"}) == {
        "kind": "webhook",
        "url": "https://x.example",
        "fields": [],
        "secret": None,
        "timeout_s": 10,
    }
    assert cf.normalize_action({"kind": "create_activity", "summary": "Call"}) == {
        "kind": "create_activity",
        "activity_type": "todo",
        "summary": "Call",
        "note": "",
        "due_in": {"amount": 0, "unit": "days"},
        "assignee": "salesperson",
    }
    assert cf.normalize_action({"kind": "send_email"})["reply_to"] is None


def test_normalize_is_idempotent_and_does_not_touch_its_input() -> None:
    doc = base_doc()
    before = copy.deepcopy(doc)
    once = cf.normalize(doc)
    assert doc == before
    assert cf.normalize(once) == once


# --- import ---------------------------------------------------------------------------------


def test_import_creates_a_new_draft_each_time(db: Database) -> None:
    doc = cf.load_text(json.dumps(complete_doc()))
    first = import_doc(db, doc)
    second = import_doc(db, doc, name="Copy of Everything")
    assert first != second
    with db.session() as s:
        c1, c2 = s.get(Campaign, first), s.get(Campaign, second)
        assert c1 is not None and c2 is not None
        assert (c1.state, c1.name, c2.name) == ("draft", "Everything", "Copy of Everything")
        assert c1.file_extras == {
            "x-editor": {"zoom": 1.5, "notes": ["ünïcödé"]},
            "x-author": "Ann",
        }
        acts = s.scalars(
            select(Activity).where(Activity.campaign_id == first).order_by(Activity.sequence)
        ).all()
        by_key = {a.key: a for a in acts}
        assert [a.key for a in acts] == [a["key"] for a in doc["activities"]]
        assert by_key["tag"].parent_id == by_key["welcome"].id
        assert by_key["saved"].parent_id == by_key["hook"].id
        assert (by_key["welcome"].validity_amount, by_key["welcome"].validity_unit) == (3, "days")
        assert (by_key["text"].position_x, by_key["text"].position_y) == (320.5, -12.25)
        assert by_key["call"].content["activity_type"] == "call"


def test_code_and_webhooks_are_imported_disabled_unless_trusted(db: Database) -> None:
    doc = cf.load_text(json.dumps(complete_doc()))
    untrusted, trusted = import_doc(db, doc), import_doc(db, doc, trust=True)
    with db.session() as s:
        flags = {
            k: ok
            for k, ok in s.execute(
                select(Activity.key, Activity.trusted).where(Activity.campaign_id == untrusted)
            )
        }
        assert flags.pop("code") is False and flags.pop("hook") is False
        assert all(flags.values())
        saved = {
            n: ok
            for n, ok in s.execute(
                select(SavedAction.name, SavedAction.trusted).where(
                    SavedAction.campaign_id == untrusted
                )
            )
        }
        assert saved == {"notify": False, "tidy": True}
        assert all(s.scalars(select(Activity.trusted).where(Activity.campaign_id == trusted)))
        assert all(s.scalars(select(SavedAction.trusted).where(SavedAction.campaign_id == trusted)))

        warnings = validate_campaign(s, untrusted)
        assert {(p.path, p.severity) for p in warnings} == {
            ("$.activities[9].action", "warning"),
            ("$.activities[10].action", "warning"),
            ("$.saved_actions.notify", "warning"),
        }
        assert all(p.message.startswith("awaiting trust") for p in warnings)
        assert validate_campaign(s, trusted) == []


def test_trust_is_never_written_to_files(db: Database) -> None:
    cid = import_doc(db, cf.load_text(json.dumps(complete_doc())))
    assert "trust" not in export_text(db, cid)


def test_empty_name_override_is_refused(db: Database) -> None:
    with pytest.raises(UserError, match="name cannot be empty"):
        import_doc(db, base_doc(), name="  ")
    assert count(db, Campaign) == 0


def test_a_taken_name_is_numbered_as_file_managers_do(db: Database) -> None:
    def imported(name: str | None = None) -> str:
        with db.session() as s:
            return cf.import_document(s, base_doc(), trust=False, now=T0, name=name).name

    wanted = base_doc()["campaign"]["name"]
    assert [imported() for _ in range(3)] == [wanted, f"{wanted} (2)", f"{wanted} (3)"]
    assert imported(f" {wanted} (2) ") == f"{wanted} (4)"  # not "… (2) (2)"
    assert imported("Sale_50%") == "Sale_50%"  # LIKE's wildcards are plain characters
    assert imported("Sale_50%") == "Sale_50% (2)"
    assert imported("SaleX50%") == "SaleX50%"
    long = "L" * 255  # the longest name a file may hold: the number still fits
    assert imported(long) == long
    assert imported(long) == "L" * 251 + " (2)"
    with db.session() as s:
        assert cf.free_name(s, "Nobody has this") == "Nobody has this"
        assert cf.renamed_note(wanted, f"{wanted} (2)") == (
            f"A campaign named {wanted!r} already exists; this one is named '{wanted} (2)'."
        )
        assert cf.renamed_note(f" {wanted}", wanted) is None


def test_export_of_unknown_campaign(db: Database) -> None:
    with db.session() as s, pytest.raises(UserError, match="no campaign with id 42"):
        cf.export_document(s, 42)


def test_start_check_refuses_a_campaign_without_activity(db: Database) -> None:
    with db.session() as s:
        c = Campaign(name="Empty", target="contact", created_at=T0, updated_at=T0)
        s.add(c)
        s.flush()
        problems = validate_campaign(s, c.id)
    assert problems == [Problem("$.activities", "the campaign has no activity")]


def test_long_sms_is_a_warning_that_does_not_block(db: Database) -> None:
    doc = base_doc()
    doc["activities"].append(
        {
            "key": "text",
            "name": "Text",
            "type": "sms",
            "trigger": "begin",
            "delay": {"amount": 0, "unit": "hours"},
            "sms": {"body": "x" * 1600},
        }
    )
    problems = validate_document(cf.normalize(doc))
    assert [(p.path, p.severity) for p in problems] == [("$.activities[2].sms.body", "warning")]
    assert "11 segments" in problems[0].message
    import_doc(db, doc)
    assert count(db, Campaign) == 1


def test_steps_that_can_never_run_are_warned_about() -> None:
    doc = base_doc()
    doc["activities"] += [
        {
            "key": "clicked",
            "name": "Clicked",
            "type": "sms",
            "parent": "welcome",
            "trigger": "mail_click",
            "delay": {"amount": 0, "unit": "hours"},
            "sms": {"body": "Thanks"},
        },
        {
            "key": "sms_clicked",
            "name": "SMS clicked",
            "type": "sms",
            "parent": "clicked",
            "trigger": "sms_click",
            "delay": {"amount": 0, "unit": "hours"},
            "sms": {"body": "Again"},
        },
    ]
    _cycle(doc)  # 'a' <-> 'b', and 'c' hangs under the loop
    doc["activities"].append({**doc["activities"][-1], "key": "c", "parent": "b"})
    found = {(p.path, p.severity, p.message) for p in validate_document(cf.normalize(doc))}
    assert found == {
        (
            "$.activities[2].trigger",
            "warning",
            "unreachable: nothing to click, its parent email has no link",
        ),
        (
            "$.activities[3].trigger",
            "warning",
            "unreachable: nothing to click, its parent SMS has no link",
        ),
        (
            "$.activities[4].parent",
            "error",
            "the parent links form a cycle: 'a' has parent 'b', 'b' has parent 'a'",
        ),
        *(
            (
                f"$.activities[{i}].parent",
                "warning",
                "unreachable: no chain of parents leads from a 'begin' step to this one",
            )
            for i in (5, 6)
        ),
    }
    # A link (literal or from a placeholder) makes the click reachable.
    doc["activities"][0]["email"]["body_html"] = '<a href="{{ record.website }}">Go</a>'
    doc["activities"][2]["sms"]["body"] = "See https://shop.example/x"
    paths = {p.path for p in validate_document(cf.normalize(doc))}
    assert "$.activities[2].trigger" not in paths
    assert "$.activities[3].trigger" not in paths


# --- bad files ------------------------------------------------------------------------------


def mutate(change: Any) -> dict[str, Any]:
    doc = base_doc()
    change(doc)
    return doc


def _cycle(d: dict[str, Any]) -> None:
    for key, parent in (("a", "b"), ("b", "a")):
        d["activities"].append(
            {
                "key": key,
                "name": key,
                "type": "sms",
                "parent": parent,
                "trigger": "activity",
                "delay": {"amount": 1, "unit": "days"},
                "sms": {"body": "hi"},
            }
        )


BAD_DOCS: dict[str, tuple[Any, str, str]] = {
    "wrong format": (
        lambda d: d.update(format="mautic/campaign"),
        "$.format",
        'not a Journeys campaign file (its format is "mautic/campaign"',
    ),
    "no format": (lambda d: d.pop("format"), "$.format", "it has no format"),
    "newer version": (
        lambda d: d.update(version=2),
        "$.version",
        "this file was written by a newer Journeys (format version 2; this one reads 1)",
    ),
    "version as text": (
        lambda d: d.update(version="1"),
        "$.version",
        "expected a whole number, found a string",
    ),
    "missing campaign name": (
        lambda d: d["campaign"].pop("name"),
        "$.campaign.name",
        "required field is missing",
    ),
    "missing delay": (
        lambda d: d["activities"][0].pop("delay"),
        "$.activities[0].delay",
        "required field is missing",
    ),
    "missing activities": (
        lambda d: d.pop("activities"),
        "$.activities",
        "required field is missing",
    ),
    "missing parent": (
        lambda d: d["activities"][1].pop("parent"),
        "$.activities[1].parent",
        "required field is missing",
    ),
    "missing content": (
        lambda d: d["activities"][1].pop("action"),
        "$.activities[1].action",
        "required field is missing",
    ),
    "content of another type": (
        lambda d: d["activities"][0].update(sms={"body": "x"}),
        "$.activities[0].sms",
        "an activity of type 'email' takes 'email' content, not 'sms'",
    ),
    "unknown key": (
        lambda d: d["campaign"].update(colour="red"),
        "$.campaign.colour",
        "unknown key 'colour'",
    ),
    "unknown top-level key": (
        lambda d: d.update(comments="x"),
        "$.comments",
        "unknown key 'comments' (extension keys must start with 'x-')",
    ),
    "unknown action key": (
        lambda d: d["activities"][1]["action"].update(model="lead"),
        "$.activities[1].action.model",
        "unknown key 'model'",
    ),
    "bad delay unit": (
        lambda d: d["activities"][0]["delay"].update(unit="years"),
        "$.activities[0].delay.unit",
        '"years" is not allowed; expected one of "hours", "days", "weeks", "months"',
    ),
    "negative delay": (
        lambda d: d["activities"][0]["delay"].update(amount=-1),
        "$.activities[0].delay.amount",
        "must be at least 0, found -1",
    ),
    "bad key": (
        lambda d: d["activities"][0].update(key="Welcome Mail"),
        "$.activities[0].key",
        '"Welcome Mail" must start with a lower-case letter',
    ),
    "unknown trigger": (
        lambda d: d["activities"][1].update(trigger="mail_forward"),
        "$.activities[1].trigger",
        '"mail_forward" is not allowed',
    ),
    "unknown action kind": (
        lambda d: d["activities"][1]["action"].update(kind="delete"),
        "$.activities[1].action.kind",
        '"delete" is not allowed',
    ),
    "secret value instead of a name": (
        lambda d: d["activities"][1].update(
            action={"kind": "webhook", "url": "https://x.example", "secret": "s3cr3t pass word"}
        ),
        "$.activities[1].action.secret",
        "is not a keyring entry name",
    ),
    "no activity": (
        lambda d: d.update(activities=[]),
        "$.activities",
        "the campaign has no activity",
    ),
    "duplicate key": (
        lambda d: d["activities"][1].update(key="welcome"),
        "$.activities[1].key",
        "duplicate key 'welcome' (also used by $.activities[0])",
    ),
    "unknown parent": (
        lambda d: d["activities"][1].update(parent="nope"),
        "$.activities[1].parent",
        "unknown parent 'nope': no activity has this key",
    ),
    "begin with parent": (
        lambda d: d["activities"][1].update(trigger="begin"),
        "$.activities[1].parent",
        "a 'begin' activity has no parent",
    ),
    "null parent": (
        lambda d: d["activities"][1].update(parent=None),
        "$.activities[1].parent",
        "the trigger 'mail_bounce' needs a parent activity",
    ),
    "trigger incompatible with parent": (
        lambda d: d["activities"].append(
            {
                "key": "opened",
                "name": "Opened",
                "type": "sms",
                "parent": "bounced",
                "trigger": "mail_open",
                "delay": {"amount": 1, "unit": "hours"},
                "sms": {"body": "hi"},
            }
        ),
        "$.activities[2].trigger",
        "the trigger 'mail_open' needs a parent of type email, but 'bounced' is of type "
        "'server_action'",
    ),
    "cycle": (
        _cycle,
        "$.activities[2].parent",
        "the parent links form a cycle: 'a' has parent 'b', 'b' has parent 'a'",
    ),
    "unknown target": (
        lambda d: d["campaign"].update(target="invoice"),
        "$.campaign.target",
        "unknown target model 'invoice'",
    ),
    "unknown unique field": (
        lambda d: d["campaign"].update(unique_field="mail"),
        "$.campaign.unique_field",
        "contact has no field 'mail'",
    ),
    "bad campaign filter": (
        lambda d: d["campaign"].update(filter=[["colour", "=", "red"]]),
        "$.campaign.filter[0][0]",
        "colour",
    ),
    "bad activity filter": (
        lambda d: d["activities"][0].update(filter=[["email", "~", 1]]),
        "$.activities[0].filter[0][1]",
        "unknown operator '~'",
    ),
    "template syntax error": (
        lambda d: d["activities"][0]["email"].update(body_html="<p>\nHi\n{{ record.name }\n</p>"),
        "$.activities[0].email.body_html",
        "line 3: unexpected '}'",
    ),
    "subject syntax error": (
        lambda d: d["activities"][0]["email"].update(subject="Hi {% if %}"),
        "$.activities[0].email.subject",
        "line 1:",
    ),
    "email without subject": (
        lambda d: d["activities"][0]["email"].pop("subject"),
        "$.activities[0].email.subject",
        "the email has no subject",
    ),
    "email without body": (
        lambda d: d["activities"][0]["email"].update(body_html="  "),
        "$.activities[0].email.body_html",
        "the email has no body",
    ),
    "bad sender": (
        lambda d: d["activities"][0]["email"].update({"from": "Shop"}),
        "$.activities[0].email.from",
        "is not a sender like",
    ),
    "unknown field in update_record": (
        lambda d: d["activities"][1]["action"]["values"].update(colour="red"),
        "$.activities[1].action.values.colour",
        "contact has no field 'colour'",
    ),
    "read-only field in update_record": (
        lambda d: d["activities"][1]["action"]["values"].update(created_at="2020-01-01"),
        "$.activities[1].action.values.created_at",
        "cannot be written",
    ),
    "bad value in update_record": (
        lambda d: d["activities"][1]["action"]["values"].update(opt_out_email="maybe"),
        "$.activities[1].action.values.opt_out_email",
        "not a yes/no value",
    ),
    "bad tags change": (
        lambda d: d["activities"][1]["action"]["values"].update(tags={"put": ["x"]}),
        "$.activities[1].action.values.tags",
        'expected {"add": [...], "remove": [...]}',
    ),
    "run_actions naming a missing saved action": (
        lambda d: d["activities"][1].update(action={"kind": "run_actions", "actions": ["nope"]}),
        "$.activities[1].action.actions[0]",
        "no saved action is named 'nope' (saved actions: none)",
    ),
    "saved actions in a loop": (
        lambda d: d.update(
            saved_actions={
                "a": {"kind": "run_actions", "actions": ["b"]},
                "b": {"kind": "run_actions", "actions": ["a"]},
            }
        ),
        "$.saved_actions.a.actions",
        "saved actions run each other in a loop: a → b → a",
    ),
    "create_record of unknown model": (
        lambda d: d["activities"][1].update(action={"kind": "create_record", "model": "deal"}),
        "$.activities[1].action.model",
        "unknown model 'deal'",
    ),
    "create_record template error": (
        lambda d: d["activities"][1].update(
            action={"kind": "create_record", "model": "lead", "values": {"name": "{{ record.name "}}
        ),
        "$.activities[1].action.values.name",
        "line 1:",
    ),
    "create_activity bad assignee": (
        lambda d: d["activities"][1].update(
            action={"kind": "create_activity", "summary": "Call", "assignee": "the boss"}
        ),
        "$.activities[1].action.assignee",
        "neither 'salesperson' nor an email address",
    ),
    "create_activity template error": (
        lambda d: d["activities"][1].update(
            action={"kind": "create_activity", "summary": "Call {{ record.name"}
        ),
        "$.activities[1].action.summary",
        "line 1:",
    ),
    "execute_code syntax error": (
        lambda d: d["activities"][1].update(
            action={"kind": "execute_code", "code": "x = 1\nif x\n"}
        ),
        "$.activities[1].action.code",
        "line 2:",
    ),
    "send_sms without body": (
        lambda d: d["activities"][1].update(action={"kind": "send_sms"}),
        "$.activities[1].action.body",
        "the SMS has no body",
    ),
    "webhook unknown field": (
        lambda d: d["activities"][1].update(
            action={"kind": "webhook", "url": "https://x.example", "fields": ["emial"]}
        ),
        "$.activities[1].action.fields[0]",
        "contact has no field 'emial'",
    ),
}


@pytest.mark.parametrize("case", list(BAD_DOCS))
def test_bad_document_is_refused_with_its_path(db: Database, case: str) -> None:
    change, path, message = BAD_DOCS[case]
    doc = mutate(change)
    with pytest.raises(ValidationError) as from_text:
        cf.load_text(json.dumps(doc))
    with pytest.raises(ValidationError) as from_import:
        import_doc(db, doc)
    for exc in (from_text.value, from_import.value):
        assert isinstance(exc, UserError)  # exit code 2 on the command line
        hits = [p for p in exc.problems if p.path == path and message in p.message]
        assert hits, f"{path}: {message!r} not in {exc.problems}"
        assert all(p.severity == "error" for p in exc.problems)
    assert count(db, Campaign) == 0
    assert count(db, Activity) == 0


def test_every_problem_is_reported_at_once() -> None:
    doc = base_doc()
    doc["campaign"]["colour"] = "red"
    doc["activities"][0]["delay"]["unit"] = "years"
    doc["activities"][1].pop("name")
    with pytest.raises(ValidationError) as exc:
        cf.load_text(json.dumps(doc))
    assert [p.path for p in exc.value.problems] == [
        "$.activities[0].delay.unit",
        "$.activities[1].name",
        "$.campaign.colour",
    ]
    assert "3 problem(s)" in str(exc.value)


def test_semantic_problems_are_all_reported_together() -> None:
    doc = base_doc()
    doc["activities"][1]["parent"] = "nope"
    doc["activities"][0]["email"]["subject"] = "{{ x }"
    doc["campaign"]["filter"] = [["colour", "=", 1]]
    with pytest.raises(ValidationError) as exc:
        cf.load_text(json.dumps(doc))
    assert {p.path for p in exc.value.problems} == {
        "$.campaign.filter[0][0]",
        "$.activities[0].email.subject",
        "$.activities[1].parent",
    }


def test_invalid_json_names_line_and_column(db: Database) -> None:
    text = '{\n  "format": "journeys/campaign",\n  "version": 1,,\n}'
    with pytest.raises(ValidationError) as exc:
        cf.load_text(text)
    [problem] = exc.value.problems
    assert problem.path == "$"
    assert problem.message.startswith("invalid JSON at line 3, column 16:")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[]", "a campaign file holds a JSON object, not a list"),
        ('{"format": "journeys/campaign", "version": NaN}', "NaN is not allowed"),
    ],
)
def test_not_a_campaign_object(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as exc:
        cf.load_text(text)
    assert message in str(exc.value)


def test_duplicate_json_keys_are_errors(db: Database) -> None:
    text = json.dumps(base_doc()).replace('"name": "Welcome",', '"name": "A", "name": "B",', 1)
    with pytest.raises(ValidationError) as exc:
        cf.load_text(text)
    assert exc.value.problems == [
        Problem("$.campaign.name", "the key 'name' appears more than once")
    ]
    assert count(db, Campaign) == 0


def test_x_keys_are_preserved(db: Database) -> None:
    doc = base_doc()
    doc["x-origin"] = {"tool": "hand", "at": [1, 2]}
    cid = import_doc(db, cf.load_text(json.dumps(doc)))
    exported = json.loads(export_text(db, cid))
    assert exported["x-origin"] == {"tool": "hand", "at": [1, 2]}
    assert list(exported["x-origin"]) == ["tool", "at"]


# --- files ----------------------------------------------------------------------------------


def test_load_file(tmp_path: Path) -> None:
    path = tmp_path / "welcome.journey.json"
    path.write_text(cf.dumps(base_doc()), encoding="utf-8")
    assert cf.load_file(path)["campaign"]["name"] == "Welcome"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a BOM from a Windows editor
    assert cf.load_file(str(path))["campaign"]["name"] == "Welcome"


def test_load_file_problems_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.journey.json"
    path.write_text(json.dumps(mutate(lambda d: d["campaign"].pop("target"))), encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        cf.load_file(path)
    assert str(exc.value).startswith(f"{path}: invalid campaign file (1 problem(s)):")
    assert exc.value.problems == [Problem("$.campaign.target", "required field is missing")]


def test_unreadable_files_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        cf.load_file(tmp_path / "missing.journey.json")
    with pytest.raises(UserError, match="is a folder"):
        cf.load_file(tmp_path)
    latin1 = tmp_path / "latin1.journey.json"
    latin1.write_bytes('{"campaign": "Café"}'.encode("latin-1"))
    with pytest.raises(UserError, match="is not UTF-8 text"):
        cf.load_file(latin1)


def test_schema_is_valid_draft_2020_12() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(cf.schema())
    assert cf.schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_notes_travel_in_the_file_and_bad_ones_are_refused(db: Database) -> None:
    doc = base_doc()
    doc["notes"] = [
        {"id": "n1", "text": "Why this branch: legal asked", "position": {"x": 400, "y": -90.5}},
        {"id": "n2", "text": "", "position": {"x": 0, "y": 0}},
    ]
    text = cf.dumps(cf.load_text(json.dumps(doc)))
    cid = import_doc(db, cf.load_text(text))
    assert export_text(db, cid) == text  # byte for byte, notes last
    assert text.index('"notes": [') > text.index('"saved_actions"')
    plain = import_doc(db, base_doc())
    assert '"notes"' not in export_text(db, plain)  # a file without notes stays without

    for bad, words in [
        ({"id": "N 1", "text": "x", "position": {"x": 0, "y": 0}}, "notes"),
        ({"id": "n1", "text": "x" * 2001, "position": {"x": 0, "y": 0}}, "notes"),
        ({"id": "n1", "text": "x", "position": {"x": 2e6, "y": 0}}, "notes"),
        ({"id": "n1", "text": "x"}, "notes"),
    ]:
        doc = base_doc()
        doc["notes"] = [bad]
        with pytest.raises(ValidationError) as info:
            cf.load_text(json.dumps(doc))
        assert any(words in p.path for p in info.value.problems), info.value.problems
    doc = base_doc()
    doc["notes"] = [{"id": "n1", "text": "a", "position": {"x": 0, "y": 0}}] * 2
    with pytest.raises(UserError, match="two notes have the id 'n1'"):
        import_doc(db, cf.load_text(json.dumps(doc)))


def test_notes_are_checked_when_edited() -> None:
    from engine.notes import check_notes, new_id

    good = {"id": "n1", "text": "hi", "position": {"x": 1.0, "y": 2.5}}
    assert check_notes([good]) == [{"id": "n1", "text": "hi", "position": {"x": 1, "y": 2.5}}]
    assert check_notes(None) == []
    for bad, words in [
        ("text", "notes must be a list"),
        ([good] * 201, "at most 200 notes"),
        ([{**good, "colour": "red"}], "an id, a text and a position"),
        ([{**good, "position": {"x": float("nan"), "y": 0}}], "two numbers"),
        ([{**good, "position": {"x": True, "y": 0}}], "two numbers"),
        ([{**good, "text": 5}], "at most 2000 characters"),
    ]:
        with pytest.raises(UserError, match=words):
            check_notes(bad)
    assert new_id([good, {**good, "id": "n3"}]) == "n2"
