"""Semantic checks of a campaign document, after its JSON Schema has passed (SPEC §3, §7).

The same checks guard file import and campaign start (E1): both work on the file shape,
so a campaign in the database is validated by exporting it first. Every problem is
reported at once with its JSON path, so a user fixes a file in one round instead of
one error per attempt.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import networkx as nx
from sqlalchemy.orm import Session

from . import catalog, sms, templating
from .errors import Problem, UserError
from .fields import JSONK, MANY2MANY, MANY2ONE, MODELS, PHONE

MAX_SMS_SEGMENTS = 10
_EMAIL_RE = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")  # fullmatch: no trailing newline
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HREF_ATTR = re.compile(r"<a\b[^>]*\bhref\s*=", re.IGNORECASE)
_URL_RE = re.compile(r"https?://", re.IGNORECASE)


def jpath(*parts: str | int) -> str:
    """A JSON path like ``$.activities[2].email``; odd keys (``x-foo``) are bracketed."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENT_RE.fullmatch(part):
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


def is_email(value: str) -> bool:
    return bool(_EMAIL_RE.fullmatch(value))


class _Checker:
    """Collects problems for one document; the target model is resolved once."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.problems: list[Problem] = []
        campaign = doc.get("campaign") or {}
        self.target: str | None = campaign.get("target")
        self.model = MODELS.get(self.target or "")
        self.saved: dict[str, Any] = doc.get("saved_actions") or {}

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def warn(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message, "warning"))

    # --- campaign ---------------------------------------------------------------------------
    def campaign(self) -> None:
        campaign = self.doc.get("campaign") or {}
        if self.model is None:
            known = ", ".join(MODELS)
            self.error(
                jpath("campaign", "target"),
                f"unknown target model {self.target!r} (expected one of {known})",
            )
        unique = campaign.get("unique_field")
        if unique and self.model is not None:
            f = self.model.field(unique)
            if f is None:
                self.error(
                    jpath("campaign", "unique_field"), f"{self.target} has no field {unique!r}"
                )
            elif f.kind in (MANY2MANY, JSONK):
                self.error(
                    jpath("campaign", "unique_field"),
                    f"{unique!r} holds a list or free-form data and cannot be a unique field",
                )
        self.domain(campaign.get("filter") or [], ("campaign", "filter"))

    def domain(self, domain: list[Any], where: tuple[str | int, ...]) -> None:
        if not domain or self.model is None:
            return
        from .filters import validate_domain

        for p in validate_domain(domain, self.target or ""):
            rel = p.path.removeprefix("$")
            if rel and not rel.startswith(("[", ".")):
                rel = "." + rel
            self.problems.append(Problem(jpath(*where) + rel, p.message, p.severity))

    # --- activities ---------------------------------------------------------------------------
    def activities(self) -> None:
        acts: list[dict[str, Any]] = self.doc.get("activities") or []
        if not acts:
            self.error(jpath("activities"), "the campaign has no activity")
            return
        index: dict[str, int] = {}
        for i, act in enumerate(acts):
            key = act["key"]
            if key in index:
                self.error(
                    jpath("activities", i, "key"),
                    f"duplicate key {key!r} (also used by $.activities[{index[key]}])",
                )
            else:
                index[key] = i
        graph: nx.DiGraph[str] = nx.DiGraph()
        for i, act in enumerate(acts):
            self.parent(i, act, acts, index, graph)
            self.domain(act.get("filter") or [], ("activities", i, "filter"))
            ckey = catalog.CONTENT_KEY[act["type"]]
            content = act.get(ckey)
            if isinstance(content, dict):
                self.content(act["type"], content, ("activities", i, ckey))
        self.filter_chains(acts, index)
        for cycle in nx.simple_cycles(graph):
            start = min(range(len(cycle)), key=lambda n: index[cycle[n]])
            turn = cycle[start:] + cycle[:start]  # edges run parent -> child
            chain = [turn[0], *reversed(turn[1:])]
            steps = [
                f"{k!r} has parent {chain[(n + 1) % len(chain)]!r}" for n, k in enumerate(chain)
            ]
            first = chain[0]
            self.error(
                jpath("activities", index[first], "parent"),
                "the parent links form a cycle: " + ", ".join(steps),
            )
        self.unreachable(acts, index, graph)

    def filter_chains(self, acts: list[dict[str, Any]], index: dict[str, int]) -> None:
        """A step runs under its own filter, its ancestors' and the campaign's, combined in
        one query: together they are bounded as one filter is (each alone is checked as a
        domain, so only chains of filters that pass on their own are reported here)."""
        from .filters import filter_size, size_problem

        campaign = self.doc.get("campaign") or {}
        sizes = {a["key"]: filter_size(a.get("filter") or []) for a in acts}
        base = filter_size(campaign.get("filter") or [])
        if size_problem(*base) is not None or any(size_problem(*n) for n in sizes.values()):
            return
        for i, act in enumerate(acts):
            terms, values = base
            key: str | None = act["key"]
            seen: set[str] = set()
            while key is not None and key in index and key not in seen:
                seen.add(key)
                terms, values = terms + sizes[key][0], values + sizes[key][1]
                key = acts[index[key]].get("parent")
            what = "this step's filter, with those of the campaign and of the steps before it,"
            message = size_problem(terms, values, what)
            if message is not None:
                self.error(jpath("activities", i, "filter"), message)

    def unreachable(
        self, acts: list[dict[str, Any]], index: dict[str, int], graph: nx.DiGraph[str]
    ) -> None:
        """Warn about steps that can never run although each link on its own is valid.

        Two cases: a step whose chain of parents never reaches a 'begin' step (it hangs
        under a loop, or under a step whose own parent is broken — that step carries the
        error), and a 'clicked' step under a message with nothing to click.
        """
        roots = [a["key"] for a in acts if a["trigger"] == "begin" and a.get("parent") is None]
        reachable = set(roots)
        for root in roots:
            if root in graph:
                reachable |= nx.descendants(graph, root)
        # A broken link (unknown parent, a loop's first step...) already has its error here.
        errors = {p.path for p in self.problems if p.severity == "error"}
        for i, act in enumerate(acts):
            where = jpath("activities", i, "parent")
            if act["key"] not in reachable and where not in errors:
                self.warn(
                    where,
                    "unreachable: no chain of parents leads from a 'begin' step to this one",
                )
        for i, act in enumerate(acts):
            parent = act.get("parent")
            if act["trigger"] not in ("mail_click", "sms_click") or parent not in index:
                continue
            pact = acts[index[parent]]
            if pact["type"] == "email" and not _has_link_html(pact.get("email") or {}):
                what = "its parent email has no link"
            elif pact["type"] == "sms" and not _has_link_text(pact.get("sms") or {}):
                what = "its parent SMS has no link"
            else:
                continue
            self.warn(jpath("activities", i, "trigger"), f"unreachable: nothing to click, {what}")

    def parent(
        self,
        i: int,
        act: dict[str, Any],
        acts: list[dict[str, Any]],
        index: dict[str, int],
        graph: nx.DiGraph[str],
    ) -> None:
        trigger, parent = act["trigger"], act.get("parent")
        where = jpath("activities", i, "parent")
        allowed = catalog.TRIGGER_PARENTS[trigger]
        if allowed is None:
            if parent is not None:
                self.error(
                    where,
                    f"a 'begin' activity has no parent (found {parent!r}); "
                    "use the trigger 'activity' to run after another activity",
                )
            return
        if parent is None:
            self.error(where, f"the trigger {trigger!r} needs a parent activity")
            return
        if parent not in index:
            self.error(where, f"unknown parent {parent!r}: no activity has this key")
            return
        if parent == act["key"]:
            self.error(where, "an activity cannot be its own parent")
            return
        graph.add_edge(parent, act["key"])
        ptype = acts[index[parent]]["type"]
        if ptype not in allowed:
            need = " or ".join(allowed)
            self.error(
                jpath("activities", i, "trigger"),
                f"the trigger {trigger!r} needs a parent of type {need}, "
                f"but {parent!r} is of type {ptype!r}",
            )

    # --- content ------------------------------------------------------------------------------
    def content(self, atype: str, content: dict[str, Any], where: tuple[str | int, ...]) -> None:
        if atype == "email":
            self.email(content, where)
        elif atype == "sms":
            self.sms(content, where)
        else:
            self.action(content, where)

    def template(self, source: Any, where: tuple[str | int, ...], *, html: bool = False) -> None:
        if not isinstance(source, str) or not templating.is_template(source):
            return
        problem = templating.check_syntax(source, html=html)
        if problem is not None:
            self.error(jpath(*where), str(problem))

    def email(self, content: dict[str, Any], where: tuple[str | int, ...]) -> None:
        for name, what in (("subject", "subject"), ("from", "sender"), ("body_html", "body")):
            if not (content.get(name) or "").strip():
                self.error(jpath(*where, name), f"the email has no {what}")
        sender = content.get("from") or ""
        if sender.strip() and not is_email(_address(sender)):
            self.error(
                jpath(*where, "from"),
                f"{sender!r} is not a sender like 'Name <address@example.com>'",
            )
        reply_to = content.get("reply_to")
        if reply_to and not is_email(_address(reply_to)):
            self.error(jpath(*where, "reply_to"), f"{reply_to!r} is not an email address")
        for name, what in (("subject", "subject"), ("from", "sender"), ("reply_to", "reply-to")):
            if templating.has_line_break(content.get(name)):
                self.error(jpath(*where, name), f"the {what} must be one line (no line break)")
        self.template(content.get("subject"), (*where, "subject"))
        self.template(content.get("preheader"), (*where, "preheader"), html=True)
        self.template(content.get("body_html"), (*where, "body_html"), html=True)

    def sms(self, content: dict[str, Any], where: tuple[str | int, ...]) -> None:
        body = content.get("body") or ""
        if not body.strip():
            self.error(jpath(*where, "body"), "the SMS has no body")
            return
        self.template(body, (*where, "body"))
        size = sms.measure(body)
        if size.segments > MAX_SMS_SEGMENTS:
            self.warn(
                jpath(*where, "body"),
                f"the SMS is {size.segments} segments long ({size.characters} "
                f"{size.encoding} characters); most gateways refuse more than "
                f"{MAX_SMS_SEGMENTS}",
            )

    def action(self, action: dict[str, Any], where: tuple[str | int, ...]) -> None:
        kind = action["kind"]
        if kind == "update_record":
            self.values(self.target, action.get("values") or {}, (*where, "values"))
        elif kind == "create_record":
            model = action.get("model")
            if model not in MODELS:
                self.error(
                    jpath(*where, "model"),
                    f"unknown model {model!r} (expected one of {', '.join(MODELS)})",
                )
            else:
                self.values(model, action.get("values") or {}, (*where, "values"))
        elif kind == "create_activity":
            if not (action.get("summary") or "").strip():
                self.error(jpath(*where, "summary"), "the task has no summary")
            self.template(action.get("summary"), (*where, "summary"))
            self.template(action.get("note"), (*where, "note"))
            self.user(action.get("assignee", "salesperson"), (*where, "assignee"))
        elif kind == "send_email":
            self.email(action, where)
        elif kind == "send_sms":
            self.sms(action, where)
        elif kind in ("add_followers", "remove_followers"):
            for n, user in enumerate(action.get("users") or []):
                self.user(user, (*where, "users", n))
        elif kind == "execute_code":
            self.code(action.get("code") or "", (*where, "code"))
        elif kind == "webhook":
            url = str(action.get("url") or "")
            if not _is_web_url(url):
                self.error(jpath(*where, "url"), f"{url!r} is not an http(s) URL with a host")
            for n, name in enumerate(action.get("fields") or []):
                if self.model is not None and self.model.field(name) is None:
                    self.error(jpath(*where, "fields", n), f"{self.target} has no field {name!r}")
        elif kind == "run_actions":
            for n, name in enumerate(action.get("actions") or []):
                if name not in self.saved:
                    known = ", ".join(repr(k) for k in self.saved) or "none"
                    self.error(
                        jpath(*where, "actions", n),
                        f"no saved action is named {name!r} (saved actions: {known})",
                    )

    def user(self, value: Any, where: tuple[str | int, ...]) -> None:
        if value == "salesperson":
            if self.model is not None and self.model.field("salesperson") is None:
                self.error(jpath(*where), f"{self.target} records have no salesperson")
        elif not isinstance(value, str) or not is_email(value):
            self.error(jpath(*where), f"{value!r} is neither 'salesperson' nor an email address")

    def code(self, code: str, where: tuple[str | int, ...]) -> None:
        if not code.strip():
            self.error(jpath(*where), "the action has no code")
            return
        try:
            ast.parse(code, "<execute_code>", "exec")
        except SyntaxError as exc:
            self.error(jpath(*where), f"line {exc.lineno}: {exc.msg}")
            return
        from .sandbox import check_code  # the sandbox's own rules: no imports, no dunders…

        for problem in check_code(code):
            self.error(jpath(*where), f"not allowed in the sandbox: {problem}")

    def values(
        self, model_name: str | None, values: dict[str, Any], where: tuple[str | int, ...]
    ) -> None:
        """Each value must be one the record writer accepts, so a typo fails at import time
        instead of as a trace error days later; templated values get a syntax check."""
        from .records.values import coerce_value, is_empty, user_ref_key, writable_field

        model = MODELS.get(model_name or "")
        if model is None:
            return
        for name, value in values.items():
            here = (*where, name)
            try:
                f = writable_field(model, name)
                if isinstance(value, str) and templating.is_template(value):
                    self.template(value, here)
                elif f.kind == MANY2ONE and not is_empty(value):
                    user_ref_key(value)  # an email or id, looked up when the action runs
                elif f.kind != PHONE:  # national numbers depend on the record's country
                    coerce_value(model.name, name, value)
            except (ValueError, UserError) as exc:
                self.error(jpath(*here), str(exc))

    # --- saved actions ------------------------------------------------------------------------
    def saved_actions(self) -> None:
        graph: nx.DiGraph[str] = nx.DiGraph()
        for name, action in self.saved.items():
            self.action(action, ("saved_actions", name))
            if action["kind"] == "run_actions":
                for other in action.get("actions") or []:
                    if other in self.saved:
                        graph.add_edge(name, other)
        for cycle in nx.simple_cycles(graph):
            first = min(cycle)
            loop = cycle[cycle.index(first) :] + cycle[: cycle.index(first)] + [first]
            self.error(
                jpath("saved_actions", first, "actions"),
                "saved actions run each other in a loop: " + " → ".join(loop),
            )


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False


def _address(value: str) -> str:
    from email.utils import parseaddr

    return parseaddr(value)[1]


def _has_link_html(content: dict[str, Any]) -> bool:
    """A link may come from a placeholder (links are tracked after rendering)."""
    return bool(_HREF_ATTR.search(content.get("body_html") or ""))


def _has_link_text(content: dict[str, Any]) -> bool:
    body = content.get("body") or ""
    return "{{" in body or bool(_URL_RE.search(body))


def validate_document(doc: dict[str, Any]) -> list[Problem]:
    """Every semantic problem of a schema-valid document (errors and warnings)."""
    checker = _Checker(doc)
    checker.campaign()
    checker.activities()
    checker.saved_actions()
    return checker.problems


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def _untrusted(doc: dict[str, Any], trusted: dict[str, bool]) -> Iterator[Problem]:
    for i, act in enumerate(doc["activities"]):
        kind = (act.get("action") or {}).get("kind")
        if kind in catalog.UNTRUSTED_KINDS and not trusted.get(act["key"], True):
            yield Problem(jpath("activities", i, "action"), _awaiting(kind), "warning")
    for name, action in doc["saved_actions"].items():
        kind = action.get("kind")
        if kind in catalog.UNTRUSTED_KINDS and not trusted.get(f"saved:{name}", True):
            yield Problem(jpath("saved_actions", name), _awaiting(kind), "warning")


def _awaiting(kind: str) -> str:
    what = "runs code" if kind == "execute_code" else "sends data to another server"
    return f"awaiting trust: this {kind} action {what} and stays disabled until a person trusts it"


def validate_campaign(session: Session, campaign_id: int) -> list[Problem]:
    """Problems of a stored campaign, plus a warning per action still awaiting trust."""
    from sqlalchemy import select

    from .campaign_files import document_problems, export_document
    from .models import Activity, SavedAction

    doc = export_document(session, campaign_id)
    acts = select(Activity.key, Activity.trusted).where(Activity.campaign_id == campaign_id)
    saved = select(SavedAction.name, SavedAction.trusted).where(
        SavedAction.campaign_id == campaign_id
    )
    trusted = {key: ok for key, ok in session.execute(acts)}
    trusted.update((f"saved:{name}", ok) for name, ok in session.execute(saved))
    return document_problems(doc) + list(_untrusted(doc, trusted))
