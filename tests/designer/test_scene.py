"""The scene follows the document; it never writes it (opening or rendering is read-only)."""

from __future__ import annotations

from PySide6.QtCore import QPointF

from designer.canvas.edges import EdgeItem
from designer.canvas.items import ActivityNode
from designer.canvas.scene import CampaignScene
from designer.canvas.stats import CanvasStats, NodeStats, load_stats
from designer.document import CampaignDocument, Delay, Node
from designer.editor import CampaignEditor
from engine.clock import FixedClock
from engine.db import Database

from .conftest import snapshot


def test_scene_follows_document_changes(qapp, db: Database, hot: int, clock: FixedClock) -> None:
    doc = CampaignDocument(db, hot, clock)
    editor = CampaignEditor(doc)
    scene = CampaignScene(doc, editor)
    assert set(scene.item_for_key) == {"welcome", "tag_hot", "check_email"}
    assert scene.item_for_key["tag_hot"].pos() == QPointF(-160, 180)
    edge = scene.edge_for_key["tag_hot"]
    welcome = scene.item_for_key["welcome"]
    # the link runs from the parent's output handle to the child's top
    assert edge.boundingRect().contains(welcome.output_anchor())

    key = editor.add_node("sms", (400, 360), parent="check_email", trigger="activity")
    assert key in scene.item_for_key and key in scene.edge_for_key
    assert scene.item_for_key[key].pos() == QPointF(400, 360)

    editor.set_field("tag_hot", "name", "Tag as Very Hot")
    assert scene.item_for_key["tag_hot"].node.name == "Tag as Very Hot"  # type: ignore[union-attr]

    editor.move({"check_email": ((160, 180), (300, 200))})
    assert scene.item_for_key["check_email"].pos() == QPointF(300, 200)
    assert (
        scene.edge_for_key[key]
        .boundingRect()
        .contains(scene.item_for_key["check_email"].output_anchor())
    )

    editor.link(key, None, "begin")  # becomes a root: linked from the Start node
    assert scene.edge_for_key[key].boundingRect().contains(scene.start_item.output_anchor())

    editor.remove(["welcome"])
    assert set(scene.item_for_key) == {key}
    assert len([i for i in scene.items() if isinstance(i, ActivityNode)]) == 1
    assert len([i for i in scene.items() if isinstance(i, EdgeItem)]) == 1

    editor.undo_stack.undo()  # the removal
    assert set(scene.item_for_key) == {"welcome", "tag_hot", "check_email", key}
    while editor.undo_stack.canUndo():
        editor.undo_stack.undo()
    assert set(scene.item_for_key) == {"welcome", "tag_hot", "check_email"}
    assert scene.item_for_key["check_email"].pos() == QPointF(160, 180)


def test_nodes_without_positions_are_laid_out_without_writing(
    qapp, db: Database, hot: int, clock: FixedClock
) -> None:
    doc = CampaignDocument(db, hot, clock)
    doc.move_nodes({k: None for k in doc.nodes})
    doc.add_node(Node("n1", "One", "sms", "mail_open", "welcome", Delay(1, "days")))
    before = snapshot(db, hot)
    scene = CampaignScene(doc)
    assert snapshot(db, hot) == before
    positions = [scene.position_of(k) for k in doc.nodes]
    assert len(set(positions)) == len(positions)
    top = scene.position_of("welcome")
    assert all(scene.position_of(k)[1] > top[1] for k in ("tag_hot", "check_email", "n1"))


def test_counters_sparklines_and_badges(qapp, db: Database, hot: int, clock: FixedClock) -> None:
    doc = CampaignDocument(db, hot, clock)
    scene = CampaignScene(doc)
    stats = load_stats(db, hot, clock.now())
    welcome = stats.node("welcome")
    assert (welcome.processed, welcome.rejected) == (0, 0)
    assert welcome.processed_series == welcome.rejected_series == (0,) * 15
    assert stats.matching == 0
    scene.set_stats(CanvasStats({"welcome": NodeStats(12, 3, (1, 5, 2), (0, 1, 0))}, 40))
    item = scene.item_for_key["welcome"]
    texts = item.texts()
    assert (texts["processed"], texts["rejected"], texts["sparklines"]) == (
        "12 sent · 3 rejected",
        "0% opened · 0% clicked",
        "2",
    )
    assert scene.item_for_key["tag_hot"].texts()["processed"] == "0 processed"
    assert texts["when"] == "2 hours after start"
    assert scene.item_for_key["check_email"].texts()["sparklines"] == "0"
    assert any(t.text() == "40 matching" for *_x, t in scene.start_item._texts)
    scene.set_problems({"tag_hot": ("error", "Missing subject")})
    assert scene.item_for_key["tag_hot"].toolTip() == "Missing subject"
    scene.set_problems({})
    assert scene.item_for_key["tag_hot"].toolTip() == ""


def test_selection_helpers(qapp, db: Database, hot: int, clock: FixedClock) -> None:
    scene = CampaignScene(CampaignDocument(db, hot, clock))
    scene.select_keys(["check_email", "welcome"])
    assert scene.selected_keys() == ["welcome", "check_email"]  # file order
