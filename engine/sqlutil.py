"""Small SQL helpers shared across the engine's set-based code."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, String, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement


def affected(result: Any) -> int:
    """Rows a DML statement touched (Session.execute is typed as returning a Result)."""
    return int(getattr(result, "rowcount", 0) or 0)


def ids_in(session: Session, column: Any, ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids`` bound as ONE parameter (a JSON text on SQLite, an array on
    PostgreSQL): expanding thousands of bound values costs more than the query itself.
    """
    values = [int(i) for i in ids]
    if session.get_bind().dialect.name == "postgresql":
        return column == func.any(bindparam(None, values, type_=ARRAY(BigInteger)))
    each = func.json_each(bindparam(None, json.dumps(values), type_=String)).table_valued("value")
    return column.in_(select(each.c.value))
