"""What tracking requests do to the database, free of HTTP.

Every method takes an already *verified* trace id (the HTTP layer checks the token's
HMAC before calling in, so a forged request never reaches the database) and opens its own
short session: request threads never share one. ``None`` answers mean "no such trace or
link", which the server turns into the same 404 as a forged token.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select

from .. import interactions, records
from ..clock import Clock
from ..db import Database
from ..executor import Executor
from ..fields import MODELS
from ..interactions import InteractionResult
from ..models import Activity, Campaign, Link, OutboxMessage, Trace
from ..tracking import verify_token
from .esp import EspEvent
from .pages import OptOut

log = logging.getLogger(__name__)

# Gateway statuses that mean the SMS will never arrive (Twilio, Vonage and most others).
SMS_FAILED = frozenset({"failed", "undelivered", "rejected", "expired"})

OnInteraction = Callable[[InteractionResult], None]


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


class Tracker:
    """Records interactions and opt-outs, then lets what they triggered run.

    With no ``on_interaction`` callback the tracker runs the engine itself right after
    recording (one pass at a time), so a 0-delay child executes before the response goes
    out (E7) — what ``journeys serve`` does. Embedded in the app, the callback wakes the
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

    def trace_id(self, token: str) -> int | None:
        """The trace a token names, checked by HMAC alone (no database access)."""
        return verify_token(self.secret, token)

    # --- lookups --------------------------------------------------------------------------
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
        with self.db.session() as s:
            return s.scalar(select(Trace.id).where(Trace.id == trace_id)) is not None

    def link_url(self, trace_id: int, link_id: int) -> str | None:
        """The stored URL of ``link_id`` if it belongs to this trace's own activity."""
        with self.db.session() as s:
            return s.scalar(
                select(Link.url)
                .join(Trace, Trace.activity_id == Link.activity_id)
                .where(Trace.id == trace_id, Link.id == link_id)
            )

    def online_html(self, trace_id: int) -> str | None:
        """The HTML of this trace's email: as the outbox stored it, else rendered again.

        Mail sent over SMTP is not kept, so "view in your browser" renders the activity's
        template for the same record and trace (same tracked links and unsubscribe URL).
        """
        with self.db.session() as s:
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
            secret=settings.tracking_secret(s),
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

    # --- interactions ---------------------------------------------------------------------
    def interact(
        self,
        trace_ids: Sequence[int],
        kind: str,
        *,
        link_id: int | None = None,
        detail: str | None = None,
    ) -> InteractionResult:
        """Record ``kind`` (only processed messages of the right channel count), then run
        or announce what it made due."""
        now = self.clock.now()
        with self.db.session() as s:
            result = interactions.record(s, trace_ids, kind, now, link_id=link_id, detail=detail)
        self._after(result)
        return result

    def _after(self, result: InteractionResult) -> None:
        if not (result.recorded or result.first_time):
            return
        if self.on_interaction is not None:
            try:
                self.on_interaction(result)
            except Exception:  # the interaction is stored; a listener's failure is its own
                log.exception("on_interaction callback failed")
            return
        if not result.triggered:
            return
        with self._exec_lock:
            try:
                self._executor.execute_due(self.clock.now())
            except Exception:  # stored anyway; the next engine pass picks the work up
                log.exception("running the steps an interaction triggered failed")

    # --- opt-out --------------------------------------------------------------------------
    def opt_out_info(self, trace_id: int) -> OptOut | None:
        with self.db.session() as s:
            row = self._trace(s, trace_id)
            return None if row is None else self._opt_out(s, row, apply=False)

    def opt_out(self, trace_id: int) -> OptOut | None:
        """Opt the trace's recipient out (idempotent); test messages change nothing."""
        with self.db.session() as s:
            row = self._trace(s, trace_id)
            return None if row is None else self._opt_out(s, row, apply=True)

    def _opt_out(self, s: Any, row: _TraceRow, *, apply: bool, reason: str = "") -> OptOut:
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
        if apply and not row.is_test and not already:
            now = self.clock.now()
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

    # --- gateways -------------------------------------------------------------------------
    def sms_status(self, trace_id: int, status: str, detail: str) -> bool:
        """True when the status meant a failed delivery and was recorded as a bounce."""
        if status.lower() not in SMS_FAILED:
            return False
        result = self.interact([trace_id], "sms_bounce", detail=detail[:500])
        return bool(result.recorded)

    def esp_events(self, events: list[EspEvent]) -> EspSummary:
        """Apply a batch of ESP notices; unknown or forged tokens are counted and skipped."""
        summary = EspSummary(received=len(events))
        bounces: dict[str, list[int]] = defaultdict(list)
        opt_outs: list[tuple[int, str, str]] = []
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
        if wanted:
            with self.db.session() as s:
                known = set(s.scalars(select(Trace.id).where(Trace.id.in_({t for _, t in wanted}))))
        else:
            known = set()
        for event, trace_id in wanted:
            if trace_id not in known:
                summary.unmatched += 1
            elif event.kind == "bounce":
                bounces[event.detail].append(trace_id)
            else:
                opt_outs.append((trace_id, event.kind or "", event.detail))
        for detail, ids in bounces.items():
            summary.bounced += self.interact(ids, "bounce", detail=detail).recorded
        for trace_id, kind, detail in opt_outs:
            with self.db.session() as s:
                row = self._trace(s, trace_id)
                if row is not None:
                    self._opt_out(s, row, apply=True, reason=detail[:255])
            if kind == "complaint":
                summary.complaints += 1
            else:
                summary.unsubscribed += 1
        return summary
