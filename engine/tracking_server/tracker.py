"""What tracking requests do to the database, free of HTTP.

Every method takes an already *verified* trace id (the HTTP layer checks the token's
HMAC before calling in, so a forged request never reaches the database) and opens its own
short session: threads never share one. ``None`` answers mean "no such trace or link",
which the server turns into the same 404 as a forged token.

Two kinds of work, kept apart so that a busy database never holds up an answer:

- *lookups* (does the trace exist, where does link 3 go, what does the opt-out page
  say) read in deferred transactions, which on SQLite take no write lock and so are not
  blocked by another program writing;
- *changes* are described as small JSON-able operations (:meth:`Tracker.interaction_op`,
  :meth:`Tracker.opt_out_op`, :meth:`Tracker.esp_plan`) that the recorder
  (:mod:`.recorder`) spools durably and then :meth:`Tracker.apply` s in one short
  transaction each, retrying while the database is busy; :meth:`Tracker.act` then runs or
  announces what they made due.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from cachetools import TTLCache
from sqlalchemy import bindparam, select, update

from .. import interactions, records
from ..clock import Clock
from ..db import Database
from ..executor import Executor
from ..fields import MODELS
from ..interactions import InteractionResult
from ..models import Activity, Campaign, Interaction, Link, OutboxMessage, Trace, table
from ..tracking import verify_token
from .esp import EspEvent
from .pages import OptOut

log = logging.getLogger(__name__)

# Gateway statuses that mean the SMS will never arrive (Twilio, Vonage and most others).
SMS_FAILED = frozenset({"failed", "undelivered", "rejected", "expired"})

OnInteraction = Callable[[InteractionResult], None]

# Every click and open asks one of these: built once, run on a bare Core connection (an
# ORM session per request was the largest CPU cost of a click under load).
_T, _L = table(Trace), table(Link)

# What those lookups found, kept a while: a trace's activity and a link's URL never change
# (a new URL is a new link row), so a hot link — a newsletter clicked by thousands — costs
# the database nothing after its first click. Only found answers are kept, for at most
# ``LOOKUP_TTL`` seconds: a deleted campaign's links stop answering within that time.
LOOKUP_TTL = 60.0
LOOKUP_ENTRIES = 65536
_TRACE_EXISTS = select(_T.c.id).where(_T.c.id == bindparam("trace"))
_LINK_URL = (
    select(_L.c.url)
    .join(_T, _T.c.activity_id == _L.c.activity_id)
    .where(_T.c.id == bindparam("trace"), _L.c.id == bindparam("link"))
)


@dataclass(frozen=True)
class _TraceRow:
    id: int
    campaign_id: int
    activity_type: str
    content: dict[str, Any]
    target: str
    record_id: int
    is_test: bool
    to_address: str | None


@dataclass
class EspSummary:
    """The webhook's answer: what was done with each kind of event."""

    received: int = 0
    bounced: int = 0
    complaints: int = 0
    unsubscribed: int = 0
    ignored: int = 0
    unmatched: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "received": self.received,
            "bounced": self.bounced,
            "complaints": self.complaints,
            "unsubscribed": self.unsubscribed,
            "ignored": self.ignored,
            "unmatched": self.unmatched,
        }


@dataclass
class Applied:
    """What applying one operation did: its own answer, and the interactions it recorded
    (what :meth:`Tracker.act` runs or announces)."""

    value: Any = None
    interaction: InteractionResult = field(default_factory=InteractionResult)


def merge(into: InteractionResult, other: InteractionResult) -> InteractionResult:
    into.recorded += other.recorded
    into.first_time += other.first_time
    into.triggered += other.triggered
    into.canceled += other.canceled
    into.campaigns |= other.campaigns
    return into


def _simple(op: dict[str, Any], replayed: bool) -> bool:
    return op["kind"] == "interact" and not replayed and len(op["traces"]) == 1


def _occurrence(op: dict[str, Any]) -> interactions.Occurrence:
    return interactions.Occurrence(
        int(op["traces"][0]),
        op["interaction"],
        datetime.fromisoformat(op["at"]),
        op.get("link"),
        op.get("detail"),
    )


class Tracker:
    """Looks up what requests need, applies the changes they ask for, lets them act.

    With no ``on_interaction`` callback :meth:`act` runs the engine itself (one pass at a
    time), so a 0-delay child executes in the same pass that records the interaction
    (E7) — what ``journeys serve`` does. Embedded in the app, the callback wakes the
    engine runner instead.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        secret: bytes,
        *,
        on_interaction: OnInteraction | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.db = db
        self.clock = clock
        self.secret = secret
        self.on_interaction = on_interaction
        self._executor = Executor(db, clock, should_stop=should_stop)
        self._exec_lock = threading.Lock()
        self._found: TTLCache[tuple[int, int], str] = TTLCache(LOOKUP_ENTRIES, LOOKUP_TTL)
        self._found_lock = threading.Lock()

    def trace_id(self, token: str) -> int | None:
        """The trace a token names, checked by HMAC alone (no database access)."""
        return verify_token(self.secret, token)

    # --- lookups (read-only: never wait for another program's write lock) -----------------
    def _trace(self, s: Any, trace_id: int) -> _TraceRow | None:
        row = s.execute(
            select(
                Trace.id,
                Trace.campaign_id,
                Activity.type,
                Activity.content,
                Campaign.target,
                Trace.record_id,
                Trace.is_test,
                Trace.to_address,
            )
            .join(Activity, Activity.id == Trace.activity_id)
            .join(Campaign, Campaign.id == Trace.campaign_id)
            .where(Trace.id == trace_id)
        ).first()
        return None if row is None else _TraceRow(*row)

    def exists(self, trace_id: int) -> bool:
        return self._lookup((trace_id, 0), _TRACE_EXISTS, {"trace": trace_id}) is not None

    def _lookup(self, key: tuple[int, int], statement: Any, params: dict[str, int]) -> Any:
        """The first column of ``statement``'s first row, from :attr:`_found` when it was
        found lately (link ids start at 1: key ``(trace, 0)`` is the trace itself)."""
        with self._found_lock:
            known = self._found.get(key)
        if known is not None:
            return known
        with self.db.read_connection() as conn:
            value = conn.execute(statement, params).scalar()
        if value is not None:
            with self._found_lock:
                self._found[key] = value
        return value

    def known(self, trace_ids: Iterable[int]) -> set[int]:
        """Which of these traces exist."""
        wanted = set(trace_ids)
        if not wanted:
            return set()
        with self.db.read() as s:
            return set(s.scalars(select(Trace.id).where(Trace.id.in_(wanted))))

    def link_url(self, trace_id: int, link_id: int) -> str | None:
        """The stored URL of ``link_id`` if it belongs to this trace's own activity."""
        if link_id < 1:
            return None
        found = self._lookup((trace_id, link_id), _LINK_URL, {"trace": trace_id, "link": link_id})
        return None if found is None else str(found)

    def online_html(self, trace_id: int) -> str | None:
        """The HTML of this trace's email: as the outbox stored it, else rendered again.

        Mail sent over SMTP is not kept, so "view in your browser" renders the activity's
        template for the same record and trace (same tracked links and unsubscribe URL).
        """
        with self.db.read() as s:
            stored = s.scalar(
                select(OutboxMessage.body)
                .where(OutboxMessage.trace_id == trace_id, OutboxMessage.channel == "email")
                .order_by(OutboxMessage.id.desc())
                .limit(1)
            )
            return stored if stored is not None else self._render_again(s, trace_id)

    def _render_again(self, s: Any, trace_id: int) -> str | None:
        from .. import records, settings
        from ..messages import MessageBuilder, Recipient
        from ..plan import load_plan

        row = s.execute(
            select(
                Trace.campaign_id,
                Trace.activity_id,
                Trace.record_id,
                Trace.is_test,
                Trace.to_address,
                Trace.state,
            ).where(Trace.id == trace_id)
        ).first()
        if row is None or row.state != "processed":
            return None
        plan = load_plan(s, row.campaign_id)
        act = plan.activities.get(row.activity_id)
        if act is None or act.type != "email":
            return None
        rec = records.load_records(s, plan.target, [row.record_id]).get(row.record_id)
        if rec is None:
            return None
        builder = MessageBuilder(
            s,
            campaign=plan.info,
            activity=act.info,
            base_url=settings.tracking_base_url(s),
            secret=self.secret,
            now=self.clock.now(),
        )
        [msg] = builder.emails(
            act.content,
            [
                Recipient(
                    trace_id=trace_id,
                    record_id=row.record_id,
                    record=rec,
                    record_name=records.display_name(plan.target, rec),
                    to=row.to_address or "",
                    is_test=row.is_test,
                )
            ],
        )
        return getattr(msg, "html", None)

    def opt_out_info(self, trace_id: int) -> OptOut | None:
        """What the unsubscribe pages say about this trace's recipient, changing nothing."""
        with self.db.read() as s:
            row = self._trace(s, trace_id)
            return None if row is None else self._opt_out(s, row, apply=False)

    # --- operations: what the recorder spools and applies ---------------------------------
    def interaction_op(
        self,
        trace_ids: Sequence[int],
        kind: str,
        *,
        link_id: int | None = None,
        detail: str | None = None,
    ) -> dict[str, Any]:
        """Record ``kind`` on these traces, at this moment (only processed messages of the
        right channel count)."""
        return {
            "kind": "interact",
            "at": self.clock.now().isoformat(),
            "traces": sorted(set(trace_ids)),
            "interaction": kind,
            "link": link_id,
            "detail": detail,
        }

    def opt_out_op(self, trace_id: int) -> dict[str, Any]:
        """Opt the trace's recipient out (idempotent; test messages change nothing)."""
        return {"kind": "opt_out", "at": self.clock.now().isoformat(), "trace": trace_id}

    def esp_plan(self, events: list[EspEvent]) -> tuple[EspSummary, dict[str, Any] | None]:
        """The webhook's answer as far as it is known before writing, and the operation
        that applies the rest (None: nothing to change). Unknown or forged tokens are
        counted and skipped; ``bounced`` is filled in by applying."""
        summary = EspSummary(received=len(events))
        wanted: list[tuple[EspEvent, int]] = []
        for event in events:
            if event.kind is None:
                summary.ignored += 1
                continue
            trace_id = verify_token(self.secret, event.token) if event.token else None
            if trace_id is None:
                summary.unmatched += 1
                continue
            wanted.append((event, trace_id))
        known = self.known(t for _, t in wanted)
        bounces: dict[str, list[int]] = defaultdict(list)
        opt_outs: list[list[Any]] = []
        for event, trace_id in wanted:
            if trace_id not in known:
                summary.unmatched += 1
            elif event.kind == "bounce":
                bounces[event.detail].append(trace_id)
            else:
                opt_outs.append([trace_id, event.detail[:255]])
                if event.kind == "complaint":
                    summary.complaints += 1
                else:
                    summary.unsubscribed += 1
        if not (bounces or opt_outs):
            return summary, None
        op = {
            "kind": "esp",
            "at": self.clock.now().isoformat(),
            "bounces": [[detail, ids] for detail, ids in bounces.items()],
            "opt_outs": opt_outs,
        }
        return summary, op

    def apply(self, op: dict[str, Any], *, replayed: bool = False) -> Applied:
        """Apply one operation in one short transaction; raises what the database raises
        (the recorder retries). ``replayed``: the operation comes from a spool file left by
        an earlier server, which may have applied it just before it stopped — an
        interaction already logged at that exact moment is not logged again."""
        with self.db.session() as s:
            return self._apply_in(s, op, replayed)

    def apply_group(self, ops: Sequence[tuple[dict[str, Any], bool]]) -> list[Any]:
        """Group commit: apply many operations in one transaction, each in a savepoint.

        One commit per click made the database's commit rate the server's click rate (a
        few hundred a second on SQLite); one per group does not. An operation that fails
        on its own (a broken row, a bug) is rolled back to its savepoint and returned as
        its exception, without the others; a failure of the database itself (locked,
        connection lost) is raised for the whole group, which the recorder retries.
        """
        from .recorder import transient

        out: list[Any] = [None] * len(ops)
        with self.db.session() as s:
            # Clicks and opens (one trace, not replayed): recorded together, set-based.
            simple = [i for i, (op, replayed) in enumerate(ops) if _simple(op, replayed)]
            if simple:
                try:
                    with s.begin_nested():
                        results = interactions.record_batch(
                            s, [_occurrence(ops[i][0]) for i in simple]
                        )
                    for i, result in zip(simple, results, strict=True):
                        out[i] = Applied(result, result)
                except Exception as exc:
                    if transient(exc):
                        raise
                    log.warning("tracking: a group of clicks failed together (%s)", exc)
            for i, (op, replayed) in enumerate(ops):
                if out[i] is not None:
                    continue
                try:
                    with s.begin_nested():
                        out[i] = self._apply_in(s, op, replayed)
                except Exception as exc:
                    if transient(exc):
                        raise
                    out[i] = exc
        return out

    def _apply_in(self, s: Any, op: dict[str, Any], replayed: bool) -> Applied:
        at = datetime.fromisoformat(op["at"])
        kind = op["kind"]
        if kind == "interact":
            return self._apply_interaction(
                s,
                op["traces"],
                op["interaction"],
                at,
                op.get("link"),
                op.get("detail"),
                replayed,
            )
        if kind == "opt_out":
            row = self._trace(s, int(op["trace"]))
            value = None if row is None else self._opt_out(s, row, apply=True, at=at)
            return Applied(value)
        if kind == "esp":
            applied = Applied(0)
            for detail, ids in op["bounces"]:
                one = self._apply_interaction(s, ids, "bounce", at, None, detail, replayed)
                applied.value += one.value.recorded
                merge(applied.interaction, one.interaction)
            for trace_id, detail in op["opt_outs"]:
                row = self._trace(s, int(trace_id))
                if row is not None:
                    self._opt_out(s, row, apply=True, reason=detail, at=at)
            return applied
        raise ValueError(f"unknown tracking operation {kind!r}")

    def _apply_interaction(
        self,
        s: Any,
        trace_ids: Sequence[int],
        kind: str,
        at: datetime,
        link_id: int | None,
        detail: str | None,
        replayed: bool,
    ) -> Applied:
        ids = [int(t) for t in trace_ids]
        if replayed:
            done = s.scalar(
                select(Interaction.id)
                .where(
                    Interaction.trace_id.in_(ids),
                    Interaction.type == kind,
                    Interaction.at == at,
                    Interaction.link_id.is_(None)
                    if link_id is None
                    else Interaction.link_id == link_id,
                )
                .limit(1)
            )
            if done is not None:
                return Applied(InteractionResult())
        result = interactions.record(s, ids, kind, at, link_id=link_id, detail=detail)
        return Applied(result, result)

    def act(self, results: Sequence[InteractionResult]) -> None:
        """After the commit: announce the interactions (embedded app), or run what they
        made due — one engine pass for all of them (``journeys serve``)."""
        results = [r for r in results if r.recorded or r.first_time]
        if not results:
            return
        if self.on_interaction is not None:
            for result in results:
                try:
                    self.on_interaction(result)
                except Exception:  # the interaction is stored; a listener's failure is its own
                    log.exception("on_interaction callback failed")
            return
        if not any(r.triggered for r in results):
            return
        with self._exec_lock:
            try:
                self._executor.execute_due(self.clock.now())
            except Exception:  # stored anyway; the next engine pass picks the work up
                log.exception("running the steps an interaction triggered failed")

    # --- opt-out --------------------------------------------------------------------------
    def _opt_out(
        self,
        s: Any,
        row: _TraceRow,
        *,
        apply: bool,
        reason: str = "",
        at: datetime | None = None,
    ) -> OptOut:
        sms = row.activity_type == "sms" or row.content.get("kind") == "send_sms"
        info = MODELS[row.target]
        address_field = info.phone_field if sms else info.email_field
        opt_field = info.opt_out_sms_field if sms else info.opt_out_email_field
        record = records.load_records(s, row.target, [row.record_id]).get(row.record_id)
        address = row.to_address
        if address is None and record is not None and address_field:
            raw = record.get(address_field)
            address = records.normalize_phone(raw) if sms else records.normalize_address(raw)
        kind = "phone" if sms else "email"
        already_suppressed = bool(address and records.suppressed(s, kind, [address]))
        already_flagged = record is None or opt_field is None or bool(record.get(opt_field))
        already = already_suppressed and already_flagged if address else already_flagged
        if apply and not row.is_test:
            # The message the person left through, for its unsubscribe rate, even when an
            # earlier message already opted them out (they asked again through this one).
            s.execute(
                update(Trace)
                .where(Trace.id == row.id, Trace.unsubscribed_at.is_(None))
                .values(unsubscribed_at=at or self.clock.now())
            )
        if apply and not row.is_test and not already:
            now = at or self.clock.now()
            why = reason or f"Unsubscribed (campaign {row.campaign_id})"
            if address and not already_suppressed:
                records.suppress(s, kind, address, why, now)
            if not already_flagged and opt_field:
                records.write_values(s, row.target, [row.record_id], {opt_field: True}, now=now)
        # The sender as the recipient knows it: "Shop" from "Shop <shop@example.com>".
        name, sender_address = parseaddr(str(row.content.get("from") or ""))
        return OptOut(
            channel="sms" if sms else "email",
            address=address,
            sender=None if sms else (name or sender_address or None),
            already=already,
            test=row.is_test,
        )
