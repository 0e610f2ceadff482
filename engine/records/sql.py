"""Set-based SQL building blocks shared by the record functions.

Everything here issues a fixed number of statements per call (per 5,000 keys, the chunk
size that keeps SQLite's bound-parameter limit far away), whatever the number of rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Insert, Table, insert, select
from sqlalchemy.orm import Session

from ..errors import EngineFailure
from ..models import User
from .values import user_ref_key

CHUNK = 5000
T = TypeVar("T")

USER_T: Table = User.__table__  # type: ignore[assignment]


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def dialect_name(session: Session) -> str:
    return session.get_bind().dialect.name


def _insert_ignoring_conflicts(session: Session, table: Table) -> Insert:
    name = dialect_name(session)
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    raise EngineFailure(f"unsupported database {name!r} (Journeys runs on SQLite or PostgreSQL)")


def insert_missing(session: Session, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """Insert ``rows``, skipping those a unique constraint already holds.

    ``ON CONFLICT DO NOTHING`` rather than select-then-insert so that two workers adding
    the same tag or follower at once cannot fail each other's batch.
    """
    unique = list({tuple(sorted(r.items())): r for r in rows}.values())
    if unique:
        session.execute(_insert_ignoring_conflicts(session, table), unique)


def insert_returning_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (all with the same keys) and return their ids in the same order.

    SQLAlchemy's "insertmanyvalues" batches this into multi-row ``INSERT … RETURNING``
    on both SQLite (3.35+) and PostgreSQL, with ids sorted back into parameter order.
    """
    if not rows:
        return []
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(i) for i in session.execute(stmt, rows).scalars()]


def ensure_names(session: Session, table: Table, names: Iterable[str]) -> dict[str, int]:
    """Ids of the tags (or lists) called ``names``, creating the missing ones."""
    unique = list(dict.fromkeys(names))
    ids: dict[str, int] = {}
    if not unique:
        return ids
    insert_missing(session, table, [{"name": n} for n in unique])
    for part in chunks(unique):
        rows = session.execute(select(table.c.name, table.c.id).where(table.c.name.in_(part)))
        ids.update((name, int(id_)) for name, id_ in rows)
    return ids


@dataclass
class UserIndex:
    """Every user, to resolve references by id, email or name without a query per row.

    Users are colleagues, a small table; matching in Python also sidesteps SQLite's
    ASCII-only ``lower()``.
    """

    by_id: dict[int, tuple[str, str]] = field(default_factory=dict)
    by_email: dict[str, int] = field(default_factory=dict)
    by_name: dict[str, list[int]] = field(default_factory=dict)

    def lookup(self, ref: Any) -> int:
        """The id of the user ``ref`` names; ValueError when none or several match."""
        kind, key = user_ref_key(ref)
        if kind == "id":
            if key not in self.by_id:
                raise ValueError(f"no user with id {key}")
            return int(key)
        if kind == "email":
            if key not in self.by_email:
                raise ValueError(f"no user with email {str(ref).strip()!r}")
            return self.by_email[key]
        ids = self.by_name.get(key, [])
        if not ids:
            raise ValueError(f"no user with email or name {str(ref).strip()!r}")
        if len(ids) > 1:
            raise ValueError(
                f"several users are called {str(ref).strip()!r} (ids "
                f"{', '.join(map(str, ids))}); give the email instead"
            )
        return ids[0]


def load_users(session: Session) -> UserIndex:
    index = UserIndex()
    rows = session.execute(select(USER_T.c.id, USER_T.c.name, USER_T.c.email).order_by(USER_T.c.id))
    for id_, name, email in rows:
        index.by_id[int(id_)] = (name, email)
        index.by_email[email.strip().lower()] = int(id_)
        index.by_name.setdefault(name.strip().casefold(), []).append(int(id_))
    return index
