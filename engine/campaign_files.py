"""Campaign files: the sharing format of SPEC §7 (``*.journey.json``).

Files are meant to live in version control, so writing is deterministic: a fixed key
order (the order of ``resources/schema/campaign.schema.json``), every default written
out, small containers kept on one line and large ones expanded two spaces deep. Reading
is strict: a file is checked against the JSON Schema, then semantically, and every
problem is reported with its JSON path before anything touches the database.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import limits
from .catalog import CONTENT_KEY, UNTRUSTED_KINDS
from .errors import Problem, UserError, ValidationError
from .models import Activity, Campaign, SavedAction
from .notes import check_notes
from .validation import errors_only, jpath, validate_document

FORMAT = "journeys/campaign"
VERSION = 1
EXTENSION = ".journey.json"
LINE_WIDTH = 100

# --- key order and defaults: both read from the schema -----------------------------------
# The schema lists each object's properties in file order and carries each optional
# field's "default", so the documented format and the written files cannot disagree.


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = schema()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _matches(condition: dict[str, Any], inst: dict[str, Any]) -> bool:
    """The schema's discriminators: ``{"properties": {"kind": {"const"|"enum": ...}}}``."""
    for name, test in condition.get("properties", {}).items():
        if name not in inst or inst[name] not in test.get("enum", [test.get("const")]):
            return False
    return True


def _properties(node: dict[str, Any], inst: dict[str, Any]) -> dict[str, Any]:
    props = dict(node.get("properties", {}))
    for cond in node.get("allOf", []):
        if "then" in cond and _matches(cond["if"], inst):
            props.update(_resolve(cond["then"]).get("properties", {}))
    return props


def _shape(node: Any, inst: Any, fill: bool) -> Any:
    """``inst`` with keys in schema order (defaults filled when ``fill``), recursively.

    Keys the schema does not list keep their order, except in maps (saved actions, x-
    keys), which are sorted so that files stay stable.
    """
    node = _resolve(node)
    if isinstance(inst, list) and isinstance(node, dict) and "items" in node:
        return [_shape(node["items"], item, fill) for item in inst]
    if not isinstance(inst, dict) or not isinstance(node, dict):
        return copy.deepcopy(inst)
    props = _properties(node, inst)
    out = {}
    for name, sub in props.items():
        if name in inst:
            out[name] = _shape(sub, inst[name], fill)
        elif fill and isinstance(sub, dict) and "default" in sub:
            out[name] = copy.deepcopy(sub["default"])
    rest = [k for k in inst if k not in props]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) or "patternProperties" in node:
        rest.sort()
    for name in rest:
        out[name] = _shape(extra if isinstance(extra, dict) else True, inst[name], fill)
    return out


def normalize(doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``doc`` with every optional field set to its documented default."""
    return dict(_shape(schema(), doc, fill=True))


def normalize_action(action: dict[str, Any]) -> dict[str, Any]:
    """A server action with its kind's defaults (for the designer's new actions)."""
    return dict(_shape({"$ref": "#/$defs/action"}, action, fill=True))


def ordered(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its keys in file order; x- keys sorted after the known ones."""
    return dict(_shape(schema(), doc, fill=False))


_SKELETON = {(), ("campaign",), ("activities",), ("saved_actions",)}


def _always_expanded(path: tuple[str | int, ...]) -> bool:
    """The document's skeleton stays one item per line, whatever its size."""
    return path in _SKELETON or (len(path) == 2 and path[0] == "activities")


def format_json(
    value: Any,
    *,
    expand: Callable[[tuple[str | int, ...]], bool] = lambda path: not path,
    width: int = LINE_WIDTH,
) -> str:
    """JSON with 2-space indentation where containers that fit in ``width`` stay inline."""

    def encode(v: Any, path: tuple[str | int, ...], indent: int, used: int) -> str:
        inline = json.dumps(v, ensure_ascii=False, separators=(", ", ": "))
        if not isinstance(v, dict | list) or not v:
            return inline
        if not expand(path) and used + len(inline) + 1 <= width:
            return inline
        pad = " " * (indent + 2)
        if isinstance(v, dict):
            items = []
            for k, item in v.items():
                head = f"{pad}{json.dumps(k, ensure_ascii=False)}: "
                items.append(head + encode(item, (*path, k), indent + 2, len(head)))
            return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
        items = [pad + encode(item, (*path, i), indent + 2, len(pad)) for i, item in enumerate(v)]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"

    return encode(value, (), 0, 0) + "\n"


def dumps(doc: dict[str, Any]) -> str:
    """The file text of ``doc``: the same document always gives the same bytes."""
    return format_json(ordered(doc), expand=_always_expanded)


# --- reading ------------------------------------------------------------------------------


class _Object(dict[str, Any]):
    """A parsed JSON object that remembers keys it saw twice (``json`` keeps the last)."""

    duplicates: tuple[str, ...] = ()


def _object_hook(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    dups = []
    for key, value in pairs:
        if key in obj:
            dups.append(key)
        obj[key] = value
    obj.duplicates = tuple(dups)
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


def _plain(value: Any, path: tuple[str | int, ...], problems: list[Problem]) -> Any:
    """Plain dicts again, noting every duplicated key on the way."""
    if isinstance(value, dict):
        for key in getattr(value, "duplicates", ()):
            problems.append(Problem(jpath(*path, key), f"the key {key!r} appears more than once"))
        return {k: _plain(v, (*path, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, (*path, i), problems) for i, v in enumerate(value)]
    return value


def _text_problems(doc: Any) -> list[Problem]:
    """Text no check could work on: too deeply nested, or not valid Unicode.

    JSON can spell half of a UTF-16 surrogate pair ("\\ud800"), which is no character:
    such text could be neither stored nor written back, so it is refused, located.
    """
    found: list[Problem] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(doc, ())]
    while stack and len(found) < 20:
        value, path = stack.pop()
        if len(path) > limits.MAX_JSON_DEPTH:
            message = f"lists and objects are nested more than {limits.MAX_JSON_DEPTH} levels deep"
            return [Problem("$", message)]
        if isinstance(value, dict):
            for key, item in value.items():
                bad = limits.surrogate_in(key) if isinstance(key, str) else None
                if bad is not None:
                    found.append(Problem(jpath(*path), f"a key {limits.surrogate_words(bad)}"))
                else:
                    stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif isinstance(value, str):
            bad = limits.surrogate_in(value)
            if bad is not None:
                found.append(Problem(jpath(*path), f"the text {limits.surrogate_words(bad)}"))
    return sorted(found, key=lambda p: p.path)


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    from .gallery import resources_dir

    path = resources_dir() / "schema" / "campaign.schema.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator, ValidationError, validators

    def pattern(validator: Any, value: str, instance: Any, _schema: Any) -> Any:
        if validator.is_type(instance, "string") and not _ecma_regex(value).search(instance):
            yield ValidationError(f"{instance!r} does not match {value!r}")

    # JSON Schema patterns are ECMA-262 regexes, whose '$' ends the text; Python's '$' also
    # matches before a final newline, which let a key such as "welcome\n" through.
    strict = validators.extend(Draft202012Validator, {"pattern": pattern})
    return strict(schema())


@lru_cache(maxsize=64)
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` with every '$' outside a character class meaning the end of the text."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
        i += 1
    return re.compile("".join(out))


_PATTERN_WORDS = {
    "^[a-z0-9][a-z0-9_-]*$": "must start with a lower-case letter or digit and hold only "
    "lower-case letters, digits, '_' and '-'",
    "^https?://": "must be an http:// or https:// URL",
    "^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,127}$": "is not a keyring entry name (letters, digits "
    "and _.:/@-; the file names the entry and never holds the secret itself)",
}
_TYPE_WORDS = {"object": "an object", "array": "a list", "string": "a string", "null": "null"}
_TYPE_WORDS.update(integer="a whole number", number="a number", boolean="true or false")
_BOUND_WORDS = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than"}


def _json_type(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return _TYPE_WORDS["null" if value is None else "boolean"]
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str | list):
        return _TYPE_WORDS["string" if isinstance(value, str) else "array"]
    return "an object"


def _schema_problem(error: Any, doc: Any = None) -> list[Problem]:
    """Words a marketer can act on for one jsonschema error (its default text is terse)."""
    path = tuple(error.absolute_path)
    kind, value, inst = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = [k for k in value if isinstance(inst, dict) and k not in inst]
        return [Problem(jpath(*path, k), "required field is missing") for k in missing]
    if kind == "additionalProperties":
        props, patterns = error.schema.get("properties", {}), error.schema.get("patternProperties")
        hint = " (extension keys must start with 'x-')" if patterns else ""
        unknown = [k for k in inst if k not in props and not (patterns and k.startswith("x-"))]
        return [Problem(jpath(*path, k), f"unknown key {k!r}{hint}") for k in unknown]
    if kind == "not" and isinstance(inst, dict) and list(value) == ["required"]:
        key, atype = value["required"][0], inst.get("type", "")
        wanted = CONTENT_KEY.get(atype, "?")
        message = f"an activity of type {atype!r} takes {wanted!r} content, not {key!r}"
        return [Problem(jpath(*path, key), message)]
    return [Problem(jpath(*path), _schema_message(error, path, _delay_unit(doc, path)))]


def _delay_unit(doc: Any, path: tuple[str | int, ...]) -> Any:
    """The unit beside ``path`` when it names a delay's amount (to word its bound)."""
    if not path or path[-1] != "amount":
        return None
    node = doc
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node.get("unit") if isinstance(node, dict) else None


def _schema_message(error: Any, path: tuple[str | int, ...], unit: Any = None) -> str:
    kind, value, inst = error.validator, error.validator_value, error.instance
    shown = json.dumps(inst, ensure_ascii=False)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    if kind == "enum":
        return f"{shown} is not allowed; expected one of " + ", ".join(map(json.dumps, value))
    if kind == "const":
        return f"expected {json.dumps(value)}, found {shown}"
    if kind == "type":
        words = " or ".join(_TYPE_WORDS[t] for t in ([value] if isinstance(value, str) else value))
        return f"expected {words}, found {_json_type(inst)}"
    if kind == "pattern":
        return f"{shown} {_PATTERN_WORDS.get(value, f'must match {value}')}"
    if kind == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters"
    if kind == "maxLength":
        return f"must be at most {value} characters"
    if kind == "maximum" and unit in limits.MAX_DELAY:
        return f"must be {limits.delay_bound_words(unit)}, found {shown}"
    if kind == "maximum" and path[-1:] == ("engagement_window_days",):
        return f"must be at most {value} days ({limits.YEARS} years), found {shown}"
    if kind in _BOUND_WORDS:
        return f"must be {_BOUND_WORDS[kind]} {value}, found {shown}"
    if kind == "minItems":
        return f"must list at least {value} item(s)"
    if kind == "maxItems":
        return f"must list at most {value} items, found {len(inst)}"
    if kind == "maxProperties":
        return f"must hold at most {value} entries, found {len(inst)}"
    if kind == "anyOf" and path and path[-1] == "parent":
        return f"expected an activity key or null, found {shown}"
    return str(error.message)


def schema_problems(doc: Any) -> list[Problem]:
    """Every way ``doc`` breaks the JSON Schema, sorted by location."""
    found: list[Problem] = []
    errors = _validator().iter_errors(doc)

    def order(e: Any) -> tuple[tuple[int, str], ...]:
        return tuple((0, f"{p:09d}") if isinstance(p, int) else (1, p) for p in e.absolute_path)

    for error in sorted(errors, key=order):
        for p in _schema_problem(error, doc):
            if p not in found:
                found.append(p)
    return found


def document_problems(doc: Any) -> list[Problem]:
    """Schema problems, or when there are none, every semantic problem (with warnings)."""
    head = _header_problem(doc)
    if head is not None:
        return [head]
    problems = _text_problems(doc) or schema_problems(doc)
    if problems:
        return problems
    return validate_document(normalize(doc))


def _header_problem(doc: Any) -> Problem | None:
    """A file that is not ours, or is too new, is refused before any detailed check."""
    if not isinstance(doc, dict):
        return Problem("$", f"a campaign file holds a JSON object, not {_json_type(doc)}")
    fmt = doc.get("format")
    if fmt != FORMAT:
        found = "it has no format" if fmt is None else f"its format is {json.dumps(fmt)}"
        return Problem(
            "$.format",
            f'this is not a Journeys campaign file ({found}; expected "format": "{FORMAT}")',
        )
    version = doc.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        return Problem(
            "$.version",
            f"this file was written by a newer Journeys (format "
            f"version {version}; this one reads {VERSION})",
        )
    return None


def check_document(doc: Any, *, title: str = "invalid campaign file") -> dict[str, Any]:
    """The normalized document, or ValidationError naming every blocking problem."""
    errors = errors_only(document_problems(doc))
    if errors:
        raise ValidationError(errors, title)
    return normalize(doc)


def load_text(text: str, *, title: str = "invalid campaign file") -> dict[str, Any]:
    """Parse and check a campaign file; returns the document with defaults filled."""
    if limits.json_too_deep(text):
        problem = Problem(
            "$", f"lists and objects are nested more than {limits.MAX_JSON_DEPTH} levels deep"
        )
        raise ValidationError([problem], title)
    try:
        raw = json.loads(text, object_pairs_hook=_object_hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        problem = Problem("$", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
        raise ValidationError([problem], title) from None
    except ValueError as exc:
        raise ValidationError([Problem("$", f"invalid JSON: {exc}")], title) from None
    duplicates: list[Problem] = []
    doc = _plain(raw, (), duplicates)
    head = _header_problem(doc)
    if head is not None:
        raise ValidationError([head], title)
    errors = duplicates + errors_only(document_problems(doc))
    if errors:
        raise ValidationError(errors, title)
    return normalize(doc)


def load_file(path: str | Path) -> dict[str, Any]:
    """Read and check a campaign file; unreadable files are a UserError too."""
    path = Path(path)
    try:
        with path.open("rb") as stream:  # read at most the cap: /dev/zero must not fill memory
            data = stream.read(limits.MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not a campaign file") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limits.MAX_FILE_BYTES:
        mib = limits.MAX_FILE_BYTES // (1024 * 1024)
        raise UserError(f"{path} is larger than {mib} MiB; a campaign file is at most {mib} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text (invalid byte at offset {exc.start})") from None
    return load_text(text, title=f"{path}: invalid campaign file")


# --- database -----------------------------------------------------------------------------


def _number(value: float | None) -> float | int | None:
    """Whole coordinates are written as integers, so files stay as people wrote them."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


_NAME_MAX = 255  # the campaign name column and the file schema
_NUMBERED = re.compile(r"^(?P<base>.*?) \((?P<n>[0-9]{1,9})\)$")


def free_name(session: Session, wanted: str) -> str:
    """``wanted``, or the first free ``wanted (2)``, ``(3)``… as file managers name a copy.

    Two campaigns of one name are told apart by id alone, which nobody reads; archived
    campaigns keep their names too. ``Report (2)`` taken gives ``Report (3)``, not
    ``Report (2) (2)``.
    """
    wanted = wanted.strip()
    match = _NUMBERED.match(wanted)
    base = match["base"] if match else wanted
    stem = base[: _NAME_MAX - 12]  # room for " (999999999)" within the column
    like = stem.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    taken = set(
        session.scalars(
            select(Campaign.name).where(
                (Campaign.name == wanted) | Campaign.name.like(f"{like}% (%)", escape="\\")
            )
        )
    )
    if wanted not in taken:
        return wanted

    def numbered(n: int) -> str:
        suffix = f" ({n})"
        return base[: _NAME_MAX - len(suffix)] + suffix

    n = max(int(match["n"]) if match else 1, 1) + 1
    while numbered(n) in taken:
        n += 1
    return numbered(n)


def renamed_note(wanted: str, name: str) -> str | None:
    """What to tell the user when :func:`free_name` gave another name than the one asked."""
    if name == wanted.strip():
        return None
    return f"A campaign named {wanted.strip()!r} already exists; this one is named {name!r}."


def import_document(
    session: Session,
    doc: dict[str, Any],
    *,
    trust: bool,
    now: datetime,
    name: str | None = None,
) -> Campaign:
    """A new draft campaign made from ``doc``; nothing is written unless all of it is valid.

    A name already taken becomes ``name (2)`` (:func:`free_name`); callers compare the
    campaign's name with the one asked for to say so (:func:`renamed_note`).

    ``execute_code`` and ``webhook`` actions arrive disabled unless ``trust`` is given: a
    shared file must not run code or send data anywhere by itself.
    """
    doc = check_document(doc)
    if name is not None and not name.strip():
        raise UserError("the campaign name cannot be empty")
    c = doc["campaign"]
    with session.begin_nested():
        campaign = Campaign(
            name=free_name(session, name if name else c["name"]),
            description=c["description"],
            target=c["target"],
            filter=c["filter"],
            unique_field=c["unique_field"],
            engagement_window_days=c["engagement_window_days"],
            state="draft",
            file_extras={k: v for k, v in doc.items() if k.startswith("x-")},
            notes=check_notes(doc.get("notes")) or None,
            created_at=now,
            updated_at=now,
        )
        session.add(campaign)
        session.flush()
        rows: dict[str, Activity] = {}
        for sequence, act in enumerate(doc["activities"]):
            content = act[CONTENT_KEY[act["type"]]]
            kind = content.get("kind") if act["type"] == "server_action" else None
            validity, position = act["validity"], act["position"]
            rows[act["key"]] = row = Activity(
                campaign_id=campaign.id,
                key=act["key"],
                name=act["name"],
                type=act["type"],
                trigger=act["trigger"],
                delay_amount=act["delay"]["amount"],
                delay_unit=act["delay"]["unit"],
                validity_amount=validity["amount"] if validity else None,
                validity_unit=validity["unit"] if validity else None,
                filter=act["filter"],
                content=content,
                position_x=position["x"] if position else None,
                position_y=position["y"] if position else None,
                sequence=sequence,
                trusted=trust or kind not in UNTRUSTED_KINDS,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
        session.flush()
        for act in doc["activities"]:
            if act["parent"] is not None:
                rows[act["key"]].parent_id = rows[act["parent"]].id
        for action_name, action in doc["saved_actions"].items():
            session.add(
                SavedAction(
                    campaign_id=campaign.id,
                    name=action_name,
                    action=action,
                    trusted=trust or action["kind"] not in UNTRUSTED_KINDS,
                )
            )
        session.flush()
    return campaign


def export_document(session: Session, campaign_id: int) -> dict[str, Any]:
    """The complete file document of a stored campaign (every field, file order)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise UserError(f"no campaign with id {campaign_id}")
    acts = session.scalars(
        select(Activity)
        .where(Activity.campaign_id == campaign_id)
        .order_by(Activity.sequence, Activity.id)
    ).all()
    key_of = {a.id: a.key for a in acts}
    activities = []
    for a in acts:
        has_position = a.position_x is not None and a.position_y is not None
        activities.append(
            {
                "key": a.key,
                "name": a.name,
                "type": a.type,
                "parent": key_of.get(a.parent_id) if a.parent_id is not None else None,
                "trigger": a.trigger,
                "delay": {"amount": a.delay_amount, "unit": a.delay_unit},
                "validity": (
                    None
                    if a.validity_amount is None
                    else {"amount": a.validity_amount, "unit": a.validity_unit}
                ),
                "filter": list(a.filter or []),
                CONTENT_KEY.get(a.type, "action"): dict(a.content or {}),
                "position": (
                    {"x": _number(a.position_x), "y": _number(a.position_y)}
                    if has_position
                    else None
                ),
            }
        )
    saved = session.scalars(select(SavedAction).where(SavedAction.campaign_id == campaign_id)).all()
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "campaign": {
            "name": campaign.name,
            "description": campaign.description or "",
            "target": campaign.target,
            "filter": list(campaign.filter or []),
            "unique_field": campaign.unique_field,
            "engagement_window_days": campaign.engagement_window_days,
        },
        "activities": activities,
        "saved_actions": {s.name: dict(s.action) for s in saved},
        **{k: v for k, v in (campaign.file_extras or {}).items() if k.startswith("x-")},
    }
    if campaign.notes:  # optional: a file without notes stays as it always was
        doc["notes"] = check_notes(campaign.notes)
    return ordered(normalize(doc))
