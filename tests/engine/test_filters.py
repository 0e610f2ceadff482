"""Filters (SPEC §2): Odoo domains compiled to SQL, checked against a small known CRM.

The data set is built once per module (migrating a database per case would dominate the
run time) and only ever read. Every case states the exact set of record names it selects.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from engine.clock import FixedClock
from engine.db import Database
from engine.errors import UserError
from engine.fields import MODELS
from engine.filters import (
    FilterError,
    active_condition,
    audience_condition,
    compile_domain,
    parse_domain,
    validate_domain,
)
from engine.models import (
    Contact,
    EventRegistration,
    Lead,
    MailingList,
    Tag,
    User,
    contact_list,
    contact_tag,
    lead_tag,
)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# name, created at, email, country, company
CONTACTS = [
    ("ann", "2026-01-04 09:00", "ann@example.com", "BE", "Acme"),
    ("ben", "2025-12-20 12:00", "ben@Example.org", "FR", None),
    ("cid", "2025-12-29 09:00", None, "BE", ""),
    ("dee", "2025-11-20 09:00", "", None, "Acme_Corp"),
    ("eve", "2026-01-05 08:00", "eve@example.com", "be", None),  # archived
    ("fay", "2025-10-05 09:00", "FAY@EXAMPLE.COM", "DE", "AcmeXCorp"),
]
# name: salesperson, tags, mailing lists
CONTACT_LINKS: dict[str, tuple[str | None, list[str], list[str]]] = {
    "ann": ("Alice", ["VIP"], ["Newsletter"]),
    "ben": ("Bob", ["VIP", "Hot"], []),
    "cid": (None, [], ["Newsletter", "Partners"]),
    "dee": ("Carol", ["Cold"], []),
    "eve": ("Alice", ["Hot"], ["Partners"]),
    "fay": ("Bob", [], []),
}
CONTACT_MORE: dict[str, dict[str, Any]] = {
    "ann": {"extra": {"source": "web", "score": 3}},
    "ben": {"description": "Likes 50% deals", "opt_out_email": True, "extra": {"source": "fair"}},
    "dee": {"description": "500 units", "extra": {"source": "web"}},
    "eve": {"active": False},
    "fay": {"opt_out_email": True, "extra": {"score": 7}},
}
# name, priority, stage, salesperson, expected revenue, tags
LEADS = [
    ("Deal A", 3, "new", "Alice", 1000.0, ["Hot"]),
    ("Deal B", 0, None, None, None, []),
    ("Deal C", 1, "won", "Bob", 250.5, ["VIP"]),
]


@pytest.fixture(scope="module")
def crm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """Users 1 Alice, 2 Bob, 3 Carol (empty email); tags 1 VIP, 2 Hot, 3 Cold."""
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('filters') / 'crm.db'}")
    with db.session() as s:
        emails = {"Alice": "alice@example.com", "Bob": "bob@example.com", "Carol": ""}
        users = {n: User(name=n, email=e) for n, e in emails.items()}
        tags = {n: Tag(name=n) for n in ["VIP", "Hot", "Cold"]}
        lists = {n: MailingList(name=n) for n in ["Newsletter", "Partners"]}
        s.add_all([*users.values(), *tags.values(), *lists.values()])
        s.flush()

        def user_id(name: str | None) -> int | None:
            return users[name].id if name else None

        for name, created, email, country, company in CONTACTS:
            sp, tag_names, list_names = CONTACT_LINKS[name]
            more = {"extra": {}, **CONTACT_MORE.get(name, {})}
            at = _at(created)
            row = Contact(
                name=name,
                email=email,
                country=country,
                company=company,
                salesperson_id=user_id(sp),
                created_at=at,
                updated_at=at,
                **more,
            )
            s.add(row)
            s.flush()
            for tag in tag_names:
                s.execute(contact_tag.insert().values(contact_id=row.id, tag_id=tags[tag].id))
            for lst in list_names:
                link = {"contact_id": row.id, "mailing_list_id": lists[lst].id}
                s.execute(contact_list.insert().values(**link))
        for name, priority, stage, sp, revenue, tag_names in LEADS:
            at = _at("2026-01-01 00:00")
            lead = Lead(
                name=name,
                priority=priority,
                stage=stage,
                expected_revenue=revenue,
                salesperson_id=user_id(sp),
                created_at=at,
                updated_at=at,
                extra={},
            )
            s.add(lead)
            s.flush()
            for tag in tag_names:
                s.execute(lead_tag.insert().values(lead_id=lead.id, tag_id=tags[tag].id))
        for name, state in [("r1", "open"), ("r2", "cancel"), ("r3", "done")]:
            at = _at("2026-01-02 10:00")
            s.add(EventRegistration(event="Expo", name=name, state=state, created_at=at))
    yield db
    db.dispose()


def names(db: Database, model: str, condition: Any) -> set[str]:
    table = MODELS[model].table
    with db.session() as s:
        return set(s.execute(select(table.c.name).where(condition)).scalars())


ALL = {"ann", "ben", "cid", "dee", "eve", "fay"}


def _but(*excluded: str) -> set[str]:
    return ALL - set(excluded)


CONTACT_CASES: list[tuple[list[Any], set[str]]] = [
    ([], ALL),
    # equality and "not set"
    ([["country", "=", "BE"]], {"ann", "cid"}),
    ([["country", "!=", "BE"]], {"ben", "dee", "eve", "fay"}),  # dee: NULL country
    ([["email", "=", None]], {"cid", "dee"}),  # NULL and empty
    ([["email", "=", False]], {"cid", "dee"}),
    ([["email", "!=", None]], {"ann", "ben", "eve", "fay"}),
    ([["email", "!=", False]], {"ann", "ben", "eve", "fay"}),
    ([["email", "=", "ann@example.com"]], {"ann"}),
    ([["company", "=", False]], {"ben", "cid", "eve"}),
    # in / not in
    ([["country", "in", ["BE", "FR"]]], {"ann", "ben", "cid"}),
    ([["country", "in", ["BE", False]]], {"ann", "cid", "dee"}),
    ([["country", "not in", ["BE", "FR"]]], {"dee", "eve", "fay"}),
    ([["country", "not in", ["BE", None]]], {"ben", "eve", "fay"}),
    ([["country", "in", []]], set()),
    ([["country", "not in", []]], ALL),
    # like family: contains, case, escaping, patterns
    ([["email", "like", "example"]], {"ann", "eve"}),
    ([["email", "ilike", "EXAMPLE"]], {"ann", "ben", "eve", "fay"}),
    ([["email", "not like", "example"]], {"ben", "cid", "dee", "fay"}),
    ([["email", "not ilike", "example"]], {"cid", "dee"}),
    ([["email", "=like", "%@example.com"]], {"ann", "eve"}),
    ([["email", "=ilike", "%@EXAMPLE.COM"]], {"ann", "eve", "fay"}),
    ([["company", "like", "Acme_Corp"]], {"dee"}),  # _ is literal
    ([["company", "=like", "Acme_Corp"]], {"dee", "fay"}),  # _ is a wildcard
    ([["company", "=like", "Acme%"]], {"ann", "dee", "fay"}),
    ([["description", "like", "50%"]], {"ben"}),  # % is literal
    # booleans
    ([["opt_out_email", "=", True]], {"ben", "fay"}),
    ([["opt_out_email", "=", False]], {"ann", "cid", "dee", "eve"}),
    ([["opt_out_email", "=", None]], {"ann", "cid", "dee", "eve"}),
    ([["opt_out_email", "!=", True]], {"ann", "cid", "dee", "eve"}),
    ([["opt_out_email", "!=", False]], {"ben", "fay"}),
    ([["opt_out_email", "in", [True]]], {"ben", "fay"}),
    ([["opt_out_email", "not in", [True]]], {"ann", "cid", "dee", "eve"}),
    ([["opt_out_email", "in", [True, False]]], ALL),
    ([["active", "=", False]], {"eve"}),
    # absolute dates (a bare date is its first instant, or its last for > and <=)
    ([["created_at", ">=", "2026-01-01"]], {"ann", "eve"}),
    ([["created_at", "<=", "2025-12-20"]], {"ben", "dee", "fay"}),
    ([["created_at", ">", "2025-12-20"]], {"ann", "cid", "eve"}),
    ([["created_at", "<", "2025-12-20 12:00:00"]], {"dee", "fay"}),
    ([["created_at", "=", "2025-12-20T12:00:00Z"]], {"ben"}),
    ([["created_at", "=", "2025-12-20T13:00:00+01:00"]], {"ben"}),
    ([["created_at", "in", ["2025-12-20 12:00", "2025-10-05"]]], {"ben"}),
    # relative dates (now = 2026-01-05 09:00 UTC)
    ([["created_at", ">=", {"now": "-7 days"}]], {"ann", "cid", "eve"}),
    ([["created_at", ">", {"now": "-7 days"}]], {"ann", "eve"}),
    ([["created_at", ">=", {"now": "-1 day"}]], {"ann", "eve"}),
    ([["created_at", ">=", {"now": "-1 hour"}]], {"eve"}),
    ([["created_at", ">=", {"now": "- 30 hours"}]], {"ann", "eve"}),
    ([["created_at", "<", {"now": "-2 weeks"}]], {"ben", "dee", "fay"}),
    ([["created_at", "<", {"now": "-1 month"}]], {"dee", "fay"}),
    ([["created_at", "<=", {"now": "-3 months"}]], {"fay"}),  # calendar months: exactly
    ([["created_at", "<", {"now": "-3 months"}]], set()),
    ([["created_at", "<", {"now": "1 week"}]], ALL),
    ([["created_at", ">", {"now": "+1 Week"}]], set()),
    # many2one: dotted paths (a record without salesperson has no salesperson email)
    ([["salesperson.email", "=", "alice@example.com"]], {"ann", "eve"}),
    ([["salesperson.email", "!=", "alice@example.com"]], {"ben", "cid", "dee", "fay"}),
    ([["salesperson.email", "=", False]], {"cid", "dee"}),
    ([["salesperson.email", "!=", False]], {"ann", "ben", "eve", "fay"}),
    ([["salesperson.name", "ilike", "a"]], {"ann", "dee", "eve"}),
    ([["salesperson.name", "not ilike", "a"]], {"ben", "cid", "fay"}),
    ([["salesperson.name", "in", ["Alice", "Bob"]]], {"ann", "ben", "eve", "fay"}),
    ([["salesperson.name", "not in", ["Alice", "Bob"]]], {"cid", "dee"}),
    ([["salesperson.id", "in", [2, 3]]], {"ben", "dee", "fay"}),
    # many2one compared bare: id, name or email, false
    ([["salesperson", "=", False]], {"cid"}),
    ([["salesperson", "!=", False]], _but("cid")),
    ([["salesperson", "=", 1]], {"ann", "eve"}),
    ([["salesperson", "=", "1"]], set()),  # text is a name, not an id
    ([["salesperson", ">", 1]], {"ben", "dee", "fay"}),
    ([["salesperson", "=", "Alice"]], {"ann", "eve"}),
    ([["salesperson", "=", "bob@example.com"]], {"ben", "fay"}),
    ([["salesperson", "!=", "Alice"]], {"ben", "cid", "dee", "fay"}),
    ([["salesperson", "in", ["Alice", False]]], {"ann", "cid", "eve"}),
    ([["salesperson", "in", [2, "Carol"]]], {"ben", "dee", "fay"}),
    ([["salesperson", "not in", ["Alice", False]]], {"ben", "dee", "fay"}),
    ([["salesperson", "not in", [1]]], {"ben", "cid", "dee", "fay"}),
    ([["salesperson", "ilike", "EXAMPLE.com"]], {"ann", "ben", "eve", "fay"}),
    # many2many by name, by id, "no tags"
    ([["tags", "in", ["VIP"]]], {"ann", "ben"}),
    ([["tags", "=", "VIP"]], {"ann", "ben"}),
    ([["tags", "=", 1]], {"ann", "ben"}),
    ([["tags", "in", ["VIP", 3]]], {"ann", "ben", "dee"}),
    ([["tags", "not in", ["VIP"]]], {"cid", "dee", "eve", "fay"}),
    ([["tags", "!=", "VIP"]], {"cid", "dee", "eve", "fay"}),
    ([["tags", "ilike", "o"]], {"ben", "dee", "eve"}),
    ([["tags", "like", "o"]], {"ben", "dee", "eve"}),
    ([["tags", "like", "H"]], {"ben", "eve"}),
    ([["tags", "not ilike", "o"]], {"ann", "cid", "fay"}),
    ([["tags", "=like", "_o%"]], {"ben", "dee", "eve"}),
    ([["tags", "=", False]], {"cid", "fay"}),
    ([["tags", "!=", False]], {"ann", "ben", "dee", "eve"}),
    ([["tags", "in", ["Hot", False]]], {"ben", "cid", "eve", "fay"}),
    ([["tags", "not in", ["Hot", False]]], {"ann", "dee"}),
    ([["tags", "=", "Nope"]], set()),
    ([["tags", "=", "VIP"], ["tags", "=", "Hot"]], {"ben"}),
    ([["tags.name", "=", "Cold"]], {"dee"}),
    ([["tags.name", "!=", "VIP"]], {"cid", "dee", "eve", "fay"}),
    ([["tags.name", "=", False]], {"cid", "fay"}),
    ([["tags.id", ">", 1]], {"ben", "dee", "eve"}),
    ([["lists", "in", ["Newsletter"]]], {"ann", "cid"}),
    ([["lists", "=", False]], {"ben", "dee", "fay"}),
    ([["lists", "not in", ["Newsletter"]]], {"ben", "dee", "eve", "fay"}),
    ([["lists", "!=", "Partners"]], {"ann", "ben", "dee", "fay"}),
    ([["lists.name", "ilike", "part"]], {"cid", "eve"}),
    # nesting: Polish notation, implicit &, ! pushed down onto leaves
    (["|", ["country", "=", "BE"], ["country", "=", "FR"]], {"ann", "ben", "cid"}),
    (["&", ["country", "=", "BE"], ["email", "!=", None]], {"ann"}),
    (
        [["email", "!=", None], "|", ["tags", "in", ["VIP"]], ["country", "=", "BE"]],
        {"ann", "ben"},
    ),
    (
        ["|", "&", ["country", "=", "BE"], ["tags", "=", "VIP"], ["country", "=", "DE"]],
        {"ann", "fay"},
    ),
    (
        ["|", ["country", "=", "DE"], "&", ["country", "=", "BE"], ["tags", "=", "VIP"]],
        {"ann", "fay"},
    ),
    (
        ["|", "|", ["country", "=", "DE"], ["country", "=", "FR"], ["tags", "=", "Cold"]],
        {"ben", "dee", "fay"},
    ),
    (["!", ["country", "=", "BE"]], {"ben", "dee", "eve", "fay"}),
    (["!", "!", ["country", "=", "BE"]], {"ann", "cid"}),
    (["!", "|", ["country", "=", "BE"], ["tags", "=", "VIP"]], {"dee", "eve", "fay"}),
    (["!", "&", ["country", "=", "BE"], ["email", "!=", False]], _but("ann")),
    (["!", "|", "!", ["tags", "=", "VIP"], ["country", "=", "FR"]], {"ann"}),
    (["!", ["email", "=like", "%@example.com"]], {"ben", "cid", "dee", "fay"}),
    (["!", ["company", "ilike", "acme"]], {"ben", "cid", "eve"}),
    (["!", ["created_at", "<", {"now": "-7 days"}]], {"ann", "cid", "eve"}),
    (["!", ["salesperson.email", "=", "alice@example.com"]], {"ben", "cid", "dee", "fay"}),
    (["!", ["tags", "in", ["VIP"]]], {"cid", "dee", "eve", "fay"}),
    (["!", ["tags", "=", False]], {"ann", "ben", "dee", "eve"}),
    (["!", ["opt_out_email", "=", False]], {"ben", "fay"}),
    (["!", ["country", "in", ["BE", False]]], {"ben", "eve", "fay"}),
    ([[1, "=", 1]], ALL),
    ([[0, "=", 1]], set()),
    (["!", [0, "=", 1]], ALL),
    (["|", [0, "=", 1], ["country", "=", "FR"]], {"ben"}),
    # a key of the free-form JSON data, compared as text
    ([["extra.source", "=", "web"]], {"ann", "dee"}),
    ([["extra.source", "!=", "web"]], {"ben", "cid", "eve", "fay"}),
    ([["extra.source", "=", False]], {"cid", "eve", "fay"}),
    ([["extra.source", "ilike", "WE"]], {"ann", "dee"}),
    ([["extra.score", "=", "3"]], {"ann"}),
    ([["extra.score", "=", 7]], {"fay"}),
    ([["extra.score", "in", [3, 7]]], {"ann", "fay"}),
]


def _case_id(value: object) -> str:
    """Stable test ids (sets print in hash order, which differs between xdist workers)."""
    if isinstance(value, set | frozenset):
        value = sorted(value)
    return repr(value)[:70]


@pytest.mark.parametrize(("domain", "expected"), CONTACT_CASES, ids=_case_id)
def test_contact_filters(crm: Database, clock: FixedClock, domain: list[Any], expected: set[str]):
    condition = compile_domain(domain, "contact", clock.now())
    assert names(crm, "contact", condition) == expected
    assert validate_domain(domain, "contact") == []
    condition.compile(dialect=postgresql.dialect())  # portable Core only


@pytest.mark.parametrize(
    ("model", "domain", "expected"),
    [
        ("lead", [["priority", "=", "3"]], {"Deal A"}),
        ("lead", [["priority", "in", ["0", "1"]]], {"Deal B", "Deal C"}),
        ("lead", [["priority", ">=", 1]], {"Deal A", "Deal C"}),
        ("lead", [["priority", "<", "2"]], {"Deal B", "Deal C"}),
        ("lead", [["priority", "!=", 3]], {"Deal B", "Deal C"}),
        ("lead", [["priority", "=", 3.0]], {"Deal A"}),
        ("lead", [["expected_revenue", ">", 500]], {"Deal A"}),
        ("lead", [["expected_revenue", "<=", "250.5"]], {"Deal C"}),
        ("lead", [["expected_revenue", "=", False]], {"Deal B"}),
        ("lead", [["expected_revenue", "!=", 1000]], {"Deal B", "Deal C"}),
        ("lead", [["stage", "=", False]], {"Deal B"}),
        ("lead", [["stage", "not in", ["new"]]], {"Deal B", "Deal C"}),
        ("lead", [["salesperson", "!=", False]], {"Deal A", "Deal C"}),
        ("lead", [["salesperson.name", "=", "Bob"]], {"Deal C"}),
        ("lead", [["tags", "in", ["VIP"]]], {"Deal C"}),
        ("lead", [["tags", "=", False]], {"Deal B"}),
        ("event_registration", [["state", "=", "open"]], {"r1"}),
        ("event_registration", [["state", "in", ["done", "cancel"]]], {"r2", "r3"}),
        ("event_registration", [["state", "!=", "cancel"]], {"r1", "r3"}),
        ("event_registration", [["state", "ilike", "o"]], {"r1", "r3"}),
        (
            "event_registration",
            [["event", "=", "Expo"], ["name", "=like", "r_"]],
            {"r1", "r2", "r3"},
        ),
    ],
    ids=_case_id,
)
def test_other_models(
    crm: Database, clock: FixedClock, model: str, domain: Any, expected: set[str]
):
    assert names(crm, model, compile_domain(domain, model, clock.now())) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[('email', '!=', False), '|', ('tags', 'in', ['VIP']), ('country', '=', 'BE')]",
            {"ann", "ben"},
        ),
        (
            "['&', ('opt_out_email', '=', False), ('salesperson.name', 'ilike', 'ali')]",
            {"ann", "eve"},
        ),
        ("[('tags', 'in', ('VIP', 'Hot')), ('country', '!=', None)]", {"ann", "ben", "eve"}),
        ("['!', ('email', '=', False)]", {"ann", "ben", "eve", "fay"}),
        ("[(1, '=', 1)]", ALL),
        ('[["email", "!=", null], ["opt_out_email", "=", false]]', {"ann", "eve"}),
        ('[["created_at", ">=", {"now": "-7 days"}]]', {"ann", "cid", "eve"}),
        ("  ", ALL),
    ],
)
def test_pasted_domains(crm: Database, clock: FixedClock, text: str, expected: set[str]):
    condition = compile_domain(parse_domain(text), "contact", clock.now())
    assert names(crm, "contact", condition) == expected


def test_parse_domain_normalises_to_json_lists():
    pasted = "[('email', '!=', False), '|', ('tags', 'in', ('VIP',)), ('x', '=', None)]"
    assert parse_domain(pasted) == [
        ["email", "!=", False],
        "|",
        ["tags", "in", ["VIP"]],
        ["x", "=", None],
    ]
    assert parse_domain((("a", "=", 1),)) == [["a", "=", 1]]
    assert parse_domain(None) == []
    assert parse_domain("") == []
    assert parse_domain([]) == []


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[('create_date', '>', context_today())]", "literal"),
        ("__import__('os').system('true')", "literal"),
        ("[('email', '=', ", "cannot read"),
        ("{'email': 1}", "must be a list"),
        ("42", "must be a list"),
        ("[('email', '!=', false)]", "cannot read"),  # neither JSON nor Python
    ],
)
def test_parse_domain_rejects(text: str, needle: str):
    with pytest.raises(FilterError, match=needle) as info:
        parse_domain(text)
    assert isinstance(info.value, UserError)


def test_active_and_audience_conditions(crm: Database, clock: FixedClock):
    assert names(crm, "contact", active_condition("contact")) == _but("eve")
    condition = audience_condition([["country", "ilike", "be"]], "contact", clock.now())
    assert names(crm, "contact", condition) == {"ann", "cid"}
    assert names(
        crm, "contact", compile_domain([["country", "ilike", "be"]], "contact", clock.now())
    ) == {"ann", "cid", "eve"}
    assert names(
        crm, "event_registration", audience_condition([], "event_registration", clock.now())
    ) == {"r1", "r2", "r3"}


INVALID: list[tuple[str, Any, list[tuple[str, str]]]] = [
    ("contact", [["emial", "=", "x"]], [("[0][0]", "unknown field 'emial' on contact")]),
    ("contact", [["email", "=~", "x"]], [("[0][1]", "unknown operator '=~'")]),
    ("contact", ["|", ["email", "=", "x"]], [("[0]", "'|' needs two operands")]),
    ("contact", ["&"], [("[0]", "'&' needs two operands")]),
    ("contact", [["email", "=", "x"], "!"], [("[1]", "'!' needs one operand")]),
    ("contact", [["email", "="]], [("[0]", "[field, operator, value]")]),
    ("contact", [["email", "=", "x", "y"]], [("[0]", "[field, operator, value]")]),
    ("contact", [42], [("[0]", "got 42")]),
    ("contact", ["email"], [("[0]", "unknown operator 'email'")]),
    ("contact", ["email", "=", "x"], [("", 'put ["email", "=", "x"] in a list')]),
    ("contact", [[3, "=", "x"]], [("[0][0]", "expected a field name, got 3")]),
    ("contact", [["salesperson.foo", "=", "x"]], [("[0][0]", "'salesperson.foo'")]),
    ("contact", [["tags.color", "=", "x"]], [("[0][0]", "'tags.color'")]),
    ("contact", [["email.domain", "=", "x"]], [("[0][0]", "'email.domain'")]),
    ("contact", [["extra", "=", "x"]], [("[0][0]", "'extra'")]),
    ("contact", [["extra.a b", "=", "x"]], [("[0][0]", "'extra'")]),
    ("contact", [["email", None, "x"]], [("[0][1]", "unknown operator null")]),
    ("contact", [["opt_out_email", "like", "x"]], [("[0][1]", "'like'")]),
    ("contact", [["created_at", "ilike", "2026"]], [("[0][1]", "'ilike'")]),
    ("contact", [["tags", "<", 3]], [("[0][1]", "'<'")]),
    ("contact", [["country", "in", "BE"]], [("[0][2]", "'in' needs a list")]),
    ("contact", [["country", "not in", None]], [("[0][2]", "'not in' needs a list")]),
    ("contact", [["country", "=", ["BE"]]], [("[0][2]", "use 'in'")]),
    ("contact", [["email", "<", False]], [("[0][2]", "'<' needs a value")]),
    ("contact", [["email", "ilike", None]], [("[0][2]", "'ilike' needs a value")]),
    ("contact", [["email", "like", {"x": 1}]], [("[0][2]", "relative date")]),
    ("contact", [["country", "=", True]], [("[0][2]", "true")]),
    ("contact", [["opt_out_email", "=", "yes"]], [("[0][2]", "'yes'")]),
    ("contact", [["opt_out_email", "=", 2]], [("[0][2]", "2 is not true or false")]),
    ("contact", [["tags", "in", ["VIP", 1.5]]], [("[0][2][1]", "1.5")]),
    ("contact", [["tags", "=", True]], [("[0][2]", "true")]),
    ("contact", [["salesperson", ">", "Alice"]], [("[0][2]", "'Alice'")]),
    ("contact", [["salesperson", "like", 3]], [("[0][2]", "needs text")]),
    ("contact", [["created_at", ">", "yesterday"]], [("[0][2]", "'yesterday'")]),
    ("contact", [["created_at", ">", "2026-02-30"]], [("[0][2]", "'2026-02-30'")]),
    ("contact", [["created_at", ">", {"now": "-7 fortnights"}]], [("[0][2]", "fortnights")]),
    ("contact", [["created_at", ">", {"then": "-7 days"}]], [("[0][2]", "then")]),
    ("contact", [["created_at", ">", {"now": "-7 days", "x": 1}]], [("[0][2]", "-7 days")]),
    ("contact", [["created_at", ">", {"now": "-999999 months"}]], [("[0][2]", "out of range")]),
    (
        "contact",
        [["created_at", "in", ["2026-01-01", {"now": "7"}]]],
        [("[0][2][1]", 'bad relative date {"now": "7"}')],
    ),
    ("contact", [["created_at", ">", 20260101]], [("[0][2]", "20260101")]),
    ("contact", [["country", "=", {"now": "-1 day"}]], [("[0][2]", "char field 'country'")]),
    ("lead", [["priority", "=", "abc"]], [("[0][2]", "'abc' is not a whole number")]),
    ("lead", [["priority", "=", 1.5]], [("[0][2]", "1.5 is not a whole number")]),
    ("lead", [["priority", "=", True]], [("[0][2]", "true")]),
    (
        "lead",
        [["priority", "in", ["1", "x", "y"]]],
        [("[0][2][1]", "'x'"), ("[0][2][2]", "'y'")],
    ),
    ("lead", [["priority", "ilike", "3"]], [("[0][1]", "'ilike'")]),
    ("lead", [["expected_revenue", ">", "lots"]], [("[0][2]", "'lots'")]),
    ("event_registration", [["state", "=", "bogus"]], [("[0][2]", "'bogus' is not a choice")]),
    ("event_registration", [["state", "in", ["open", "nope"]]], [("[0][2][1]", "'nope'")]),
    ("event_registration", [["active", "=", True]], [("[0][0]", "'active'")]),
    ("contact", 42, [("", "must be a list")]),
    ("contact", {"email": "x"}, [("", "must be a list")]),
    ("contact", "[('x', '=', now())]", [("", "cannot read")]),
    ("nope", [], [("", "unknown model 'nope'")]),
    (
        "contact",
        [["email", "=", "x"], ["emial", "=", "y"], "|", ["email", "=~", "z"], ["tags", "in", 1]],
        [("[1][0]", "'emial'"), ("[3][1]", "'=~'"), ("[4][2]", "'in' needs a list")],
    ),
    (
        "contact",
        ["|", "!", ["x", "=", 1]],
        [("[0]", "'|' needs two operands"), ("[2][0]", "unknown field 'x'")],
    ),
]


@pytest.mark.parametrize(("model", "domain", "expected"), INVALID, ids=_case_id)
def test_invalid_filters(model: str, domain: Any, expected: list[tuple[str, str]]):
    problems = validate_domain(domain, model)
    assert [p.path for p in problems] == [path for path, _ in expected]
    for problem, (_, needle) in zip(problems, expected, strict=True):
        assert needle in problem.message
        assert problem.severity == "error"
    with pytest.raises(FilterError) as info:
        compile_domain(domain, model, datetime(2026, 1, 5, tzinfo=UTC))
    first_path, first_needle = expected[0]
    assert first_needle in str(info.value)
    assert str(info.value).endswith(f" at {first_path}" if first_path else "")
    assert info.value.problems == problems


def test_filter_error_names_element_and_position():
    with pytest.raises(FilterError) as info:
        compile_domain([["email", "=", "x"], ["emial", "=", "y"]], "contact", datetime.now(UTC))
    assert str(info.value) == "unknown field 'emial' on contact at [1][0]"
    with pytest.raises(FilterError, match=r"^'\|' needs two operands at \[0\]$"):
        compile_domain(["|", ["email", "=", "x"]], "contact", datetime.now(UTC))


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "",
        "(((",
        [None],
        [[None, None, None]],
        [[{"a": 1}, "=", 1]],
        [[["x"], [], {}]],
        [["created_at", "in", [[1], {"now": 5}]]],
        ["!", "!", "!"],
        [["email", "=", 1e400]],
    ],
)
def test_validate_never_raises(garbage: Any):
    assert isinstance(validate_domain(garbage, "contact"), list)


def test_compile_accepts_text_and_tuples(crm: Database, clock: FixedClock):
    as_text = compile_domain("[('country', '=', 'BE')]", "contact", clock.now())
    assert names(crm, "contact", as_text) == {"ann", "cid"}
    as_tuples = compile_domain((("country", "in", ("BE", "FR")),), "contact", clock.now())
    assert names(crm, "contact", as_tuples) == {"ann", "ben", "cid"}
