"""The filter builder round-trips the engine's filter tables and counts matches."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from designer.domain_tree import Group, Leaf, to_domain, to_tree
from designer.filter_builder import FilterBuilder, LeafRow
from engine.clock import FixedClock
from engine.db import Database
from engine.fields import MODELS
from engine.filters import compile_domain
from tests.engine.test_filters import CONTACT_CASES, _case_id, crm, names  # noqa: F401


@pytest.fixture
def builder(qtbot: QtBot, crm: Database, clock: FixedClock) -> FilterBuilder:  # noqa: F811
    widget = FilterBuilder("contact", crm, clock)
    qtbot.addWidget(widget)
    return widget


@pytest.mark.parametrize(("domain", "expected"), CONTACT_CASES, ids=_case_id)
def test_round_trips_every_contact_case(
    builder: FilterBuilder,
    crm: Database,  # noqa: F811
    clock: FixedClock,
    domain: list[Any],
    expected: set[str],
):
    builder.set_domain(domain)
    out = builder.domain()
    assert out == domain  # exact, not merely equivalent
    assert names(crm, "contact", compile_domain(out, "contact", clock.now())) == expected
    assert builder.error_label.isHidden()
    assert not builder.code_toggle.isChecked()  # every case fits the tree
    assert builder.root_box is not None and builder.root_box.isVisibleTo(builder)


def test_builder_groups_write_prefix_notation():
    root = Group(implicit=True)
    root.children.append(Leaf("email", "!=", None))
    root.children.append(
        Group("|", children=[Leaf("tags", "in", ["VIP"]), Leaf("country", "=", "BE")])
    )
    root.children.append(
        Group("|", True, [Leaf("a", "=", 1), Leaf("b", "=", 2), Leaf("c", "=", 3)])
    )
    domain = to_domain(root)
    assert domain == [
        ["email", "!=", None],
        "|", ["tags", "in", ["VIP"]], ["country", "=", "BE"],
        "!", "|", "|", ["a", "=", 1], ["b", "=", 2], ["c", "=", 3],
    ]  # fmt: skip
    assert to_domain(to_tree(domain)) == domain
    assert to_domain(to_tree(["&", ["a", "=", 1], ["b", "=", 2]])) == [
        "&",
        ["a", "=", 1],
        ["b", "=", 2],
    ]


def test_editing_rows_updates_domain_and_count(qtbot: QtBot, builder: FilterBuilder):
    seen: list[list[Any]] = []
    builder.domainChanged.connect(seen.append)
    builder.set_domain([["country", "=", "BE"]])
    builder.refresh_count()
    assert builder.count_label.text() == "2 contact records match"  # ann, cid (eve archived)

    root = builder.root_box
    assert root is not None
    root.add_child(Leaf("email", "!=", None))
    assert builder.domain() == [["country", "=", "BE"], ["email", "!=", None]]
    qtbot.waitUntil(lambda: builder.count_label.text() == "1 contact record matches")

    root.op_box.setCurrentIndex(1)  # Any of (OR)
    assert builder.domain() == ["|", ["country", "=", "BE"], ["email", "!=", None]]
    row = root.findChildren(LeafRow)[0]
    row.value_edit.clear()
    qtbot.keyClicks(row.value_edit, "FR")
    assert builder.domain()[1] == ["country", "=", "FR"]
    assert seen[-1] == builder.domain()


def test_invalid_input_shows_engine_message(qtbot: QtBot, builder: FilterBuilder):
    builder.set_domain([["nope", "=", 1]])
    assert builder.error_label.isVisible() or not builder.error_label.isHidden()
    assert "nope" in builder.error_label.text()
    builder.refresh_count()
    assert builder.count_label.text() == "Invalid filter"

    builder.set_domain(["|", ["country", "=", "BE"]])  # malformed nesting
    assert builder.code_toggle.isChecked()
    assert "needs two operands" in builder.error_label.text()  # the engine's words
    assert builder.domain() == ["|", ["country", "=", "BE"]]

    builder.code_edit.setPlainText('[["country", "=", "BE"]]')
    assert builder.domain() == [["country", "=", "BE"]]
    builder.code_edit.setPlainText("[[[")
    assert builder.error_label.text()
    assert builder.domain() == [["country", "=", "BE"]]  # kept the last good one


def test_field_picker_offers_dotted_paths_and_relations(builder: FilterBuilder):
    builder.set_domain([["name", "=", "x"]])
    assert builder.root_box is not None
    row = builder.root_box.findChild(LeafRow)
    items = [row.field_box.itemText(i) for i in range(row.field_box.count())]
    assert {"salesperson.email", "tags", "lists", "tags.name"} <= set(items)
    assert len(items) > len(MODELS["contact"].fields)


def test_screenshot(qtbot: QtBot, builder: FilterBuilder, tmp_path: Path):
    builder.set_domain(
        [
            ["email", "!=", None],
            "|",
            ["tags", "in", ["VIP"]],
            "&",
            ["country", "=", "BE"],
            ["created_at", ">=", {"now": "-7 days"}],
            "!",
            ["salesperson.email", "=", "alice@example.com"],
        ]
    )
    builder.refresh_count()
    builder.resize(640, 330)
    builder.show()
    out = Path(os.environ.get("JOURNEYS_SHOTS", tmp_path))
    out.mkdir(exist_ok=True)
    assert builder.grab().save(str(out / "filter_builder.png"))
