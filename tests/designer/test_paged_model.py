"""The dashboard's paged model reads slow pages in the background: the window keeps
answering, an answer to a query that has changed is dropped, and live refreshes asked
for meanwhile are folded into one read."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QTimer

from designer.dashboard.paged import PagedModel
from engine.api.tables import PAGE, Query
from engine.errors import UserError


@dataclass
class Engine:
    """Pages of numbers; a query sorted by "record" blocks until released (a slow sort)."""

    release: threading.Event
    calls: list[tuple[str, int, int]]
    data: list[int]

    def fetch(self, query: Query, offset: int, limit: int) -> Sequence[int]:
        self.calls.append((query.sort, offset, limit))
        if query.search == "gone":
            raise UserError("no campaign with id 7")
        if query.sort == "record":
            assert self.release.wait(10), "never released"
        return self.data[offset : offset + limit]


@pytest.fixture
def engine() -> Engine:
    return Engine(threading.Event(), [], list(range(PAGE * 2 + 5)))


@pytest.fixture
def model(engine: Engine, qtbot) -> PagedModel:  # type: ignore[no-untyped-def]
    m = PagedModel(
        [("n", "id", str)], engine.fetch, lambda q: len(engine.data), lambda q: q.sort == "id"
    )
    yield m
    engine.release.set()
    m.wait()


def test_an_index_walk_is_read_at_once_and_pages_follow(model: PagedModel, engine: Engine) -> None:
    model.reload(Query())
    assert not model.loading and model.rows == engine.data[:PAGE]
    assert model.canFetchMore()
    model.fetchMore()
    model.fetchMore()
    assert model.rows == engine.data and not model.canFetchMore()
    assert model.pages == 3


def test_a_slow_sort_leaves_the_window_answering(model: PagedModel, engine: Engine, qtbot) -> None:  # type: ignore[no-untyped-def]
    model.reload(Query())
    ticks: list[bool] = []
    timer = QTimer(interval=5)
    timer.timeout.connect(lambda: ticks.append(model.loading))
    timer.start()
    model.reload(Query(sort="record"))
    assert model.loading and not model.canFetchMore()
    qtbot.waitUntil(lambda: len(ticks) >= 5)  # the event loop runs while the engine reads
    assert all(ticks) and model.rows == engine.data[:PAGE]  # the old rows stay meanwhile
    arrived: list[int] = []
    model.loaded.connect(lambda: arrived.append(len(model.rows)))
    engine.release.set()
    qtbot.waitUntil(lambda: not model.loading)
    timer.stop()
    assert arrived == [PAGE] and model.rows == engine.data[:PAGE]
    model.fetchMore()  # the next page of a slow order is read in the background too
    assert model.loading
    model.wait()
    assert len(model.rows) == 2 * PAGE and engine.calls[-1] == ("record", PAGE, PAGE)


def test_an_answer_to_an_older_query_is_dropped(model: PagedModel, engine: Engine) -> None:
    engine.data = list(range(10))
    model.reload(Query(sort="record"))  # slow, still reading…
    engine.data = list(range(100, 110))
    model.reload(Query())  # …when the user goes back to the quick order
    assert model.rows == list(range(100, 110))
    engine.release.set()
    model.wait()
    assert model.rows == list(range(100, 110)) and model.query == Query()


def test_refreshes_asked_while_reading_become_one(model: PagedModel, engine: Engine) -> None:
    model.reload(Query(sort="record"))
    for _ in range(5):  # live changes while the first read is under way
        model.refresh()
    engine.release.set()
    model.wait()
    assert engine.calls == [("record", 0, PAGE), ("record", 0, PAGE)]


def test_a_refused_background_read_is_shown_not_raised(model: PagedModel) -> None:
    model.reload(Query(sort="record", search="gone"))
    model.wait()
    assert model.rows == [] and model.error == "no campaign with id 7"
    model.reload(Query())
    assert model.error is None and model.rows
