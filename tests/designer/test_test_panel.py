"""Test mode (SPEC E11): launch a test record, run/cancel steps, simulate interactions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from designer.test_panel import DIMMED, TestPanel
from engine.clock import FixedClock
from engine.db import Database
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
