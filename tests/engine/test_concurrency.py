"""Several workers on one database: every due trace runs exactly once (SKIP LOCKED claims
on PostgreSQL, serialized writes on SQLite)."""

from __future__ import annotations

import threading

from sqlalchemy import func, insert, select

from engine.executor import Executor
from engine.models import Contact, OutboxMessage, Trace

from .world import World, action, email, tag


def test_workers_share_the_work_without_doing_anything_twice(db, clock) -> None:  # type: ignore[no-untyped-def]
    w = World(db, clock)
    now = clock.now()
    with db.session() as s:
        s.execute(
            insert(Contact),
            [
                {
                    "name": f"P{i}",
                    "email": f"p{i}@example.com",
                    "created_at": now,
                    "updated_at": now,
                    "extra": {},
                }
                for i in range(600)
            ],
        )
    w.campaign(email("mail"), action("after", tag("Done"), parent="mail", trigger="activity"))
    workers = [Executor(db, clock, batch_size=40) for _ in range(3)]
    done = [0, 0, 0]
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            done[i] = workers[i].execute_due(now).executed
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sum(done) == 1200
    with db.session() as s:
        sent = s.execute(select(func.count(), func.count(func.distinct(OutboxMessage.trace_id))))
        assert tuple(sent.one()) == (600, 600)
        states = dict(s.execute(select(Trace.state, func.count()).group_by(Trace.state)).all())
        claimed = s.scalar(select(func.count()).where(Trace.claimed_by.is_not(None)))
    assert states == {"processed": 1200}
    assert claimed == 0
    if db.dialect == "postgresql":
        assert sum(1 for n in done if n) >= 2  # the work was really shared
