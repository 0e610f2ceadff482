"""Undo/redo: every command reverses exactly; undo-all restores the database exactly."""

from __future__ import annotations

from PySide6.QtCore import QMimeData
from sqlalchemy import select

from designer import clipboard
from designer.commands import Connect, MoveNodes, RemoveNodes, SetField
from designer.document import CampaignDocument, Delay
from designer.editor import CampaignEditor
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Activity

from .conftest import import_template, snapshot


def editor_for(db: Database, campaign_id: int, clock: FixedClock) -> CampaignEditor:
    return CampaignEditor(CampaignDocument(db, campaign_id, clock))


def test_undo_all_restores_the_database_exactly(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:
    ed = editor_for(db, hot, clock)
    before = snapshot(db, hot)
    sms = ed.add_node("sms", (320, 360), parent="welcome", trigger="mail_not_open")
    assert sms is not None
    child = ed.add_node("email", (320, 540), parent=sms, trigger="sms_click")
    assert child is not None
    ed.move({"welcome": ((0, 0), (20, 0))})
    ed.move({"welcome": ((20, 0), (40, 20))})
    ed.set_field("tag_hot", "name", "Tag as Very Hot")
    ed.set_field("tag_hot", "delay", Delay(3, "days"))
    ed.set_content("welcome", "subject", "Hello!")
    ed.set_field("check_email", "validity", Delay(1, "weeks"))
    ed.link("check_email", "tag_hot", "activity")
    ed.set_campaign_field("filter", [["email", "!=", None]])
    ed.duplicate(["tag_hot"])
    assert ed.paste(ed.copy(["welcome", "check_email"]), at=(900, 0))
    ed.remove(["welcome"])  # the whole tree, children and grandchildren included
    after_edits = snapshot(db, hot)
    assert after_edits != before

    while ed.undo_stack.canUndo():
        ed.undo_stack.undo()
    assert snapshot(db, hot) == before
    assert CampaignDocument(db, hot, clock).nodes == ed.document.nodes

    while ed.undo_stack.canRedo():
        ed.undo_stack.redo()
    assert snapshot(db, hot) == after_edits


def test_remove_restores_the_subtree_and_its_links(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:
    ed = editor_for(db, hot, clock)
    doc = ed.document
    extra = ed.add_node("sms", (0, 400), parent="tag_hot", trigger="activity")
    before = snapshot(db, hot)
    with db.session() as s:  # a disabled webhook must stay disabled through delete + undo
        row = s.scalar(select(Activity).where(Activity.campaign_id == hot, Activity.key == extra))
        row.trusted = False
    doc.reload()

    ed.remove(["tag_hot"])
    assert set(doc.nodes) == {"welcome", "check_email"}
    ed.undo_stack.undo()
    assert snapshot(db, hot) == before
    assert doc.node(extra).parent == "tag_hot"
    assert doc.node("tag_hot").parent == "welcome"
    assert doc.node("tag_hot").trigger == "mail_click"
    assert not doc.node(extra).trusted
    with db.read() as s:
        assert not s.scalar(select(Activity.trusted).where(Activity.key == extra))


def test_consecutive_drags_of_the_same_nodes_merge(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:
    ed = editor_for(db, hot, clock)
    stack = ed.undo_stack
    ed.move({"welcome": ((0, 0), (20, 0))})
    ed.move({"welcome": ((20, 0), (40, 0))})
    ed.move({"welcome": ((40, 0), (60, 20))})
    assert stack.count() == 1
    assert ed.document.node("welcome").position == (60, 20)
    # Other nodes: a new step. Then the first set again: a new step too (not consecutive).
    ed.move({"tag_hot": ((-160, 180), (-200, 180))})
    ed.move({"welcome": ((60, 20), (80, 20))})
    assert stack.count() == 3
    stack.undo()
    stack.undo()
    stack.undo()
    assert ed.document.node("welcome").position == (0, 0)
    assert ed.document.node("tag_hot").position == (-160, 180)


def test_a_drag_back_to_the_start_leaves_no_step(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:
    ed = editor_for(db, hot, clock)
    ed.move({"welcome": ((0, 0), (20, 0))})
    ed.move({"welcome": ((20, 0), (0, 0))})
    assert ed.undo_stack.count() == 0


def test_typing_in_one_field_merges_but_separate_fields_do_not(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:
    ed = editor_for(db, hot, clock)
    for text in ("W", "We", "Wel"):
        ed.set_field("welcome", "name", text, merge=True)
    ed.set_field("tag_hot", "name", "T", merge=True)
    assert ed.undo_stack.count() == 2
    ed.undo_stack.undo()
    ed.undo_stack.undo()
    assert ed.document.node("welcome").name == "Welcome!"
    ed.undo_stack.clear()
    subject = ed.document.node("welcome").content["subject"]
    for text in ("Hi", "Hi there"):
        ed.set_content("welcome", "subject", text)
    for text in ("<p>A</p>", "<p>AB</p>"):
        ed.set_content("welcome", "body_html", text)
    assert ed.undo_stack.count() == 2  # the subject, then the body
    ed.undo_stack.undo()
    assert ed.document.node("welcome").content["subject"] == "Hi there"
    ed.undo_stack.undo()
    assert ed.document.node("welcome").content["subject"] == subject


def test_a_refused_command_is_dropped_with_a_message(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:
    ed = editor_for(db, hot, clock)
    messages: list[str] = []
    ed.message.connect(messages.append)
    before = snapshot(db, hot)
    assert not ed.push(Connect(ed.document, "welcome", "tag_hot", "activity"))  # a loop
    assert not ed.push(SetField(ed.document, "welcome", "delay", Delay(2, "fortnights")))
    assert ed.undo_stack.count() == 0
    assert len(messages) == 2 and "loop back" in messages[0]
    assert snapshot(db, hot) == before
    # The editor refuses before pushing anything.
    assert not ed.link("welcome", "check_email", "activity")
    assert ed.undo_stack.count() == 0


def test_paste_across_campaigns(qapp, db: Database, hot: int, clock: FixedClock) -> None:
    source = editor_for(db, hot, clock)
    other = import_template(db, "welcome_flow", clock.now(), name="Other")
    target = editor_for(db, other, clock)
    mime = source.copy(["welcome", "tag_hot"])
    assert mime is not None
    keys = target.paste(mime, at=(600, 0))
    assert keys == ["welcome_2", "tag_hot"]  # "welcome" is taken there, "tag_hot" is not
    doc = target.document
    assert doc.node("welcome_2").parent is None and doc.node("welcome_2").trigger == "begin"
    assert doc.node("tag_hot").parent == "welcome_2"
    assert doc.node("tag_hot").trigger == "mail_click"
    # The pair is centred on the paste point, on the grid: (0,0)/(-160,180) -> +(680,-80).
    assert doc.node("welcome_2").position == (680, -80)
    assert doc.node("tag_hot").position == (520, 100)
    with db.read() as s:
        stored = s.scalars(select(Activity.key).where(Activity.campaign_id == other)).all()
    assert set(stored) == {"welcome", "blacklist_bounces", "welcome_2", "tag_hot"}
    target.undo_stack.undo()
    assert "welcome_2" not in target.document


def test_pasted_code_from_outside_arrives_disabled(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:
    ed = editor_for(db, hot, clock)
    payload = {
        "format": clipboard.FORMAT,
        "version": 1,
        "activities": [
            {
                "key": "hook",
                "name": "Send data away",
                "type": "server_action",
                "parent": None,
                "trigger": "begin",
                "delay": {"amount": 0, "unit": "hours"},
                "action": {"kind": "webhook", "url": "https://example.com/x", "fields": ["email"]},
            }
        ],
        "trusted": ["hook"],  # claims trust: not believed, it was not copied here
    }
    [key] = ed.paste(clipboard.to_mime(payload))
    assert ed.document.node(key).trusted is False
    # What this editor copied itself keeps its trust.
    ed.set_field(key, "trusted", True)
    [again] = ed.paste(ed.copy([key]))
    assert ed.document.node(again).trusted is True


def test_paste_refuses_what_is_not_activities(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:
    ed = editor_for(db, hot, clock)
    messages: list[str] = []
    ed.message.connect(messages.append)
    mime = QMimeData()
    mime.setText("hello")
    assert ed.paste(mime) == []
    bad = clipboard.to_mime({"format": clipboard.FORMAT, "activities": [{"key": "X!"}]})
    assert ed.paste(bad) == []
    assert len(messages) == 2
    assert ed.undo_stack.count() == 0


def test_commands_reverse_one_by_one(qapp, db: Database, hot: int, clock: FixedClock) -> None:
    ed = editor_for(db, hot, clock)
    doc = ed.document
    before = snapshot(db, hot)
    for command in (
        MoveNodes(doc, {"tag_hot": ((-160, 180), (-400, 300))}),
        Connect(doc, "check_email", None, "begin"),
        RemoveNodes(doc, ["tag_hot"]),
        SetField(doc, "welcome", "filter", [["country", "=", "BE"]]),
    ):
        state = snapshot(db, hot)
        ed.push(command)
        assert snapshot(db, hot) != state
        ed.undo_stack.undo()
        assert snapshot(db, hot) == state
        ed.undo_stack.redo()
    while ed.undo_stack.canUndo():
        ed.undo_stack.undo()
    assert snapshot(db, hot) == before


def test_new_steps_are_named_by_type_and_trigger(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:
    editor = CampaignEditor(CampaignDocument(db, hot, clock))
    doc = editor.document

    def added(type_: str, parent: str | None = None, trigger: str | None = None) -> str:
        key = editor.add_node(type_, (0.0, 0.0), parent, trigger)
        assert key is not None
        return doc.node(key).name

    assert added("email") == "Email at start"
    assert added("sms", "welcome", "mail_click") == "SMS after clicked"
    assert added("sms", "welcome", "mail_click") == "SMS after clicked 2"
    assert added("email", "welcome", "mail_not_open") == "Email if not opened"
    assert added("server_action", "welcome", "mail_bounce") == "Server action if bounced"
    assert added("server_action", "tag_hot", "activity") == "Server action after previous step"
    # with no trigger given, the first valid one (the name follows it)
    assert editor.new_node("email", None, "welcome").name == "Email after previous step"
    assert (
        CampaignDocument(db, hot, clock)
        .node(next(k for k, n in doc.nodes.items() if n.name == "SMS after clicked 2"))
        .name
        == "SMS after clicked 2"
    )  # stored as shown
