"""Read-only mode (issue 24): a database opened to look refuses every edit in the engine
layer, cannot be written by this process at all (SQLite ``mode=ro``, PostgreSQL
``default_transaction_read_only``), and still follows what other processes write."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from engine import settings
from engine.api import campaign_ops, figures, overview
from engine.api.changes import ChangeWatcher
from engine.db import Database
from engine.errors import ReadOnly, UserError
from engine.executor import Executor
from tests.waiting import eventually

from .world import World, action, tag

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def written(db: Database, clock: Any) -> tuple[World, int]:
    w = World(db, clock)
    w.people("Ann", "Bob")
    cid = w.campaign(action("a", tag("A")), action("b", tag("B"), delay=2))
    w.run()
    return w, cid


def edits(ro: Database, cid: int, clock: Any) -> dict[str, Any]:
    """Every kind of edit the designer and the command line make, through the engine."""
    now = clock.now()
    return {
        "new campaign": lambda: campaign_ops.new_draft(ro, now),
        "rename": lambda: campaign_ops.rename(ro, cid, "Mine now", now),
        "duplicate": lambda: campaign_ops.duplicate(ro, cid, now),
        "delete": lambda: campaign_ops.delete(ro, cid),
        "archive": lambda: campaign_ops.archive(ro, cid, now),
        "stop": lambda: campaign_ops.stop(ro, cid, now),
        "start": lambda: campaign_ops.start(ro, cid, now),
        "retry": lambda: campaign_ops.retry(ro, cid, now, None),
        "run a pass": lambda: Executor(ro, clock).run_pass(),
        "a setting": lambda: _set(ro),
    }


def _set(ro: Database) -> None:
    with ro.session() as s:
        settings.set_value(s, "engine.batch_size", "10")


def test_every_edit_is_refused_and_nothing_is_written(written, db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    w, cid = written
    before = figures.campaign_figures(w.db, cid)
    path = Path(db_url.removeprefix("sqlite:///")) if db_url.startswith("sqlite") else None
    w.db.dispose()  # the last writer closes: its WAL is folded into the file
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path else None
    ro = Database(db_url, read_only=True)
    try:
        assert figures.campaign_figures(ro, cid) == before  # looking works
        assert overview.overview(ro, clock.now(), 7).campaign(cid) is not None
        for what, edit in edits(ro, cid, clock).items():
            with pytest.raises(ReadOnly, match="open read-only") as refused:
                edit()
            assert isinstance(refused.value, UserError), what  # exit 2 on the command line
        # Below the engine's refusal, the database itself refuses a write.
        with pytest.raises(Exception, match=r"(?i)read-?only"), ro.read() as s:
            s.execute(text("UPDATE campaign SET name = 'sneaked' WHERE id = :c"), {"c": cid})
        assert figures.campaign_figures(ro, cid) == before
    finally:
        ro.dispose()
    if path is not None:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


WRITER = """
import sys
sys.path[0] = {root!r}
from sqlalchemy import text
from engine.db import Database
db = Database({url!r})
with db.session() as s:
    s.execute(text("UPDATE campaign SET name = 'Renamed elsewhere' WHERE id = :c"), {{"c": {cid}}})
    s.execute(text("UPDATE trace SET state = 'processed' WHERE campaign_id = :c "
                   "AND state = 'scheduled'"), {{"c": {cid}}})
"""


def test_a_read_only_database_follows_other_writers(written, db_url: str) -> None:  # type: ignore[no-untyped-def]
    _w, cid = written
    ro = Database(db_url, read_only=True)
    watcher = ChangeWatcher(ro)
    try:
        watcher.changed()
        before = figures.campaign_figures(ro, cid)
        code = WRITER.format(root=str(ROOT), url=db_url, cid=cid)
        subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
        eventually(watcher.changed, 10, "the other process's write to be noticed")
        after = figures.campaign_figures(ro, cid)
        assert after.name == "Renamed elsewhere"
        b_before, b_after = before.activity("b"), after.activity("b")
        assert b_before is not None and b_after is not None
        assert (b_before.scheduled, b_after.processed) == (2, 2)
    finally:
        watcher.close()
        ro.dispose()


def test_read_only_needs_an_existing_current_database(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="read-only mode opens an existing file"):
        Database(f"sqlite:///{tmp_path / 'none.db'}", read_only=True)
    assert not (tmp_path / "none.db").exists()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match="the database is empty"):
        Database(f"sqlite:///{empty}", read_only=True)
    old = tmp_path / "old.db"
    Database(f"sqlite:///{old}").dispose()
    import sqlite3

    with sqlite3.connect(old) as c:
        c.execute("UPDATE alembic_version SET version_num = '0004'")
    with pytest.raises(UserError, match="open it once without --read-only"):
        Database(f"sqlite:///{old}", read_only=True)
