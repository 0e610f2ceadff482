"""The traces view's retry: a warning first, then the chosen traces are due again."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from PySide6.QtWidgets import QAbstractItemView, QMessageBox
from sqlalchemy import delete, select, update

from designer.main_window import MainWindow
from designer.traces_panel import retry_box
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Activity, Campaign, Trace
from tests.engine.world import World, action, email

DEAD = f"{socket.gethostname()}:999999:dead:1"


def interrupted_campaign(db: Database, clock: FixedClock) -> tuple[World, int]:
    w = World(db, clock)
    w.people("Ann", "Bob", "Cid")
    cid = w.campaign(
        email("mail"),
        action("div", {"kind": "update_record", "values": {"description": "{{ 1 // 0 }}"}}),
        name="Interrupted",
    )
    with db.session() as s:
        s.execute(update(Trace).values(claimed_by=DEAD, claimed_at=datetime.now(UTC)))
        mail = select(Activity.id).where(Activity.campaign_id == cid, Activity.key == "mail")
        s.execute(update(Trace).where(Trace.activity_id.in_(mail)).values(handoff=True))
    w.run()
    return w, cid


def answer(monkeypatch: pytest.MonkeyPatch, button: QMessageBox.StandardButton) -> list[str]:
    shown: list[str] = []

    def exec_(box: QMessageBox) -> int:
        shown.append(box.text() + "\n" + box.informativeText())
        return int(button.value)

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return shown


def test_retry_from_the_traces_view(
    window: MainWindow, database: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, cid = interrupted_campaign(database, clock)
    window.refresh()
    window.open_campaign(cid)
    panel = window.traces
    assert "3 can be retried" in panel.summary.text() and "6 errored" in panel.summary.text()
    assert panel.retry_button.isEnabled()

    shown = answer(monkeypatch, QMessageBox.StandardButton.Cancel)
    panel.retry_button.click()
    assert "Retry 3 interrupted or failed traces?" in shown[0]
    assert "delivery unknown" in shown[0] and "server's log" in shown[0]
    assert set(w.states(cid, "mail").values()) == {"error"}  # canceled: nothing changed

    # one selected errored row of the other activity: only that one, whatever its error
    div_row = next(i for i, r in enumerate(panel._rows) if r.activity == "div")
    panel.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    panel.table.selectRow(div_row)
    shown = answer(monkeypatch, QMessageBox.StandardButton.Retry)
    panel.retry_button.click()
    assert "Retry 1 selected errored trace?" in shown[0]
    assert sorted(w.states(cid, "div").values()) == ["error", "error", "scheduled"]
    assert set(w.states(cid, "mail").values()) == {"error"}

    panel.table.clearSelection()
    panel.retry_button.click()
    assert set(w.states(cid, "mail").values()) == {"scheduled"}
    assert "can be retried" not in panel.summary.text()
    assert not panel.retry_button.isEnabled()
    assert "scheduled again" in window.statusBar().currentMessage()


def test_retry_warning_is_readable(window: MainWindow) -> None:
    box = retry_box(window, 12, False)
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    assert "check the server's log first" in box.informativeText()


def test_a_campaign_deleted_elsewhere_empties_the_view_and_refuses_the_retry(
    window: MainWindow, database: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, cid = interrupted_campaign(database, clock)
    window.refresh()
    window.open_campaign(cid)
    panel = window.traces
    with database.session() as s:  # another process deletes it
        s.execute(delete(Campaign).where(Campaign.id == cid))
    warned: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda _p, _t, text: warned.append(text))
    )
    answer(monkeypatch, QMessageBox.StandardButton.Retry)
    panel.retry_button.click()
    assert warned and "no longer exists" in warned[0]
    panel.load(cid)
    assert panel.table.rowCount() == 0 and not panel.retry_button.isEnabled()


def test_the_traces_dock_filters_and_follows_the_selected_card(
    window: MainWindow, database: Database, clock: FixedClock
) -> None:
    w = World(database, clock)
    w.people("Ann", "Bob", "Cid")
    cid = w.campaign(
        email("mail"),
        action("tag", {"kind": "update_record", "values": {"description": "x"}}),
        name="Filtered",
    )
    w.run()
    window.refresh()
    window.open_campaign(cid)
    panel = window.traces
    assert len(panel._rows) == 6 and panel.summary.text().startswith("6 traces")
    assert [panel.step_box.itemText(i) for i in range(panel.step_box.count())] == [
        "All steps",
        "Mail",
        "Tag",
    ]

    canvas = window.canvas
    assert canvas is not None
    canvas.scene.item_for_key["mail"].setSelected(True)  # the dock follows the card
    assert panel.step_box.currentData() == "mail"
    assert {r.activity for r in panel._rows} == {"mail"} and len(panel._rows) == 3
    assert panel.summary.text().startswith("3 matching traces")
    canvas.scene.clearSelection()
    assert panel.step_box.currentData() is None and len(panel._rows) == 6

    panel.search_edit.setText("bob")
    panel.search_edit.returnPressed.emit()
    assert {r.record for r in panel._rows} == {"Bob"} and len(panel._rows) == 2
    panel.search_edit.clear()  # clearing the search shows everything again
    assert len(panel._rows) == 6

    panel.state_box.setCurrentIndex(panel.state_box.findData("error"))
    assert panel._rows == () and panel.summary.text() == "No trace matches these filters"
    panel.state_box.setCurrentIndex(panel.state_box.findData("processed"))
    assert len(panel._rows) == 6

    panel.follow_box.setChecked(False)  # not following: the choice stays
    canvas.scene.item_for_key["tag"].setSelected(True)
    assert panel.step_box.currentData() is None and len(panel._rows) == 6
