"""The write transaction a batch works in, cut short before any network I/O (E13, §13).

A batch used to run in one transaction from its first read to its last outcome, so a
slow SMTP relay held the database's write lock for minutes: clicks, `journeys list` and
every other process waited and timed out. Now the batch's current transaction opens on
first use and is committed at every *hand-off point* — just before a channel, webhook or
sandbox talks to the outside — so what waits on the network holds no lock at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from .db import Database


class BatchWork:
    """One batch's sequence of short write transactions (or one fixed session).

    With ``db`` the session is opened lazily and :meth:`commit` ends it; the next use
    opens a fresh one. With a fixed ``session`` (the outbox's direct batches, where
    nothing leaves before the commit) :meth:`commit` does nothing.
    """

    def __init__(self, *, db: Database | None = None, session: Session | None = None) -> None:
        if (db is None) == (session is None):
            raise ValueError("give a database or a session")
        self._db = db
        self._session = session
        self.commits = 0

    @property
    def splits(self) -> bool:
        """Whether hand-off points really commit (False: one transaction for the batch)."""
        return self._db is not None

    @property
    def session(self) -> Session:
        if self._session is None:
            assert self._db is not None
            session = self._db.sessions()
            session.begin()
            self._session = session
        return self._session

    @property
    def open(self) -> bool:
        return self._session is not None

    def commit(self) -> None:
        if self._db is None or self._session is None:
            return
        session, self._session = self._session, None
        try:
            session.commit()
        finally:
            session.close()
        self.commits += 1

    def rollback(self) -> None:
        if self._db is None or self._session is None:
            return
        session, self._session = self._session, None
        try:
            session.rollback()
        finally:
            session.close()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for a channel's own reads during a send: never the write lock."""
        if self._db is None:
            yield self.session
            return
        with self._db.read() as session:
            yield session
