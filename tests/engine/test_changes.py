"""The change watcher sees another process's commit, and nothing when nothing changed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from engine.api.changes import ChangeWatcher
from engine.db import Database
from tests.waiting import eventually

from .world import World, action, tag

ROOT = Path(__file__).resolve().parents[2]
WRITE = """
import sys
sys.path[0] = {root!r}
from sqlalchemy import text
from engine.db import Database
db = Database({url!r}, migrate_schema=False)
with db.session() as s:
    s.execute(text("UPDATE trace SET state = 'processed' WHERE campaign_id = :c"), {{"c": {cid}}})
"""


def test_another_process_commit_is_seen_once(db: Database, clock, db_url: str) -> None:  # type: ignore[no-untyped-def]
    w = World(db, clock)
    w.people("Ann")
    cid = w.campaign(action("a", tag("X"), delay=5))
    watcher = ChangeWatcher(db)
    try:
        assert not watcher.changed()
        url = db.engine.url.render_as_string(hide_password=False)
        subprocess.run(
            [sys.executable, "-c", WRITE.format(root=str(ROOT), url=url, cid=cid)],
            check=True,
            timeout=60,
        )
        seen: list[bool | set[int]] = []

        def looked() -> bool:
            seen.append(watcher.changed())
            return bool(seen[-1])

        eventually(looked, 10, "the other process's commit")
        if db.dialect == "postgresql":
            assert seen[-1] == {cid}  # which campaign's figures changed
        assert not watcher.changed()  # and nothing more since
    finally:
        watcher.close()
