"""The inspector: the selected node's settings, or the campaign's when nothing is selected.

The main window docks it and calls :meth:`InspectorPanel.set_editor` and
:meth:`InspectorPanel.show_node`. Every edit goes through the :class:`CampaignEditor`
(undoable, written to the database at once); typing is debounced and merged into one
undo step. External changes (undo, redo, the canvas) refresh the form in place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine import limits
from engine.catalog import TRIGGER_WORDS
from engine.fields import MODELS

from ..document import TYPE_LABELS
from ..editor import CampaignEditor
from ..filter_builder import FilterBuilder
from .actions import ActionForm
from .content import ContentForm, EmailForm, SmsForm
from .wheel import WheelGuard
from .widgets import Debounced, DelayEdit, set_quietly

NO_CAMPAIGN = (
    '<p style="font-size: large;"><b>No campaign open</b></p>'
    "<p>Pick a campaign in the list, or start one from a template "
    "(File ▸ New from Template…).</p>"
    "<p>Its steps and settings are edited here.</p>"
)
SELECT_A_STEP = (
    "Select a step on the canvas to edit it. With nothing selected, these are the "
    "campaign's settings."
)
FORMS: dict[str, type[ContentForm]] = {
    "email": EmailForm,
    "sms": SmsForm,
    "server_action": ActionForm,
}


class InspectorPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor: CampaignEditor | None = None
        self.key: str | None = None
        self._committing = False
        self.page: QWidget | None = None
        self.content: ContentForm | None = None
        self.texts: dict[str, Debounced] = {}
        self.filter_builder: FilterBuilder | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold; font-size: 14px; padding: 6px;")
        lay.addWidget(self.title)
        self.scroll = QScrollArea(widgetResizable=True)
        lay.addWidget(self.scroll, 1)
        self.wheel = WheelGuard(self.scroll)
        self.show_node(None)  # says what goes here before any campaign is open

    # --- context for the forms -----------------------------------------------------------
    @property
    def db(self) -> Any:
        return self.editor.document.db if self.editor else None

    @property
    def model(self) -> str:
        return self.editor.document.campaign.target if self.editor else "contact"

    # --- public --------------------------------------------------------------------------
    def set_editor(self, editor: CampaignEditor | None) -> None:
        self.flush()
        if self.editor is not None:
            doc = self.editor.document
            for signal, slot in self._links():
                getattr(doc, signal).disconnect(slot)
        self.editor = editor
        if editor is not None:
            for signal, slot in self._links():
                getattr(editor.document, signal).connect(slot)
        self.show_node(None)

    def show_node(self, key: str | None) -> None:
        """Show ``key``'s settings, or the campaign's for None."""
        self.flush()
        if self.editor is None or (key is not None and key not in self.editor.document):
            key = None
        self.key = key
        self.content, self.texts, self.filter_builder = None, {}, None
        if self.editor is None:
            self.title.setText("Inspector")
            self.page = self._placeholder(NO_CAMPAIGN)
        else:
            self.page = QWidget()
            form = QFormLayout(self.page)
            if key is None:
                self._build_campaign(form)
            else:
                self._build_node(form, key)
            # Space left over goes here, not between the rows of a short form.
            filler = QWidget()
            filler.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
            form.addRow(filler)
        old = self.scroll.takeWidget()
        if old is not None:
            old.hide()
            old.deleteLater()  # maybe inside one of its own signals (the kind combo)
        self.scroll.setWidget(self.page)
        self.wheel.guard(self.page)
        self.refresh()

    def focus_first_field(self) -> None:
        """Put the keyboard in the form's first field (Return on a card lands here)."""
        if self.page is None:
            return
        for widget in self.page.findChildren(QWidget):
            policy = widget.focusPolicy()
            if (
                widget.isVisibleTo(self.page)
                and widget.isEnabled()
                and policy & Qt.FocusPolicy.TabFocus
            ):
                widget.setFocus(Qt.FocusReason.ShortcutFocusReason)
                return

    def flush(self) -> None:
        """Commit pending typing now (before the selection changes)."""
        for deb in self.texts.values():
            deb.flush()
        if self.content is not None:
            self.content.flush()

    # --- building ------------------------------------------------------------------------
    def _commit(self, action: Callable[[], Any]) -> None:
        self._committing = True
        try:
            action()
        finally:
            self._committing = False

    def _set(self, name: str, value: Any, merge: bool = True) -> None:
        assert self.editor is not None and self.key is not None
        key = self.key
        self._commit(lambda: self.editor.set_field(key, name, value, merge=merge))

    def _set_campaign(self, name: str, value: Any, merge: bool = True) -> None:
        assert self.editor is not None
        self._commit(lambda: self.editor.set_campaign_field(name, value, merge=merge))

    def _build_node(self, form: QFormLayout, key: str) -> None:
        assert self.editor is not None
        doc = self.editor.document
        node = doc.node(key)
        self.title.setText(f"{TYPE_LABELS[node.type]} · {node.name}")
        name = QLineEdit()
        form.addRow("Name", name)
        self.texts["name"] = Debounced(name, lambda t: t.strip() and self._set("name", t))
        self.trigger = QComboBox()
        for t in doc.valid_triggers(node.parent):
            self.trigger.addItem(TRIGGER_WORDS.get(t, t), t)
        self.trigger.currentIndexChanged.connect(
            lambda _i: self._set("trigger", self.trigger.currentData(), merge=False)
        )
        form.addRow("Trigger", self.trigger)
        self.delay = DelayEdit()
        self.delay.changed.connect(lambda v: self._set("delay", v))
        form.addRow("Delay", self.delay)
        self.validity = DelayEdit(optional=True)
        self.validity.changed.connect(lambda v: self._set("validity", v))
        form.addRow("Validity", self.validity)
        self.filter_builder = FilterBuilder(self.model, doc.db, doc.clock)
        self.filter_builder.domainChanged.connect(lambda d: self._set("filter", d))
        form.addRow(
            QLabel("<b>Activity filter</b> (records that do not match are rejected)", wordWrap=True)
        )
        form.addRow(self.filter_builder)
        self.content = FORMS[node.type](self, key)
        # As tall as its rows need: spare height goes below it, not between its rows.
        self.content.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        form.addRow(QLabel(f"<b>{TYPE_LABELS[node.type]} content</b>"))
        form.addRow(self.content)

    @staticmethod
    def _placeholder(text: str) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(24, 24, 24, 24)
        lay.addStretch(1)
        label = QLabel(text, wordWrap=True, objectName="placeholder")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(label)
        lay.addStretch(2)
        return page

    def placeholder_text(self) -> str:
        """The hint the inspector shows (empty when a form says enough by itself)."""
        label = self.page.findChild(QLabel, "placeholder") if self.page else None
        return label.text() if label is not None else ""

    def _build_campaign(self, form: QFormLayout) -> None:
        assert self.editor is not None
        doc = self.editor.document
        self.title.setText(f"Campaign · {doc.campaign.name}")
        hint = QLabel(SELECT_A_STEP, wordWrap=True, objectName="placeholder")
        hint.setStyleSheet("font-style: italic; padding-bottom: 4px;")
        form.addRow(hint)
        name = QLineEdit()
        form.addRow("Name", name)
        self.texts["name"] = Debounced(name, lambda t: t.strip() and self._set_campaign("name", t))
        description = QLineEdit()
        form.addRow("Description", description)
        self.texts["description"] = Debounced(
            description, lambda t: self._set_campaign("description", t)
        )
        form.addRow("Target", QLabel(MODELS[doc.campaign.target].label))
        self.filter_builder = FilterBuilder(self.model, doc.db, doc.clock)
        self.filter_builder.domainChanged.connect(lambda d: self._set_campaign("filter", d))
        form.addRow(QLabel("<b>Audience filter</b>"))
        form.addRow(self.filter_builder)
        self.unique = QComboBox()
        self.unique.addItem("(none)", None)
        for f in MODELS[doc.campaign.target].fields.values():
            if not f.is_relational:
                self.unique.addItem(f.label, f.name)
        self.unique.currentIndexChanged.connect(
            lambda _i: self._set_campaign("unique_field", self.unique.currentData(), False)
        )
        form.addRow("Unique field", self.unique)
        self.window_days = QSpinBox(
            minimum=limits.MIN_WINDOW_DAYS, maximum=limits.MAX_WINDOW_DAYS, suffix=" days"
        )
        self.window_days.valueChanged.connect(
            lambda v: self._set_campaign("engagement_window_days", v)
        )
        form.addRow("Engagement window", self.window_days)

    # --- refreshing ----------------------------------------------------------------------
    def _links(self) -> list[tuple[str, Callable[..., Any]]]:
        return [
            ("nodeChanged", self._node_changed),
            ("nodeRemoved", self._node_removed),
            ("campaignChanged", self._campaign_changed),
            ("reloaded", self._reloaded),
        ]

    def _retitle(self) -> None:
        """The title names what is edited, also while the user is renaming it."""
        if self.editor is None:
            return
        doc = self.editor.document
        if self.key is None:
            self.title.setText(f"Campaign · {doc.campaign.name}")
        elif self.key in doc:
            node = doc.node(self.key)
            self.title.setText(f"{TYPE_LABELS[node.type]} · {node.name}")

    def _node_changed(self, key: str, _field: str) -> None:
        if key == self.key and _field == "name":
            self._retitle()
        if key == self.key and not self._committing:
            if _field == "parent":
                self.show_node(key)  # the valid triggers changed
            else:
                self.refresh()

    def _node_removed(self, key: str) -> None:
        if key == self.key:
            self.show_node(None)

    def _campaign_changed(self, _field: str) -> None:
        if self.key is None and _field == "name":
            self._retitle()
        if self.key is None and not self._committing:
            self.refresh()

    def _reloaded(self) -> None:
        self.show_node(self.key)

    def refresh(self) -> None:
        """Show the document's current values (after undo/redo or a change elsewhere)."""
        if self.editor is None:
            return
        doc = self.editor.document
        if self.key is None:
            c = doc.campaign
            self.texts["name"].set_text(c.name)
            self.texts["description"].set_text(c.description)
            idx = max(self.unique.findData(c.unique_field), 0)
            set_quietly(self.unique, lambda: self.unique.setCurrentIndex(idx))
            set_quietly(
                self.window_days, lambda: self.window_days.setValue(c.engagement_window_days)
            )
            domain = c.filter
        else:
            node = doc.node(self.key)
            kind = node.content.get("kind")
            if isinstance(self.content, ActionForm) and kind != self.content.built_kind:
                self.show_node(self.key)  # another kind: another form
                return
            self.texts["name"].set_text(node.name)
            idx = self.trigger.findData(node.trigger)
            set_quietly(self.trigger, lambda: self.trigger.setCurrentIndex(idx))
            self.delay.set_value(node.delay)
            self.validity.set_value(node.validity)
            if self.content is not None:
                self.content.load()
            domain = node.filter
        if self.filter_builder is not None and self.filter_builder.domain() != domain:
            self.filter_builder.set_domain(domain)
