"""The inspector: edits persist at once, undo reverts them, live checks show."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QTabWidget, QWidget
from pytestqt.qtbot import QtBot

from designer.document import CampaignDocument
from designer.editor import CampaignEditor
from designer.inspector import InspectorPanel
from designer.inspector.actions import ActionForm
from designer.inspector.content import EmailForm, SmsForm
from designer.inspector.widgets import FieldPicker
from engine.catalog import triggers_for_parent
from engine.clock import FixedClock
from engine.db import Database
from engine.records.write import create_records

from .conftest import snapshot


@pytest.fixture
def panel(qtbot: QtBot, db: Database, hot: int, clock: FixedClock) -> Iterator[InspectorPanel]:
    with db.session() as s:
        create_records(
            s,
            "contact",
            [
                {"name": "Ann", "email": "ann@example.com", "country": "BE"},
                {"name": "Ben", "email": "ben@example.com", "country": "FR"},
                {"name": "Cid", "email": "cid@example.com", "country": "BE"},
            ],
            now=clock.now(),
        )
    editor = CampaignEditor(CampaignDocument(db, hot, clock))
    widget = InspectorPanel()
    qtbot.addWidget(widget)
    widget.set_editor(editor)
    widget.resize(520, 900)
    widget.show()
    yield widget
    widget.set_editor(None)


def reopened(panel: InspectorPanel) -> CampaignDocument:
    doc = panel.editor.document
    return CampaignDocument(doc.db, doc.campaign.id, doc.clock)


def type_into(qtbot: QtBot, widget, text: str) -> None:
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)


def test_node_edits_persist_and_undo_reverts(qtbot: QtBot, panel: InspectorPanel, hot: int):
    before = snapshot(panel.db, hot)
    panel.show_node("welcome")
    type_into(qtbot, panel.texts["name"].widget, "Hello there")
    panel.flush()
    assert panel.title.text() == "Email · Hello there"  # the title follows the rename
    panel.delay.amount.setValue(3)
    panel.delay.unit.setCurrentText("weeks")
    panel.validity.enabled.setChecked(True)
    form = panel.content
    assert isinstance(form, EmailForm)
    type_into(qtbot, form.subject, "Hi {{ record.name }}")
    panel.flush()

    node = reopened(panel).node("welcome")
    assert node.name == "Hello there"
    assert (node.delay.amount, node.delay.unit) == (3, "weeks")
    assert node.validity is not None
    assert node.content["subject"] == "Hi {{ record.name }}"
    # typing a field merged into one undo step each
    assert panel.editor.undo_stack.count() <= 6

    while panel.editor.undo_stack.canUndo():
        panel.editor.undo_stack.undo()
    assert snapshot(panel.db, hot) == before
    assert form.subject.text() == reopened(panel).node("welcome").content["subject"]
    assert panel.texts["name"].widget.text() == reopened(panel).node("welcome").name


def test_trigger_choices_are_only_valid_ones(panel: InspectorPanel):
    doc = panel.editor.document
    child = next(k for k, n in doc.nodes.items() if n.parent == "welcome")
    panel.show_node(child)
    offered = [panel.trigger.itemData(i) for i in range(panel.trigger.count())]
    assert offered == triggers_for_parent("email")
    assert "sms_click" not in offered and "begin" not in offered
    panel.trigger.setCurrentIndex(offered.index("mail_open"))
    assert reopened(panel).node(child).trigger == "mail_open"
    panel.show_node("welcome")
    assert [panel.trigger.itemData(i) for i in range(panel.trigger.count())] == ["begin"]


def test_template_error_shown_with_line_number(qtbot: QtBot, panel: InspectorPanel):
    panel.show_node("welcome")
    form = panel.content
    assert isinstance(form, EmailForm)
    form.body.setPlainText("<p>Hello</p>\n<p>{{ record.name </p>\n")
    assert form.error.isVisibleTo(panel)
    assert "Body, line 2" in form.error.text()
    form.body.setPlainText("<p>Hello {{ record.name }}</p>")
    assert not form.error.isVisibleTo(panel)
    form.record_box.setCurrentIndex(form.record_box.findText("Ben"))
    assert "Hello Ben" in form.preview.toPlainText()
    panel.flush()
    assert reopened(panel).node("welcome").content["body_html"] == "<p>Hello {{ record.name }}</p>"


def test_field_picker_inserts_placeholder(panel: InspectorPanel):
    panel.show_node("welcome")
    form = panel.content
    assert isinstance(form, EmailForm)
    form.body.setPlainText("")
    form.findChild(FieldPicker).picked.emit("salesperson.email")
    assert form.body.toPlainText() == "{{ record.salesperson.email }}"


def test_sms_counter_updates(qtbot: QtBot, panel: InspectorPanel):
    key = panel.editor.add_node("sms", (0.0, 0.0))
    panel.show_node(key)
    form = panel.content
    assert isinstance(form, SmsForm)
    form.body.setPlainText("x" * 160)
    assert form.counter.text() == "160 characters · 1 segment (GSM-7)"
    form.body.setPlainText("x" * 161)
    assert form.counter.text() == "161 characters · 2 segments (GSM-7)"
    form.body.setPlainText("Привет")
    assert "UCS-2" in form.counter.text()
    panel.flush()
    assert reopened(panel).node(key).content["body"] == "Привет"


def test_server_action_forms(qtbot: QtBot, panel: InspectorPanel):
    key = panel.editor.add_node("server_action", (0.0, 0.0))
    panel.show_node(key)
    form = panel.content
    assert isinstance(form, ActionForm)
    form.choose("webhook")  # rebuilds the form through the document
    form = panel.content
    assert isinstance(form, ActionForm) and "url" in form.part.texts
    type_into(qtbot, form.part.texts["url"].widget, "https://example.com/hook")
    type_into(qtbot, form.part.texts["fields"].widget, "email, name")
    panel.flush()
    content = reopened(panel).node(key).content
    assert content["kind"] == "webhook"
    assert content["url"] == "https://example.com/hook"
    assert content["fields"] == ["email", "name"]
    panel.content.choose("execute_code")
    assert panel.content.part.highlighter is not None


def test_campaign_settings_and_filter(qtbot: QtBot, panel: InspectorPanel):
    panel.show_node(None)
    fb = panel.filter_builder
    assert fb is not None
    fb.code_toggle.setChecked(True)
    fb.code_edit.setPlainText('[["country", "=", "BE"]]')
    assert reopened(panel).campaign.filter == [["country", "=", "BE"]]
    qtbot.waitUntil(lambda: fb.count_label.text() == "2 contact records match")
    panel.window_days.setValue(9)
    assert reopened(panel).campaign.engagement_window_days == 9
    panel.editor.undo_stack.undo()
    panel.editor.undo_stack.undo()
    assert fb.domain() == reopened(panel).campaign.filter
    assert panel.window_days.value() == reopened(panel).campaign.engagement_window_days


def test_screenshots(qtbot: QtBot, panel: InspectorPanel, tmp_path: Path):
    out = Path(os.environ.get("JOURNEYS_SHOTS", tmp_path))
    out.mkdir(exist_ok=True)
    panel.show_node("welcome")
    panel.content.body.setPlainText("<h2>Hello {{ record.name }}</h2><p>Welcome aboard.</p>")
    panel.filter_builder.set_domain(
        [["email", "!=", None], "|", ["tags", "in", ["VIP"]], ["country", "=", "BE"]]
    )
    panel.filter_builder.refresh_count()
    panel.resize(560, 1500)
    QApplication.processEvents()  # let the layouts settle before the grab
    assert panel.grab().save(str(out / "inspector_email.png"))
    panel.show_node(None)
    panel.filter_builder.refresh_count()
    QApplication.processEvents()
    assert panel.grab().save(str(out / "inspector_campaign.png"))


def test_a_pending_edit_of_a_form_left_behind_is_dropped(
    qtbot: QtBot, panel: InspectorPanel, db: Database, hot: int
) -> None:
    panel.show_node("welcome")
    form = panel.content
    assert isinstance(form, EmailForm)
    before = snapshot(db, hot)
    editor = panel.editor
    assert editor is not None
    panel.set_editor(None)  # e.g. another campaign opened; the old form still exists
    form.set("subject", "typed too late")  # what its debounce timer would do
    form.set_content({**editor.document.node("welcome").content, "subject": "late"})
    assert snapshot(db, hot) == before
    panel.set_editor(editor)
    panel.show_node("welcome")
    form = panel.content
    editor.remove(["welcome"])
    form.set("subject", "after delete")  # the step is gone: nothing to write to
    assert "welcome" not in editor.document


def wheel(widget: QWidget, dy: int = -120) -> None:
    """One notch of the wheel over ``widget`` (down for a negative ``dy``)."""
    pos = QPointF(widget.rect().center())
    event = QWheelEvent(
        pos,
        widget.mapToGlobal(pos),
        QPoint(0, 0),
        QPoint(0, dy),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def test_the_wheel_over_the_inspector_scrolls_the_inspector(panel: InspectorPanel) -> None:
    """Issue 26: the wheel switched the preview's tabs and stayed in the HTML editor."""
    panel.resize(520, 500)
    panel.show_node("welcome")
    form = panel.content
    assert isinstance(form, EmailForm)
    bar = panel.scroll.verticalScrollBar()
    assert bar.maximum() > 0  # a form taller than the dock
    tabs = next(t for t in panel.page.findChildren(QTabWidget) if t.count() == 3)
    wheel(tabs.tabBar())
    assert tabs.currentIndex() == 0 and bar.value() > 0

    bar.setValue(0)
    form.body.setPlainText("<p>short</p>")  # nothing for the editor itself to scroll
    wheel(form.body.viewport())
    assert bar.value() > 0

    bar.setValue(0)
    form.body.setPlainText("\n".join(f"<p>line {i}</p>" for i in range(200)))
    inner = form.body.verticalScrollBar()
    assert inner.maximum() > 0
    wheel(form.body.viewport())  # the editor can scroll: it does, the inspector stays
    assert inner.value() > 0 and bar.value() == 0
    inner.setValue(inner.maximum())
    wheel(form.body.viewport())  # at its end: the inspector goes on
    assert bar.value() > 0

    bar.setValue(0)
    combo = next(c for c in panel.page.findChildren(QComboBox) if c.count() > 1)
    index = combo.currentIndex()
    wheel(combo)
    assert combo.currentIndex() == index and bar.value() > 0


def test_a_tracked_link_in_the_sms_preview_wraps_within_the_dock(
    qtbot: QtBot, panel: InspectorPanel
) -> None:
    """Issue 26: the short link did not wrap, so the SMS inspector grew wider than its
    dock and clipped its buttons behind a horizontal scroll bar."""
    panel.resize(400, 900)
    key = panel.editor.add_node("sms", (0.0, 0.0))
    panel.show_node(key)
    form = panel.content
    assert isinstance(form, SmsForm)
    form.body.setPlainText("Your offer: https://shop.example.com/offers/spring?c=1234567890abcdef")
    form.preview_pane.refresh()
    message = form.preview_pane.message
    assert "/s/" in message.text()  # the tracked short link, as sent
    qtbot.wait(50)  # the layout settles on posted events
    assert panel.scroll.horizontalScrollBar().maximum() == 0
    viewport = panel.scroll.viewport().rect()
    for button in panel.page.findChildren(QAbstractButton):
        if button.isVisible():
            corner = button.mapTo(panel.scroll.viewport(), button.rect().topRight())
            assert viewport.contains(corner), f"{button.text()!r} is clipped"
    # as tall as its wrapped lines: the whole message reads without scrolling
    assert message.document().size().height() <= message.height()
