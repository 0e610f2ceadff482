"""A campaign the engine set aside (issue 25: one campaign never stops the engine) says
so in the campaign list, with the engine's sentence and when it tries again."""

from __future__ import annotations

from datetime import timedelta

from designer.main_window import MainWindow
from engine import campaign_faults
from engine.api import campaign_ops
from engine.campaign_faults import CampaignFailed
from engine.clock import FixedClock
from engine.db import Database


def test_a_set_aside_campaign_is_shown_with_its_reason(
    window: MainWindow, database: Database, clock: FixedClock
) -> None:
    rows = {r.name: r for r in window.campaigns.rows}
    cid = rows["Tag Hot Contacts"].id
    campaign_ops.start(database, cid, clock.now())
    failure = CampaignFailed(cid, "sync its audience", OverflowError("date value out of range"))
    campaign_faults.record(database, failure, clock.now())
    window.campaigns.refresh()
    row = next(
        r
        for r in range(window.campaigns.model.rowCount())
        if window.campaigns.model.item(r, 0).text() == "Tag Hot Contacts"
    )
    state = window.campaigns.model.item(row, 1)
    assert state.text() == "running · set aside"
    tip = state.toolTip()
    assert "The engine could not sync its audience: date value out of range" in tip
    retry = clock.now() + timedelta(minutes=1)
    assert f"tries again after {retry:%Y-%m-%d %H:%M} UTC" in tip and "OverflowError" not in tip
    other = next(r for r in range(window.campaigns.model.rowCount()) if r != row)
    assert "set aside" not in window.campaigns.model.item(other, 1).text()
    # A pass that works on it again clears it, and the list says so.
    clock.advance(minutes=2)
    campaign_faults.clear(database, clock.now(), set())
    window.campaigns.refresh()
    assert window.campaigns.model.item(row, 1).text() == "running"
