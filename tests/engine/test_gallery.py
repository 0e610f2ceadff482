"""The six bundled templates (SPEC §9) and the gallery that lists them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine import campaign_files as cf
from engine import gallery
from engine.db import Database
from engine.errors import UserError
from engine.models import Activity
from engine.validation import validate_campaign, validate_document
from tests.conftest import T0

KEYS = [
    "tag_hot_contacts",
    "welcome_flow",
    "double_opt_in",
    "commercial_prospection",
    "schedule_calls",
    "prioritize_hot_leads",
]
CONTACTABLE = [["email", "!=", None], ["opt_out_email", "=", False]]
WITH_SALESPERSON = [["salesperson", "!=", None]]

# SPEC §9, one row per template: name, target, filter, and per activity
# (key, type, parent, trigger, delay, what it does).
SPEC: dict[str, tuple[str, str, list[Any], list[tuple[Any, ...]]]] = {
    "tag_hot_contacts": (
        "Tag Hot Contacts",
        "contact",
        CONTACTABLE,
        [
            ("welcome", "email", None, "begin", (2, "hours"), {"subject": "Welcome!"}),
            (
                "tag_hot",
                "server_action",
                "welcome",
                "mail_click",
                (2, "hours"),
                {"kind": "update_record", "values": {"tags": {"add": ["Hot"], "remove": []}}},
            ),
            (
                "check_email",
                "server_action",
                "welcome",
                "mail_bounce",
                (2, "hours"),
                {
                    "kind": "create_activity",
                    "activity_type": "todo",
                    "summary": "Check Email Address",
                    "due_in": {"amount": 2, "unit": "days"},
                    "assignee": "salesperson",
                },
            ),
        ],
    ),
    "welcome_flow": (
        "Welcome Flow",
        "contact",
        CONTACTABLE,
        [
            ("welcome", "email", None, "begin", (2, "hours"), {"subject": "Get 10% OFF"}),
            (
                "blacklist_bounces",
                "server_action",
                "welcome",
                "mail_bounce",
                (2, "hours"),
                {"kind": "update_record", "values": {"opt_out_email": True}},
            ),
        ],
    ),
    "double_opt_in": (
        "Double Opt-in",
        "contact",
        [*CONTACTABLE, ["lists", "in", ["Newsletter"]]],
        [
            (
                "confirm",
                "email",
                None,
                "begin",
                (0, "hours"),
                {"subject": "Confirm your subscription"},
            ),
            (
                "add_to_list",
                "server_action",
                "confirm",
                "mail_click",
                (0, "hours"),
                {
                    "kind": "update_record",
                    "values": {"lists": {"add": ["Confirmed contacts"], "remove": []}},
                },
            ),
        ],
    ),
    "commercial_prospection": (
        "Commercial prospection",
        "contact",
        [],
        [
            ("welcome", "email", None, "begin", (1, "hours"), {"subject": "Welcome!"}),
            ("partnership", "email", None, "begin", (7, "days"), {"subject": "Join partnership!"}),
            (
                "interested",
                "server_action",
                "partnership",
                "mail_reply",
                (1, "hours"),
                {
                    "kind": "create_activity",
                    "activity_type": "todo",
                    "summary": "{{ record.name }} is interested in becoming a partner",
                    "assignee": "salesperson",
                },
            ),
        ],
    ),
    "schedule_calls": (
        "Schedule Calls",
        "lead",
        WITH_SALESPERSON,
        [
            (
                "schedule_call",
                "server_action",
                None,
                "begin",
                (2, "hours"),
                {
                    "kind": "create_activity",
                    "activity_type": "call",
                    "summary": "Call {{ record.name }}",
                    "due_in": {"amount": 2, "unit": "days"},
                    "assignee": "salesperson",
                },
            ),
        ],
    ),
    "prioritize_hot_leads": (
        "Prioritize Hot leads",
        "lead",
        WITH_SALESPERSON,
        [
            ("welcome", "email", None, "begin", (1, "hours"), {"subject": "Welcome"}),
            (
                "prioritize",
                "server_action",
                "welcome",
                "mail_reply",
                (3, "hours"),
                {"kind": "update_record", "values": {"priority": 3}},
            ),
            (
                "deprioritize",
                "server_action",
                "welcome",
                "mail_not_open",
                (6, "hours"),
                {"kind": "update_record", "values": {"priority": 0}},
            ),
        ],
    ),
}


def test_gallery_lists_the_six_templates_in_spec_order() -> None:
    listed = gallery.list_templates()
    assert [t["key"] for t in listed] == KEYS
    for t in listed:
        name, target, _, _ = SPEC[t["key"]]
        assert (t["name"], t["target"]) == (name, target)
        assert len(t["description"]) > 30
        assert set(t) == {"key", "name", "target", "description"}


@pytest.mark.parametrize("key", KEYS)
def test_template_matches_the_spec_table(key: str) -> None:
    doc = gallery.load_template(key)
    name, target, domain, activities = SPEC[key]
    c = doc["campaign"]
    assert (c["name"], c["target"], c["filter"], c["unique_field"]) == (
        name,
        target,
        domain,
        "email",
    )
    assert len(doc["activities"]) == len(activities)
    for act, (akey, atype, parent, trigger, delay, content) in zip(
        doc["activities"], activities, strict=True
    ):
        assert (act["key"], act["type"], act["parent"], act["trigger"]) == (
            akey,
            atype,
            parent,
            trigger,
        )
        assert (act["delay"]["amount"], act["delay"]["unit"]) == delay
        body = act[cf.CONTENT_KEY[atype]]
        assert {k: body[k] for k in content} == content


@pytest.mark.parametrize("key", KEYS)
def test_template_is_a_clean_canonical_file(key: str) -> None:
    doc = gallery.load_template(key)
    assert validate_document(doc) == []  # not even a warning
    text = (gallery.templates_dir() / f"{key}.journey.json").read_text(encoding="utf-8")
    assert cf.dumps(doc) == text


@pytest.mark.parametrize("key", KEYS)
def test_template_round_trips_through_the_database(db: Database, key: str) -> None:
    text = (gallery.templates_dir() / f"{key}.journey.json").read_text(encoding="utf-8")
    with db.session() as s:
        cid = cf.import_document(s, gallery.load_template(key), trust=False, now=T0).id
    with db.session() as s:
        assert cf.dumps(cf.export_document(s, cid)) == text
        assert validate_campaign(s, cid) == []
        assert all(s.scalars(select(Activity.trusted).where(Activity.campaign_id == cid)))


@pytest.mark.parametrize("key", KEYS)
def test_template_emails_are_complete_messages(key: str) -> None:
    for act in gallery.load_template(key)["activities"]:
        if act["type"] != "email":
            continue
        email = act["email"]
        assert email["from"] and email["preheader"]
        html = email["body_html"]
        assert html.startswith("<!DOCTYPE html>") and "</body>" in html
        assert "{{ unsubscribe_url }}" in html
        assert "{{ record.name }}" in html or "{{ record.contact_name or record.name }}" in html
        assert 'href="https://' in html  # something to click, for mail_click children


@pytest.mark.parametrize("key", KEYS)
def test_template_layout_is_a_tidy_tree(key: str) -> None:
    acts = gallery.load_template(key)["activities"]
    spots = {a["key"]: (a["position"]["x"], a["position"]["y"]) for a in acts}
    assert len(set(spots.values())) == len(acts)
    for a in acts:
        if a["parent"] is None:
            assert spots[a["key"]][1] == 0
        else:
            assert spots[a["key"]][1] > spots[a["parent"]][1]


def test_unknown_template_lists_the_known_ones() -> None:
    with pytest.raises(UserError) as exc:
        gallery.load_template("black_friday")
    assert "unknown template 'black_friday'" in str(exc.value)
    assert all(key in str(exc.value) for key in KEYS)


def test_resources_sit_beside_the_engine() -> None:
    root = gallery.resources_dir()
    assert (root / "schema" / "campaign.schema.json").is_file()
    assert root.parent.joinpath("engine", "gallery.py").is_file()
