"""The canvas as one widget: palette, view, and the edit actions a main window shows.

The main window (later) embeds a :class:`CanvasWidget` per open campaign and puts its
``actions`` in menus and toolbars; the inspector connects to ``scene.selectionChanged``
and calls ``editor`` methods, so its edits land on the same undo stack.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QMenu, QWidget

from engine.catalog import TRIGGER_WORDS
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.notes import MAX_TEXT

from ..document import TYPE_LABELS, CampaignDocument, Position
from ..editor import CampaignEditor
from . import layout
from .interactions import ACTIVITY_TYPES, snap
from .minimap import Minimap
from .palette import Palette
from .quick_add import Choice, QuickAdd
from .quick_add import choices as quick_choices
from .scene import CampaignScene
from .stats import load_stats
from .view import CanvasView


class CanvasWidget(QWidget):
    testToHere = Signal(str)  # "Run Test to Here" on a card: the step's key
    inspectRequested = Signal(str)  # Return on a selected card: edit it in the inspector

    def __init__(
        self,
        db: Database,
        campaign_id: int,
        clock: Clock | None = None,
        parent: QWidget | None = None,
        *,
        read_only: bool = False,
    ) -> None:
        super().__init__(parent)
        self.clock = clock or SystemClock()
        self.read_only = read_only
        self.spark_hourly = False  # sparklines over 48 hours instead of 15 days
        self.document = CampaignDocument(db, campaign_id, self.clock, self)
        self.editor = CampaignEditor(self.document, self)
        # Read-only: a scene without an editor (no drags, no handles, no drops).
        self.scene = CampaignScene(self.document, None if read_only else self.editor, self)
        self.view = CanvasView(self.scene, self)
        self.minimap = Minimap(self.view)
        self.view.overlays.append(self.minimap)
        self.activity_palette = Palette(self)  # not "palette": QWidget.palette() exists
        self.activity_palette.activated.connect(self.add_at_center)
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.activity_palette)
        box.addWidget(self.view, 1)
        self.activity_palette.setVisible(not read_only)
        self.quick_add = QuickAdd(self.view, self._quick_added)
        self.actions_by_name: dict[str, QAction] = {}
        # How a card's menu is shown (tests replace it, as the scene's chooser).
        self.popup: Callable[[QMenu, QPoint], object] = lambda menu, at: menu.exec(at)
        self._make_actions()
        self.refresh_stats()

    def _make_actions(self) -> None:
        stack = self.editor.undo_stack
        undo = stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.StandardKey.Redo)
        self._add("undo", undo)
        self._add("redo", redo)
        self._add("cut", self._new("Cu&t", QKeySequence.StandardKey.Cut, self.cut))
        self._add("copy", self._new("&Copy", QKeySequence.StandardKey.Copy, self.copy))
        self._add("paste", self._new("&Paste", QKeySequence.StandardKey.Paste, self.paste))
        self._add("duplicate", self._new("D&uplicate", "Ctrl+D", self.duplicate))
        delete = self._new("&Delete", QKeySequence.StandardKey.Delete, self.delete)
        # Backspace too: what a Mac keyboard's "delete" key sends.
        delete.setShortcuts(
            [QKeySequence(QKeySequence.StandardKey.Delete), QKeySequence("Backspace")]
        )
        self._add("delete", delete)
        select_all = self._new("Select &All", QKeySequence.StandardKey.SelectAll, self.select_all)
        self._add("select_all", select_all)
        self._add("arrange", self._new("&Arrange Automatically", "Ctrl+Shift+L", self.arrange))
        self._add("quick_add", self._new("&Quick Add Step…", "Ctrl+K", self.open_quick_add))
        self._add("add_note", self._new("Add &Note…", "Ctrl+Shift+M", self.add_note))
        overview = QAction("Show &Overview", self)
        overview.setCheckable(True)
        overview.setChecked(True)
        overview.toggled.connect(self.minimap.setVisible)
        self._add("overview", overview)
        for name in ("zoom_in", "zoom_out", "zoom_reset", "fit"):
            self.actions_by_name[name] = getattr(self.view, f"{name}_action")

    def _new(
        self, text: str, keys: QKeySequence.StandardKey | str, slot: Callable[[], None]
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.triggered.connect(slot)
        return action

    def _add(self, name: str, action: QAction) -> None:
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(action)
        self.actions_by_name[name] = action

    # --- edit actions ------------------------------------------------------------------------
    def delete(self) -> None:
        """Delete the selected steps (with what follows them) and detach selected links."""
        keys = self.scene.selected_keys()
        notes = self.scene.selected_notes()
        doomed = set(self.document.subtree(keys))
        links = [k for k in self.scene.selected_links() if k not in doomed]
        if not keys and not links and not notes:
            return
        stack = self.editor.undo_stack
        stack.beginMacro("Delete")
        if notes:
            self.editor.remove_notes(notes)
        if keys:
            self.editor.remove(keys)
        for key in links:
            if self.document.node(key).parent is not None:
                self.editor.detach(key)
        stack.endMacro()

    def copy(self) -> None:
        self.editor.copy(self.scene.selected_keys())

    def cut(self) -> None:
        self.editor.cut(self.scene.selected_keys())

    def paste(self) -> None:
        at = self.view.mapToScene(self.view.viewport().rect().center())
        self.scene.show_new(self.editor.paste(at=snap(at)))

    def duplicate(self) -> None:
        self.scene.show_new(self.editor.duplicate(self.scene.selected_keys()))

    def select_all(self) -> None:
        self.scene.select_keys(self.document.nodes)

    def arrange(self) -> None:
        """Lay the whole journey out again (one undoable step)."""
        parents = {k: n.parent for k, n in self.document.nodes.items()}
        self.editor.arrange(layout.tree_layout(parents))
        self.view.fit()

    def add_at_center(self, type_: str) -> None:
        center = self.view.mapToScene(self.view.viewport().rect().center())
        selected = self.scene.selected_keys()
        if self.scene.interactions is None:
            return
        if len(selected) == 1:
            card = self.scene.item_for_key[selected[0]]
            self.scene.interactions.drop_activity(type_, card.pos())
        else:
            self.scene.interactions.drop_activity(type_, QPointF(center))

    # --- the keyboard ---------------------------------------------------------------------------
    def open_quick_add(self) -> None:
        """Ctrl+K: type to add a step under the one selected card (a new root otherwise)."""
        if self.scene.interactions is None:
            return
        keys = self.scene.selected_keys()
        parent = keys[0] if len(keys) == 1 else None
        self.quick_add.open(quick_choices(self.document, parent))

    def _quick_added(self, choice: Choice) -> None:
        if choice.parent is not None:
            self.add_child(choice.parent, choice.type_, choice.trigger)
        else:
            self.add_root(choice.type_)

    def add_note(self) -> str | None:
        """A sticky note where the user is looking, clear of the cards; asks its text."""
        if self.scene.interactions is None:
            return None
        spot = self._free_spot_in_view()
        text, ok = QInputDialog.getMultiLineText(self, "Add note", "Text of the note:", "")
        if not ok:
            return None
        nid = self.editor.add_note(spot, text[:MAX_TEXT])
        if nid is not None:
            self.scene.clearSelection()
            self.scene.note_for_id[nid].setSelected(True)
            self.view.reveal([self.scene.note_for_id[nid]])
        return nid

    def add_root(self, type_: str) -> str | None:
        """A first step, in a free place where the user is looking."""
        if self.scene.interactions is None:
            return None
        key = self.editor.add_node(type_, self._free_spot_in_view())
        if key is not None:
            self.scene.show_new([key])
        return key

    def _free_spot_in_view(self) -> Position:
        """The grid point at the view's centre, or the nearest column clear of cards."""
        assert self.scene.interactions is not None
        center = self.view.mapToScene(self.view.viewport().rect().center())
        return self.scene.interactions.free_spot(snap(center))

    def step_selection(self, dx: int, dy: int) -> bool:
        """Arrow keys: select the nearest card that way from the selected one (the first
        step when none is selected); False when there is none that way."""
        cards = self.scene.item_for_key
        keys = self.scene.selected_keys()
        if not cards:
            return False
        if not keys:
            first = min(cards, key=lambda k: (cards[k].pos().y(), cards[k].pos().x()))
            self.scene.show_new([first])
            return True
        here = cards[keys[0]].pos()
        best: tuple[float, str] | None = None
        for key, item in cards.items():
            d = item.pos() - here
            along = d.x() * dx + d.y() * dy
            if key == keys[0] or along <= 0:
                continue
            across = abs(d.x() * dy) + abs(d.y() * dx)
            score = along + 2 * across
            if best is None or score < best[0]:
                best = (score, key)
        if best is None:
            return False
        self.scene.show_new([best[1]])
        return True

    def inspect_selection(self) -> bool:
        keys = self.scene.selected_keys()
        if len(keys) != 1:
            return False
        self.inspectRequested.emit(keys[0])
        return True

    # --- a card's own menu -------------------------------------------------------------------
    def card_menu(self, key: str) -> QMenu:
        """What a right click on a card offers: the edits that concern that one step."""
        menu = QMenu(self)
        if self.scene.interactions is None:  # read-only: nothing to edit
            menu.addAction("Run Test to Here", partial(self.testToHere.emit, key))
            return menu
        if self.scene.selected_keys() != [key]:
            self.scene.select_keys([key])
        menu.addAction("Rename…", partial(self.rename, key))
        for name in ("duplicate", "copy", "cut", "delete"):
            menu.addAction(self.actions_by_name[name])
        add = menu.addMenu("Add Step After")
        for trigger in self.document.valid_triggers(key):
            sub = add.addMenu(TRIGGER_WORDS[trigger].capitalize())
            for type_ in ACTIVITY_TYPES:
                sub.addAction(TYPE_LABELS[type_], partial(self.add_child, key, type_, trigger))
        menu.addSeparator()
        menu.addAction("Run Test to Here", partial(self.testToHere.emit, key))
        return menu

    def rename(self, key: str) -> None:
        node = self.document.node(key)
        name, ok = QInputDialog.getText(self, "Rename step", "Name:", text=node.name)
        if ok and name.strip() and name.strip() != node.name:
            self.editor.set_field(key, "name", name.strip())

    def add_child(self, parent: str, type_: str, trigger: str) -> str | None:
        """A new step after ``parent`` on ``trigger``, in a free place below it, in sight."""
        if self.scene.interactions is None:
            return None
        spot = self.scene.interactions.child_spot(parent)
        key = self.editor.add_node(type_, spot, parent, trigger)
        if key is not None:
            self.scene.show_new([key])
        return key

    def refresh_stats(self) -> None:
        """Reload counters and sparklines (connect to the engine bridge's countersChanged)."""
        doc = self.document
        now = self.clock.now()
        self.scene.set_stats(load_stats(doc.db, doc.campaign.id, now, hourly=self.spark_hourly))
