"""Every class of problem the issue names, made by an edit, shows in the panel and on the node."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import update

from designer.main_window import MainWindow
from engine import campaign_files, editing, gallery
from engine.clock import FixedClock
from engine.db import Database
from engine.errors import UserError
from engine.models import Activity
from tests.conftest import T0


@pytest.fixture
def window(qtbot: QtBot, database: Database, clock: FixedClock) -> Iterator[MainWindow]:
    """Tag Hot Contacts open: email 'welcome' with tag_hot (clicked), check_email (bounced)."""
    with database.session() as s:
        doc = gallery.load_template("tag_hot_contacts")
        campaign_files.import_document(s, doc, trust=True, now=clock.now())
    w = MainWindow(database, clock=clock)
    qtbot.addWidget(w)
    w.show()
    w.campaigns.select(1)
    assert w.canvas is not None
    yield w
    w.shutdown()


def welcome(w: MainWindow, **content: Any) -> None:
    assert w.canvas is not None
    node = w.canvas.editor.document.node("welcome")
    w.canvas.editor.set_field("welcome", "content", {**node.content, **content})


def add_long_sms(w: MainWindow) -> str:
    assert w.canvas is not None
    key = w.canvas.editor.add_node("sms", (0.0, 600.0))
    assert key is not None
    w.canvas.editor.set_field(key, "content", {"body": "Ünïcode " * 90})
    return key


def webhook_awaiting_trust(w: MainWindow) -> str:
    assert w.canvas is not None
    w.canvas.editor.set_field(
        "tag_hot", "content", {"kind": "webhook", "url": "https://crm.example/hook", "fields": []}
    )
    w.canvas.editor.set_field("tag_hot", "trusted", False)
    return "tag_hot"


def stored_bad_trigger(w: MainWindow) -> str:
    """The editor refuses this link, so it comes from elsewhere (the CLI, another user)."""
    assert w.canvas is not None
    refused = w.canvas.editor.set_field("tag_hot", "trigger", "sms_click")
    assert refused is False
    with w.db.session() as s, pytest.raises(UserError, match="child of an email cannot"):
        editing.update_activity(s, w.current_id(), "tag_hot", {"trigger": "sms_click"}, T0)
    with w.db.session() as s:  # e.g. a database written by another tool
        s.execute(update(Activity).where(Activity.key == "tag_hot").values(trigger="sms_click"))
    w.check()  # what any later edit or reopening does
    return "tag_hot"


CASES: dict[str, tuple[Callable[[MainWindow], str], str, str]] = {
    "trigger/parent compatibility": (
        stored_bad_trigger,
        "error",
        "needs a parent of type sms",
    ),
    "missing content": (
        lambda w: welcome(w, subject="") or "welcome",
        "error",
        "subject",
    ),
    "template syntax error with its line": (
        lambda w: welcome(w, body_html="<p>Hi</p>\n<p>{{ record.name }</p>") or "welcome",
        "error",
        "line 2",
    ),
    "invalid filter": (
        lambda w: (
            w.canvas.editor.set_field("check_email", "filter", [["colour", "=", 1]])  # type: ignore[union-attr]
            and "check_email"
        ),
        "error",
        "colour",
    ),
    "unreachable step": (
        lambda w: welcome(w, body_html="<p>No link here</p>") or "tag_hot",
        "warning",
        "unreachable: nothing to click",
    ),
    "SMS over the segment limit": (add_long_sms, "warning", "segments long"),
    "action awaiting trust": (webhook_awaiting_trust, "warning", "awaiting trust"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_class_of_problem_is_flagged_on_the_node_and_in_the_panel(
    window: MainWindow, case: str
) -> None:
    make, severity, words = CASES[case]
    assert window.problems.count() == 1  # "No problems" line on the valid template
    key = make(window)
    assert isinstance(key, str)
    lines = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert any(words in line for line in lines), lines
    assert window.canvas is not None
    item = window.canvas.scene.item_for_key[key]
    assert item._problem == severity
    assert words in item.toolTip()
