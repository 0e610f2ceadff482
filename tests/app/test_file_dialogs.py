"""File ▸ Import / Export / Export Diagram, driven through the real menu actions.

The file dialogs (:mod:`designer.file_dialogs`) and the trust question are answered by
monkeypatching; everything else is real: the files written, the database read back.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QAction, QImage
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QMenu, QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from designer import file_dialogs
from designer.main_window import MainWindow
from engine import campaign_files, gallery
from engine.clock import FixedClock
from engine.db import Database
from engine.models import Activity, Campaign, SavedAction

Yes, No = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No


@pytest.fixture
def window(qtbot: QtBot, database: Database, clock: FixedClock) -> Iterator[MainWindow]:
    with database.session() as s:
        doc = gallery.load_template("tag_hot_contacts")
        campaign_files.import_document(s, doc, trust=True, now=clock.now())
    w = MainWindow(database, clock=clock)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown()


class Dialogs:
    """Stands in for QFileDialog / QMessageBox and remembers what was asked."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.path = ""
        self.reply = No
        self.suggested: list[str] = []
        self.questions: list[str] = []
        self.warnings: list[str] = []
        monkeypatch.setattr(file_dialogs, "open_file_name", self._open)
        monkeypatch.setattr(file_dialogs, "save_file_name", self._save)
        monkeypatch.setattr(QMessageBox, "question", staticmethod(self._question))
        monkeypatch.setattr(QMessageBox, "warning", staticmethod(self._warning))

    def _open(self, _parent: Any, _caption: str = "", _dir: str = "", *a: Any, **k: Any) -> str:
        return self.path

    def _save(self, _parent: Any, _caption: str = "", suggested: str = "", *a: Any) -> str:
        self.suggested.append(suggested)
        return self.path

    def _question(self, _parent: Any, _title: str, text: str, *a: Any, **k: Any) -> Any:
        self.questions.append(text)
        return self.reply

    def _warning(self, _parent: Any, _title: str, text: str, *a: Any, **k: Any) -> Any:
        self.warnings.append(text)
        return QMessageBox.StandardButton.Ok


@pytest.fixture
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Dialogs:
    return Dialogs(monkeypatch)


def file_menu_action(window: MainWindow, name: str) -> QAction:
    """The action as the File menu holds it (so the test goes through the menu)."""
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    assert isinstance(menu, QMenu)
    action = window.actions_by_name[name]
    assert action in menu.actions(), f"{name} is not in the File menu"
    assert action.isEnabled(), f"{name} is disabled"
    return action


def campaigns(db: Database) -> list[tuple[int, str, str]]:
    with db.read() as s:
        return [(c.id, c.name, c.state) for c in s.scalars(select(Campaign).order_by(Campaign.id))]


def trusted(db: Database, campaign_id: int) -> dict[str, bool]:
    """Trust of the campaign's server actions and saved actions, by key or name."""
    with db.read() as s:
        acts = s.scalars(select(Activity).where(Activity.campaign_id == campaign_id)).all()
        saved = s.scalars(select(SavedAction).where(SavedAction.campaign_id == campaign_id)).all()
        return {a.key: a.trusted for a in acts} | {f"saved:{a.name}": a.trusted for a in saved}


def test_export_then_import_through_the_file_menu_round_trips(
    window: MainWindow, database: Database, dialogs: Dialogs, tmp_path: Path
) -> None:
    window.campaigns.select(1)
    exported = tmp_path / "hot.journey.json"
    dialogs.path = str(exported)
    file_menu_action(window, "export").trigger()
    assert dialogs.suggested == ["Tag Hot Contacts.journey.json"]
    text = exported.read_text(encoding="utf-8")
    with database.read() as s:
        assert text == campaign_files.dumps(campaign_files.export_document(s, 1))

    # Import it again: a new draft, opened, no trust question (no code or webhook); its
    # name is taken, so it is numbered as file managers do, and the window says so.
    dialogs.path = str(exported)
    file_menu_action(window, "import").trigger()
    assert dialogs.questions == [] and dialogs.warnings == []
    assert campaigns(database) == [
        (1, "Tag Hot Contacts", "draft"),
        (2, "Tag Hot Contacts (2)", "draft"),
    ]
    assert window.statusBar().currentMessage() == (
        "A campaign named 'Tag Hot Contacts' already exists; "
        "this one is named 'Tag Hot Contacts (2)'."
    )
    assert window.campaigns.current_row().name == "Tag Hot Contacts (2)"  # type: ignore[union-attr]
    assert window.current_id() == 2
    assert set(window.canvas.document.nodes) == {"welcome", "tag_hot", "check_email"}  # type: ignore[union-attr]

    # Export → import → export is the same file but for the name.
    again = tmp_path / "again.journey.json"
    dialogs.path = str(again)
    file_menu_action(window, "export").trigger()
    assert dialogs.suggested[-1] == "Tag Hot Contacts (2).journey.json"
    assert again.read_text(encoding="utf-8") == text.replace(
        '"Tag Hot Contacts"', '"Tag Hot Contacts (2)"', 1
    )


def test_cancelling_the_file_dialogs_changes_nothing(
    window: MainWindow, database: Database, dialogs: Dialogs, tmp_path: Path
) -> None:
    window.campaigns.select(1)
    dialogs.path = ""  # what QFileDialog returns on Cancel
    file_menu_action(window, "import").trigger()
    file_menu_action(window, "export").trigger()
    file_menu_action(window, "export_png").trigger()
    assert len(campaigns(database)) == 1
    assert list(tmp_path.glob("*.json")) == [] and list(tmp_path.glob("*.png")) == []


def risky_file(tmp_path: Path) -> Path:
    """A shared file bringing an execute_code and a webhook action, and a saved webhook."""
    doc = gallery.load_template("welcome_flow")
    doc["campaign"]["name"] = "Shared flow"
    doc["activities"] += [
        {
            "key": "code",
            "name": "Mark bounced",
            "type": "server_action",
            "parent": "welcome",
            "trigger": "mail_bounce",
            "delay": {"amount": 0, "unit": "hours"},
            "action": {"kind": "execute_code", "code": "record['description'] = 'bounced'\n"},
        },
        {
            "key": "hook",
            "name": "Tell the CRM",
            "type": "server_action",
            "parent": "welcome",
            "trigger": "mail_open",
            "delay": {"amount": 0, "unit": "hours"},
            "action": {"kind": "webhook", "url": "https://hooks.example.com/in", "fields": []},
        },
    ]
    doc["saved_actions"] = {"notify": {"kind": "webhook", "url": "https://hooks.example.com/x"}}
    path = tmp_path / "shared.journey.json"
    path.write_text(campaign_files.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize(("reply", "trust"), [(Yes, True), (No, False)])
def test_import_asks_before_trusting_code_and_webhooks(
    window: MainWindow,
    database: Database,
    dialogs: Dialogs,
    tmp_path: Path,
    reply: QMessageBox.StandardButton,
    trust: bool,
) -> None:
    dialogs.path = str(risky_file(tmp_path))
    dialogs.reply = reply
    file_menu_action(window, "import").trigger()

    assert len(dialogs.questions) == 1
    assert "execute_code and webhook" in dialogs.questions[0]
    assert "shared.journey.json" in dialogs.questions[0]
    assert campaigns(database)[-1] == (2, "Shared flow", "draft")
    assert window.current_id() == 2
    # Answered yes, the actions are trusted; answered no, they arrive disabled.
    assert trusted(database, 2) == {
        "welcome": True,
        "blacklist_bounces": True,
        "code": trust,
        "hook": trust,
        "saved:notify": trust,
    }


def test_an_invalid_file_is_refused_with_every_problem_and_nothing_written(
    window: MainWindow, database: Database, dialogs: Dialogs, tmp_path: Path
) -> None:
    doc = gallery.load_template("welcome_flow")
    doc["activities"][0]["trigger"] = "mail_click"  # a root cannot wait for a click
    doc["campaign"]["colour"] = "blue"  # not part of the format
    path = tmp_path / "broken.journey.json"
    path.write_text(campaign_files.dumps(doc), encoding="utf-8")
    dialogs.path = str(path)
    file_menu_action(window, "import").trigger()
    assert len(dialogs.warnings) == 1
    assert "colour" in dialogs.warnings[0]
    assert campaigns(database) == [(1, "Tag Hot Contacts", "draft")]


def test_export_diagram_writes_a_real_png_and_svg(
    window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    window.campaigns.select(1)
    png, svg = tmp_path / "hot.png", tmp_path / "hot.svg"
    dialogs.path = str(png)
    file_menu_action(window, "export_png").trigger()
    dialogs.path = str(svg)
    file_menu_action(window, "export_svg").trigger()
    assert dialogs.suggested == ["Tag Hot Contacts.png", "Tag Hot Contacts.svg"]

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 300 and image.height() > 300
    # Not a blank picture: the cards and links put many colours on the canvas.
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    assert len(colours) > 20

    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert root.find("{http://www.w3.org/2000/svg}title").text == "Tag Hot Contacts"  # type: ignore[union-attr]
    renderer = QSvgRenderer(str(svg))
    assert renderer.isValid() and renderer.defaultSize().width() > 150
    assert "Check Email Address" in svg.read_text(encoding="utf-8")


def test_export_diagram_adds_the_extension_and_draws_no_selection(
    window: MainWindow, dialogs: Dialogs, tmp_path: Path
) -> None:
    window.campaigns.select(1)
    assert window.canvas is not None
    dialogs.path = str(tmp_path / "plain")
    file_menu_action(window, "export_png").trigger()
    selected = QImage(str(tmp_path / "plain.png"))
    window.canvas.scene.select_keys(["welcome"])
    dialogs.path = str(tmp_path / "selected.png")
    file_menu_action(window, "export_png").trigger()
    assert QImage(str(tmp_path / "selected.png")) == selected  # the selection is not drawn
    dialogs.path = str(tmp_path / "missing-folder" / "x.png")
    file_menu_action(window, "export_png").trigger()
    assert "no such folder" in dialogs.warnings[-1]
