"""Archived campaigns in the main window: hidden, shown on demand, marked, restored.

As in Odoo, archiving puts a campaign away and "Show Archived Campaigns" brings such
campaigns back into the list, where "Restore from Archive" (Odoo's Unarchive) replaces
"Archive". The engine refuses to start an archived campaign; a running one is never hidden.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QMenu, QMessageBox
from sqlalchemy import update

from app.cli import main
from designer.campaign_list import ID_ROLE
from designer.main_window import MainWindow
from engine.api import campaign_ops
from engine.clock import FixedClock
from engine.db import Database
from engine.errors import UserError
from engine.models import Campaign
from tests.app.conftest import add_template


def answer(monkeypatch: pytest.MonkeyPatch, reply: QMessageBox.StandardButton) -> None:
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: reply))


def names(window: MainWindow) -> list[str]:
    return [r[0] for r in window.campaigns.table_rows()]


def row_of(window: MainWindow, name: str) -> list[str]:
    return next(r for r in window.campaigns.table_rows() if r[0] == name)


def name_font(window: MainWindow, campaign_id: int) -> QFont:
    proxy = window.campaigns.proxy
    for r in range(proxy.rowCount()):
        index = proxy.index(r, 0)
        if index.data(ID_ROLE) == campaign_id:
            font = index.data(Qt.ItemDataRole.FontRole)
            return font if isinstance(font, QFont) else QFont()
    raise AssertionError(f"campaign {campaign_id} is not listed")


def is_archived(db: Database, campaign_id: int) -> bool:
    with db.read() as s:
        campaign = s.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign.archived


def menu_named(window: MainWindow, text: str) -> QMenu:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == text)
    assert isinstance(menu, QMenu)
    return menu


def menu_texts(window: MainWindow) -> list[str]:
    return [a.text() for a in window.campaigns.context_menu().actions() if a.text()]


def test_archived_campaigns_are_shown_on_demand_and_restored(
    window: MainWindow, database: Database
) -> None:
    actions = window.actions_by_name
    window.campaigns.select(1)
    assert actions["archive"].isVisible() and not actions["restore"].isVisible()
    assert "&Archive" in menu_texts(window)
    actions["archive"].trigger()
    assert is_archived(database, 1)
    assert names(window) == ["Tag Hot Contacts"]
    assert window.canvas is None

    # The same toggle is in the View menu and beside the search box.
    view_menu = menu_named(window, "&View")
    toggle = window.campaigns.show_archived_action
    assert toggle in view_menu.actions()
    assert window.campaigns.archived_button.defaultAction() is toggle
    toggle.trigger()
    assert names(window) == ["Welcome Flow", "Tag Hot Contacts"]
    assert row_of(window, "Welcome Flow")[1] == "archived"
    assert row_of(window, "Tag Hot Contacts")[1] == "draft"
    assert name_font(window, 1).italic()
    assert not name_font(window, 2).italic()

    # An archived campaign opens; it offers Restore instead of Archive, and no Start.
    window.campaigns.select(1)
    assert window.canvas is not None and window.current_id() == 1
    assert not actions["archive"].isVisible()
    assert actions["restore"].isVisible() and actions["restore"].isEnabled()
    assert not actions["start"].isEnabled()
    texts = menu_texts(window)
    assert "Rest&ore from Archive" in texts and "&Archive" not in texts
    camp_menu = menu_named(window, "&Campaign")
    assert actions["restore"] in camp_menu.actions()

    # Restore, from the context menu: back in the list as it was, still open.
    restore = next(a for a in window.campaigns.context_menu().actions() if a is actions["restore"])
    restore.trigger()
    assert not is_archived(database, 1)
    assert row_of(window, "Welcome Flow")[1] == "draft"
    assert not name_font(window, 1).italic()
    assert window.current_id() == 1 and window.campaigns.current_id() == 1
    assert actions["archive"].isVisible() and not actions["restore"].isVisible()
    assert actions["start"].isEnabled()
    toggle.trigger()
    assert names(window) == ["Welcome Flow", "Tag Hot Contacts"]


def test_hiding_archived_campaigns_closes_an_open_archived_one(window: MainWindow) -> None:
    window.campaigns.select(2)
    window.actions_by_name["archive"].trigger()
    window.campaigns.set_show_archived(True)
    window.campaigns.select(2)
    assert window.current_id() == 2
    window.campaigns.set_show_archived(False)
    assert names(window) == ["Welcome Flow"]
    assert window.canvas is None and window.campaigns.current_id() == 0


def test_a_running_archived_campaign_stays_listed_and_can_be_stopped(
    window: MainWindow,
    database: Database,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The command line refuses to start an archived campaign and marks it in listings.
    campaign_ops.archive(database, 1, clock.now())
    url = database.engine.url.render_as_string(hide_password=False)
    capsys.readouterr()
    assert main(["--db", url, "start", "1"]) == 2
    assert "archived: restore it before starting it" in capsys.readouterr().err
    assert main(["--db", url, "list"]) == 0
    assert "draft (archived)" in capsys.readouterr().out
    # A running archived campaign can still come from an older database or another tool.
    with database.session() as s:
        s.execute(update(Campaign).where(Campaign.id == 1).values(state="running"))
    window.refresh_action.trigger()

    # Not hidden although archived: it sends messages, so it stays in sight.
    assert not window.campaigns.showing_archived
    assert row_of(window, "Welcome Flow")[1] == "running · archived"
    window.campaigns.select(1)
    actions = window.actions_by_name
    assert actions["stop"].isEnabled()
    assert actions["restore"].isVisible() and actions["restore"].isEnabled()
    assert not actions["archive"].isVisible()
    with pytest.raises(UserError, match="before archiving"):
        campaign_ops.archive(database, 1, clock.now())

    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    actions["stop"].trigger()
    with database.read() as s:
        assert s.get(Campaign, 1).state == "stopped"  # type: ignore[union-attr]
    # Stopped, it is an ordinary archived campaign again: hidden until asked for.
    assert names(window) == ["Tag Hot Contacts"]
    window.campaigns.set_show_archived(True)
    assert row_of(window, "Welcome Flow")[1] == "archived"


def test_restoring_refuses_a_campaign_that_is_not_archived(
    database: Database, clock: FixedClock
) -> None:
    cid = add_template(database, "welcome_flow", clock.now())
    with pytest.raises(UserError, match="not archived"):
        campaign_ops.unarchive(database, cid, clock.now())
    campaign_ops.archive(database, cid, clock.now())
    campaign_ops.unarchive(database, cid, clock.now())
    assert not is_archived(database, cid)
