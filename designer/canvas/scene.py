"""The campaign scene: graphics items that follow a :class:`CampaignDocument`.

As in orange-canvas-core's ``CanvasScene.set_scheme``, the scene subscribes to the
document's signals and keeps ``item_for_key`` / ``edge_for_key`` maps; items hold only
what they draw. The scene never edits the document: gestures (see
:mod:`designer.canvas.interactions`) end by calling the editor, which pushes an undo
command, the document commits and signals, and the scene redraws.

Nodes without a stored position are placed by the automatic layout as view state — the
database is not written just because a campaign was opened (or rendered); "Arrange"
stores positions as an undoable edit. Thousands of items move here, so the scene uses
no index (``NoIndex``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from PySide6.QtCore import QObject, QPointF, QRectF, Signal
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsSceneMouseEvent

from ..document import CampaignDocument, Node, Position
from ..editor import CampaignEditor
from . import layout, style
from .edges import EdgeItem
from .items import ActivityNode, CardItem, StartNode
from .notes import NoteItem, sync_notes
from .stats import CanvasStats


class CampaignScene(QGraphicsScene):
    """Items for one document. ``editor`` is None for a read-only scene (render)."""

    message = Signal(str)  # refusals and hints for the status bar
    # Activity items were made anew (a reload, an undo, an added or removed step): view
    # state kept on items by others — the test path's highlight — must be applied again.
    rebuilt = Signal()

    def __init__(
        self,
        document: CampaignDocument,
        editor: CampaignEditor | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setBackgroundBrush(style.CANVAS)
        self.document = document
        self.editor = editor
        self.item_for_key: dict[str, ActivityNode] = {}
        self.edge_for_key: dict[str, EdgeItem] = {}
        self.note_for_id: dict[str, NoteItem] = {}
        self.stats = CanvasStats()
        self.start_item = StartNode()
        self.start_item.show_handle = editor is not None
        self.addItem(self.start_item)
        self._auto: dict[str, Position] = {}
        self._items_changed = False
        from .interactions import Interactions, MenuChooser

        self.chooser = MenuChooser()
        self.interactions = Interactions(self, editor) if editor is not None else None
        if editor is not None:
            editor.message.connect(self.message)
        document.nodeAdded.connect(self._on_added)
        document.nodeRemoved.connect(self._on_removed)
        document.nodeChanged.connect(self._on_changed)
        document.nodesMoved.connect(self._on_moved)
        document.campaignChanged.connect(self._on_campaign)
        document.reloaded.connect(self.rebuild)
        document.edited.connect(self.relayout)
        self.rebuild()

    # --- building ----------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Drop every activity item and make them again from the document."""
        for item in [*self.item_for_key.values(), *self.edge_for_key.values()]:
            self.removeItem(item)
        self.item_for_key.clear()
        self.edge_for_key.clear()
        for node in self.document.nodes.values():
            self._make_item(node)
        for node in self.document.nodes.values():
            self._make_edge(node)
        self._on_campaign("")
        self._items_changed = True
        self.relayout()

    def _make_item(self, node: Node) -> ActivityNode:
        item = ActivityNode(node.key)
        item.set_node(node)
        item.set_stats(self.stats.node(node.key))
        if self.editor is None:
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, False)
            item.show_handle = False
        if node.position is not None:
            item.setPos(QPointF(*node.position))
        self.item_for_key[node.key] = item
        self.addItem(item)
        return item

    def _make_edge(self, node: Node) -> EdgeItem:
        edge = EdgeItem(node.key)
        edge.set_trigger(None if node.parent is None else node.trigger)
        self.edge_for_key[node.key] = edge
        self.addItem(edge)
        return edge

    # --- positions ---------------------------------------------------------------------------
    def relayout(self) -> None:
        """Place nodes without a position, the Start node, every edge, the scene rect."""
        nodes = self.document.nodes
        self._auto = {}
        if any(n.position is None for n in nodes.values()):
            parents = {k: n.parent for k, n in nodes.items()}
            self._auto = layout.place_unpositioned(
                parents, {k: n.position for k, n in nodes.items()}
            )
        for key, pos in self._auto.items():
            self.item_for_key[key].setPos(QPointF(*pos))
        self._place_start()
        for key in self.edge_for_key:
            self._update_edge(key)
        self.update_scene_rect()
        if self._items_changed:  # once per edit, when the items are all in place
            self._items_changed = False
            self.rebuilt.emit()

    def position_of(self, key: str) -> Position:
        """Where ``key`` is drawn (stored or automatic), as a card centre."""
        pos = self.item_for_key[key].pos()
        return (pos.x(), pos.y())

    def _place_start(self) -> None:
        roots = [self.item_for_key[k] for k in self.document.children_of(None)]
        if roots:
            x = sum(r.pos().x() for r in roots) / len(roots)
            y = min(r.pos().y() for r in roots) - style.V_PITCH
        else:
            x, y = 0.0, -style.V_PITCH
        self.start_item.setPos(x, y)

    def _update_edge(self, key: str) -> None:
        edge = self.edge_for_key.get(key)
        child = self.item_for_key.get(key)
        if edge is None or child is None:
            return
        parent_key = self.document.node(key).parent
        source: CardItem | None = (
            self.start_item if parent_key is None else self.item_for_key.get(parent_key)
        )
        if source is not None:
            edge.set_ends(source.output_anchor(), child.input_anchor())

    def cards_moved(self, keys: Iterable[str]) -> None:
        """Cards moved by a drag in progress: keep their links (and the Start node)."""
        moved = {k for k in keys if k in self.document}
        touched = set(moved)
        roots_moved = False
        for key, node in self.document.nodes.items():
            if node.parent in moved:
                touched.add(key)
            if key in moved and node.parent is None:
                roots_moved = True
        if roots_moved:
            self._place_start()
            touched.update(self.document.children_of(None))
        for key in touched:
            self._update_edge(key)

    def update_scene_rect(self) -> None:
        """The content's extent plus room to pan past it."""
        rect = QRectF(self.start_item.sceneBoundingRect())
        for item in [*self.item_for_key.values(), *self.note_for_id.values()]:
            rect = rect.united(item.sceneBoundingRect())
        self.content_rect = rect
        self.setSceneRect(rect.adjusted(-1200, -800, 1200, 800))

    # --- document signals --------------------------------------------------------------------
    # Item changes happen per node; positions and links are settled once per edit, when
    # the document says ``edited`` (a paste of 500 nodes relays out once, not 500 times).
    def _on_added(self, node: Node) -> None:
        self._make_item(node)
        self._make_edge(node)
        self._items_changed = True

    def _on_removed(self, key: str) -> None:
        for item in (self.item_for_key.pop(key, None), self.edge_for_key.pop(key, None)):
            if item is not None:
                self.removeItem(item)
        self._items_changed = True

    def _on_changed(self, key: str, field: str) -> None:
        node = self.document.node(key)
        self.item_for_key[key].set_node(node)
        if field in ("parent", "trigger"):
            self.edge_for_key[key].set_trigger(None if node.parent is None else node.trigger)

    def _on_moved(self, positions: Mapping[str, Position | None]) -> None:
        for key, pos in positions.items():
            if pos is not None:
                self.item_for_key[key].setPos(QPointF(*pos))

    def _on_campaign(self, field: str) -> None:
        self._show_start()
        if field in ("", "notes"):
            sync_notes(self)
            self.update_scene_rect()

    def _show_start(self) -> None:
        c = self.document.campaign
        self.start_item.set_campaign(c.target, c.filter, self.stats.matching)

    # --- view state --------------------------------------------------------------------------
    def set_stats(self, stats: CanvasStats) -> None:
        """New counters and sparklines (from :func:`designer.canvas.stats.load_stats`)."""
        self.stats = stats
        for key, item in self.item_for_key.items():
            item.set_stats(stats.node(key))
        self._show_start()  # live refreshes: the notes and the extent are unchanged

    def set_problems(self, problems: Mapping[str, tuple[str, str]]) -> None:
        """Validation badges: key -> (severity, text); keys not given are cleared."""
        for key, item in self.item_for_key.items():
            severity, text = problems.get(key, (None, ""))
            item.set_problems(severity, text)

    def highlight_path(self, states: Mapping[str, str] | None) -> None:
        """Ring the steps of one participant's path by their trace states (None clears)."""
        for key, item in self.item_for_key.items():
            item.set_highlight((states or {}).get(key))

    def selected_keys(self) -> list[str]:
        keys = {i.key for i in self.selectedItems() if isinstance(i, ActivityNode)}
        return [k for k in self.document.nodes if k in keys]

    def selected_notes(self) -> list[str]:
        return [i.note_id for i in self.selectedItems() if isinstance(i, NoteItem)]

    def selected_links(self) -> list[str]:
        """Child keys of the selected links (deleting a link detaches its child)."""
        return [i.key for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_keys(self, keys: Iterable[str]) -> None:
        wanted = set(keys)
        self.clearSelection()
        for key in wanted:
            item = self.item_for_key.get(key)
            if item is not None:
                item.setSelected(True)

    def show_new(self, keys: Iterable[str]) -> None:
        """Select steps just added or pasted and scroll every view to them."""
        keys = list(keys)
        self.select_keys(keys)
        items: list[QGraphicsItem] = [self.item_for_key[k] for k in keys if k in self.item_for_key]
        for view in self.views():
            reveal = getattr(view, "reveal", None)
            if reveal is not None:
                reveal(items)

    def card_at(self, pos: QPointF, exclude: QGraphicsItem | None = None) -> CardItem | None:
        for item in self.items(pos):
            if isinstance(item, CardItem) and item is not exclude:
                return item
        return None

    # --- gestures are delegated to the interaction object ------------------------------------
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.interactions is None or not self.interactions.press(event):
            super().mousePressEvent(event)
            if self.interactions is not None:
                self.interactions.after_press(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.interactions is None or not self.interactions.move(event):
            super().mouseMoveEvent(event)
            if self.interactions is not None:
                self.interactions.after_move(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.interactions is None or not self.interactions.release(event):
            super().mouseReleaseEvent(event)
            if self.interactions is not None:
                self.interactions.after_release(event)
