"""The main window's dashboard: one window that follows the open campaign, the canvas
selection (its funnel) and the figures' change signals, and rings a chosen
participant's path on the canvas."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtWidgets import QWidget

from engine.clock import Clock
from engine.db import Database

from ..canvas.widget import CanvasWidget
from .window import DashboardWindow


class DashboardLink:
    def __init__(
        self, db: Database, clock: Clock, canvas: Callable[[], CanvasWidget | None]
    ) -> None:
        self.db, self.clock, self._canvas = db, clock, canvas
        self.window: DashboardWindow | None = None

    def open(self, campaign_id: int, parent: QWidget) -> DashboardWindow:
        """Show (or raise) the dashboard of ``campaign_id``."""
        if self.window is None:
            # Its own top-level window (a parent only for lifetime), changes forwarded.
            self.window = DashboardWindow(self.db, self.clock, campaign_id, follow=False)
            self.window.setParent(parent, self.window.windowFlags())
            self.window.pathHighlighted.connect(self._highlight)
        elif self.window.campaign_id != campaign_id:
            self.window.load(campaign_id)
        self.selection_changed()
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()
        return self.window

    @property
    def showing(self) -> bool:
        return self.window is not None and self.window.isVisible()

    def campaign_opened(self, campaign_id: int) -> None:
        if self.showing and campaign_id and self.window is not None:
            self.window.load(campaign_id)

    def changed(self, ids: object) -> None:
        if self.showing and self.window is not None:
            self.window.on_changed(ids)

    def selection_changed(self) -> None:
        canvas = self._canvas()
        if self.window is None or canvas is None:
            return
        keys = canvas.scene.selected_keys()
        if keys:  # the deepest selected step: the funnel runs from the first step to it
            self.window.set_funnel_step(keys[-1])

    def _highlight(self, states: Mapping[str, str] | None) -> None:
        canvas = self._canvas()
        if canvas is not None:
            canvas.scene.highlight_path(states)

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
            self.window = None
