"""Turning what people type (CSV cells, action values, rendered templates) into column values.

Validation is kept apart from SQL so that a CSV import can check every row before it
writes any, and the executor can reject one bad record without failing its whole batch.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import JSON, Column, String, Table

from ..clock import as_utc, parse_instant
from ..errors import UserError
from ..fields import (
    BOOL,
    CHAR,
    DATETIME,
    EMAIL,
    FLOAT,
    INT,
    JSONK,
    MANY2MANY,
    MANY2ONE,
    MODELS,
    PHONE,
    SELECTION,
    TEXT,
    Field,
    ModelInfo,
)
from ..ids import MAX_ID, parse_id
from ..models import User

# ``user`` is importable and listable but is not a campaign target, so it is described
# here rather than in ``fields.MODELS`` (which the designer offers as targets).
USER_MODEL = ModelInfo(
    "user",
    "User",
    cast(Table, User.__table__),
    {
        f.name: f
        for f in [
            Field("id", INT, "ID", "id", readonly=True),
            Field("name", CHAR, "Name", "name"),
            Field("email", EMAIL, "Email", "email"),
            Field("active", BOOL, "Active", "active"),
        ]
    },
    phone_field=None,
)
MODEL_NAMES = (*MODELS, "user")

TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})
SALESPERSON = "salesperson"
_COUNTRY = re.compile(r"[A-Za-z]{2}")


class RecordsError(ValueError):
    """Some of a batch's rows are invalid; nothing was written.

    ``errors`` maps the index of each bad row to its message, so the executor can fail
    just those traces and submit the rest again.
    """

    def __init__(self, errors: dict[int, str]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"rows[{i}]: {msg}" for i, msg in sorted(errors.items())))


def get_model(name: str) -> ModelInfo:
    """The model called ``name``; an unknown name is the user's mistake, not a crash."""
    if name == "user":
        return USER_MODEL
    info = MODELS.get(name)
    if info is None:
        raise UserError(f"unknown model {name!r} (expected one of {', '.join(MODEL_NAMES)})")
    return info


def writable_field(info: ModelInfo, name: str) -> Field:
    f = info.fields.get(name)
    if f is None:
        close = difflib.get_close_matches(name, list(info.fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{info.name} has no field {name!r}{hint}")
    if f.readonly:
        raise ValueError(f"{info.name}.{name} is set by Journeys and cannot be written")
    return f


def column_of(info: ModelInfo, f: Field) -> Column[Any]:
    assert f.column is not None
    return info.table.c[f.column]


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# ----------------------------------------------------------------------------- addresses


def normalize_address(email: str | None) -> str | None:
    """The form used to compare addresses (duplicates, suppression), or None if invalid.

    Lower-casing the local part is technically lossy, but every mainstream provider
    treats it case-insensitively and so do users.
    """
    if not isinstance(email, str) or not email.strip():
        return None
    return _normalize_address(email)


@functools.lru_cache(maxsize=8192)
def _normalize_address(email: str) -> str | None:
    # email-validator is pure Python; a send checks each address twice (contactable,
    # then suppressed), so the second look comes from here.
    try:
        result = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


def normalize_phone(phone: str | None, region: str | None = None) -> str | None:
    """E.164 (``+32470123456``) or None when the number is not valid.

    Without a ``region`` the number must carry its ``+country`` prefix: guessing a country
    would text strangers abroad.
    """
    if not isinstance(phone, str) or not phone.strip():
        return None
    try:
        parsed = phonenumbers.parse(phone.strip(), region.upper() if region else None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# ----------------------------------------------------------------------------- one value


def coerce_value(
    model: str,
    field: str,
    value: Any,
    *,
    region: str | None = None,
    session: Any = None,
) -> Any:
    """The stored form of ``value`` for ``model.field``; ValueError says what is wrong.

    ``None`` or an empty string *clears* the field (``None``, ``False`` or ``{}``; a
    field that cannot be empty raises). ``salesperson`` given as an email or a name needs
    ``session`` to look the user up; tags/lists return a list of names, or
    ``{"add": [...], "remove": [...]}``.
    """
    info = get_model(model)
    f = writable_field(info, field)
    if is_empty(value):
        return cleared_value(info, f)
    if f.kind == MANY2MANY:
        return link_change(f, value)
    if f.kind == MANY2ONE:
        key = user_ref_key(value)
        if session is None:
            if key[0] == "id":
                return key[1]
            raise ValueError(f"{f.name}: looking up a user by {key[0]} needs a database session")
        from .sql import load_users

        return load_users(session).lookup(value)
    return coerce_plain(info, f, value, region=region)


def cleared_value(info: ModelInfo, f: Field) -> Any:
    """What writing "nothing" to a field stores (Odoo writes False for unset values)."""
    if f.kind == MANY2MANY:
        return []
    col = column_of(info, f)
    if col.nullable:
        return None
    if f.kind == BOOL:
        return False
    if f.kind == JSONK:
        return {}
    default = getattr(col.default, "arg", None)
    if getattr(col.default, "is_scalar", False) and default is not None:
        return default
    raise ValueError(f"{f.name} cannot be empty")


def insert_default(col: Column[Any]) -> Any:
    """The value of a column that a new record does not set (executemany needs every key)."""
    if getattr(col.default, "is_scalar", False):
        return getattr(col.default, "arg", None)
    if isinstance(col.type, JSON):
        return {}
    return None


def is_required(info: ModelInfo, f: Field) -> bool:
    if f.readonly or f.kind in (MANY2MANY, MANY2ONE):
        return False
    col = column_of(info, f)
    return not col.nullable and not getattr(col.default, "is_scalar", False) and f.kind != JSONK


def coerce_plain(info: ModelInfo, f: Field, value: Any, *, region: str | None = None) -> Any:
    """Coerce a non-empty value of a column-backed, non-relational field."""
    col = column_of(info, f)
    kind = f.kind
    if kind in (CHAR, TEXT):
        if isinstance(value, (dict, list, tuple, bool)):
            raise ValueError(f"expected text, got {value!r}")
        text = str(value).strip()
        if f.name == "country":
            if not _COUNTRY.fullmatch(text):
                raise ValueError(f"{text!r} is not a two-letter country code (e.g. BE, FR, US)")
            text = text.upper()
        return _fits(col, text)
    if kind == EMAIL:
        if not isinstance(value, str):
            raise ValueError(f"expected an email address, got {value!r}")
        text = value.strip()
        try:
            validate_email(text, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValueError(f"{text!r} is not a valid email address: {exc}") from None
        return _fits(col, text)
    if kind == PHONE:
        return _phone(value, region)
    if kind == BOOL:
        return _bool(value)
    if kind == INT:
        return _int(f, value)
    if kind == FLOAT:
        return _float(value)
    if kind == DATETIME:
        if isinstance(value, datetime):
            return as_utc(value)
        if isinstance(value, str):
            return parse_instant(value)
        raise ValueError(f"expected an ISO-8601 date and time, got {value!r}")
    if kind == SELECTION:
        text = str(value).strip()
        if text not in f.selection:
            raise ValueError(f"{text!r} is not one of {', '.join(f.selection)}")
        return text
    if kind == JSONK:
        return json_object(value)
    raise ValueError(f"{f.name} cannot be written directly")  # pragma: no cover


def _fits(col: Column[Any], text: str) -> str:
    length = col.type.length if isinstance(col.type, String) else None
    if length and len(text) > length:
        raise ValueError(f"is longer than {length} characters")
    return text


def _phone(value: Any, region: str | None) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"expected a phone number, got {value!r}")
    text = str(value).strip()
    e164 = normalize_phone(text, region)
    if e164 is not None:
        return e164
    if not text.startswith("+") and not region:
        raise ValueError(
            f"{text!r} has no country prefix: write it as +<country code><number> "
            "(or set the record's country)"
        )
    where = f" for country {region.upper()}" if region and not text.startswith("+") else ""
    raise ValueError(f"{text!r} is not a valid phone number{where}")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    raise ValueError(f"{value!r} is not a yes/no value (use true/false, 1/0 or yes/no)")


def _int(f: Field, value: Any) -> int:
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None:
        raise ValueError(f"{value!r} is not a whole number")
    low, high = f.minimum, f.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{number} is out of range ({low} to {high})")
    return number


def _float(value: Any) -> float:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value) if not isinstance(value, int) or abs(value) < 2**1023 else None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ValueError(f"{value!r} is not a number (use a dot for decimals: 1234.5)")
    return number


def json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON: {exc.msg} at character {exc.pos + 1}") from None
    if not isinstance(value, dict):
        raise ValueError('expected a JSON object such as {"key": "value"}')
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot be stored as JSON: {exc}") from None
    return value


# ----------------------------------------------------------------------------- relations


def names_of(value: Any, *, limit: int = 255) -> list[str]:
    """Tag or list names from ``"a; b"`` or ``["a", "b"]``: trimmed, de-duplicated, in order."""
    if isinstance(value, str):
        items: list[Any] = value.split(";")
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        raise ValueError(f"expected a list of names, got {value!r}")
    names: list[str] = []
    for item in items:
        if not isinstance(item, (str, int)) or isinstance(item, bool):
            raise ValueError(f"expected a name, got {item!r}")
        name = str(item).strip()
        if len(name) > limit:
            raise ValueError(f"name {name[:20]!r}… is longer than {limit} characters")
        if name and name not in names:
            names.append(name)
    return names


@dataclass
class LinkChange:
    """A change to a many2many field: replace everything, or add/remove some names."""

    replace: list[str] | None = None
    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)


def link_change(f: Field, value: Any) -> Any:
    """The public form (list, or add/remove dict) of a many2many value."""
    change = parse_link_change(f, value)
    if change.replace is not None:
        return change.replace
    return {"add": change.add, "remove": change.remove}


def parse_link_change(f: Field, value: Any) -> LinkChange:
    if is_empty(value):
        return LinkChange(replace=[])
    if not isinstance(value, Mapping):
        return LinkChange(replace=names_of(value))
    unknown = sorted(set(value) - {"add", "remove"})
    if unknown:
        raise ValueError(
            f'{f.name}: expected {{"add": [...], "remove": [...]}}, got key {unknown[0]!r}'
        )
    add = names_of(value.get("add") or [])
    remove = names_of(value.get("remove") or [])
    both = [name for name in add if name in remove]
    if both:
        raise ValueError(f"{f.name}: {both[0]!r} is both added and removed")
    return LinkChange(add=add, remove=remove)


def user_ref_key(value: Any) -> tuple[str, Any]:
    """How a user is referred to: ("id", 3), ("email", "ann@x.com") or ("name", "ann lee")."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID:
        return ("id", value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        user_id = parse_id(text)
        if user_id is not None:
            return ("id", user_id)
        if "@" in text:
            return ("email", text.lower())
        return ("name", text.casefold())
    raise ValueError(f"expected a user's email, name or id, got {value!r}")


# ----------------------------------------------------------------------------- whole rows


@dataclass
class PreparedRow:
    """A validated new record: column values, many2many names and an unresolved user."""

    columns: dict[str, Any] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)
    user_refs: dict[str, Any] = field(default_factory=dict)  # column -> raw reference


def prepare_row(
    info: ModelInfo, raw: Mapping[str, Any], *, region: str | None = None
) -> tuple[PreparedRow, list[tuple[str, str]]]:
    """Validate one new record; problems are ``(field name, message)`` pairs.

    Empty values mean "not set" (the column default applies). Phone numbers without a
    country prefix take the record's own country before the caller's default region.
    """
    row = PreparedRow()
    problems: list[tuple[str, str]] = []
    fields: dict[str, Field] = {}
    for name in raw:
        try:
            fields[name] = writable_field(info, name)
        except ValueError as exc:
            problems.append((name, str(exc)))
    country = raw.get("country") if "country" in fields else None
    if not is_empty(country):
        with contextlib.suppress(ValueError):  # reported below with the country itself
            region = coerce_plain(info, fields["country"], country)
    for name, f in fields.items():
        value = raw[name]
        if is_empty(value):
            continue
        try:
            if f.kind == MANY2MANY:
                if isinstance(value, Mapping):
                    raise ValueError("a new record takes a list of names, not add/remove")
                row.links[name] = names_of(value)
            elif f.kind == MANY2ONE:
                user_ref_key(value)
                row.user_refs[cast(str, f.column)] = value
            else:
                row.columns[cast(str, f.column)] = coerce_plain(info, f, value, region=region)
        except ValueError as exc:
            problems.append((name, str(exc)))
    for f in info.fields.values():
        if is_required(info, f) and (f.name not in raw or is_empty(raw[f.name])):
            problems.append((f.name, "a value is required"))
    return row, problems
