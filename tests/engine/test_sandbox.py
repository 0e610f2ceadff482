"""execute_code (SPEC §3, §8): restricted Python in a limited child process.

Escape attempts, runaway loops and allocations must end their trace in ``error`` with a
message a person understands, change nothing, and leave the other traces of the batch
and the engine running.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select, update

from engine import campaign_files, records, settings
from engine.errors import ValidationError
from engine.models import Activity, Contact, Lead, Task, User
from engine.sandbox import Limits, run_code

from .world import World, action

RECORDS = [
    {"id": 1, "name": "Ann", "description": None, "tags": [], "extra": {}},
    {"id": 2, "name": "Eve", "description": None, "tags": [], "extra": {}},
    {"id": 3, "name": "Bob", "description": None, "tags": [], "extra": {}},
]
WRITABLE = ["name", "description", "tags", "extra"]


def run(code: str, records: list[dict[str, Any]] = RECORDS, cpu: int = 1) -> list[Any]:
    return run_code(
        code,
        [dict(r) for r in records],
        model="contact",
        writable=WRITABLE,
        now="2026-01-05T09:00:00+00:00",
        limits=Limits(cpu_seconds=cpu),
    )


def code(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def only_eve(attempt: str) -> str:
    """Code that writes, then runs the statement ``attempt`` for Eve only."""
    return code(
        "record['description'] = 'touched'",
        "if record['name'] == 'Eve':",
        f"    {attempt}",
    )


# --- the rules, run directly (no database) ----------------------------------------------------

REJECTED_AT_COMPILE = {
    "__import__": ("__import__('os').system('id')", '"__import__" is an invalid variable name'),
    "import statement": ("import os", "imports are not allowed"),
    "subclasses walk": (
        "().__class__.__mro__[1].__subclasses__()",
        '"__class__" is an invalid attribute name',
    ),
    "generator frame": ("(i for i in []).gi_frame", '"gi_frame" is a restricted name'),
    "class statement": ("class A: pass", "class definitions are not allowed"),
    "exec": ("exec('1')", "Exec calls are not allowed"),
}


@pytest.mark.parametrize("case", REJECTED_AT_COMPILE, ids=list(REJECTED_AT_COMPILE))
def test_forbidden_code_is_refused_before_it_runs(case: str) -> None:
    source, expected = REJECTED_AT_COMPILE[case]
    results = run(code("record['description'] = 'touched'", source))
    assert [r.ok for r in results] == [False] * 3
    assert all(expected in (r.error or "") and r.error.startswith("line ") for r in results)
    assert all(r.writes == {} for r in results)


REFUSED_AT_RUN_TIME = {
    "open": ("open('/etc/passwd').read()", "open() is not available in execute_code"),
    "format walk": ("'{0.__class__}'.format(record)", "str.format() is not allowed"),
    "format_map walk": ("'{x.__class__}'.format_map({'x': 1})", "str.format_map() is not"),
    "str.format via getattr": ("getattr(str, 'format')", "str.format() is not allowed"),
    "getattr dunder": ("getattr(record, '__class__')", "attribute '__class__' is not allowed"),
    "getattr private": ("getattr(record, '_data')", "attribute '_data' is not allowed"),
    "mro": ("str.mro()", "attribute 'mro' is not allowed"),
    "type": ("type(record)", "type() is not available"),
}


@pytest.mark.parametrize("case", REFUSED_AT_RUN_TIME, ids=list(REFUSED_AT_RUN_TIME))
def test_forbidden_access_fails_only_that_record(case: str) -> None:
    source, expected = REFUSED_AT_RUN_TIME[case]
    ann, eve, bob = run(only_eve(source))
    assert eve.error is not None and expected in eve.error, eve.error
    assert eve.writes == {}
    assert ann.writes == bob.writes == {"description": "touched"}


def test_a_caught_violation_still_fails_the_record() -> None:
    ann, eve, _ = run(
        code(
            "if record['name'] == 'Eve':",
            "    try:",
            "        getattr(record, '__class__')",
            "    except BaseException:",
            "        pass",
            "record['description'] = 'done'",
        )
    )
    assert ann.ok and ann.writes == {"description": "done"}
    assert eve.error == "access to the attribute '__class__' is not allowed"


def test_writes_are_limited_to_writable_fields() -> None:
    results = run(code("record['id'] = 99"))
    assert results[0].error == "line 1: ValueError: contact.id is read-only"
    results = run(code("record['nope'] = 1"))
    assert "contact has no field 'nope'" in (results[0].error or "")


def test_record_api_logs_and_calls() -> None:
    ann, *_ = run(
        code(
            "record['tags'].append('Hot')",
            "record['extra']['score'] = len(record['name'])",
            "total = 0",
            "for key, value in record.items():",
            "    total += 1",
            "create_task('Call ' + record['name'], kind='call', due_in_days=2)",
            "create_record('lead', {'name': 'Lead for ' + record['name']})",
            "log('fields:', total)",
            "print('at', now)",
        )
    )
    assert ann.ok, ann.error
    assert ann.writes == {"tags": ["Hot"], "extra": {"score": 3}}
    assert [c["call"] for c in ann.calls] == ["create_task", "create_record"]
    assert ann.calls[0]["summary"] == "Call Ann" and ann.calls[0]["due_in_days"] == 2
    assert ann.log == ["fields: 5", "at 2026-01-05T09:00:00+00:00"]


def test_an_infinite_loop_ends_within_seconds_and_the_next_record_runs() -> None:
    started = time.monotonic()
    ann, eve, bob = run(
        code(
            "if record['name'] == 'Eve':",
            "    while True:",
            "        pass",
            "record['name'] = 'ok'",
        )
    )
    assert time.monotonic() - started < 20
    assert eve.error == "CPU time limit exceeded (1 s)"
    assert ann.writes == bob.writes == {"name": "ok"}


def test_a_loop_that_swallows_the_cpu_signal_is_killed() -> None:
    ann, eve, bob = run(
        code(
            "if record['name'] == 'Eve':",
            "    while True:",
            "        try:",
            "            n = 0",
            "            while True:",
            "                n = n + 1",
            "        except BaseException:",
            "            pass",
            "record['name'] = 'ok'",
        )
    )
    assert eve.error and ("CPU time limit exceeded" in eve.error or "killed" in eve.error)
    assert ann.ok and bob.ok  # a new child took over after Eve's was ended


@pytest.mark.parametrize(
    "alloc", ["'x' * (10 ** 10)", "[0] * (10 ** 9)", "[' ' * 10 ** 6 for i in range(10 ** 4)]"]
)
def test_a_huge_allocation_ends_in_a_memory_error(alloc: str) -> None:
    started = time.monotonic()
    ann, eve, bob = run(only_eve(alloc))
    assert time.monotonic() - started < 20
    assert eve.error == "memory limit exceeded (256 MiB)"
    assert ann.ok and bob.ok


def test_runaway_code_stops_after_a_few_records() -> None:
    many = [{"id": i, "name": f"P{i}", "description": None} for i in range(6)]
    results = run(code("while True:", "    pass"), many)
    errors = [r.error for r in results]
    assert errors[:3] == ["CPU time limit exceeded (1 s)"] * 3
    assert all("not run: the code hit its limits on 3" in (e or "") for e in errors[3:])


# --- in the engine ---------------------------------------------------------------------------


@pytest.fixture
def w(db, clock) -> World:  # type: ignore[no-untyped-def]
    return World(db, clock)


def code_action(key: str, source: str) -> dict[str, Any]:
    return action(key, {"kind": "execute_code", "code": source})


def set_code(w: World, cid: int, key: str, source: str) -> None:
    """Store code the import would refuse, as if the campaign was edited elsewhere."""
    with w.db.session() as s:
        s.execute(
            update(Activity)
            .where(Activity.campaign_id == cid, Activity.key == key)
            .values(content={"kind": "execute_code", "code": source})
        )


def test_code_updates_the_record_creates_tasks_and_records_and_logs(w: World) -> None:
    with w.db.session() as s:
        sam, kim = (User(name=n, email=f"{n.lower()}@example.com", active=True) for n in "SK")
        s.add_all([sam, kim])
        s.flush()
        sam_id, kim_id = sam.id, kim.id
    w.people("Ann", "Bob", salesperson_id=sam_id)
    cid = w.campaign(
        code_action(
            "score",
            code(
                "record['description'] = 'seen by ' + record['name']",
                "record['tags'].append('Scored')",
                "create_task('Call ' + record['name'], kind='call', due_in_days=2)",
                "if record['name'] == 'Bob':",
                "    record['salesperson'] = 'k@example.com'",
                "    create_task('Welcome ' + record['name'])",
                "    create_task('Check', assignee='s@example.com')",
                "    create_record('lead', {'name': 'Lead ' + record['name'], 'priority': 2})",
                "log('scored', record['name'])",
            ),
        )
    )
    w.run()
    assert w.states(cid, "score") == {"Ann": "processed", "Bob": "processed"}
    assert w.messages(cid, "score") == {"Ann": "log: scored Ann", "Bob": "log: scored Bob"}
    with w.db.session() as s:
        rows = s.execute(
            select(Contact.name, Contact.description, Contact.salesperson_id).order_by(Contact.name)
        ).all()
        assert rows == [("Ann", "seen by Ann", sam_id), ("Bob", "seen by Bob", kim_id)]
        tasks = s.scalars(select(Task).order_by(Task.id)).all()
        assert [(t.summary, t.kind, t.due_date.isoformat(), t.assignee_id) for t in tasks] == [
            ("Call Ann", "call", "2026-01-07", sam_id),
            ("Call Bob", "call", "2026-01-07", kim_id),  # the salesperson the code just set
            ("Welcome Bob", "todo", "2026-01-05", kim_id),
            ("Check", "todo", "2026-01-05", sam_id),
        ]
        assert s.scalars(select(Lead.name)).all() == ["Lead Bob"]
    with w.db.session() as s:
        tags = records.list_records(s, "contact")
    assert [r["tags"] for r in tags] == [["Scored"], ["Scored"]]


ESCAPES = {
    "import": "__import__('os').system('touch /tmp/pwned')",
    "subclasses": "().__class__.__mro__[1].__subclasses__()",
    "open": "open('/etc/passwd').read()",
    "format": "'{0.__class__.__mro__}'.format(record)",
    "getattr": "getattr(record, '__class__')",
    "loop": "while True: pass",
    "alloc": "'x' * (10 ** 10)",
}


def test_escapes_end_in_error_and_the_batch_goes_on(w: World) -> None:
    with w.db.session() as s:
        settings.set_value(s, "sandbox.cpu_seconds", "1")
    w.people("Ann", "Eve", "Bob")
    placeholder = "record['description'] = 'ok'\n"
    cid = w.campaign(
        code_action("ok", placeholder),
        *(code_action(key, placeholder) for key in ESCAPES),
        action(
            "after",
            {"kind": "update_record", "values": {"description": "after"}},
            parent="ok",
            trigger="activity",
        ),
    )
    for key, attempt in ESCAPES.items():
        set_code(w, cid, key, only_eve(attempt))
    started = time.monotonic()
    stats = w.run()
    assert time.monotonic() - started < 60
    messages = {key: w.messages(cid, key)["Eve"] or "" for key in ESCAPES}
    assert all(m.startswith("execute_code: ") for m in messages.values()), messages
    assert '"__import__" is an invalid variable name' in messages["import"]
    assert '"__class__" is an invalid attribute name' in messages["subclasses"]
    assert "open() is not available" in messages["open"]
    assert "str.format() is not allowed" in messages["format"]
    assert "attribute '__class__' is not allowed" in messages["getattr"]
    assert messages["loop"] == "execute_code: CPU time limit exceeded (1 s)"
    assert messages["alloc"] == "execute_code: memory limit exceeded (256 MiB)"
    for key in ("open", "format", "getattr", "loop", "alloc"):  # refused at run time
        assert w.states(cid, key) == {"Ann": "processed", "Eve": "error", "Bob": "processed"}
    for key in ("import", "subclasses"):  # refused before running: nobody ran it
        assert set(w.states(cid, key).values()) == {"error"}
    assert stats.by_state["error"] == 5 + 6
    # the engine carried on: the child of "ok" ran in the same pass
    assert w.states(cid, "after") == {"Ann": "processed", "Eve": "processed", "Bob": "processed"}
    w.run(hours=1)
    assert w.participants(cid) == {"Ann": "completed", "Eve": "completed", "Bob": "completed"}


def test_an_errored_record_keeps_its_values(w: World) -> None:
    w.people("Ann", "Eve")
    cid = w.campaign(code_action("x", only_eve("1 / 0")))
    w.run()
    assert w.messages(cid, "x") == {
        "Ann": None,
        "Eve": "execute_code: line 3: ZeroDivisionError: division by zero",
    }
    with w.db.session() as s:
        values = {n: d for n, d in s.execute(select(Contact.name, Contact.description))}
    assert values == {"Ann": "touched", "Eve": None}


def test_a_bad_value_fails_only_its_trace(w: World) -> None:
    w.people("Ann", "Eve")
    cid = w.campaign(
        code_action(
            "x",
            code(
                "record['country'] = 'BE'",
                "if record['name'] == 'Eve':",
                "    record['country'] = 'Belgium'",
                "    log('trying')",
            ),
        )
    )
    w.run()
    assert w.states(cid, "x") == {"Ann": "processed", "Eve": "error"}
    message = w.messages(cid, "x")["Eve"] or ""
    assert message.startswith("execute_code: country: 'Belgium' is not a two-letter country code")
    assert message.endswith("log: trying")


def test_the_import_refuses_code_the_sandbox_would_refuse() -> None:
    doc = {
        "format": "journeys/campaign",
        "version": 1,
        "campaign": {"name": "Bad", "target": "contact"},
        "activities": [code_action("x", "import os\nx = ().__class__\n")],
    }
    with pytest.raises(ValidationError) as err:
        campaign_files.check_document(doc)
    text = str(err.value)
    assert "$.activities[0].action.code: not allowed in the sandbox: line 1: imports" in text
    assert '"__class__" is an invalid attribute name' in text
