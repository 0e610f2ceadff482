"""The document API: every call is one committed write; rules of SPEC §3 are enforced."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from designer.document import CampaignDocument, Delay, Node
from engine import campaigns
from engine.clock import FixedClock
from engine.db import Database
from engine.errors import UserError
from engine.models import Activity, Campaign

from .conftest import snapshot


def rows(db: Database, campaign_id: int) -> dict[str, Activity]:
    """What another connection sees: the write must be committed already."""
    fresh = Database(str(db.engine.url.render_as_string(hide_password=False)))
    try:
        with fresh.read() as s:
            acts = s.scalars(select(Activity).where(Activity.campaign_id == campaign_id)).all()
            parent = {a.id: a.key for a in acts}
            for a in acts:
                a.parent_key = parent.get(a.parent_id)  # type: ignore[attr-defined]
            return {a.key: a for a in acts}
    finally:
        fresh.dispose()


def test_loads_the_tree_by_key(db: Database, hot: int, clock: FixedClock) -> None:
    doc = CampaignDocument(db, hot, clock)
    assert list(doc.nodes) == ["welcome", "tag_hot", "check_email"]
    assert doc.node("tag_hot").parent == "welcome"
    assert doc.node("tag_hot").trigger == "mail_click"
    assert doc.node("welcome").delay == Delay(2, "hours")
    assert doc.node("check_email").position == (160.0, 180.0)
    assert doc.children_of("welcome") == ["tag_hot", "check_email"]
    assert doc.campaign.target == "contact"


def test_every_edit_is_written_at_once(db: Database, hot: int, clock: FixedClock) -> None:
    doc = CampaignDocument(db, hot, clock)
    doc.add_node(Node("sms_1", "Reminder", "sms", "mail_not_open", "welcome", Delay(1, "days")))
    assert rows(db, hot)["sms_1"].parent_key == "welcome"  # type: ignore[attr-defined]
    doc.set_field("sms_1", "content", {"body": "Hi {{ record.name }}"})
    doc.set_field("sms_1", "name", "Nudge")
    doc.set_field("sms_1", "delay", {"amount": 3, "unit": "days"})
    doc.set_field("sms_1", "validity", Delay(1, "weeks"))
    doc.move_nodes({"sms_1": (40.0, 360.0)})
    r = rows(db, hot)["sms_1"]
    assert (r.name, r.content, r.delay_amount, r.delay_unit) == (
        "Nudge",
        {"body": "Hi {{ record.name }}"},
        3,
        "days",
    )
    assert (r.validity_amount, r.validity_unit, r.position_x, r.position_y) == (
        1,
        "weeks",
        40.0,
        360.0,
    )
    doc.set_parent("check_email", "tag_hot", "activity")
    assert rows(db, hot)["check_email"].parent_key == "tag_hot"  # type: ignore[attr-defined]


def test_connect_refuses_invalid_triggers_and_cycles(
    db: Database, hot: int, clock: FixedClock
) -> None:
    doc = CampaignDocument(db, hot, clock)
    before = snapshot(db, hot)
    # tag_hot is a server action: it cannot be opened.
    with pytest.raises(UserError, match="cannot run on 'opened'"):
        doc.set_parent("check_email", "tag_hot", "mail_open")
    # welcome is tag_hot's parent: welcome cannot go under it.
    with pytest.raises(UserError, match="loop back"):
        doc.set_parent("welcome", "tag_hot", "activity")
    with pytest.raises(UserError):
        doc.set_parent("welcome", "welcome", "activity")
    with pytest.raises(UserError):
        doc.set_field("tag_hot", "trigger", "sms_click")
    assert snapshot(db, hot) == before
    assert doc.node("welcome").parent is None
    assert doc.valid_triggers("tag_hot") == ["activity"]
    assert doc.valid_triggers(None) == ["begin"]


def test_remove_cascades_to_descendants(db: Database, hot: int, clock: FixedClock) -> None:
    doc = CampaignDocument(db, hot, clock)
    removed: list[str] = []
    doc.nodeRemoved.connect(removed.append)
    gone = doc.remove_node("welcome")
    assert [n.key for n in gone] == ["welcome", "tag_hot", "check_email"]
    assert sorted(removed) == ["check_email", "tag_hot", "welcome"]
    assert removed[-1] == "welcome"  # children go first, so no link dangles
    assert rows(db, hot) == {}
    assert len(doc) == 0


def test_edits_of_a_started_campaign_mark_it_modified(
    db: Database, hot: int, clock: FixedClock
) -> None:
    with db.session() as s:
        c = s.get(Campaign, hot)
        campaigns.start(s, c, clock.now())
    doc = CampaignDocument(db, hot, clock)
    assert not doc.is_modified()
    doc.set_field("tag_hot", "delay", Delay(5, "hours"))
    assert rows(db, hot)["tag_hot"].pending_update == "changed"
    doc.add_node(Node("later", "Later", "email", "begin", None, Delay(1, "days")))
    assert rows(db, hot)["later"].pending_update == "new"
    assert doc.is_modified()


def test_new_keys_are_unique_and_valid(db: Database, hot: int, clock: FixedClock) -> None:
    doc = CampaignDocument(db, hot, clock)
    assert doc.new_key("email") == "email"
    assert doc.new_key("Welcome") == "welcome_2"
    assert doc.new_key("!!!") == "activity"
    assert doc.new_key("welcome", taken=["welcome_2"]) == "welcome_3"


def test_a_refused_edit_changes_nothing(db: Database, hot: int, clock: FixedClock) -> None:
    doc = CampaignDocument(db, hot, clock)
    with pytest.raises(UserError):
        doc.set_field("welcome", "delay", Delay(-1, "days"))
    with pytest.raises(UserError):
        doc.set_field("welcome", "name", "  ")
    with pytest.raises(UserError):
        doc.add_node(Node("welcome", "Again", "email"))
    assert doc.node("welcome").delay == Delay(2, "hours")
    assert rows(db, hot)["welcome"].name == "Welcome!"
