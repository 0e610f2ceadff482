"""Test mode (SPEC E11): launch a test record, run/cancel steps, simulate interactions,
the path highlighted on the canvas (and kept when the canvas rebuilds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import delete

from designer.test_panel import DIMMED, TestPanel
from engine import campaign_files, reporting, settings
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Participant
from engine.records import import_csv
from engine.records.write import create_records


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    """SQLite only: overrides the two-database fixture for this module."""
    database = Database(sqlite_url)
    yield database
    database.dispose()


@pytest.fixture
def contact(db: Database, clock: FixedClock) -> int:
    with db.session() as s:
        rows = [{"name": "Ada Tester", "email": "ada@example.com"}]
        return create_records(s, "contact", rows, now=clock.now())[0]


@pytest.fixture
def panel(qtbot: QtBot, db: Database, clock: FixedClock, hot: int, contact: int) -> TestPanel:
    widget = TestPanel(db, clock)
    qtbot.addWidget(widget)
    widget.set_campaign(hot, "contact")
    return widget


def by_activity(panel: TestPanel) -> dict[str, dict[str, Any]]:
    return {r["activity"]: r for r in panel.rows}


def launch(panel: TestPanel, contact: int) -> None:
    panel.records.setCurrentIndex(panel.records.findData(contact))
    panel.launch_button.click()
    assert not panel.error.text(), panel.error.text()


def run_welcome(panel: TestPanel) -> None:
    panel.select_trace(by_activity(panel)["welcome"]["id"])
    panel.buttons["Run now"].click()
    assert not panel.error.text(), panel.error.text()


def test_record_chooser_lists_target_records(panel: TestPanel, contact: int) -> None:
    assert panel.records.findData(contact) >= 0
    assert "Ada Tester" in panel.records.itemText(panel.records.findData(contact))
    assert panel.rows == []


def test_launch_schedules_the_first_step(panel: TestPanel, contact: int) -> None:
    launch(panel, contact)
    rows = by_activity(panel)
    assert set(rows) == {"welcome"}  # children appear once their parent has run
    assert rows["welcome"]["state"] == "scheduled"
    assert rows["welcome"]["test"]
    panel.select_trace(rows["welcome"]["id"])
    assert panel.buttons["Run now"].isEnabled()
    assert panel.buttons["Cancel"].isEnabled()
    assert not panel.buttons["Clicked"].isEnabled()


def test_run_now_sends_and_previews(panel: TestPanel, contact: int) -> None:
    launch(panel, contact)
    run_welcome(panel)
    welcome = by_activity(panel)["welcome"]
    assert welcome["state"] == "processed"
    # The action keeps the step selected and previews what was sent.
    current = panel.current_row()
    assert current is not None and current["id"] == welcome["id"]
    text = panel.preview.toPlainText()
    assert "ada@example.com" in text
    assert "Subject:" in text
    assert not panel.buttons["Run now"].isEnabled()
    for label in ("Opened", "Clicked", "Replied", "Bounced"):
        assert panel.buttons[label].isEnabled()


def test_sms_steps_offer_only_click_and_bounce(panel: TestPanel, contact: int) -> None:
    launch(panel, contact)
    run_welcome(panel)
    panel.types["welcome"] = "sms"  # as if the step were a text message
    panel.select_trace(by_activity(panel)["welcome"]["id"])
    enabled = {k for k, b in panel.buttons.items() if b.isEnabled()}
    assert enabled == {"Clicked", "Bounced"}


def test_clicked_moves_the_click_child(panel: TestPanel, contact: int) -> None:
    launch(panel, contact)
    run_welcome(panel)
    assert by_activity(panel)["tag_hot"]["due"] is None  # waiting for the click
    panel.buttons["Clicked"].click()
    assert not panel.error.text(), panel.error.text()
    rows = by_activity(panel)
    assert rows["tag_hot"]["state"] == "scheduled"
    assert rows["tag_hot"]["due"] is not None  # now due after its 2-hour delay
    assert rows["check_email"]["due"] is None  # still waiting for a bounce
    panel.select_trace(rows["tag_hot"]["id"])
    panel.buttons["Run now"].click()
    assert not panel.error.text(), panel.error.text()
    assert by_activity(panel)["tag_hot"]["state"] == "processed"


def test_cancel_a_step(panel: TestPanel, contact: int) -> None:
    launch(panel, contact)
    run_welcome(panel)
    panel.select_trace(by_activity(panel)["check_email"]["id"])
    panel.buttons["Cancel"].click()
    assert not panel.error.text(), panel.error.text()
    assert by_activity(panel)["check_email"]["state"] == "canceled"


def test_errors_are_shown_not_raised(panel: TestPanel, contact: int) -> None:
    launch(panel, contact)
    welcome = by_activity(panel)["welcome"]
    panel.select_trace(welcome["id"])
    panel.act("Clicked")  # not sent yet: refused in the label
    assert panel.error.text()
    panel.act("Cancel")
    assert by_activity(panel)["welcome"]["state"] == "canceled"
    panel.select_trace(welcome["id"])
    panel.act("Run now")
    assert "already canceled" in panel.error.text()


def test_highlight_dims_activities_off_the_path(
    panel: TestPanel, canvas: Any, hot: int, contact: int
) -> None:
    panel.set_campaign(hot, "contact", canvas.scene)
    items = canvas.scene.item_for_key
    assert all(item.opacity() == 1.0 for item in items.values())
    launch(panel, contact)
    run_welcome(panel)
    panel.select_trace(by_activity(panel)["check_email"]["id"])
    panel.buttons["Cancel"].click()
    keys = panel.path_keys()
    assert "welcome" in keys and "check_email" not in keys
    assert items["welcome"].opacity() == 1.0
    assert items["check_email"].opacity() == pytest.approx(DIMMED)
    panel.set_campaign(0, "", None)
    assert all(item.opacity() == 1.0 for item in items.values())


# --- the highlight survives the canvas remaking its items --------------------------------


def dimmed(canvas: Any) -> set[str]:
    return {k for k, item in canvas.scene.item_for_key.items() if item.opacity() < 1.0}


def test_highlight_is_applied_again_when_the_canvas_rebuilds(
    panel: TestPanel, canvas: Any, hot: int, contact: int, db: Database
) -> None:
    panel.set_campaign(hot, "contact", canvas.scene)
    launch(panel, contact)
    run_welcome(panel)
    panel.select_trace(by_activity(panel)["check_email"]["id"])
    panel.buttons["Cancel"].click()
    assert dimmed(canvas) == {"check_email"}

    # A reload makes every item anew: the new ones are dimmed as the old were.
    before = canvas.scene.item_for_key["check_email"]
    canvas.document.reload()
    assert canvas.scene.item_for_key["check_email"] is not before
    assert dimmed(canvas) == {"check_email"}
    assert canvas.scene.edge_for_key["check_email"].opacity() == pytest.approx(DIMMED)
    assert canvas.scene.edge_for_key["welcome"].opacity() == 1.0

    # A step added by an edit is off the path; undo and redo keep the picture right.
    assert canvas.editor.add_node("sms", (0.0, 600.0), parent="welcome", trigger="mail_open")
    new = next(k for k in canvas.document.nodes if k not in {"welcome", "tag_hot", "check_email"})
    assert dimmed(canvas) == {"check_email", new}
    canvas.editor.undo_stack.undo()
    assert dimmed(canvas) == {"check_email"}
    canvas.editor.undo_stack.redo()
    assert dimmed(canvas) == {"check_email", new}
    # Deleting a dimmed step and undoing it brings it back dimmed.
    canvas.scene.select_keys(["check_email"])
    canvas.delete()
    assert "check_email" not in canvas.scene.item_for_key
    canvas.editor.undo_stack.undo()
    assert dimmed(canvas) == {"check_email", new}

    # "Clear" stops following the test: everything is shown in full, and stays so.
    assert panel.clear_button.isEnabled()
    panel.clear_button.click()
    assert panel.rows == [] and not panel.clear_button.isEnabled()
    assert dimmed(canvas) == set()
    canvas.document.reload()
    assert dimmed(canvas) == set()


def test_highlight_clears_when_the_test_participant_is_gone(
    panel: TestPanel, canvas: Any, hot: int, contact: int, db: Database
) -> None:
    panel.set_campaign(hot, "contact", canvas.scene)
    launch(panel, contact)
    assert dimmed(canvas) == {"tag_hot", "check_email"}  # only the first step reached
    with db.session() as s:
        s.execute(delete(Participant).where(Participant.is_test.is_(True)))
    canvas.document.reload()  # e.g. after another window removed the test
    assert panel.participant_id is None and panel.rows == []
    assert dimmed(canvas) == set()
    assert not panel.clear_button.isEnabled()


def test_a_campaign_change_lets_the_old_canvas_go(
    panel: TestPanel, canvas: Any, hot: int, contact: int
) -> None:
    panel.set_campaign(hot, "contact", canvas.scene)
    launch(panel, contact)
    assert dimmed(canvas)
    panel.set_campaign(0, "", None)
    assert dimmed(canvas) == set()
    canvas.document.reload()  # the panel no longer follows this scene
    assert dimmed(canvas) == set()
    assert panel.rows == [] and panel.scene is None


# --- the Odoo flow, step by step --------------------------------------------------------

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def odoo(db: Database, clock: FixedClock) -> int:
    """tests/data/odoo_flow: welcome email; on reply an SMS, on its click another SMS; a
    server action a day later for those who did not open; the Odoo sample contacts."""
    with db.session() as s:
        doc = campaign_files.load_file(DATA / "odoo_flow.journey.json")
        campaign_id = campaign_files.import_document(s, doc, trust=True, now=clock.now()).id
        import_csv(s, "contact", DATA / "odoo_contacts.csv", now=clock.now())
        settings.set_value(s, "test.recipient_email", "qa@example.com")
    return campaign_id


def odoo_panel(qtbot: QtBot, db: Database, clock: FixedClock, odoo: int) -> tuple[TestPanel, Any]:
    """A Test dock on the Odoo flow, and Ann's record in its chooser."""
    panel = TestPanel(db, clock)
    qtbot.addWidget(panel)
    panel.set_campaign(odoo, "contact")
    ann = next(
        panel.records.itemData(i)
        for i in range(panel.records.count())
        if panel.records.itemText(i).startswith("Ann ")
    )
    return panel, ann


def test_test_mode_steps_a_record_through_the_odoo_flow(
    qtbot: QtBot, db: Database, clock: FixedClock, odoo: int
) -> None:
    panel, ann = odoo_panel(qtbot, db, clock, odoo)
    launch(panel, ann)

    # The welcome email has no delay: it is sent at launch, to the test recipient.
    rows = by_activity(panel)
    assert rows["welcome"]["state"] == "processed"
    assert rows["reply_sms"]["state"] == "scheduled" and rows["reply_sms"]["due"] is None
    assert rows["not_opened"]["state"] == "scheduled"
    assert rows["not_opened"]["due"].startswith("2026-01-06T09:00")  # one day later
    assert "click_sms" not in rows  # appears once its parent SMS is sent
    panel.select_trace(rows["welcome"]["id"])
    preview = panel.preview.toPlainText()
    assert "To: qa@example.com" in preview and "Subject: Welcome Ann" in preview
    assert "Hi Ann" in preview

    # Ann replies: a reply implies an open, so "not opened" is canceled; the SMS is due.
    panel.buttons["Replied"].click()
    assert not panel.error.text(), panel.error.text()
    rows = by_activity(panel)
    assert rows["not_opened"]["state"] == "canceled"
    assert "opened" in rows["not_opened"]["message"]
    assert rows["reply_sms"]["due"].startswith("2026-01-05T10:00")  # reply + 1 hour
    assert rows["welcome"]["id"] == panel.current_row()["id"]  # type: ignore[index]

    panel.select_trace(rows["reply_sms"]["id"])
    panel.buttons["Run now"].click()
    assert not panel.error.text(), panel.error.text()
    assert by_activity(panel)["reply_sms"]["state"] == "processed"
    assert "Thanks for your reply Ann!" in panel.preview.toPlainText()
    enabled = {k for k, b in panel.buttons.items() if b.isEnabled()}
    assert enabled == {"Clicked", "Bounced"}  # what an SMS recipient can do

    # Ann clicks the SMS link: the last SMS has no delay and is sent in the same pass.
    panel.buttons["Clicked"].click()
    assert not panel.error.text(), panel.error.text()
    rows = by_activity(panel)
    assert rows["click_sms"]["state"] == "processed"
    panel.select_trace(rows["click_sms"]["id"])
    assert "See you soon, Ann." in panel.preview.toPlainText()

    # The database says the same, and the test counts nowhere but here.
    with db.read() as s:
        traces = reporting.traces(s, odoo, include_test=True)
        report = reporting.campaign_report(s, odoo)
        part = s.get(Participant, panel.participant_id)
    assert {t["activity"]: t["state"] for t in traces} == {
        "welcome": "processed",
        "reply_sms": "processed",
        "click_sms": "processed",
        "not_opened": "canceled",
    }
    assert all(t["test"] for t in traces)
    assert part is not None and part.state == "completed" and part.is_test
    assert report["participants"] == {"running": 0, "completed": 0, "removed": 0, "test": 1}
    assert all(a["processed"] == 0 for a in report["activities"].values())


def test_steps_are_listed_by_the_names_the_canvas_shows(panel: TestPanel, contact: int) -> None:
    launch(panel, contact)
    run_welcome(panel)
    item = panel.table.item(0, 0)
    assert (item.text(), item.toolTip()) == ("Welcome!", "welcome")


def test_run_test_to_here_walks_the_path_simulating_each_branch(
    qtbot: QtBot, db: Database, clock: FixedClock, odoo: int
) -> None:
    """Issue 26's "run test to here": to reach click_sms the test needs the welcome sent,
    a reply (its branch), the reply SMS sent (an hour early), then a click on it."""
    panel, ann = odoo_panel(qtbot, db, clock, odoo)
    panel.records.setCurrentIndex(panel.records.findData(ann))
    panel.run_to("click_sms")  # launches the test participant first
    assert not panel.error.text(), panel.error.text()
    rows = by_activity(panel)
    assert {k: r["state"] for k, r in rows.items()} == {
        "welcome": "processed",
        "reply_sms": "processed",
        "click_sms": "processed",
        "not_opened": "canceled",  # the reply took the other branch
    }
    assert panel.current_row()["activity"] == "click_sms"  # type: ignore[index]
    assert "See you soon, Ann." in panel.preview.toPlainText()

    panel.run_to("not_opened")  # off this participant's path now: said, not raised
    assert (
        panel.error.text()
        == "the test stopped at 'Mark as cold', canceled: " + (rows["not_opened"]["message"])
    )

    panel.clear_test()  # a new participant takes the "not opened" branch instead
    panel.run_to("not_opened")
    assert not panel.error.text(), panel.error.text()
    rows = by_activity(panel)
    assert rows["not_opened"]["state"] == "processed"  # its day's wait skipped
    assert (rows["reply_sms"]["state"], rows["reply_sms"]["due"]) == ("scheduled", None)
