"""Templates need no trust: every render is bounded in time, output and intermediate sizes,
and templates that load others or break header lines are refused when validated."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from engine import templating
from engine.clock import FixedClock
from engine.db import Database
from engine.validation import validate_document
from tests.engine.world import World, email
from tests.smtp_sink import smtp_sink

NESTED = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
SLOW = "{% macro a(n) %}{% if n %}{{ a(n-1) }}{{ a(n-1) }}{% endif %}{% endmacro %}{{ a(40) }}"

HOSTILE = {
    NESTED: "loops repeat more than",
    "{% set r = range(100000)|list %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}": (
        "loops repeat more than"
    ),
    "{{ (9**(9**9)) > 0 }}": "more than 3,000 digits",
    "{% set n = namespace(x=7) %}{% for i in range(40) %}{% set n.x = n.x * n.x %}{% endfor %}": (
        "digits"
    ),
    "{{ ('a'*300000000)|length }}": "text longer than 1,000,000 characters",
    "{{ ([1]*300000000)|length }}": "list longer than 100,000 items",
    "{{ lipsum(n=200000) }}": "lipsum() makes at most",
    "{{ '%999999999s' % 1 }}": "text longer",
    "{{ '%*s' % (999999999, 'a') }}": "'*' width",
    "{{ '{:999999999}'.format(1) }}": "text longer",
    "{{ '{:{w}}'.format(1, w=999999999) }}": "width given by another field",
    "{{ 'x'|format() ~ '%999999999d'|format(1) }}": "text longer",
    "{{ 'a'|center(999999999) }}": "text longer",
    "{{ 'a'.rjust(999999999) }}": "text longer",
    "{{ 'a'|indent(999999999) }}": "text longer",
    "{{ range(100000)|join('x' * 100) }}": "text longer",
    "{{ ('a' * 100000).replace('a', 'b' * 100000) }}": "text longer",
    "{{ ('a' * 1000)|replace('a', 'b' * 10000) }}": "text longer",
    "{% set s = 'a' * 900000 %}{{ s ~ s }}": "text longer",
    "{% set s = 'a' * 900000 %}{{ s + s }}": "text longer",
    "{{ [('a' * 1000000)] * 100000 }}": "text longer",
    "{% macro m() %}{% for i in range(2000) %}{{ 'x' * 999 }}{% endfor %}{% endmacro %}{{ m() }}": (
        "text longer"
    ),
    "{% for i in range(2000) %}{{ 'x' * 1000 }}{% endfor %}": "text longer",
    "{{ 'ab'|batch(999999999, 'x')|list }}": "count of at most",
    "{{ range(3)|slice(999999999)|list }}": "count of at most",
    "{{ (1).to_bytes(999999999, 'big')|length }}": "text longer",
    "{{ range(10**30)|length }}": "range longer than 100,000",
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}": "call each other too deeply",
    "{{ 1 / 0 }}": "division by zero",
}


@pytest.mark.parametrize("source", list(HOSTILE))
def test_a_hostile_template_fails_quickly_with_a_sentence(source: str) -> None:
    began = time.monotonic()
    with pytest.raises(templating.TemplateProblem) as caught:
        templating.render(source, {"record": {"name": "Ann"}})
    assert time.monotonic() - began < 3
    message = str(caught.value)
    assert HOSTILE[source] in message
    assert "Error" not in message and "Exception" not in message


def test_a_slow_template_takes_at_most_its_time_budget_and_then_fails_at_once() -> None:
    began = time.monotonic()
    with pytest.raises(templating.TemplateProblem, match=r"too long to render \(more than 2 s\)"):
        templating.render(SLOW, {})
    assert 1.9 < time.monotonic() - began < 3
    began = time.monotonic()
    with pytest.raises(templating.TemplateProblem, match="too long to render"):
        templating.render(SLOW, {})
    assert time.monotonic() - began < 0.1  # the same template: no second time-out


def test_ordinary_templates_render_as_before() -> None:
    ctx = {"record": {"name": "Ann", "tags": ["a", "b"], "total": 12.5}, "d": {"k": 2}}
    source = (
        "Hi {{ record.name|upper }}{% for t in record.tags %} {{ loop.index }}{{ t }}{% endfor %}"
        " {{ record.tags|join(', ') }} {{ '%5.1f|%-3s' % (record.total, 'x') }}"
        " {{ '{:>4}'.format(7) }} {{ 'a b c'|wordwrap(3) }} {{ 'x'|center(5) }}"
        " {{ range(3)|list|sum }} {{ 2 ** 10 }} {{ 'ab' * 2 }} {{ d|tojson }}"
        "{% set s %}{% for i in range(3) %}{{ i }}{% endfor %}{% endset %} {{ s ~ '!' }}"
    )
    assert templating.render(source, ctx) == (
        'Hi ANN 1a 2b a, b  12.5|x      7 a b\nc   x   3 1024 abab {"k": 2} 012!'
    )
    assert templating.render("<p>{{ x }}</p>", {"x": "<i>"}, html=True) == "<p>&lt;i&gt;</p>"


PEAK = """
import resource, sys
from engine import templating
try:
    templating.render(sys.argv[1], {})
except templating.TemplateProblem:
    pass
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def test_a_huge_repetition_never_allocates_its_result() -> None:
    def peak_mb(source: str) -> int:
        out = subprocess.run(
            [sys.executable, "-c", PEAK, source], capture_output=True, text=True, check=True
        )
        return int(out.stdout.strip())

    baseline = peak_mb("{{ 1 }}")
    hostile = peak_mb("{{ ('a'*300000000)|length }}")
    print(f"peak RSS: baseline {baseline} MB, hostile {hostile} MB")
    assert hostile - baseline < 20


def _doc(*activities: dict) -> dict:
    return {
        "format": "journeys/campaign",
        "version": 1,
        "campaign": {"name": "T", "target": "contact"},
        "activities": list(activities),
    }


@pytest.mark.parametrize(
    "tag",
    [
        "{% include 'x.html' %}",
        "{% extends 'x.html' %}",
        "{% import 'x' as x %}",
        "{% from 'x' import y %}",
    ],
)
def test_loading_other_templates_is_refused_when_validated(tag: str) -> None:
    doc = _doc(email("welcome", body=f"<p>Hi</p>\n{tag}"))
    problems = [(p.path, p.message) for p in validate_document(doc)]
    assert len(problems) == 1
    path, message = problems[0]
    assert path == "$.activities[0].email.body_html"
    assert message.startswith("line 2: {% ") and "not allowed" in message


def test_header_fields_with_a_line_break_are_refused_when_validated() -> None:
    act = email("welcome")
    act["email"].update(
        subject="Hi\r\nBcc: all@example.com",
        reply_to="help@example.com\nBcc: x@example.com",
    )
    act["email"]["from"] = "Shop <shop@example.com>\n"
    problems = {p.path: p.message for p in validate_document(_doc(act))}
    for field in ("subject", "from", "reply_to"):
        assert "must be one line" in problems[f"$.activities[0].email.{field}"]


def test_a_hostile_template_ends_only_its_own_traces(db: Database, clock: FixedClock) -> None:
    with smtp_sink() as (sink, port):
        with db.session() as s:
            from engine import settings

            settings.set_value(s, "smtp.url", f"smtp://127.0.0.1:{port}?tls=none")
        w = World(db, clock)
        w.people("Ann", "Bob", "Cid")
        cid = w.campaign(
            email("nested", body=NESTED),
            email("slow", body=SLOW),
            email("welcome"),
        )
        began = time.monotonic()
        w.run()
        took = time.monotonic() - began
    assert w.states(cid, "welcome") == dict.fromkeys(["Ann", "Bob", "Cid"], "processed")
    assert sorted(r.rcpt[0] for r in sink.received) == [
        "ann@example.com",
        "bob@example.com",
        "cid@example.com",
    ]
    for key, said in (("nested", "loops repeat more than"), ("slow", "too long to render")):
        traces = w.traces(cid, key)
        assert {t["state"] for t in traces.values()} == {"error"}
        assert all(said in (t["message"] or "") for t in traces.values())
    assert took < 8  # one time-out for the slow template, not one per recipient


def test_a_rendered_subject_cannot_add_headers(db: Database, clock: FixedClock) -> None:
    with smtp_sink() as (sink, port):
        with db.session() as s:
            from engine import settings

            settings.set_value(s, "smtp.url", f"smtp://127.0.0.1:{port}?tls=none")
        w = World(db, clock)
        w.contacts({"name": "Ann\r\nBcc: all@example.com", "email": "ann@example.com"})
        cid = w.campaign(email("welcome"))
        w.run()
    assert set(w.states(cid, "welcome").values()) == {"processed"}
    (received,) = sink.received
    assert received.message["Bcc"] is None
    assert received.message["Subject"] == "welcome for Ann Bcc: all@example.com"
