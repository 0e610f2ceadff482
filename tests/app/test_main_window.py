"""The designer's main window, offscreen: list, canvas, undo, start, problems, drop, quit."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from designer.main_window import MainWindow
from engine import campaign_files, gallery
from engine.clock import FixedClock, SystemClock
from engine.db import Database
from engine.models import Campaign
from tests.app.conftest import add_template


def answer(monkeypatch: pytest.MonkeyPatch, reply: QMessageBox.StandardButton) -> list[str]:
    asked: list[str] = []

    def question(_parent: object, _title: str, text: str, *a: object, **k: object) -> Any:
        asked.append(text)
        return reply

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def test_opens_with_the_campaigns_listed(window: MainWindow) -> None:
    rows = window.campaigns.table_rows()
    assert [r[:3] for r in rows] == [
        ["Welcome Flow", "draft", "0"],
        ["Tag Hot Contacts", "draft", "0"],
    ]
    assert window.canvas is None
    assert "SQLite database" in window.status.text()
    window.campaigns.search.setText("hot")
    assert [r[0] for r in window.campaigns.table_rows()] == ["Tag Hot Contacts"]


def test_selecting_a_campaign_shows_its_nodes(window: MainWindow) -> None:
    window.campaigns.select(2)
    assert window.canvas is not None
    assert set(window.canvas.scene.item_for_key) == {"welcome", "tag_hot", "check_email"}
    assert window.stack.currentWidget() is window.canvas


def test_undo_action_undoes_an_edit(window: MainWindow) -> None:
    window.campaigns.select(2)
    assert window.canvas is not None
    editor = window.canvas.editor
    assert editor.set_field("welcome", "name", "Hello")
    assert window.canvas.document.node("welcome").name == "Hello"
    window.actions_by_name["undo"].trigger()
    assert window.canvas.document.node("welcome").name != "Hello"
    assert window.history.stack() is editor.undo_stack
    # The standard shortcuts reach the canvas through the window's menus, unambiguously.
    window.activateWindow()
    window.canvas.view.setFocus()
    QTest.keySequence(window.canvas.view, window.actions_by_name["redo"].shortcut())
    assert window.canvas.document.node("welcome").name == "Hello"
    QTest.keySequence(window.canvas.view, QKeySequence(QKeySequence.StandardKey.SelectAll))
    assert len(window.canvas.scene.selected_keys()) == 3


def test_start_asks_with_the_count_then_starts(
    window: MainWindow, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.campaigns.select(2)
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    window.actions_by_name["start"].trigger()
    assert len(asked) == 1 and "0 records will enter" in asked[0]
    with database.read() as s:
        assert s.get(Campaign, 2).state == "draft"  # type: ignore[union-attr]
    asked = answer(monkeypatch, QMessageBox.StandardButton.Yes)
    window.actions_by_name["start"].trigger()
    with database.read() as s:
        assert s.get(Campaign, 2).state == "running"  # type: ignore[union-attr]
    assert window.campaigns.table_rows()[1][1] == "running"
    assert window.actions_by_name["stop"].isEnabled()


def test_problems_list_a_broken_filter_and_a_click_selects_the_node(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.campaigns.select(2)
    assert window.canvas is not None
    window.canvas.editor.set_field("tag_hot", "filter", [["no_such_field", "=", 1]])
    lines = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert any("no_such_field" in line for line in lines), lines
    row = next(i for i, line in enumerate(lines) if "no_such_field" in line)
    warned: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", staticmethod(lambda _p, _t, text: warned.append(text))
    )
    window.actions_by_name["start"].trigger()
    assert warned and "no_such_field" in warned[0]
    window.problems.itemClicked.emit(window.problems.item(row))
    assert window.canvas.scene.selected_keys() == ["tag_hot"]


def test_dropping_a_file_imports_it_asking_for_trust(
    window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = gallery.load_template("welcome_flow")
    path = tmp_path / "mine.journey.json"
    path.write_text(campaign_files.dumps(doc), encoding="utf-8")
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(QPoint(200, 200)),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    names = [r[0] for r in window.campaigns.table_rows()]
    assert names.count("Welcome Flow") == 1 and names.count("Welcome Flow (2)") == 1
    assert window.canvas is not None and window.current_id() == 3


def test_quit_stops_the_engine_and_leaves_no_thread(qtbot: QtBot, database: Database) -> None:
    from engine.runner import EngineRunner

    before = set(threading.enumerate())
    runner = EngineRunner(database)
    w = MainWindow(database, runner)
    qtbot.addWidget(w)
    w.show()
    runner.start()
    qtbot.waitUntil(lambda: "last pass" in w.status.text(), timeout=10000)
    w.status.pause_action.trigger()
    qtbot.waitUntil(lambda: "Engine paused" in w.status.text(), timeout=5000)
    assert runner.paused
    w.status.pause_action.trigger()
    qtbot.waitUntil(lambda: "Engine running" in w.status.text(), timeout=5000)
    w.quit_action.trigger()
    assert not runner.running
    assert not w.isVisible()
    assert set(threading.enumerate()) <= before
    assert QSettings("Journeys", "Journeys").value("main/geometry") is not None


def test_new_duplicate_rename_archive_and_delete_with_confirmation(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.actions_by_name["new"].trigger()
    assert window.campaigns.table_rows()[-1][:2] == ["New campaign", "draft"]
    assert window.canvas is not None and len(window.canvas.document) == 0
    window.campaigns.select(2)
    window.actions_by_name["duplicate_campaign"].trigger()
    assert window.campaigns.current_row().name == "Tag Hot Contacts (copy)"  # type: ignore[union-attr]
    assert window.canvas is not None and len(window.canvas.document) == 3
    monkeypatch.setattr(
        "designer.window_commands.QInputDialog.getText",
        staticmethod(lambda *a, **k: ("Hot copy", True)),
    )
    window.actions_by_name["rename"].trigger()
    names = [r[0] for r in window.campaigns.table_rows()]
    assert "Hot copy" in names
    asked = answer(monkeypatch, QMessageBox.StandardButton.No)
    window.actions_by_name["delete_campaign"].trigger()
    assert asked and "cannot be undone" in asked[0]
    assert "Hot copy" in [r[0] for r in window.campaigns.table_rows()]
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    window.actions_by_name["delete_campaign"].trigger()
    assert "Hot copy" not in [r[0] for r in window.campaigns.table_rows()]
    assert window.canvas is None
    window.campaigns.select(1)
    window.actions_by_name["archive"].trigger()
    assert [r[0] for r in window.campaigns.table_rows()] == ["Tag Hot Contacts", "New campaign"]


def test_editing_a_running_campaign_shows_the_update_banner(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.campaigns.select(2)
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    window.actions_by_name["start"].trigger()
    assert window.canvas is not None and not window.banner.isVisible()
    assert window.canvas.editor.add_node("sms", (0.0, 600.0), parent="welcome")
    assert window.banner.isVisible()
    window.banner.skip_button.click()
    assert not window.banner.isVisible()
    # A content edit needs no choice (E10): the status bar says it applies from now on.
    window.canvas.editor.set_content("welcome", "subject", "New subject")
    assert not window.banner.isVisible()
    assert "use the new content" in window.statusBar().currentMessage()


def test_window_layout_is_remembered(qtbot: QtBot, database: Database) -> None:
    first = MainWindow(database)
    qtbot.addWidget(first)
    first.show()
    first.docks["traces"].raise_()
    first.docks["history"].hide()
    first.close()
    second = MainWindow(database)
    qtbot.addWidget(second)
    second.show()
    assert not second.docks["history"].isVisible()
    second.close()


def test_the_inspector_follows_the_canvas_selection(window: MainWindow) -> None:
    window.campaigns.select(2)
    assert window.canvas is not None
    inspector = window.inspector
    assert inspector is not None and inspector.editor is window.canvas.editor  # type: ignore[attr-defined]
    key = next(iter(window.canvas.document.nodes))
    window.canvas.scene.select_keys([key])
    assert inspector.key == key  # type: ignore[attr-defined]
    window.canvas.scene.clearSelection()
    assert inspector.key is None  # type: ignore[attr-defined]


def test_the_test_panel_follows_the_open_campaign(window: MainWindow) -> None:
    window.campaigns.select(2)
    assert window.canvas is not None
    assert window.test_panel.campaign_id == 2
    assert window.test_panel.scene is window.canvas.scene
    window.campaigns.select(1)
    assert window.test_panel.campaign_id == 1
    assert window.test_panel.scene is window.canvas.scene


def test_the_test_path_stays_highlighted_through_edits_and_goes_with_the_campaign(
    window: MainWindow, database: Database, clock: FixedClock
) -> None:
    from engine.records.write import create_records

    window.campaigns.select(2)  # Tag Hot Contacts: welcome, then tag_hot / check_email
    panel, canvas = window.test_panel, window.canvas
    assert canvas is not None
    assert panel.records.count() == 0
    with database.session() as s:  # as File ▸ Import Records would, with the campaign open
        create_records(s, "contact", [{"name": "Ada", "email": "ada@example.com"}], now=clock.now())
    panel.records.showPopup()  # records imported meanwhile are offered when the list opens
    panel.records.hidePopup()
    panel.records.setCurrentIndex(panel.records.findText("Ada", Qt.MatchFlag.MatchStartsWith))
    assert panel.records.currentText().startswith("Ada")
    panel.launch_button.click()
    assert not panel.error.text(), panel.error.text()

    def dimmed() -> set[str]:
        items = canvas.scene.item_for_key.items()
        return {k for k, item in items if item.opacity() < 1.0}

    assert dimmed() == {"tag_hot", "check_email"}
    canvas.scene.select_keys(["tag_hot"])
    window.actions_by_name["delete"].trigger()
    assert "tag_hot" not in canvas.scene.item_for_key
    window.actions_by_name["undo"].trigger()  # the step comes back as a new item, dimmed
    assert dimmed() == {"tag_hot", "check_email"}
    window.actions_by_name["arrange"].trigger()
    assert dimmed() == {"tag_hot", "check_email"}

    window.campaigns.select(1)
    assert window.canvas is not canvas and window.canvas is not None
    assert panel.participant_id is None and panel.rows == []
    assert not {k for k, i in window.canvas.scene.item_for_key.items() if i.opacity() < 1.0}


def test_the_update_banner_takes_no_room_from_the_docks(
    window: MainWindow, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 26: at 1280×800 the banner's unwrapped sentence widened the centre, cut the
    campaign names and hid Rename, and the docks stayed narrow after it went."""
    window.resize(1280, 800)
    window.campaigns.select(2)
    answer(monkeypatch, QMessageBox.StandardButton.Yes)
    window.actions_by_name["start"].trigger()
    qtbot.wait(50)
    side = ("campaigns", "inspector", "history")  # the docks beside the canvas
    widths = {n: window.docks[n].width() for n in side if window.docks[n].isVisible()}
    assert "campaigns" in widths and "inspector" in widths
    assert window.canvas is not None
    window.canvas.editor.add_node("sms", (0.0, 600.0), parent="welcome")
    assert window.banner.isVisible()
    qtbot.wait(50)
    assert window.banner.minimumSizeHint().width() < 480
    assert {n: window.docks[n].width() for n in widths} == widths
    assert window.banner.label.height() >= window.banner.label.heightForWidth(
        window.banner.label.width()
    )  # wrapped, and shown whole
    window.banner.skip_button.click()
    qtbot.wait(50)
    assert {n: window.docks[n].width() for n in widths} == widths


def test_the_bottom_docks_start_tall_enough_to_use(qtbot: QtBot, database: Database) -> None:
    """Issue 26: the Test dock started about 110 px tall at 1280×800."""
    add_template(database, "tag_hot_contacts", SystemClock().now())
    w = MainWindow(database)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    w.campaigns.select(1)
    w.docks["test"].raise_()
    qtbot.wait(100)  # the first-run sizes are set once the window has its size
    assert 190 <= w.docks["test"].height() <= 300
    assert w.canvas is not None and w.canvas.view.viewport().height() >= 300
    w.shutdown()


def test_every_menu_command_shows_a_shortcut_and_no_two_share_one(window: MainWindow) -> None:
    """Issue 26: keyboard editing. Toggles (docks, appearance, read-only) are exempt."""
    seen: dict[str, str] = {}
    missing = []
    for top in window.menuBar().actions():
        menu = top.menu()
        assert menu is not None
        for action in menu.actions():
            if action.isSeparator() or action.menu() is not None or action.isCheckable():
                continue
            keys = [k.toString() for k in action.shortcuts() if not k.isEmpty()]
            if not keys:
                missing.append(f"{top.text()} ▸ {action.text()}")
            for key in keys:
                assert key not in seen, f"{key} is both {seen[key]!r} and {action.text()!r}"
                seen[key] = action.text()
    assert missing == []
    assert seen["Ctrl+K"] == "&Quick Add Step…"


def test_return_on_a_card_opens_it_in_the_inspector(window: MainWindow) -> None:
    window.campaigns.select(1)
    assert window.canvas is not None and window.inspector is not None
    window.canvas.scene.select_keys(["welcome"])
    window.canvas.scene.clearSelection()  # the inspector shows the campaign again
    assert window.inspector.key is None  # type: ignore[attr-defined]
    window.canvas.scene.select_keys(["welcome"])
    window.inspector.show_node(None)  # type: ignore[attr-defined]
    window.canvas.view.setFocus()
    window.canvas.inspect_selection()
    assert window.inspector.key == "welcome"  # type: ignore[attr-defined]
    assert window.inspector_dock.isVisible()
