"""Server-action forms, the email preview as sent and the inspector's placeholders.

Each form's edits are saved (the campaign is read back from the database), undo restores
the content, and invalid input shows a message and saves nothing.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from designer.document import CampaignDocument
from designer.editor import CampaignEditor
from designer.inspector import InspectorPanel
from designer.inspector.actions import ActionForm
from designer.inspector.content import EmailForm, SmsForm
from designer.inspector.people import FollowersForm, RunActionsForm
from designer.inspector.record_forms import ValuesForm
from designer.inspector.value_cells import NamesCell, TextCell
from engine import records
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Link, SavedAction, Setting
from engine.records.write import create_records


@pytest.fixture
def panel(qtbot: QtBot, db: Database, hot: int, clock: FixedClock) -> Iterator[InspectorPanel]:
    with db.session() as s:
        create_records(s, "user", [{"name": "Sam", "email": "sam@example.com"}], now=clock.now())
        create_records(
            s,
            "contact",
            [
                {"name": "Ann", "email": "ann@example.com", "phone": "+32470123456"},
                {"name": "Ben", "email": "ben@example.com", "tags": ["Cold"]},
            ],
            now=clock.now(),
        )
        for name, action in (
            ("tag_vip", {"kind": "update_record", "values": {"tags": {"add": ["VIP"]}}}),
            ("notify", {"kind": "add_followers", "users": ["salesperson"]}),
        ):
            s.add(SavedAction(campaign_id=hot, name=name, action=action))
    editor = CampaignEditor(CampaignDocument(db, hot, clock))
    widget = InspectorPanel()
    qtbot.addWidget(widget)
    widget.set_editor(editor)
    widget.resize(460, 1100)
    widget.show()
    yield widget
    widget.set_editor(None)


def saved(panel: InspectorPanel, key: str) -> dict[str, Any]:
    """The node's content as the database has it."""
    doc = panel.editor.document
    return CampaignDocument(doc.db, doc.campaign.id, doc.clock).node(key).content


def action(panel: InspectorPanel, kind: str) -> tuple[str, Any]:
    """A new server action of ``kind``, selected; returns its key and the kind's form."""
    key = panel.editor.add_node("server_action", (0.0, 0.0))
    panel.show_node(key)
    form = panel.content
    assert isinstance(form, ActionForm)
    if kind != "update_record":
        form.choose(kind)
    form = panel.content  # the panel built the new kind's form
    assert isinstance(form, ActionForm) and form.built_kind == kind
    return key, form.part


def typed(qtbot: QtBot, edit: Any, text: str) -> None:
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Tab)  # editingFinished: committed at once


def shot(panel: InspectorPanel, name: str) -> None:
    """A picture of the form, to look at (JOURNEYS_SHOTS=dir keeps them)."""
    out = Path(os.environ.get("JOURNEYS_SHOTS") or tempfile.gettempdir()) / "inspector-shots"
    out.mkdir(parents=True, exist_ok=True)
    panel.flush()
    QApplication.processEvents()  # rows added to a shown form are shown by a queued call
    assert panel.grab().save(str(out / f"{name}.png"))


def test_update_record_tags_take_add_and_remove(
    qtbot: QtBot, panel: InspectorPanel, db: Database, clock: FixedClock
) -> None:
    key, form = action(panel, "update_record")
    assert isinstance(form, ValuesForm)
    start = panel.editor.undo_stack.index()
    row = form.editor.add_row(None, None)
    row.field_box.setCurrentIndex(row.field_box.findData("tags"))
    cell = row.cell
    assert isinstance(cell, NamesCell), "tags get an add/remove editor, not raw JSON"
    typed(qtbot, cell.add, "VIP, Hot")
    typed(qtbot, cell.remove, "Cold")
    assert saved(panel, key)["values"] == {"tags": {"add": ["VIP", "Hot"], "remove": ["Cold"]}}
    shot(panel, "action_update_record")

    # what the form saved is what the record writer takes: Ben loses Cold, gains VIP, Hot
    with db.session() as s:
        ben = records.resolve_record(s, "contact", "ben@example.com")
        records.write_values(s, "contact", [ben], saved(panel, key)["values"], now=clock.now())
        assert records.load_records(s, "contact", [ben])[ben]["tags"] == ["Hot", "VIP"]

    # a name both added and removed: shown, and nothing saved
    typed(qtbot, cell.remove, "Hot")
    assert "both added and removed" in row.error.text() and not row.error.isHidden()
    assert saved(panel, key)["values"]["tags"]["remove"] == ["Cold"]

    # replacing the whole list stores a plain list
    typed(qtbot, cell.remove, "")
    cell.replace.setChecked(True)
    assert saved(panel, key)["values"] == {"tags": ["VIP", "Hot"]}

    panel.editor.undo_stack.setIndex(start)
    assert saved(panel, key)["values"] == {}
    assert form.editor.rows == [] or all(r.name() is None for r in form.editor.rows)


def test_update_record_rejects_invalid_values(qtbot: QtBot, panel: InspectorPanel) -> None:
    key, form = action(panel, "update_record")
    row = form.editor.add_row(None, None)
    row.field_box.setCurrentIndex(row.field_box.findData("country"))
    assert isinstance(row.cell, TextCell)
    # a field just chosen, its value empty: the action clears it (as the hint says)
    assert saved(panel, key)["values"] == {"country": None}
    assert "clears the field" in row.cell.edit.placeholderText()
    typed(qtbot, row.cell.edit, "Belgium")
    assert "two-letter country code" in row.error.text()
    assert form.editor.error.isVisibleTo(panel)
    assert saved(panel, key)["values"] == {"country": None}
    typed(qtbot, row.cell.edit, "be")
    assert row.error.isHidden()
    assert saved(panel, key)["values"] == {"country": "be"}
    # a choice field: yes/no, saved as a boolean
    other = form.editor.add_row(None, None)
    other.field_box.setCurrentIndex(other.field_box.findData("opt_out_email"))
    assert saved(panel, key)["values"] == {"country": "be", "opt_out_email": True}
    # the same field twice is refused
    twice = form.editor.add_row(None, None)
    twice.field_box.setCurrentIndex(twice.field_box.findData("country"))
    assert "already set" in twice.error.text()
    assert saved(panel, key)["values"] == {"country": "be", "opt_out_email": True}


def test_create_record_model_values_and_placeholders(qtbot: QtBot, panel: InspectorPanel) -> None:
    key, form = action(panel, "create_record")
    assert isinstance(form, ValuesForm) and form.model_box is not None
    start = panel.editor.undo_stack.index()
    form.model_box.setCurrentIndex(form.model_box.findData("lead"))
    assert saved(panel, key) == {"kind": "create_record", "model": "lead", "values": {}}
    row = form.editor.add_row(None, None)
    row.field_box.setCurrentIndex(row.field_box.findData("name"))
    fields = [row.field_box.itemData(i) for i in range(1, row.field_box.count())]
    assert "expected_revenue" in fields and "company" not in fields, "the lead's own fields"
    edit = row.cell.text_edit()
    typed(qtbot, edit, "Follow up ")
    edit.setFocus()
    edit.end(False)
    form.editor.picker.picked.emit("email")  # the participant's record, not the lead
    assert saved(panel, key)["values"] == {"name": "Follow up {{ record.email }}"}

    # a template syntax error: shown on the row, not saved
    typed(qtbot, edit, "Follow up {{ record.email")
    assert "template error" in row.error.text()
    assert saved(panel, key)["values"] == {"name": "Follow up {{ record.email }}"}
    typed(qtbot, edit, "Call {{ record.name }}")
    shot(panel, "action_create_record")

    # tags of a new record are a plain list of names
    tags = form.editor.add_row(None, None)
    tags.field_box.setCurrentIndex(tags.field_box.findData("tags"))
    assert isinstance(tags.cell, NamesCell) and tags.cell.remove.isHidden()
    typed(qtbot, tags.cell.add, "Lead, Web")
    assert saved(panel, key)["values"]["tags"] == ["Lead", "Web"]
    form.editor.rows[-1].removed.emit(form.editor.rows[-1])
    assert "tags" not in saved(panel, key)["values"]

    # another model keeps only the values it has; a required field is pointed out
    form.model_box.setCurrentIndex(form.model_box.findData("event_registration"))
    assert saved(panel, key)["values"] == {"name": "Call {{ record.name }}"}
    assert "needs: Event" in form.warning.text()

    panel.editor.undo_stack.setIndex(start)
    assert saved(panel, key) == {"kind": "create_record", "model": "contact", "values": {}}
    assert panel.content.part.model_box.currentData() == "contact"


def test_send_email_action_uses_the_email_form(qtbot: QtBot, panel: InspectorPanel) -> None:
    key, form = action(panel, "send_email")
    assert isinstance(form, EmailForm)
    typed(qtbot, form.subject, "Hi {{ record.name }}")
    typed(qtbot, form.sender, "Shop <shop at example.com>")
    assert "From: 'Shop <shop at example.com>' is not an address" in form.error.text()
    assert saved(panel, key)["from"] == ""
    typed(qtbot, form.sender, "Shop <shop@example.com>")
    assert saved(panel, key)["from"] == "Shop <shop@example.com>"
    assert form.error.isHidden()
    form.body.setPlainText('<p>Hello <a href="https://shop.example.com/sale">sale</a></p>')
    form.record_box.setCurrentIndex(form.record_box.findText("Ann"))
    form.preview_pane.refresh()
    assert "Hello" in form.preview.toPlainText()
    assert "/c/" in form.preview_pane.built.html
    panel.flush()
    content = saved(panel, key)
    assert content["kind"] == "send_email" and content["subject"] == "Hi {{ record.name }}"
    assert "shop.example.com/sale" in content["body_html"]
    shot(panel, "action_send_email")
    panel.editor.undo_stack.undo()
    assert "shop.example.com" not in saved(panel, key).get("body_html", "")


def test_send_sms_action_counts_and_previews(qtbot: QtBot, panel: InspectorPanel) -> None:
    key, form = action(panel, "send_sms")
    assert isinstance(form, SmsForm)
    form.body.setPlainText("Hi {{ record.name }}: https://shop.example.com/sale")
    assert "segment" in form.counter.text()
    form.record_box = form.preview_pane.records
    form.record_box.setCurrentIndex(form.record_box.findText("Ann"))
    form.preview_pane.refresh()
    assert form.preview_pane.body.startswith("Hi Ann: http://127.0.0.1:")
    assert "/s/" in form.preview_pane.body, "the link is shortened to a tracked one"
    assert "+32470123456" in form.preview_pane.size.text()
    panel.flush()
    assert saved(panel, key)["body"] == "Hi {{ record.name }}: https://shop.example.com/sale"
    shot(panel, "action_send_sms")


def test_followers_salesperson_and_validated_emails(qtbot: QtBot, panel: InspectorPanel) -> None:
    key, form = action(panel, "add_followers")
    assert isinstance(form, FollowersForm)
    start = panel.editor.undo_stack.index()
    assert form.salesperson.isChecked()
    form.emails.setPlainText("sam@example.com\nnot-an-email")
    panel.flush()
    assert "not a valid email address" in form.error.text() and form.error.isVisibleTo(panel)
    assert saved(panel, key)["users"] == ["salesperson"]
    form.emails.setPlainText("sam@example.com\nnew.person@example.com")
    panel.flush()
    assert saved(panel, key)["users"] == [
        "salesperson",
        "sam@example.com",
        "new.person@example.com",
    ]
    assert not form.error.isVisibleTo(panel)
    assert "new.person@example.com" in form.warning.text()  # no such user yet: a warning
    assert "sam@example.com" not in form.warning.text()
    form.salesperson.setChecked(False)
    assert saved(panel, key)["users"] == ["sam@example.com", "new.person@example.com"]
    shot(panel, "action_add_followers")
    panel.editor.undo_stack.setIndex(start)
    assert saved(panel, key)["users"] == ["salesperson"]
    form = panel.content.part
    assert form.salesperson.isChecked() and form.emails.toPlainText() == ""


def test_run_actions_offers_the_saved_actions(qtbot: QtBot, panel: InspectorPanel) -> None:
    key, form = action(panel, "run_actions")
    assert isinstance(form, RunActionsForm)
    offered = [form.choice.itemData(i) for i in range(form.choice.count())]
    assert offered == ["notify", "tag_vip"]
    for name in ("tag_vip", "notify"):
        form.choice.setCurrentIndex(form.choice.findData(name))
        form.add.click()
    assert saved(panel, key)["actions"] == ["tag_vip", "notify"]
    form.chosen.setCurrentRow(1)
    form.up.click()
    assert saved(panel, key)["actions"] == ["notify", "tag_vip"]
    shot(panel, "action_run_actions")
    form.chosen.setCurrentRow(0)
    form.remove.click()
    assert saved(panel, key)["actions"] == ["tag_vip"]
    panel.editor.undo_stack.undo()
    assert saved(panel, key)["actions"] == ["notify", "tag_vip"]
    assert panel.content.part.chosen.count() == 2
    # a name the campaign does not have (e.g. from an edited file) is pointed out
    panel.editor.set_content(key, "actions", ["gone"])
    assert "No saved action is named 'gone'" in panel.content.part.error.text()


def test_webhook_refuses_a_bad_url(qtbot: QtBot, panel: InspectorPanel) -> None:
    key, form = action(panel, "webhook")
    typed(qtbot, form.texts["url"].widget, "ftp://nowhere")
    assert "not an http(s) URL" in form.error.text()
    assert saved(panel, key)["url"] == "https://"
    typed(qtbot, form.texts["fields"].widget, "email, shoe_size")
    assert "no field shoe_size" in form.error.text()
    assert saved(panel, key)["fields"] == []
    typed(qtbot, form.texts["url"].widget, "https://hooks.example.com/x")
    typed(qtbot, form.texts["fields"].widget, "email, name")
    assert saved(panel, key)["url"] == "https://hooks.example.com/x"
    assert saved(panel, key)["fields"] == ["email", "name"]
    shot(panel, "action_webhook")


def test_other_kinds_screenshots(qtbot: QtBot, panel: InspectorPanel) -> None:
    _key, form = action(panel, "create_activity")
    typed(qtbot, form.summary, "Call {{ record.name }}")
    shot(panel, "action_create_activity")
    _key, form = action(panel, "execute_code")
    form.code.setPlainText("record['description'] = 'seen'\nimport os\n")
    assert "Not allowed in the sandbox" in form.error.text()
    shot(panel, "action_execute_code")


def count_rows(db: Database) -> tuple[int, int]:
    with db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Link)) or 0,
            s.scalar(select(func.count()).select_from(Setting)) or 0,
        )


def test_email_preview_is_the_message_as_sent(
    qtbot: QtBot, panel: InspectorPanel, db: Database
) -> None:
    before = count_rows(db)
    panel.show_node("welcome")
    form = panel.content
    assert isinstance(form, EmailForm)
    form.body.setPlainText(
        "<html><head><style>.cta { color: #e4572e; }</style></head><body>"
        '<p>Hi {{ record.name }}, <a class="cta" href="https://shop.example.com/new">new</a>'
        '</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
    )
    form.record_box.setCurrentIndex(form.record_box.findText("Ben"))
    qtbot.waitUntil(lambda: "Hi Ben" in form.preview.toPlainText())
    built = form.preview_pane.built
    tracked = built.tracked_links["https://shop.example.com/new"]
    assert tracked.startswith("http://127.0.0.1:") and "/t/0." in tracked and "/c/" in tracked
    assert f'href="{tracked}"' in built.html, "the link is rewritten to the tracked redirect"
    assert 'style="color: #e4572e;">new</a>' in built.html, "CSS is inlined"
    assert "/unsubscribe" in built.headers["List-Unsubscribe"]
    assert "glad you&#x27;re here" in form.preview_pane.summary.text(), "the preheader"
    assert "We're glad you're here" not in form.preview.toPlainText(), "hidden, as in a client"
    assert "ben@example.com" in form.preview_pane.summary.text()
    assert tracked in form.preview_pane.text.toPlainText()
    assert (
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
        in form.preview_pane.source.toPlainText()
    )
    # the rendered view shows the tracked link's target, not the original
    anchors = form.preview.document().toHtml()
    assert tracked in anchors and "shop.example.com/new" not in anchors
    panel.flush()
    assert count_rows(db) == before, "previewing writes no link and no key"
    panel.resize(460, 1500)
    shot(panel, "email_preview")


def test_placeholders(qtbot: QtBot, panel: InspectorPanel) -> None:
    panel.show_node(None)
    assert "Select a step" in panel.placeholder_text()
    editor = panel.editor
    panel.set_editor(None)
    assert "No campaign open" in panel.placeholder_text()
    assert "template" in panel.placeholder_text()
    shot(panel, "placeholder_no_campaign")
    panel.set_editor(editor)
    assert "Select a step" in panel.placeholder_text()
