"""Gestures on a shown canvas (offscreen): palette drops, links, moves, zoom, selection."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QMouseEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from designer.canvas import style
from designer.canvas.interactions import snap
from designer.canvas.layout import overlaps
from designer.canvas.palette import PaletteTile
from engine.catalog import triggers_for_parent
from engine.db import Database
from engine.models import Activity

from .conftest import ScriptedChooser, snapshot

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


def mouse(canvas: Any, kind: QEvent.Type, at: QPointF, button=LEFT, buttons=LEFT) -> None:  # type: ignore[no-untyped-def]
    view = canvas.view
    local = QPointF(view.mapFromScene(at))
    glob = QPointF(view.viewport().mapToGlobal(local.toPoint()))
    event = QMouseEvent(kind, local, glob, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), event)


def drag(canvas: Any, start: QPointF, end: QPointF, steps: int = 6) -> None:
    mouse(canvas, QEvent.Type.MouseButtonPress, start)
    for i in range(1, steps + 1):
        mouse(canvas, QEvent.Type.MouseMove, start + (end - start) * (i / steps), NONE, LEFT)
    mouse(canvas, QEvent.Type.MouseButtonRelease, end, LEFT, NONE)


def drop_tile(canvas: Any, type_: str, at: QPointF) -> None:
    """What a drag from a palette tile delivers: enter, move, drop (Qt drops only where
    the enter was accepted)."""
    view = canvas.view
    mime = PaletteTile(type_).mime_data()
    local = view.mapFromScene(at)
    copy, plain = Qt.DropAction.CopyAction, Qt.KeyboardModifier.NoModifier
    for event in (
        QDragEnterEvent(local, copy, mime, NONE, plain),
        QDragMoveEvent(local, copy, mime, NONE, plain),
    ):
        QApplication.sendEvent(view.viewport(), event)
        assert event.isAccepted()
    QApplication.sendEvent(view.viewport(), QDropEvent(QPointF(local), copy, mime, NONE, plain))


def stored(db: Database, campaign_id: int) -> dict[str, Activity]:
    with db.read() as s:
        acts = s.scalars(select(Activity).where(Activity.campaign_id == campaign_id)).all()
        return {a.key: a for a in acts}


def test_dragging_from_the_palette_creates_a_persisted_node(
    canvas: Any, db: Database, hot: int
) -> None:
    drop_tile(canvas, "sms", QPointF(603, 11))
    rows = stored(db, hot)
    assert "sms" in rows
    assert (rows["sms"].type, rows["sms"].trigger, rows["sms"].parent_id) == ("sms", "begin", None)
    assert (rows["sms"].position_x, rows["sms"].position_y) == (600, 20)  # on the grid
    assert canvas.scene.selected_keys() == ["sms"]
    canvas.editor.undo_stack.undo()
    assert "sms" not in stored(db, hot)


def test_dropping_a_tile_on_a_node_makes_a_child_with_a_valid_trigger(
    canvas: Any, db: Database, hot: int
) -> None:
    chooser = canvas.scene.chooser = ScriptedChooser(trigger="mail_not_open")
    drop_tile(canvas, "email", canvas.scene.item_for_key["welcome"].pos())
    assert chooser.offered == [triggers_for_parent("email")]
    rows = stored(db, hot)
    assert rows["email"].parent_id == rows["welcome"].id
    assert rows["email"].trigger == "mail_not_open"
    # below its parent, clear of the cards already there
    assert rows["email"].position_y == 180


def test_connecting_offers_only_valid_triggers(canvas: Any, db: Database, hot: int) -> None:
    scene = canvas.scene
    sms = canvas.editor.add_node("sms", (500, 0))
    assert sms is not None
    chooser = scene.chooser = ScriptedChooser(trigger="sms_not_click")
    source = scene.item_for_key[sms]
    drag(canvas, source.output_anchor(), scene.item_for_key["check_email"].pos())
    assert chooser.offered == [["activity", "sms_click", "sms_not_click", "sms_bounce"]]
    rows = stored(db, hot)
    assert rows["check_email"].parent_id == rows[sms].id
    assert rows["check_email"].trigger == "sms_not_click"
    assert scene.edge_for_key["check_email"].boundingRect().contains(source.output_anchor())


def test_a_loop_is_refused_visibly(canvas: Any, db: Database, hot: int, qtbot) -> None:  # type: ignore[no-untyped-def]
    scene = canvas.scene
    chooser = scene.chooser = ScriptedChooser(trigger="activity")
    messages: list[str] = []
    scene.message.connect(messages.append)
    before = snapshot(db, hot)
    target = scene.item_for_key["welcome"]
    start = scene.item_for_key["tag_hot"].output_anchor()
    mouse(canvas, QEvent.Type.MouseButtonPress, start)
    mouse(canvas, QEvent.Type.MouseMove, target.pos(), NONE, LEFT)
    assert target.drop_state == "invalid"  # red while hovering
    mouse(canvas, QEvent.Type.MouseButtonRelease, target.pos(), LEFT, NONE)
    assert chooser.offered == []  # no menu for a refused drop
    assert messages and "loop back" in messages[-1]
    assert target.drop_state == "invalid"  # flashes red...
    qtbot.waitUntil(lambda: target.drop_state is None, timeout=2000)  # ...then clears
    assert snapshot(db, hot) == before
    assert canvas.editor.undo_stack.count() == 0


def test_dragging_a_link_to_empty_canvas_creates_a_child(
    canvas: Any, db: Database, hot: int
) -> None:
    scene = canvas.scene
    chooser = scene.chooser = ScriptedChooser(new=("activity", "email"))
    start = scene.item_for_key["tag_hot"].output_anchor()
    drag(canvas, start, start + QPointF(0, 160))
    assert chooser.offered == [["activity"]]  # a server action can only be followed
    rows = stored(db, hot)
    assert rows["email"].parent_id == rows["tag_hot"].id
    assert rows["email"].trigger == "activity"


def test_dragging_cards_pushes_one_snapped_move(canvas: Any, db: Database, hot: int) -> None:
    scene = canvas.scene
    card = scene.item_for_key["check_email"]
    drag(canvas, card.pos() + QPointF(-60, -30), card.pos() + QPointF(-60 + 93, -30 + 47))
    assert stored(db, hot)["check_email"].position_x == 260  # 160 + 93, snapped to 20
    assert stored(db, hot)["check_email"].position_y == 220
    assert canvas.editor.undo_stack.count() == 1
    edge = scene.edge_for_key["check_email"]
    assert edge.boundingRect().contains(card.input_anchor())
    canvas.editor.undo_stack.undo()
    assert card.pos() == QPointF(160, 180)


def test_wheel_zooms_around_the_cursor(canvas: Any) -> None:
    view = canvas.view
    spot = QPoint(300, 200)
    fixed = view.mapToScene(spot)
    before = view.zoom()
    event = QWheelEvent(
        QPointF(spot),
        QPointF(view.viewport().mapToGlobal(spot)),
        QPoint(),
        QPoint(0, 240),
        NONE,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)
    assert view.zoom() > before
    after = view.mapToScene(spot)
    assert abs(after.x() - fixed.x()) < 2 and abs(after.y() - fixed.y()) < 2
    view.fit()
    assert view.zoom() <= 1.0
    for key in canvas.scene.item_for_key:
        card = canvas.scene.item_for_key[key]
        assert view.viewport().rect().contains(view.mapFromScene(card.pos()))


def test_rubber_band_selects_and_delete_cascades_with_undo(
    canvas: Any, db: Database, hot: int
) -> None:
    scene = canvas.scene
    before = snapshot(db, hot)
    # a band from empty canvas around the two children
    drag(canvas, QPointF(-330, 110), QPointF(330, 250))
    assert scene.selected_keys() == ["tag_hot", "check_email"]
    scene.select_keys(["welcome"])
    canvas.actions_by_name["delete"].trigger()
    assert stored(db, hot) == {}
    canvas.actions_by_name["undo"].trigger()
    assert snapshot(db, hot) == before


def test_deleting_a_link_detaches_the_child(canvas: Any, db: Database, hot: int) -> None:
    scene = canvas.scene
    scene.clearSelection()
    scene.edge_for_key["tag_hot"].setSelected(True)
    canvas.actions_by_name["delete"].trigger()
    rows = stored(db, hot)
    assert (rows["tag_hot"].parent_id, rows["tag_hot"].trigger) == (None, "begin")
    canvas.actions_by_name["undo"].trigger()
    assert stored(db, hot)["tag_hot"].trigger == "mail_click"


def test_arrange_is_one_undoable_step(canvas: Any, db: Database, hot: int) -> None:
    before = snapshot(db, hot)
    canvas.editor.move({"check_email": ((160, 180), (700, 600))})
    canvas.actions_by_name["arrange"].trigger()
    rows = stored(db, hot)
    assert (rows["check_email"].position_x, rows["check_email"].position_y) == (160, 180)
    assert canvas.editor.undo_stack.undoText() == "Arrange"
    canvas.actions_by_name["undo"].trigger()
    assert stored(db, hot)["check_email"].position_x == 700
    canvas.actions_by_name["undo"].trigger()
    assert snapshot(db, hot) == before


def test_copy_and_paste_through_the_actions(canvas: Any, db: Database, hot: int) -> None:
    canvas.scene.select_keys(["tag_hot"])
    canvas.actions_by_name["copy"].trigger()
    canvas.actions_by_name["paste"].trigger()
    rows = stored(db, hot)
    assert "tag_hot_2" in rows
    assert rows["tag_hot_2"].parent_id == rows["welcome"].id  # same campaign: same parent
    assert canvas.scene.selected_keys() == ["tag_hot_2"]
    canvas.actions_by_name["duplicate"].trigger()
    assert "tag_hot_3" in stored(db, hot)
    canvas.actions_by_name["cut"].trigger()
    assert "tag_hot_3" not in stored(db, hot)


def test_the_overview_moves_the_view(canvas: Any) -> None:
    from PySide6.QtTest import QTest

    overview, view = canvas.minimap, canvas.view
    assert overview.isVisible()
    spot = QPoint(overview.width() - 20, overview.height() - 20)
    QTest.mouseClick(overview, LEFT, Qt.KeyboardModifier.NoModifier, spot)
    wanted = overview._to_scene(QPointF(spot))
    centre = view.mapToScene(view.viewport().rect().center())
    assert abs(centre.x() - wanted.x()) < 3 and abs(centre.y() - wanted.y()) < 3
    canvas.actions_by_name["overview"].trigger()
    assert not overview.isVisible()


def test_the_overview_shrinks_on_a_narrow_canvas(canvas: Any, qtbot: Any) -> None:
    from designer.canvas.minimap import MIN_WIDTH, SIZE

    assert canvas.minimap.width() == SIZE[0]  # 1400 pixels wide: full size
    canvas.resize(700, 600)
    qtbot.waitUntil(lambda: canvas.minimap.width() < SIZE[0])
    assert MIN_WIDTH <= canvas.minimap.width() <= canvas.view.viewport().width() // 5
    area = canvas.view.viewport().geometry()
    assert canvas.minimap.geometry().right() < area.right()  # still in the corner


@pytest.mark.parametrize("zoom", [0.6, 1.0, 1.56, 2.0])
def test_every_point_of_a_linked_handle_draws_a_link_at_any_zoom(
    canvas: Any, db: Database, hot: int, zoom: float
) -> None:
    """Issue 26: zoomed to 156%, a drag from the upper half of a handle that already had
    links moved the card (the handle's half inside the card was a hole in its shape)."""
    scene = canvas.scene
    canvas.view.set_zoom(zoom)
    source = scene.item_for_key["welcome"]  # two links leave its handle already
    canvas.view.centerOn(source)
    for dy in (-8.0, -4.0, 0.0, 4.0, 8.0):
        chooser = scene.chooser = ScriptedChooser()  # answers nothing: no child made
        start = source.output_anchor() + QPointF(0, dy)
        drag(canvas, start, start + QPointF(150, 220))
        assert chooser.offered, f"no link drawn from {dy:+} at {zoom:.0%}"
        assert source.pos() == QPointF(0, 0)
    assert canvas.editor.undo_stack.count() == 0


def clear_of_every_card(canvas: Any, key: str) -> bool:
    scene = canvas.scene
    spot = scene.position_of(key)
    start = scene.start_item.pos()
    others = [scene.position_of(k) for k in scene.item_for_key if k != key]
    return not any(overlaps(spot, p) for p in [*others, (start.x(), start.y())])


def in_sight(canvas: Any, key: str) -> bool:
    """Wholly inside the viewport and not under the minimap."""
    view = canvas.view
    rect = view.mapFromScene(canvas.scene.item_for_key[key].sceneBoundingRect()).boundingRect()
    minimap = canvas.minimap.geometry()
    return view.viewport().rect().contains(rect) and not rect.intersects(minimap)


def test_new_steps_land_in_a_free_place_in_sight(canvas: Any, db: Database, hot: int) -> None:
    """Issue 26: a palette click, a paste and a duplicate landed on top of cards, and new
    children off screen or under the minimap."""
    scene, view = canvas.scene, canvas.view
    welcome = scene.item_for_key["welcome"]
    # the view's centre is beside a card, not on it: a new root would have covered it
    view.centerOn(welcome.pos() + QPointF(style.CARD_W / 2 + 30, 0))
    canvas.add_at_center("sms")
    (root,) = [k for k in scene.selected_keys()]
    assert canvas.document.node(root).parent is None
    assert clear_of_every_card(canvas, root) and in_sight(canvas, root)

    scene.select_keys(["tag_hot"])
    canvas.actions_by_name["copy"].trigger()
    view.centerOn(scene.item_for_key["check_email"].pos())  # paste aimed at a card
    canvas.actions_by_name["paste"].trigger()
    (pasted,) = scene.selected_keys()
    assert clear_of_every_card(canvas, pasted) and in_sight(canvas, pasted)

    view.centerOn(QPointF(-3000, -3000))  # far from everything: the copy is scrolled to
    scene.select_keys(["check_email"])
    canvas.actions_by_name["duplicate"].trigger()
    (copy,) = scene.selected_keys()
    assert clear_of_every_card(canvas, copy) and in_sight(canvas, copy)

    view.centerOn(QPointF(-3000, -3000))  # a child dropped on a card while looking away
    scene.chooser = ScriptedChooser(trigger="activity")
    key = scene.interactions.drop_activity("email", scene.item_for_key[copy].pos())
    assert key is not None and canvas.document.node(key).parent == copy
    assert clear_of_every_card(canvas, key) and in_sight(canvas, key)


@pytest.mark.parametrize("size", [(1400, 330), (1400, 900), (700, 900), (900, 420)])
def test_fit_shows_every_card_clear_of_the_minimap_as_large_as_it_can(
    canvas: Any, qtbot: Any, size: tuple[int, int]
) -> None:
    """Issue 26: Fit reserved the minimap's width over the whole height, so a journey
    wider than tall came out far smaller than the canvas allowed."""
    canvas.resize(*size)
    qtbot.waitUntil(lambda: canvas.view.viewport().width() > 0)
    view = canvas.view
    view.fit()
    assert all(in_sight(canvas, k) for k in canvas.scene.item_for_key)
    rect = QRectF(canvas.scene.content_rect).adjusted(-40, -40, 40, 40)
    port = view.viewport().rect()
    reserve = canvas.minimap.width() + 16 if canvas.minimap.isVisible() else 0
    old = min(
        max(port.width() - reserve, port.width() // 2) / rect.width(),
        port.height() / rect.height(),
        1.0,
    )
    assert view.zoom() >= old - 1e-9  # never smaller than before
    if size == (700, 900):  # narrow: above the minimap, not beside it
        assert view.zoom() > old * 1.2


def menu_action(menu: Any, *path: str) -> Any:
    """The action at ``path`` in ``menu`` (submenu titles, then the action's text)."""
    for title in path[:-1]:
        menu = next(a.menu() for a in menu.actions() if a.menu() and a.text() == title)
    return next(a for a in menu.actions() if a.text() == path[-1])


def test_a_cards_menu_renames_adds_a_child_duplicates_deletes_and_tests(
    canvas: Any, db: Database, hot: int, monkeypatch: Any
) -> None:
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QInputDialog

    scene, view = canvas.scene, canvas.view
    shown: list[list[str]] = []
    canvas.popup = lambda menu, at: shown.append([x.text() for x in menu.actions()])
    card = scene.item_for_key["welcome"]
    at = view.mapFromScene(card.pos())
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, view.viewport().mapToGlobal(at))
    QApplication.sendEvent(view.viewport(), event)  # a right click on the card
    assert shown == [
        [
            "Rename…",
            "D&uplicate",
            "&Copy",
            "Cu&t",
            "&Delete",
            "Add Step After",
            "",
            "Run Test to Here",
        ]
    ]
    assert scene.selected_keys() == ["welcome"]

    menu = canvas.card_menu("welcome")
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Spring welcome", True))
    menu_action(menu, "Rename…").trigger()
    assert stored(db, hot)["welcome"].name == "Spring welcome"

    menu_action(menu, "Add Step After", "Clicked", "SMS").trigger()
    (child,) = scene.selected_keys()
    rows = stored(db, hot)
    assert (rows[child].parent_id, rows[child].trigger) == (rows["welcome"].id, "mail_click")
    assert rows[child].name == "SMS after clicked"
    assert clear_of_every_card(canvas, child) and in_sight(canvas, child)

    asked: list[str] = []
    canvas.testToHere.connect(asked.append)
    menu = canvas.card_menu(child)
    menu_action(menu, "Run Test to Here").trigger()
    assert asked == [child]
    menu_action(menu, "D&uplicate").trigger()
    assert len(stored(db, hot)) == 5
    menu = canvas.card_menu(child)
    menu_action(menu, "&Delete").trigger()
    assert child not in stored(db, hot)


def key(canvas: Any, k: Qt.Key) -> None:
    from PySide6.QtGui import QKeyEvent

    for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
        QApplication.sendEvent(canvas.view, QKeyEvent(kind, k, Qt.KeyboardModifier.NoModifier))


def test_arrows_walk_the_cards_and_return_asks_for_the_inspector(canvas: Any) -> None:
    scene = canvas.scene
    scene.clearSelection()
    key(canvas, Qt.Key.Key_Down)  # nothing selected: the first step
    assert scene.selected_keys() == ["welcome"]
    key(canvas, Qt.Key.Key_Down)  # below it, the nearer of its two children
    below = scene.selected_keys()
    assert below in (["tag_hot"], ["check_email"])
    other = "check_email" if below == ["tag_hot"] else "tag_hot"
    sideways = (
        Qt.Key.Key_Right
        if scene.position_of(other)[0] > scene.position_of(below[0])[0]
        else Qt.Key.Key_Left
    )
    key(canvas, sideways)
    assert scene.selected_keys() == [other]
    key(canvas, Qt.Key.Key_Up)
    assert scene.selected_keys() == ["welcome"]
    key(canvas, Qt.Key.Key_Up)  # nothing above: the selection stays
    assert scene.selected_keys() == ["welcome"]
    asked: list[str] = []
    canvas.inspectRequested.connect(asked.append)
    key(canvas, Qt.Key.Key_Return)
    assert asked == ["welcome"]


def test_quick_add_finds_a_step_by_typing_and_adds_it_under_the_selection(
    canvas: Any, db: Database, hot: int, qtbot: Any
) -> None:
    from PySide6.QtGui import QKeyEvent

    scene = canvas.scene
    scene.select_keys(["welcome"])
    canvas.actions_by_name["quick_add"].trigger()
    box = canvas.quick_add
    assert box.isVisible() and "SMS after clicked" in box.shown()
    box.edit.setText("sms cli")
    assert box.shown() == ["SMS after clicked", "SMS if not clicked"]  # Return takes the first
    box.edit.setText("mail not op")  # "mail" finds emails too
    assert box.shown() == ["Email if not opened"]
    box.edit.setText("zzz")
    assert box.shown() == []
    box.edit.setText("sms cli")
    QApplication.sendEvent(
        box.edit, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier)
    )
    assert not box.isVisible()
    (new,) = scene.selected_keys()
    rows = stored(db, hot)
    assert (rows[new].parent_id, rows[new].trigger, rows[new].type) == (
        rows["welcome"].id,
        "mail_click",
        "sms",
    )
    assert clear_of_every_card(canvas, new) and in_sight(canvas, new)

    scene.clearSelection()  # nothing selected: a first step (a root)
    canvas.actions_by_name["quick_add"].trigger()
    assert box.shown() == ["Email at start", "SMS at start", "Server action at start"]
    QApplication.sendEvent(
        box.edit, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Down, Qt.KeyboardModifier.NoModifier)
    )
    QApplication.sendEvent(
        box.edit, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier)
    )
    (root,) = scene.selected_keys()
    assert stored(db, hot)[root].parent_id is None and stored(db, hot)[root].type == "sms"
    assert clear_of_every_card(canvas, root)
    canvas.actions_by_name["quick_add"].trigger()
    QApplication.sendEvent(
        box.edit, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier)
    )
    assert not box.isVisible() and len(stored(db, hot)) == 5


def test_sticky_notes_are_added_written_moved_deleted_and_undone(
    canvas: Any, db: Database, hot: int, monkeypatch: Any, clock: Any
) -> None:
    from PySide6.QtWidgets import QInputDialog

    from designer.document import CampaignDocument
    from engine import campaign_files
    from engine.models import Campaign

    def stored_notes() -> list[dict[str, Any]]:
        with db.read() as s:
            campaign = s.get(Campaign, hot)
            assert campaign is not None
            return list(campaign.notes or [])

    scene, stack = canvas.scene, canvas.editor.undo_stack
    monkeypatch.setattr(
        QInputDialog, "getMultiLineText", lambda *a, **k: ("Ask legal before May", True)
    )
    canvas.actions_by_name["add_note"].trigger()
    (nid,) = scene.selected_notes()
    item = scene.note_for_id[nid]
    assert stored_notes() == [
        {"id": nid, "text": "Ask legal before May", "position": dict(item._shown["position"])}
    ]
    assert not any(
        overlaps((item.pos().x(), item.pos().y()), scene.position_of(k)) for k in scene.item_for_key
    )

    start = QPointF(item.pos())
    drag(canvas, start, start + QPointF(200, 100))  # dragged: one undoable move
    moved = stored_notes()[0]["position"]
    assert (moved["x"], moved["y"]) == snap(start + QPointF(200, 100))

    monkeypatch.setattr(QInputDialog, "getMultiLineText", lambda *a, **k: ("Legal said yes", True))
    event_pos = item.pos()
    item.mouseDoubleClickEvent(_double_click(event_pos))
    assert stored_notes()[0]["text"] == "Legal said yes" and item.text == "Legal said yes"

    with db.read() as s:  # the file carries it; a reopened canvas shows it
        assert campaign_files.export_document(s, hot)["notes"][0]["text"] == "Legal said yes"
    assert CampaignDocument(db, hot, clock).campaign.notes[0]["id"] == nid

    scene.clearSelection()
    item.setSelected(True)
    canvas.actions_by_name["delete"].trigger()
    assert stored_notes() == [] and nid not in scene.note_for_id
    for _ in range(3):
        stack.undo()  # delete, edit, move
    assert stored_notes()[0]["text"] == "Ask legal before May"
    assert scene.note_for_id[nid].pos() == start
    stack.undo()
    assert stored_notes() == [] and scene.note_for_id == {}
    assert [n["id"] for n in canvas.document.campaign.notes] == []


def _double_click(pos: QPointF) -> Any:
    from PySide6.QtWidgets import QGraphicsSceneMouseEvent

    event = QGraphicsSceneMouseEvent(QEvent.Type.GraphicsSceneMouseDoubleClick)
    event.setScenePos(pos)
    return event
