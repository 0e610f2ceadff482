"""The designer's main window: campaign list, canvas, problems, traces, edit history.

One campaign is open at a time, in a :class:`CanvasWidget`. The window owns the menu and
toolbar actions and forwards them to the open canvas (whose own shortcuts are removed so
none is ambiguous); undo/redo come from a QUndoGroup of the editors' stacks. The embedded
engine is reached only through the :class:`EngineBridge`; on close the engine is stopped
and its threads joined before anything is torn down.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
    QUndoGroup,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from engine.api import campaign_ops
from engine.clock import Clock, SystemClock
from engine.db import Database
from engine.runner import EngineRunner

from . import screen_fit
from .banner import UpdateBanner
from .campaign_list import CampaignList
from .canvas.widget import CanvasWidget
from .dashboard.follow import DashboardLink
from .engine_bridge import EngineBridge
from .live import LiveFigures
from .problems import ProblemsPanel, badges, load_problems
from .status import EngineStatus
from .traces_panel import TracesPanel
from .window_commands import CampaignCommands

ORGANIZATION = "Journeys"
APPLICATION = "Journeys"
PICK_TEXT = (
    "Open a campaign: click it in the list on the left.\n"
    "Or create one with File ▸ New, or import a campaign file."
)
CANVAS_ACTIONS = (
    (
        "edit",
        ["cut", "copy", "paste", "duplicate", "delete", "select_all", "quick_add", "add_note"],
    ),
    ("view", ["zoom_in", "zoom_out", "zoom_reset", "fit", "arrange", "overview"]),
)
K = QKeySequence.StandardKey
ACTION_TEXTS = {
    "cut": ("Cu&t", K.Cut),
    "copy": ("&Copy", K.Copy),
    "paste": ("&Paste", K.Paste),
    "duplicate": ("D&uplicate", "Ctrl+D"),
    "delete": ("&Delete", [K.Delete, "Backspace"]),
    "select_all": ("Select &All", K.SelectAll),
    "zoom_in": ("Zoom &In", K.ZoomIn),
    "zoom_out": ("Zoom &Out", K.ZoomOut),
    "zoom_reset": ("&Actual Size", "Ctrl+0"),
    "fit": ("&Fit to Window", "Ctrl+9"),
    "arrange": ("&Arrange Automatically", "Ctrl+Shift+L"),
    "quick_add": ("&Quick Add Step…", "Ctrl+K"),
    "add_note": ("Add &Note…", "Ctrl+Shift+M"),
    "overview": ("Show &Overview", None),
}
# What a right click on a campaign in the list offers ("": a separator).
CONTEXT_ACTIONS = (
    "start",
    "stop",
    "",
    "duplicate_campaign",
    "rename",
    "export",
    "",
    "archive",
    "restore",
    "delete_campaign",
)
# What read-only mode hides: every action that would change the database.
EDITING_ACTIONS = (
    "new",
    "new_from_template",
    "import",
    "import_records",
    "settings",
    "undo",
    "redo",
    "cut",
    "paste",
    "duplicate",
    "delete",
    "arrange",
    "quick_add",
    "add_note",
    "start",
    "stop",
    "duplicate_campaign",
    "rename",
    "archive",
    "restore",
    "delete_campaign",
)
READ_ONLY_HIDES = ("history", "test")  # docks whose every use is an edit
READ_ONLY_SETTING = "main/read_only"
Yes = QMessageBox.StandardButton.Yes
CONTENT_LIVE = "Saved. The campaign is running: messages sent from now on use the new content."
GALLERY_HIDES = ("inspector", "problems", "traces", "test")


def describe_location(db: Database) -> str:
    url = db.engine.url
    where = (
        f"SQLite database {db.sqlite_file or ':memory:'}"
        if url.get_backend_name() == "sqlite"
        else f"{url.get_backend_name()} database {url.render_as_string(hide_password=True)}"
    )
    return where + (" (read-only)" if db.read_only else "")


def remembered_read_only() -> bool:
    """The app's read-only setting (File ▸ Open Read-Only), read when it starts."""
    value = QSettings(ORGANIZATION, APPLICATION).value(READ_ONLY_SETTING, False)
    return value in (True, "true", "1", 1)


class MainWindow(CampaignCommands, QMainWindow):
    def __init__(
        self, db: Database, runner: EngineRunner | None = None, clock: Clock | None = None
    ) -> None:
        super().__init__()
        self.db = db
        # Read-only: the database is open to look (engine.db refuses every edit); the
        # window hides what would edit and runs no engine of its own.
        self.read_only = db.read_only
        self.runner = runner
        self.clock = clock or (runner.clock if runner else SystemClock())
        self.canvas: CanvasWidget | None = None
        self.inspector: QWidget | None = None
        self.setWindowTitle("Journeys")
        self.setAcceptDrops(True)
        screen_fit.fit(self, 1280, 800)
        self.undo_group = QUndoGroup(self)
        self.actions_by_name: dict[str, QAction] = {}

        self.campaigns = CampaignList(db)
        self.campaigns.campaignSelected.connect(self.open_campaign)
        self.empty_label = QLabel(PICK_TEXT)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty_label)
        self.gallery: QWidget | None = None  # built on first need: thumbnails take a moment
        self._gallery_hid: list[QDockWidget] = []
        self.banner = UpdateBanner()
        self.banner.chosen.connect(self.apply_update)
        centre = QWidget()
        box = QVBoxLayout(centre)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.banner)
        box.addWidget(self.stack, 1)
        self.setCentralWidget(centre)
        self.problems = ProblemsPanel()
        self.problems.nodeActivated.connect(self.focus_node)
        self.traces = TracesPanel(db, self.clock)
        self.traces.retried.connect(self._on_retried)
        self.history = QUndoView(self.undo_group)
        self.history.setEmptyLabel("Opened")
        self._dock("campaigns", "Campaigns", self.campaigns, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("history", "Edit history", self.history, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock(
            "inspector", "Inspector", self._placeholder(), Qt.DockWidgetArea.RightDockWidgetArea
        )
        self._dock("problems", "Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("traces", "Traces", self.traces, Qt.DockWidgetArea.BottomDockWidgetArea)
        from .test_panel import TestPanel

        self.test_panel = TestPanel(db, self.clock)
        # In a scroll area: the bottom docks share a tab group, and the tallest minimum
        # among them would otherwise set the group's height.
        test_scroll = QScrollArea()
        test_scroll.setWidgetResizable(True)
        test_scroll.setFrameShape(QFrame.Shape.NoFrame)
        test_scroll.setWidget(self.test_panel)
        self._dock("test", "Test", test_scroll, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.docks["problems"], self.docks["traces"])
        self.tabifyDockWidget(self.docks["traces"], self.docks["test"])
        self.docks["problems"].raise_()

        self.status = EngineStatus(self, describe_location(db), runner, db)
        self.bridge: EngineBridge | None = None
        if runner is not None:
            self.bridge = EngineBridge(runner, self)
            self.bridge.countersChanged.connect(self._on_counters)
            self.status.follow(self.bridge)
        self.live = LiveFigures(db, self)  # writes by other processes
        self.live.changed.connect(self._on_counters)
        self.dashboard = DashboardLink(db, self.clock, lambda: self.canvas)
        from .inspector import InspectorPanel

        self.set_inspector(InspectorPanel())
        self._make_actions()
        if self.read_only:
            self.setWindowTitle("Journeys (read-only)")
            self.traces.retry_button.hide()
            self.inspector_dock.widget().setEnabled(False)
        self.refresh()
        self._restore()

    # --- layout ------------------------------------------------------------------------------
    def _dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{name}-dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        if not hasattr(self, "docks"):
            self.docks: dict[str, QDockWidget] = {}
        self.docks[name] = dock
        return dock

    @staticmethod
    def _placeholder() -> QLabel:
        label = QLabel("Select a step on the canvas to edit it here.")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        label.setMinimumWidth(220)
        label.setEnabled(False)
        return label

    def set_inspector(self, widget: QWidget) -> None:
        """Dock the inspector (built elsewhere) on the right."""
        self.inspector = widget
        self.inspector_dock.setWidget(widget)

    def _action(self, name: str, text: str, slot, keys=None) -> QAction:  # type: ignore[no-untyped-def]
        action = QAction(text, self)
        if keys is not None:
            # A platform's standard key may be empty (Preferences on most Linux desktops):
            # the explicit fallback after it then stands alone, and is never listed twice.
            wanted = [QKeySequence(k) for k in (keys if isinstance(keys, list) else [keys])]
            unique = list(dict.fromkeys(k.toString() for k in wanted if not k.isEmpty()))
            action.setShortcuts([QKeySequence(k) for k in unique])
        action.triggered.connect(slot)
        self.actions_by_name[name] = action
        return action

    def _make_actions(self) -> None:
        K = QKeySequence.StandardKey
        a = self._action
        menu = self.menuBar().addMenu("&File")
        menu.addAction(a("new", "&New Campaign", self.new_campaign, K.New))
        menu.addAction(
            a("new_from_template", "New from &Template…", self.new_from_template, "Ctrl+Shift+N")
        )
        menu.addAction(a("import", "&Import…", self.import_dialog, K.Open))
        menu.addAction(a("export", "&Export…", self.export_dialog, K.SaveAs))
        menu.addAction(
            a(
                "export_png",
                "Export Diagram as P&NG…",
                lambda: self.export_diagram("png"),
                "Ctrl+Shift+P",
            )
        )
        menu.addAction(
            a(
                "export_svg",
                "Export Diagram as S&VG…",
                lambda: self.export_diagram("svg"),
                "Ctrl+Shift+G",
            )
        )
        menu.addAction(a("import_records", "Import &Records…", self.import_records, "Ctrl+Shift+I"))
        menu.addSeparator()
        read_only = a("read_only", "Open Read-Only", self._remember_read_only)
        read_only.setCheckable(True)
        read_only.setChecked(self.read_only or remembered_read_only())
        read_only.setToolTip(
            "From the next start, open the database to look, never to edit "
            "(as journeys --read-only gui)"
        )
        menu.addAction(read_only)
        menu.addSeparator()
        settings_ = a("settings", "&Settings…", self.open_settings, [K.Preferences, "Ctrl+,"])
        settings_.setMenuRole(QAction.MenuRole.PreferencesRole)
        menu.addAction(settings_)
        menu.addSeparator()
        quit_ = a("quit", "&Quit", self.close, [K.Quit, "Ctrl+Q"])
        quit_.setMenuRole(QAction.MenuRole.QuitRole)
        menu.addAction(quit_)
        self.quit_action = quit_
        edit = self.menuBar().addMenu("&Edit")
        undo = self.undo_group.createUndoAction(self, "&Undo")
        undo.setShortcuts(K.Undo)
        redo = self.undo_group.createRedoAction(self, "&Redo")
        redo.setShortcuts(K.Redo)
        undo.setIconText("Undo")  # the menu says what; the toolbar keeps its width
        redo.setIconText("Redo")
        self.actions_by_name.update(undo=undo, redo=redo)
        edit.addActions([undo, redo])
        edit.addSeparator()
        view = self.menuBar().addMenu("&View")
        menus = {"edit": edit, "view": view}
        for menu_name, names in CANVAS_ACTIONS:
            for name in names:
                menus[menu_name].addAction(self._forward(name))
        hourly = a("spark_hours", "Sparklines Over 48 &Hours", self._spark_period, None)
        hourly.setCheckable(True)
        view.addAction(hourly)
        view.addSeparator()
        view.addAction(self.campaigns.show_archived_action)
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        self.add_appearance_menu(view)  # View ▸ Appearance (designer.window_commands)
        camp = self.menuBar().addMenu("&Campaign")
        camp.addAction(a("start", "&Start…", self.start_campaign, "Ctrl+R"))
        camp.addAction(a("stop", "S&top…", self.stop_campaign, "Ctrl+Shift+R"))
        camp.addSeparator()
        camp.addAction(
            a("duplicate_campaign", "&Duplicate", self.duplicate_campaign, "Ctrl+Shift+D")
        )
        camp.addAction(a("rename", "Re&name…", self.rename_campaign, "F2"))
        camp.addAction(a("archive", "&Archive", self.archive_campaign, "Ctrl+Shift+A"))
        camp.addAction(a("restore", "Rest&ore from Archive", self.restore_campaign, "Ctrl+Shift+O"))
        camp.addAction(a("delete_campaign", "De&lete…", self.delete_campaign, "Ctrl+Shift+Del"))
        camp.addSeparator()
        camp.addAction(a("dashboard", "Dash&board", self.open_dashboard, "Ctrl+Shift+B"))
        camp.addAction(a("refresh", "Re&fresh", self.refresh, K.Refresh))
        camp.addAction(self.status.pause_action)
        self.refresh_action = self.actions_by_name["refresh"]
        short = {
            "new": "New",
            "duplicate_campaign": "Duplicate",
            "delete_campaign": "Delete",
            "restore": "Restore",
        }
        for name, text in short.items():
            self.actions_by_name[name].setIconText(text)
        self.actions_by_name["restore"].setToolTip("Restore the archived campaign to the list")
        self.campaigns.add_actions(
            [
                self.actions_by_name[n]
                for n in ("new", "duplicate_campaign", "rename", "archive", "restore")
            ]
            + [self.actions_by_name["delete_campaign"]]
        )
        self.campaigns.set_context_actions(
            [self.actions_by_name.get(n) if n else None for n in CONTEXT_ACTIONS]
        )
        bar = self.addToolBar("Main")
        bar.setObjectName("main-toolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for name in ("new", "import", "undo", "redo", "start", "stop", "fit", "arrange"):
            bar.addAction(self.actions_by_name[name])
        self._update_actions()

    def _forward(self, name: str) -> QAction:
        """A window action that triggers the open canvas's action of that name."""

        def run() -> None:
            if self.canvas is not None:
                self.canvas.actions_by_name[name].trigger()

        text, keys = ACTION_TEXTS[name]
        action = self._action(name, text, run, keys)
        if name == "overview":
            action.setCheckable(True)
            action.setChecked(True)
            action.triggered.disconnect()
            action.toggled.connect(lambda on: self.canvas and self.canvas.minimap.setVisible(on))
        return action

    # --- campaigns ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """F5: reload everything from the database, whoever wrote it."""
        self.campaigns.refresh()
        self.test_panel.reload()
        if self.canvas is not None:
            self.canvas.refresh_stats()
            self.traces.load(self.current_id())
            self.dashboard.changed(None)
        if (
            self.canvas is not None
            and self.campaigns.current_id() != self.canvas.document.campaign.id
        ):
            self.open_campaign(self.campaigns.current_id())
        self._update_actions()

    def current_id(self) -> int:
        return self.canvas.document.campaign.id if self.canvas is not None else 0

    def open_campaign(self, campaign_id: int) -> None:
        if self.canvas is not None and self.current_id() == campaign_id:
            return
        self._close_canvas()
        if campaign_id:
            canvas = CanvasWidget(self.db, campaign_id, self.clock, read_only=self.read_only)
            for widget in (canvas, canvas.view):  # the window's menus own the shortcuts
                for action in widget.actions():
                    widget.removeAction(action)
            canvas.editor.message.connect(lambda m: self.statusBar().showMessage(m, 5000))
            canvas.document.edited.connect(self.check)
            canvas.document.nodeChanged.connect(self._on_node_changed)
            self.undo_group.addStack(canvas.editor.undo_stack)
            self.undo_group.setActiveStack(canvas.editor.undo_stack)
            self.canvas = canvas
            canvas.scene.selectionChanged.connect(self._on_selection)
            canvas.testToHere.connect(self.test_to_here)
            canvas.inspectRequested.connect(self.inspect_step)
            if self.inspector is not None and hasattr(self.inspector, "set_editor"):
                self.inspector.set_editor(canvas.editor)
                self.inspector.show_node(None)
            self.stack.addWidget(canvas)
            self.test_panel.set_campaign(campaign_id, canvas.document.campaign.target, canvas.scene)
            self.stack.setCurrentWidget(canvas)
            canvas.minimap.setVisible(self.actions_by_name["overview"].isChecked())
            if self.actions_by_name["spark_hours"].isChecked():
                self._spark_period()
            self._give_back_docks()
            QTimer.singleShot(0, canvas.view.fit)  # once the view has its size
        self.check()
        self.traces.load(campaign_id)
        self._traces_steps()
        self.dashboard.campaign_opened(campaign_id)
        self._update_actions()

    def open_dashboard(self) -> None:
        """Campaign ▸ Dashboard: the open campaign's figures in their own window."""
        if self.current_id():
            self.dashboard.open(self.current_id(), self)

    def _on_selection(self) -> None:
        """The inspector follows the selection: one node, or the campaign's settings; the
        dashboard's funnel follows it to the selected step."""
        self.dashboard.selection_changed()
        if self.canvas is None or self.inspector is None:
            return
        keys = self.canvas.scene.selected_keys()
        if hasattr(self.inspector, "show_node"):
            self.inspector.show_node(keys[0] if len(keys) == 1 else None)
        self.traces.follow(keys)

    def inspect_step(self, key: str) -> None:
        """Return on a card: its settings in the inspector, the keyboard in its first field."""
        if self.inspector is None or not hasattr(self.inspector, "show_node"):
            return
        self.inspector.show_node(key)
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        self.inspector.focus_first_field()

    def test_to_here(self, key: str) -> None:
        """A card's Run Test to Here: the Test dock walks its participant down to ``key``."""
        dock = self.docks["test"]
        dock.show()
        dock.raise_()
        self.test_panel.run_to(key)

    def _traces_steps(self) -> None:
        """The Traces dock's step filter lists the open campaign's steps by name."""
        if self.canvas is not None:
            nodes = self.canvas.document.nodes.values()
            self.traces.set_steps({n.key: n.name for n in nodes})

    def _close_canvas(self) -> None:
        canvas, self.canvas = self.canvas, None
        self.test_panel.set_campaign(0, "", None)  # before its scene goes away
        if self.inspector is not None and hasattr(self.inspector, "set_editor"):
            self.inspector.set_editor(None)
        if canvas is not None:
            self.undo_group.removeStack(canvas.editor.undo_stack)
            self.stack.removeWidget(canvas)
            canvas.scene.clearSelection()
            canvas.deleteLater()
        self._show_empty()

    def _show_empty(self) -> None:
        """The template gallery while the database has no campaign, else a hint."""
        if self.campaigns.rows:
            self._give_back_docks()
            self.stack.setCurrentWidget(self.empty_label)
            return
        # The gallery is the whole first screen: the docks about a campaign have nothing
        # to show yet, so they step aside until the first campaign exists.
        for name in GALLERY_HIDES:
            dock = self.docks[name]
            if not dock.isHidden() and dock not in self._gallery_hid:
                self._gallery_hid.append(dock)
                dock.hide()
        if self.gallery is None:
            from .dialogs.gallery import TemplateGallery

            gallery = TemplateGallery(self.db, self.clock)
            gallery.campaignCreated.connect(self._select)
            self.gallery = gallery
            self.stack.addWidget(gallery)
        self.stack.setCurrentWidget(self.gallery)

    def _on_node_changed(self, _key: str, field: str) -> None:
        """Content edits of a running campaign need no E10 choice: say what they do."""
        row = self.campaigns.current_row()
        if field == "content" and row is not None and row.state == "running":
            self.statusBar().showMessage(CONTENT_LIVE, 8000)

    def _give_back_docks(self) -> None:
        hidden, self._gallery_hid = self._gallery_hid, []
        for dock in hidden:
            dock.show()
        if hidden:
            self.docks["problems"].raise_()

    def check(self) -> None:
        """Validate the open campaign: problems panel, node badges, E10 banner."""
        if self.canvas is None:
            self.problems.set_problems([], {})
            self.banner.setVisible(False)
            return
        self._traces_steps()
        found = load_problems(self.db, self.current_id())
        names = {k: n.name for k, n in self.canvas.document.nodes.items()}
        self.problems.set_problems(found, names)
        self.canvas.scene.set_problems(badges(found))
        self.banner.setVisible(campaign_ops.is_modified(self.db, self.current_id()))

    def focus_node(self, key: str) -> None:
        if self.canvas is None or key not in self.canvas.scene.item_for_key:
            return
        self.canvas.scene.select_keys([key])
        self.canvas.view.centerOn(self.canvas.scene.item_for_key[key])
        self.canvas.view.setFocus()

    def _update_actions(self) -> None:
        row = self.campaigns.current_row()
        opened = self.canvas is not None
        for name in (
            "export",
            "export_png",
            "export_svg",
            "duplicate_campaign",
            "rename",
            "dashboard",
        ):
            self.actions_by_name[name].setEnabled(opened)
        running = bool(row and row.state == "running")
        archived = bool(row and row.archived)
        for name in ("delete_campaign", "archive"):
            self.actions_by_name[name].setEnabled(bool(row) and not running)
        # An archived campaign is put away: restore it before starting it again.
        self.actions_by_name["start"].setEnabled(bool(row) and not running and not archived)
        self.actions_by_name["stop"].setEnabled(running)
        # Archive or Restore, whichever applies (as Odoo's Archive / Unarchive).
        self.actions_by_name["archive"].setVisible(not archived)
        self.actions_by_name["restore"].setVisible(archived)
        self.actions_by_name["restore"].setEnabled(archived)
        if self.read_only:
            for name in EDITING_ACTIONS:
                self.actions_by_name[name].setVisible(False)
                self.actions_by_name[name].setEnabled(False)
            for name in READ_ONLY_HIDES:
                self.docks[name].hide()
                self.docks[name].toggleViewAction().setVisible(False)
        if self.canvas is None:
            self._show_empty()

    def _remember_read_only(self, on: bool) -> None:
        settings = QSettings(ORGANIZATION, APPLICATION)
        settings.setValue(READ_ONLY_SETTING, bool(on))
        settings.sync()
        when = "from the next start" if on != self.read_only else "as now"
        mode = "read-only" if on else "for editing"
        self.statusBar().showMessage(f"Journeys opens the database {mode} {when}.", 8000)

    def restore_campaign(self) -> None:
        """Bring the selected archived campaign back to the list (Odoo's Unarchive)."""
        row = self.campaigns.current_row()
        if row is None or not row.archived:
            return
        self._run(campaign_ops.unarchive, self.db, row.id, self.clock.now())
        self._select(row.id)

    def _on_retried(self, count: int) -> None:
        """Retried traces are due now: the embedded engine runs them without waiting."""
        if self.runner is not None and count:
            self.runner.wake()
        self.statusBar().showMessage(
            f"{count} trace{'' if count == 1 else 's'} scheduled again", 5000
        )
        self.campaigns.refresh()

    def _spark_period(self) -> None:
        """Cards' sparklines over the last 48 hours (checked) or 15 days."""
        if self.canvas is not None:
            self.canvas.spark_hourly = self.actions_by_name["spark_hours"].isChecked()
            self.canvas.refresh_stats()

    def _on_counters(self, ids: object) -> None:
        """Figures changed: in campaigns ``ids`` (a set), or anywhere (None)."""
        self.campaigns.refresh()
        if self.canvas is not None and (ids is None or self.current_id() in ids):  # type: ignore[operator]
            self.canvas.refresh_stats()
            self.traces.load(self.current_id())
            self.test_panel.reload()  # the engine may have run a due test step
        self.dashboard.changed(ids)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self.read_only:  # a dropped file would be imported
            return
        if any(u.toLocalFile().endswith(".json") for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [
            u.toLocalFile() for u in event.mimeData().urls() if u.toLocalFile().endswith(".json")
        ]
        for path in paths:
            self.import_path(path)
        event.acceptProposedAction()

    # --- settings and quitting ---------------------------------------------------------------
    def _restore(self) -> None:
        self._sized = False
        settings = QSettings(ORGANIZATION, APPLICATION)
        geometry, state = settings.value("main/geometry"), settings.value("main/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self._sized = self.restoreState(state)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._sized:  # first run, nothing remembered: sensible dock sizes
            self._sized = True
            # After the window system has settled the window's size (Xvfb, real screens).
            QTimer.singleShot(0, self._initial_sizes)

    def _initial_sizes(self) -> None:
        h, v = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        # Generous side docks on a wide screen, a usable canvas on a 1280-pixel one.
        width = self.width()
        side = [min(330, max(240, width // 5)), min(440, max(375, width * 7 // 25))]
        self.resizeDocks([self.docks["campaigns"], self.inspector_dock], side, h)
        # The bottom docks (problems, traces, test) share one tab group: tall enough for a
        # test participant's steps and a few traces (150 px left the Test dock ~110).
        bottom = min(260, max(216, self.height() * 22 // 100))
        self.resizeDocks([self.docks["problems"]], [bottom], v)
        self.resizeDocks([self.docks["campaigns"], self.docks["history"]], [420, 200], v)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._give_back_docks()  # remembered as the user left them, not as the gallery did
        settings = QSettings(ORGANIZATION, APPLICATION)
        settings.setValue("main/geometry", self.saveGeometry())
        settings.setValue("main/state", self.saveState())
        settings.sync()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the engine and join its threads, then tear the canvas down."""
        self.live.stop()
        self.dashboard.close()
        if self.runner is not None:
            self.runner.stop()
        if self.bridge is not None:
            self.bridge.disconnect_engine()
            self.bridge = None
        self._close_canvas()
