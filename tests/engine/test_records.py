"""Audience records: CSV import, listings, and the bulk writes server actions make."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from engine.db import Database
from engine.errors import UserError, ValidationError
from engine.models import Contact, Follower, MailingList, Suppression, Tag, Task, User
from engine.records import (
    RecordsError,
    add_followers,
    coerce_value,
    create_records,
    create_tasks,
    display_name,
    import_csv,
    list_records,
    load_records,
    normalize_address,
    normalize_phone,
    remove_followers,
    resolve_record,
    resolve_users,
    salesperson_ids,
    suppress,
    suppressed,
    write_values,
)

from ..conftest import T0

USERS_CSV = "name,email\nAnn Lee,ann@example.com\nBob Stone,bob@example.com\n"


def _count(db: Database, entity: Any) -> int:
    with db.session() as s:
        return int(s.execute(select(func.count()).select_from(entity)).scalar_one())


def _import(db: Database, model: str, text: str | bytes, tmp_path: Path | None = None) -> int:
    with db.session() as s:
        if isinstance(text, bytes):
            assert tmp_path is not None
            path = tmp_path / "people.csv"
            path.write_bytes(text)
            return import_csv(s, model, path, now=T0)
        return import_csv(s, model, io.StringIO(text), now=T0)


def _problems(db: Database, model: str, text: str | bytes, tmp_path: Path) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        _import(db, model, text, tmp_path)
    assert "nothing imported" in caught.value.title
    return [str(p) for p in caught.value.problems]


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement sent to the database inside the block."""
    seen: list[str] = []

    def hook(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", hook)


@pytest.fixture
def users(db: Database) -> Database:
    assert _import(db, "user", USERS_CSV) == 2
    return db


def _contacts(db: Database, count: int, **values: Any) -> list[int]:
    rows = [{"name": f"C{i}", "email": f"c{i}@example.com", **values} for i in range(count)]
    with db.session() as s:
        return create_records(s, "contact", rows, now=T0)


# ----------------------------------------------------------------------------- CSV: happy


def test_import_contacts_with_relations_extra_and_phone_normalisation(users: Database) -> None:
    text = (
        "\ufeffname,Email,phone,country,tags,lists,salesperson,opt_out_sms,extra,extra.source\r\n"
        "Ann,ann.c@example.com,0470 12 34 56,be,VIP; Hot ;VIP,News,ann@example.com,yes,"
        '"{""score"": 3}",web\r\n'
        "Bob,bob.c@example.com,+33 6 12 34 56 78,,Hot,,Bob Stone,no,,\r\n"
        ",,,,,,,,,\r\n"
        "Cy,,,,,,,,,\r\n"
    )
    assert _import(users, "contact", text) == 3
    with users.session() as s:
        rows = list_records(s, "contact")
    ann, bob, cy = rows
    assert ann["phone"] == "+32470123456" and ann["country"] == "BE"
    assert ann["tags"] == ["Hot", "VIP"] and ann["lists"] == ["News"]
    assert ann["salesperson"] == "ann@example.com" and ann["opt_out_sms"] is True
    assert ann["extra"] == {"score": 3, "source": "web"}
    assert bob["phone"] == "+33612345678" and bob["salesperson"] == "bob@example.com"
    assert bob["tags"] == ["Hot"] and bob["lists"] == [] and bob["extra"] == {}
    assert cy["email"] is None and cy["active"] is True and cy["opt_out_email"] is False
    assert _count(users, Tag) == 2  # "Hot" shared, "VIP" once


def test_import_leads(users: Database) -> None:
    text = (
        "name,contact_name,email,stage,priority,salesperson,tags,expected_revenue,probability\n"
        "Big deal,Ann,ann@acme.com,new,3,bob@example.com,Hot;Q1,12000.50,40\n"
        "Small deal,,,,0,,,,\n"
    )
    assert _import(users, "lead", text) == 2
    with users.session() as s:
        big, small = list_records(s, "lead")
    assert big["priority"] == 3 and big["expected_revenue"] == 12000.5
    assert big["tags"] == ["Hot", "Q1"] and big["salesperson"] == "bob@example.com"
    assert small["priority"] == 0 and small["tags"] == [] and small["salesperson"] is None


def test_import_event_registrations_with_default_region(db: Database) -> None:
    text = "event,name,email,phone,state\nExpo,Ann,ann@x.com,06 12 34 56 78,done\nExpo,Bob,,,\n"
    with db.session() as s:
        assert import_csv(s, "event_registration", io.StringIO(text), now=T0, region="FR") == 2
        ann, bob = list_records(s, "event_registration")
    assert ann["phone"] == "+33612345678" and ann["state"] == "done"
    assert bob["state"] == "open"  # the column default
    assert "tags" not in ann


def test_import_users_rejects_duplicate_emails(db: Database, tmp_path: Path) -> None:
    assert _import(db, "user", USERS_CSV) == 2
    problems = _problems(
        db, "user", "name,email\nCy,cy@x.com\nCyd,CY@x.com\nAnn,ANN@example.com\n", tmp_path
    )
    assert problems == [
        "row 3, column email: same email as row 2",
        "row 4, column email: a user with email ANN@example.com already exists",
    ]
    assert _count(db, User) == 2


def test_import_tolerates_trailing_empty_cells_and_blank_columns(db: Database) -> None:
    assert _import(db, "contact", "name,,email\nAnn,,a@x.com,,\nBob,,\n") == 2
    with db.session() as s:
        assert [r["email"] for r in list_records(s, "contact")] == ["a@x.com", None]


def test_import_header_only_imports_nothing_without_error(db: Database) -> None:
    assert _import(db, "contact", "name,email\n") == 0


def test_import_reports_progress_in_chunks(db: Database) -> None:
    text = "name,email,tags\n" + "".join(f"P{i},p{i}@x.com,T{i % 3}\n" for i in range(6001))
    calls: list[tuple[int, int]] = []
    with db.session() as s:
        count = import_csv(
            s, "contact", io.StringIO(text), now=T0, progress=lambda d, t: calls.append((d, t))
        )
    assert count == 6001
    assert calls == [(0, 6001), (5000, 6001), (6001, 6001)]
    with db.session() as s:
        last = list_records(s, "contact", ids=[6001])[0]
    assert last["name"] == "P6000" and last["tags"] == ["T0"]  # ids follow file order


def test_checking_is_reported_and_a_callback_can_stop_the_import(db: Database) -> None:
    text = "name,email\n" + "".join(f"P{i},p{i}@x.com\n" for i in range(2500))
    checked: list[tuple[int, int]] = []
    with db.session() as s:
        import_csv(
            s, "contact", io.StringIO(text), now=T0, checking=lambda d, t: checked.append((d, t))
        )
    assert checked == [(0, 2500), (1000, 2500), (2000, 2500), (2500, 2500)]

    class Stop(Exception):
        pass

    def stop(done: int, total: int) -> None:
        if done:
            raise Stop

    for hook in ("checking", "progress"):
        with pytest.raises(Stop), db.session() as s:
            import_csv(s, "contact", io.StringIO(text.replace("@", "2@")), now=T0, **{hook: stop})
    with db.read() as s:
        assert len(list_records(s, "contact")) == 2500  # the stopped imports left nothing


def test_rows_are_numbered_as_a_spreadsheet_shows_them(db: Database, tmp_path: Path) -> None:
    text = 'name,description,email\nAnn,"two\nlines",ann@x.com\n\nBob,,not-an-email\n'
    assert _problems(db, "contact", text, tmp_path) == [
        "row 4, column email: 'not-an-email' is not a valid email address: "
        "An email address must have an @-sign."
    ]


# ----------------------------------------------------------------------------- CSV: bad


GOOD_ROW = "Ann,ann@x.com,+32470123456,yes,ann@example.com,VIP\n"
HEADER = "name,email,phone,opt_out_email,salesperson,tags\n"


@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ("name,email,colour\nAnn,a@x.com,red\n", "row 1, column colour", "unknown field 'colour'"),
        ("id,name\n3,Ann\n", "row 1, column id", "set by Journeys"),
        ("name,created_at\nAnn,2026-01-01\n", "row 1, column created_at", "set by Journeys"),
        ("name,email,email\nA,a@x.com,b@x.com\n", "row 1, column email", "more than once"),
        ("name,,email\nA,oops,a@x.com\n", "row 1, column 2", "no field name"),
        (HEADER + GOOD_ROW + "Bob,bob@,,,,\n", "row 3, column email", "not a valid email"),
        (HEADER + GOOD_ROW + "Bob,,12345,,,\n", "row 3, column phone", "no country prefix"),
        (HEADER + GOOD_ROW + "Bob,,+32 12,,,\n", "row 3, column phone", "not a valid phone"),
        (HEADER + GOOD_ROW + "Bob,,,maybe,,\n", "row 3, column opt_out_email", "yes/no"),
        (HEADER + GOOD_ROW + "Bob,,,,zed@example.com,\n", "row 3, column salesperson", "no user"),
        (HEADER + GOOD_ROW + "Bob,,,,,,surplus\n", "row 3", "has 7 cells but the header has 6"),
        (HEADER + GOOD_ROW + "Bob,b@x.com\n", "row 3", "has 2 cells but the header has 6"),
        ("name,extra\nA,{not json\n", "row 2, column extra", "not valid JSON"),
        ("name,extra\nA,[1]\n", "row 2, column extra", "JSON object"),
        ("name,country\nA,Belgium\n", "row 2, column country", "two-letter country code"),
    ],
)
def test_bad_contact_csv_names_the_cell_and_imports_nothing(
    users: Database, tmp_path: Path, text: str, where: str, says: str
) -> None:
    problems = _problems(users, "contact", text, tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(where + ":") and says in problems[0]
    assert _count(users, Contact) == 0
    assert _count(users, Tag) == 0  # not even the valid row's tags


@pytest.mark.parametrize(
    ("model", "text", "where", "says"),
    [
        ("lead", "name,priority\nA,5\n", "row 2, column priority", "out of range"),
        (
            "lead",
            'name,expected_revenue\nA,"1,5"\n',
            "row 2, column expected_revenue",
            "not a number",
        ),
        ("event_registration", "event,state\nExpo,lost\n", "row 2, column state", "not one of"),
        ("event_registration", "name,email\nAnn,a@x.com\n", "row 1", "'event' column is required"),
        ("event_registration", "event,name\n,Ann\n", "row 2, column event", "required"),
        ("event_registration", "event,tags\nExpo,VIP\n", "row 1, column tags", "unknown field"),
        ("user", "name,email\nAnn,\n", "row 2, column email", "required"),
    ],
)
def test_bad_csv_for_other_models(
    db: Database, tmp_path: Path, model: str, text: str, where: str, says: str
) -> None:
    problems = _problems(db, model, text, tmp_path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(where + ":") and says in problems[0]


def test_every_problem_is_reported_at_once(users: Database, tmp_path: Path) -> None:
    text = HEADER + "A,bad,,,,\n" + GOOD_ROW + "C,,+1,perhaps,nobody,\n"
    problems = _problems(users, "contact", text, tmp_path)
    assert [p.split(":")[0] for p in problems] == [
        "row 2, column email",
        "row 4, column phone",
        "row 4, column opt_out_email",
        "row 4, column salesperson",
    ]


def test_non_utf8_file_names_the_cell(users: Database, tmp_path: Path) -> None:
    data = "name,email\nAnn,ann@x.com\nRené,rene@x.com\n".encode("latin-1")
    (problem,) = _problems(users, "contact", data, tmp_path)
    assert problem.startswith("row 3, column name:")
    assert "not UTF-8 (0xE9)" in problem and "CSV UTF-8" in problem
    assert _count(users, Contact) == 0


def test_utf8_file_with_bom_and_accents_imports(db: Database, tmp_path: Path) -> None:
    data = "\ufeffname,email\nRené Ärger,rene@x.com\n".encode()
    assert _import(db, "contact", data, tmp_path) == 1
    with db.session() as s:
        assert list_records(s, "contact")[0]["name"] == "René Ärger"


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n  \n"])
def test_empty_file_is_an_error(db: Database, tmp_path: Path, data: bytes) -> None:
    (problem,) = _problems(db, "contact", data, tmp_path)
    assert problem.startswith("row 1:") and "empty" in problem


def test_missing_file_is_an_error(db: Database, tmp_path: Path) -> None:
    with db.session() as s, pytest.raises(ValidationError, match="cannot be read"):
        import_csv(s, "contact", tmp_path / "nope.csv", now=T0)


def test_unknown_model_is_a_user_error(db: Database) -> None:
    with db.session() as s, pytest.raises(UserError, match="unknown model 'partner'"):
        import_csv(s, "partner", io.StringIO("name\nA\n"), now=T0)


# ----------------------------------------------------------------------------- reading


def test_list_records_shape(users: Database) -> None:
    _import(
        users, "contact", "name,email,tags,salesperson\nAnn,ann@x.com,B;A,bob@example.com\nBob,,,\n"
    )
    with users.session() as s:
        rows = list_records(s, "contact")
        assert [r["id"] for r in list_records(s, "contact", limit=1)] == [1]
        assert [r["id"] for r in list_records(s, "contact", ids=[2, 99])] == [2]
    assert list(rows[0]) == [
        "id", "name", "email", "phone", "company", "country", "language", "tags", "lists",
        "opt_out_email", "opt_out_sms", "salesperson", "description", "active",
        "created_at", "updated_at", "extra",
    ]  # fmt: skip
    assert rows[0]["tags"] == ["A", "B"] and rows[0]["salesperson"] == "bob@example.com"
    assert rows[0]["created_at"] == "2026-01-05T09:00:00+00:00"
    assert rows[1]["salesperson"] is None and rows[1]["tags"] == []


def test_list_users(users: Database) -> None:
    with users.session() as s:
        assert list_records(s, "user") == [
            {"id": 1, "name": "Ann Lee", "email": "ann@example.com", "active": True},
            {"id": 2, "name": "Bob Stone", "email": "bob@example.com", "active": True},
        ]


def test_load_records_gives_templates_a_salesperson_object(users: Database) -> None:
    _import(users, "lead", "name,salesperson,tags\nDeal,Ann Lee,Hot\nOther,,\n")
    with users.session() as s, statements(users) as seen:
        records = load_records(s, "lead", [1, 2, 3])
    assert set(records) == {1, 2}
    assert records[1]["salesperson"] == {"id": 1, "name": "Ann Lee", "email": "ann@example.com"}
    assert records[1]["tags"] == ["Hot"] and records[2]["salesperson"] is None
    assert len([q for q in seen if q.lstrip().upper().startswith("SELECT")]) == 2


def test_load_records_query_count_does_not_grow(db: Database) -> None:
    ids = _contacts(db, 300, tags=["A", "B"], lists="L")
    counts = []
    for subset in (ids[:3], ids):
        with db.session() as s, statements(db) as seen:
            assert len(load_records(s, "contact", subset)) == len(subset)
        counts.append(len(seen))
    assert counts[0] == counts[1]


def test_display_name() -> None:
    assert display_name("contact", {"id": 3, "name": "Ann", "email": "a@x.com"}) == "Ann"
    assert display_name("contact", {"id": 3, "name": "", "email": "a@x.com"}) == "a@x.com"
    assert display_name("lead", {"id": 3, "name": "", "email": None}) == "Lead #3"
    assert display_name("event_registration", {"id": 4, "name": "Bo"}) == "Bo"


def test_resolve_record(db: Database) -> None:
    _contacts(db, 1)
    _import(db, "contact", "name,email\nTwin,twin@x.com\nTwin 2,TWIN@x.com\n")
    with db.session() as s:
        assert resolve_record(s, "contact", "1") == 1
        assert resolve_record(s, "contact", " C0@Example.com ") == 1
        with pytest.raises(UserError, match=r"no contact with email nobody@x\.com"):
            resolve_record(s, "contact", "nobody@x.com")
        with pytest.raises(UserError, match="no contact with id 42"):
            resolve_record(s, "contact", "42")
        with pytest.raises(UserError, match=r"several contacts have email twin@x.com \(ids 2, 3\)"):
            resolve_record(s, "contact", "twin@x.com")


# ----------------------------------------------------------------------------- writing


def test_write_values_uses_a_constant_number_of_statements(users: Database) -> None:
    small = _contacts(users, 5, tags=["Old", "Keep"])
    large = _contacts(users, 400, tags=["Old", "Keep"])
    values = {
        "tags": {"add": ["Hot", "Keep"], "remove": ["Old"]},
        "lists": ["Newsletter"],
        "opt_out_email": "true",
        "salesperson": "ann@example.com",
    }
    counts = []
    later = T0 + timedelta(hours=1)
    for ids in (small, large):
        with users.session() as s, statements(users) as seen:
            write_values(s, "contact", ids, values, now=later)
        counts.append(len(seen))
        assert sum("UPDATE contact" in q for q in seen) == 1
    assert counts[0] == counts[1]
    with users.session() as s:
        rows = list_records(s, "contact")
    assert {tuple(r["tags"]) for r in rows} == {("Hot", "Keep")}
    assert {tuple(r["lists"]) for r in rows} == {("Newsletter",)}
    assert all(r["opt_out_email"] and r["salesperson"] == "ann@example.com" for r in rows)
    assert {r["updated_at"] for r in rows} == {later.isoformat()}


def test_write_values_touches_only_the_given_records(db: Database) -> None:
    ids = _contacts(db, 3, tags="A")
    with db.session() as s:
        write_values(s, "contact", ids[:2], {"tags": [], "company": "Acme"}, now=T0)
        rows = list_records(s, "contact")
    assert [(r["tags"], r["company"]) for r in rows] == [([], "Acme"), ([], "Acme"), (["A"], None)]


def test_write_values_clears_and_defaults(db: Database) -> None:
    ids = _contacts(db, 1, company="Acme", opt_out_sms=True)
    with db.session() as s:
        write_values(
            s, "contact", ids, {"company": "", "opt_out_sms": None, "extra": {"a": 1}}, now=T0
        )
        (row,) = list_records(s, "contact")
    assert row["company"] is None and row["opt_out_sms"] is False and row["extra"] == {"a": 1}


def test_write_values_national_phone_uses_the_records_country(db: Database) -> None:
    ids = _contacts(db, 2, country="BE")
    other = _contacts(db, 1, country="FR")
    with db.session() as s:
        write_values(s, "contact", ids, {"phone": "0470 12 34 56"}, now=T0)
        assert {r["phone"] for r in list_records(s, "contact", ids=ids)} == {"+32470123456"}
        with pytest.raises(ValueError, match=r"phone: .*no country prefix"):
            write_values(s, "contact", ids + other, {"phone": "0470 12 34 56"}, now=T0)


@pytest.mark.parametrize(
    ("values", "says"),
    [
        ({"colour": "red"}, "contact has no field 'colour'"),
        ({"created_at": "2026-01-01T00:00:00Z"}, "cannot be written"),
        ({"id": 3}, "cannot be written"),
        ({"email": "nope"}, "email: 'nope' is not a valid email address"),
        ({"tags": {"add": ["A"], "drop": ["B"]}}, "unknown|got key 'drop'"),
        ({"salesperson": "ghost@example.com"}, "salesperson: no user with email"),
    ],
)
def test_write_values_rejects_bad_input_before_writing(
    db: Database, values: dict[str, Any], says: str
) -> None:
    ids = _contacts(db, 2)
    with db.session() as s, statements(db) as seen, pytest.raises(ValueError, match=says):
        write_values(s, "contact", ids, {"company": "Acme", **values}, now=T0)
    assert not any(q.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")) for q in seen)


def test_create_records_returns_ids_in_order(users: Database) -> None:
    rows = [
        {"name": "Deal A", "tags": "Hot; New", "salesperson": "bob@example.com", "priority": "2"},
        {"name": "Deal B", "email": "b@x.com", "tags": ["New"]},
        {"name": "Deal C", "salesperson": 1},
    ]
    with users.session() as s:
        ids = create_records(s, "lead", rows, now=T0)
        records = load_records(s, "lead", ids)
    assert len(ids) == 3 and ids == sorted(ids)
    assert [records[i]["name"] for i in ids] == ["Deal A", "Deal B", "Deal C"]
    assert records[ids[0]]["tags"] == ["Hot", "New"] and records[ids[0]]["priority"] == 2
    assert records[ids[0]]["salesperson"]["email"] == "bob@example.com"
    assert records[ids[2]]["salesperson"]["name"] == "Ann Lee"


def test_create_records_reports_bad_rows_by_index_and_creates_nothing(users: Database) -> None:
    rows = [{"name": "ok"}, {"email": "bad"}, {"name": "x", "salesperson": "nobody@x.com"}]
    with users.session() as s, pytest.raises(RecordsError) as caught:
        create_records(s, "contact", rows, now=T0)
    assert set(caught.value.errors) == {1, 2}
    assert "email" in caught.value.errors[1] and "no user" in caught.value.errors[2]
    assert _count(users, Contact) == 0


def test_create_tasks(users: Database) -> None:
    rows = [
        {"kind": "call", "summary": "Call Ann", "due_date": "2026-01-07", "assignee_id": 1,
         "res_model": "lead", "res_id": 9, "trace_id": 4},
        {"kind": "todo", "summary": "x" * 600, "res_model": "contact", "res_id": 1,
         "due_date": date(2026, 2, 1), "note": "Check"},
    ]  # fmt: skip
    with users.session() as s:
        create_tasks(s, rows, now=T0)
        tasks = s.execute(select(Task).order_by(Task.id)).scalars().all()
        assert [(t.kind, t.due_date, t.assignee_id, t.trace_id) for t in tasks] == [
            ("call", date(2026, 1, 7), 1, 4),
            ("todo", date(2026, 2, 1), None, None),
        ]
        assert len(tasks[1].summary) == 512 and tasks[1].done is False
        with pytest.raises(RecordsError) as caught:
            create_tasks(
                s, [{"kind": "party", "summary": "x", "res_model": "lead", "res_id": 1}], now=T0
            )
        assert "kind 'party'" in caught.value.errors[0]


def test_resolve_users(users: Database) -> None:
    _import(users, "contact", "name,salesperson\nA,bob@example.com\nB,\n")
    with users.session() as s:
        owners = salesperson_ids(s, "contact", [1, 2])
        assert owners == {1: 2, 2: None}
        assert resolve_users(s, ["salesperson", "ANN@example.com"], salesperson_ids=owners) == {
            1: [2, 1],
            2: [1],
        }
        assert resolve_users(s, ["salesperson"], salesperson_ids=owners) == {1: [2], 2: []}
        with pytest.raises(ValueError, match=r"no user with email 'zed@x\.com'"):
            resolve_users(s, ["zed@x.com"], salesperson_ids=owners)


def test_followers_are_idempotent(users: Database) -> None:
    ids = _contacts(users, 3)
    pairs = [(i, u) for i in ids for u in (1, 2)]
    with users.session() as s:
        add_followers(s, "contact", pairs[:3])
    with users.session() as s:
        add_followers(s, "contact", [*pairs, *pairs])
        add_followers(s, "lead", [(ids[0], 1)])
    assert _count(users, Follower) == 7
    with users.session() as s:
        remove_followers(s, "contact", [(ids[0], 1), (ids[0], 1), (999, 1)])
        remaining = set(s.execute(select(Follower.res_model, Follower.res_id, Follower.user_id)))
    assert ("contact", ids[0], 1) not in remaining and ("lead", ids[0], 1) in remaining
    assert len(remaining) == 6


def test_suppression(db: Database) -> None:
    with db.session() as s:
        assert suppress(s, "email", " Ann@Example.COM ", "bounced", T0) == "ann@example.com"
        assert suppress(s, "email", "ann@example.com", "again", T0) == "ann@example.com"
        assert suppress(s, "phone", "+32 470 12 34 56", None, T0) == "+32470123456"
        with pytest.raises(ValueError, match="not a valid email"):
            suppress(s, "email", "nope", None, T0)
    assert _count(db, Suppression) == 2
    with db.session() as s, statements(db) as seen:
        hits = suppressed(s, "email", ["ANN@example.com", "bob@example.com", "junk"])
    assert hits == {"ANN@example.com"}
    assert len([q for q in seen if "suppression" in q]) == 1
    with db.session() as s:
        assert suppressed(s, "phone", ["+32470123456", "+33612345678"]) == {"+32470123456"}
        assert suppressed(s, "phone", []) == set()


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("model", "field", "value", "expected"),
    [
        ("contact", "email", "  Ann@Example.COM ", "Ann@Example.COM"),
        ("contact", "phone", "+32 470/12.34.56", "+32470123456"),
        ("contact", "opt_out_email", "Yes", True),
        ("contact", "opt_out_email", "0", False),
        ("contact", "opt_out_email", None, False),
        ("contact", "company", "", None),
        ("contact", "country", "fr", "FR"),
        ("contact", "tags", "A; B ;A", ["A", "B"]),
        ("contact", "tags", {"add": "X", "remove": ["Y"]}, {"add": ["X"], "remove": ["Y"]}),
        ("contact", "extra", '{"a": [1]}', {"a": [1]}),
        ("contact", "salesperson", "7", 7),
        ("lead", "priority", "3", 3),
        ("lead", "probability", "12.5", 12.5),
        ("event_registration", "state", "cancel", "cancel"),
    ],
)
def test_coerce_value(model: str, field: str, value: Any, expected: Any) -> None:
    assert coerce_value(model, field, value) == expected


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("email", "a@b", "not a valid email"),
        ("phone", "0470123456", "no country prefix"),
        ("opt_out_sms", "maybe", "yes/no"),
        ("active", 2, "yes/no"),
        ("extra", "[]", "JSON object"),
        ("updated_at", "2026-01-01T00:00:00Z", "cannot be written"),
        ("salesperson", "ann@example.com", "needs a database session"),
        ("name", "x" * 300, "longer than 255"),
    ],
)
def test_coerce_value_errors(field: str, value: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        coerce_value("contact", field, value)


def test_coerce_value_phone_region_and_salesperson_lookup(users: Database) -> None:
    assert coerce_value("contact", "phone", "0470 12 34 56", region="be") == "+32470123456"
    with users.session() as s:
        assert coerce_value("lead", "salesperson", "Bob Stone", session=s) == 2
        with pytest.raises(ValueError, match="no user"):
            coerce_value("lead", "salesperson", "ghost@x.com", session=s)
    with pytest.raises(ValueError, match="out of range"):
        coerce_value("lead", "priority", 4)


def test_normalize_address_and_phone() -> None:
    assert normalize_address("  Ann.Lee@Example.COM ") == "ann.lee@example.com"
    assert normalize_address("not an address") is None
    assert normalize_address(None) is None
    assert normalize_phone("+1 (202) 555-0123") == "+12025550123"
    assert normalize_phone("06 12 34 56 78", "FR") == "+33612345678"
    assert normalize_phone("06 12 34 56 78") is None  # no prefix, no region: never guess
    assert normalize_phone("+32 12") is None
    assert normalize_phone("") is None


def test_tags_and_lists_are_separate_name_spaces(db: Database) -> None:
    _contacts(db, 1, tags="Newsletter", lists="Newsletter")
    assert _count(db, Tag) == 1 and _count(db, MailingList) == 1
