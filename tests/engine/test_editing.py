"""engine.editing: the designer's writes, checked against SPEC §3 on the database side too."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine import campaign_files, campaigns, editing, gallery
from engine.clock import FixedClock
from engine.db import Database
from engine.errors import UserError
from engine.models import Activity, Campaign, Participant, Trace


@pytest.fixture
def cid(db: Database, clock: FixedClock) -> int:
    with db.session() as s:
        doc = gallery.load_template("tag_hot_contacts")
        return campaign_files.import_document(s, doc, trust=True, now=clock.now()).id


def tree(db: Database, cid: int) -> dict[str, dict[str, Any]]:
    with db.read() as s:
        acts = s.scalars(select(Activity).where(Activity.campaign_id == cid)).all()
        key_of = {a.id: a.key for a in acts}
        return {
            a.key: {
                "parent": key_of.get(a.parent_id),
                "trigger": a.trigger,
                "pending": a.pending_update,
                "seq": a.sequence,
                "pos": (a.position_x, a.position_y),
            }
            for a in acts
        }


def row(key: str, parent: str | None, trigger: str, type_: str = "sms", **kw: Any) -> dict:
    return {
        "key": key,
        "name": key,
        "type": type_,
        "parent": parent,
        "trigger": trigger,
        "delay_amount": 1,
        "delay_unit": "days",
        "filter": [],
        "content": {"body": "Hi"},
        **kw,
    }


def test_insert_resolves_parents_within_the_batch(db: Database, cid: int, clock) -> None:  # type: ignore[no-untyped-def]
    with db.session() as s:
        editing.insert_activities(
            s,
            cid,
            [row("a", "welcome", "mail_open"), row("b", "a", "sms_click", sequence=10)],
            clock.now(),
        )
    t = tree(db, cid)
    assert (t["a"]["parent"], t["b"]["parent"]) == ("welcome", "a")
    assert (t["a"]["seq"], t["b"]["seq"]) == (3, 10)  # appended, or as given
    assert t["a"]["pending"] is None  # a draft is not "modified"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([row("c", "tag_hot", "mail_open")], "cannot run on 'opened'"),
        ([row("c", None, "activity")], "without a parent"),
        ([row("c", "nowhere", "activity")], "unknown parent"),
        ([row("welcome", None, "begin")], "already has"),
        ([row("Bad Key", None, "begin")], "not a valid activity key"),
        ([row("c", None, "begin", delay_amount=-1)], "at least 0"),
    ],
)
def test_insert_refuses_invalid_trees(db: Database, cid: int, clock, rows, message) -> None:  # type: ignore[no-untyped-def]
    before = tree(db, cid)
    with pytest.raises(UserError, match=message), db.session() as s:
        editing.insert_activities(s, cid, rows, clock.now())
    assert tree(db, cid) == before


def test_set_parent_refuses_loops_and_marks_started_campaigns(
    db: Database, cid: int, clock: FixedClock
) -> None:
    with pytest.raises(UserError, match="loop back"), db.session() as s:
        editing.set_parent(s, cid, "welcome", "tag_hot", "activity", clock.now())
    with db.session() as s:
        campaigns.start(s, s.get(Campaign, cid), clock.now())
    with db.session() as s:
        editing.set_parent(s, cid, "check_email", "tag_hot", "activity", clock.now())
        editing.update_activity(s, cid, "tag_hot", {"name": "Renamed"}, clock.now())
    t = tree(db, cid)
    assert (t["check_email"]["parent"], t["check_email"]["pending"]) == ("tag_hot", "changed")
    assert t["tag_hot"]["pending"] is None  # a new name changes no schedule


def test_delete_and_move_are_set_based(db: Database, cid: int, clock: FixedClock) -> None:
    with db.session() as s:
        editing.move_activities(s, cid, {"welcome": (20.0, 40.0), "tag_hot": None})
    t = tree(db, cid)
    assert t["welcome"]["pos"] == (20.0, 40.0) and t["tag_hot"]["pos"] == (None, None)
    with db.session() as s:  # a trace goes with its activity
        welcome = s.scalar(select(Activity.id).where(Activity.key == "welcome"))
        p = Participant(campaign_id=cid, record_id=1, joined_at=clock.now())
        s.add(p)
        s.flush()
        s.add(
            Trace(
                campaign_id=cid,
                activity_id=welcome,
                participant_id=p.id,
                record_id=1,
                created_at=clock.now(),
            )
        )
    with db.session() as s:
        editing.delete_activities(s, cid, ["welcome"], clock.now())  # the children cascade
    with db.read() as s:
        assert s.scalars(select(Trace.id)).all() == []
    assert tree(db, cid) == {}


def test_update_campaign_fields(db: Database, cid: int, clock: FixedClock) -> None:
    with db.session() as s:
        editing.update_campaign(s, cid, {"name": "Hot", "filter": []}, clock.now())
    with db.read() as s:
        c = s.get(Campaign, cid)
        assert (c.name, c.filter) == ("Hot", [])
    with pytest.raises(UserError), db.session() as s:
        editing.update_campaign(s, cid, {"target": "lead"}, clock.now())
    with pytest.raises(UserError), db.session() as s:
        editing.update_campaign(s, cid, {"name": " "}, clock.now())
