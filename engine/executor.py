"""The engine pass (SPEC E2-E9, E13): sync, expire, claim due traces, execute in batches.

A batch is claimed in one short transaction (the claim is the durable "in flight"
marker) and executed set-based per activity. Its work is written in short transactions
cut at every hand-off point: before a group of messages leaves, what is final is
written and the group alone is flagged "handed off", then committed, so no lock is held
while a server is talked to and a crash leaves at most that group "delivery unknown".
A batch that fails as a whole is split until the failing trace is alone, so one trace's
failure never aborts the others.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, literal, or_, select, true, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from . import campaign_faults, delays, settings
from .api import figures
from .batch_work import BatchWork
from .campaign_faults import CampaignFailed
from .catalog import EVENT_TRIGGERS, INTERACTION_NOUN
from .channels import Channels, configured_channels
from .clock import Clock
from .db import Database
from .errors import EngineFailure
from .executor_steps import BatchContext, TraceRow, execute_activity
from .models import Activity, Campaign, Participant, Trace, table
from .plan import CampaignPlan, load_plan
from .sqlutil import affected, ids_in
from .sync import sync_campaign
from .traces import complete_ids, complete_participants, create_child_traces

log = logging.getLogger(__name__)

T = table(Trace)
P = table(Participant)
C = table(Campaign)
A = table(Activity)

HOST = socket.gethostname()


@dataclass
class PassStats:
    started_at: datetime
    joined: int = 0
    removed: int = 0
    executed: int = 0
    expired_waiting: int = 0
    recovered: int = 0
    batches: int = 0
    by_state: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    campaigns: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)  # campaigns set aside (campaign_faults)

    @property
    def idle(self) -> bool:
        return not (
            self.joined or self.removed or self.executed or self.expired_waiting or self.recovered
        )


# SQLite reports these statement limits as OperationalError, like a locked database; they
# belong to one campaign's statement, not to the database.
_STATEMENT_LIMITS = (
    "too many sql variables",
    "expression tree is too large",
    "parser stack overflow",
    "string or blob too big",
    "too many terms",
)


def _database_failed(exc: BaseException) -> bool:
    if not isinstance(exc, OperationalError):
        return False
    text = str(exc.orig).lower()
    return not any(limit in text for limit in _STATEMENT_LIMITS)


@contextmanager
def _blame(campaign_id: int, what: str) -> Iterator[None]:
    """Turn a failure of one campaign's work into :class:`CampaignFailed`; a failure of
    the database itself (locked, gone) stays what it is: it concerns every campaign."""
    try:
        yield
    except CampaignFailed:
        raise
    except Exception as exc:
        if _database_failed(exc):
            raise
        raise CampaignFailed(campaign_id, what, exc) from exc


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _give_back(s: Session, token: str, now: datetime) -> int:
    """Release every trace of claim ``token``: those with a server become unknown
    deliveries, the others are due again. How many traces it touched."""
    count = _unknown_deliveries(s, token, now)
    res = s.execute(
        update(T)
        .where(T.c.claimed_by == token)
        .values(claimed_by=None, claimed_at=None, handoff=False)
    )
    return count + affected(res)


def _unknown_deliveries(s: Session, token: str, now: datetime) -> int:
    """End the traces of claim ``token`` that were with a server when their batch failed:
    whether the message left is unknown, so it is an error, never sent again (E13), and
    a participant with nothing else to do is completed like after any other error."""
    handed = and_(T.c.claimed_by == token, T.c.state == "scheduled", T.c.handoff == true())
    participants = list(s.scalars(select(T.c.participant_id).where(handed).distinct()))
    if not participants:
        return 0
    res = s.execute(
        update(T)
        .where(handed)
        .values(
            state="error",
            message="Interrupted: delivery unknown",
            done_at=now,
            claimed_by=None,
            claimed_at=None,
            handoff=False,
        )
    )
    complete_ids(s, participants, now)
    return affected(res)


class Executor:
    """Runs engine passes against one database; safe to run in several processes."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        channels: Callable[[Session, datetime], Channels] = configured_channels,
        batch_size: int | None = None,
        claim_timeout: timedelta | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.db = db
        self.clock = clock
        self.channels_factory = channels
        self._batch_size = batch_size
        self._claim_timeout = claim_timeout
        self.should_stop = should_stop
        self.worker_id = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._batches = 0
        # Tokens of this worker's batches whose claims could not be given back (the
        # database failed twice): nobody runs them, so the next pass takes them back.
        self._unreleased: set[str] = set()

    # --- the pass ------------------------------------------------------------------------
    def run_pass(self, *, sync: bool = True) -> PassStats:
        now = self.clock.now()
        stats = PassStats(started_at=now)
        stats.recovered = self.recover_interrupted()
        if sync:
            self.sync_all(now, stats)
        stats.expired_waiting = self.expire_waiting(now, stats)
        self.execute_due(now, stats)
        campaign_faults.clear(self.db, now, stats.failed)
        if sync:
            self.compact_figures()
        return stats

    def compact_figures(self) -> int:
        """Fold the summary rows PostgreSQL's triggers append (nothing to do on SQLite), at
        the sync's pace: often enough that a figure sums a few rows, rarely enough to cost
        nothing. Figures stay right if it fails, only slower to read, so it never fails a
        pass."""
        if self.db.dialect != "postgresql":
            return 0
        try:
            with self.db.session() as s:
                return figures.compact(s)
        except Exception as exc:  # e.g. a lock wait cut short: the next sync tries again
            log.warning("figure compaction postponed: %s", exc)
            return 0

    def _isolated(self, failure: CampaignFailed, now: datetime, stats: PassStats | None) -> None:
        campaign_faults.record(self.db, failure, now)
        if stats is not None:
            stats.failed.add(failure.campaign_id)

    def _running(self, now: datetime) -> list[int]:
        with self.db.read() as s:
            return list(
                s.scalars(
                    select(C.c.id)
                    .where(C.c.state == "running", campaign_faults.workable(now))
                    .order_by(C.c.id)
                )
            )

    def sync_all(self, now: datetime, stats: PassStats) -> None:
        for cid in self._running(now):
            self.sync(cid, now, stats)

    def sync(self, campaign_id: int, now: datetime, stats: PassStats | None = None) -> None:
        """Add new matching records to one campaign; its failure is its own (isolated)."""
        try:
            self._sync(campaign_id, now, stats)
        except CampaignFailed as failure:
            self._isolated(failure, now, stats)

    def _sync(self, campaign_id: int, now: datetime, stats: PassStats | None) -> None:
        with self.db.session() as s:
            locked = s.execute(
                select(C.c.id, C.c.state)
                .where(C.c.id == campaign_id)
                .with_for_update(skip_locked=True)
            ).first()
            if locked is None or locked.state != "running":
                return  # another worker is syncing it, or it stopped meanwhile
            with _blame(campaign_id, "add this campaign's new participants"):
                result = sync_campaign(s, load_plan(s, campaign_id), now)
            if stats is not None:
                stats.joined += result.joined
                stats.removed += result.removed
                if result.joined or result.removed:
                    stats.campaigns.add(campaign_id)

    # --- E8 -------------------------------------------------------------------------------
    def expire_waiting(self, now: datetime, stats: PassStats | None = None) -> int:
        """Cancel waiting traces whose parent was processed longer ago than the window."""
        total = 0
        for cid in self._running(now):
            try:
                with self.db.session() as s, _blame(cid, "end its expired waits"):
                    total += self._expire(s, cid, now)
            except CampaignFailed as failure:
                self._isolated(failure, now, stats)
        return total

    def _expire(self, s: Session, cid: int, now: datetime) -> int:
        total = 0
        days = s.scalar(select(C.c.engagement_window_days).where(C.c.id == cid))
        if days is None:
            return 0
        parent = T.alias("parent")
        limit = delays.window_start(now, days)
        acts = s.execute(select(A.c.id, A.c.trigger).where(A.c.campaign_id == cid)).all()
        for aid, trigger in acts:
            if trigger not in EVENT_TRIGGERS:
                continue
            noun = INTERACTION_NOUN[EVENT_TRIGGERS[trigger]]
            old_parent = exists(
                select(literal(1)).where(parent.c.id == T.c.parent_id, parent.c.done_at < limit)
            )
            stale = and_(
                T.c.activity_id == aid,
                T.c.state == "scheduled",
                T.c.due_at.is_(None),
                old_parent,
            )
            touched = s.scalars(select(T.c.participant_id).where(stale)).all()
            if not touched:
                continue
            res = s.execute(
                update(T)
                .where(stale)
                .values(state="canceled", done_at=now, message=f"No {noun} within {days} days")
            )
            total += affected(res)
            complete_ids(s, touched, now)
        return total

    # --- E13 ------------------------------------------------------------------------------
    def claim_timeout(self, session: Session) -> timedelta:
        if self._claim_timeout is not None:
            return self._claim_timeout
        return timedelta(minutes=settings.get(session, "engine.claim_timeout_minutes"))

    def recover_interrupted(self) -> int:
        """Release or fail claims left by workers that died mid-batch.

        Claims are judged by the real wall clock (process liveness), not the business
        clock: a claim is stale when its worker was on this host and is gone, or when it
        is older than the claim timeout. This worker's own claims are alive (another
        thread may be running that batch) unless it could not give them back itself.
        """
        wall = datetime.now(UTC)
        mine = self.worker_id + ":"
        with self.db.session() as s:
            owners = s.execute(
                select(T.c.claimed_by, T.c.claimed_at).where(T.c.claimed_by.is_not(None)).distinct()
            ).all()
            timeout = self.claim_timeout(s)
            stale: set[str] = set()
            for owner, at in owners:
                host, _, rest = owner.partition(":")
                pid = rest.partition(":")[0]
                if owner.startswith(mine):  # alive, and maybe in another thread's batch
                    dead = owner in self._unreleased
                else:
                    dead = host == HOST and pid.isdigit() and not _pid_alive(int(pid))
                if dead or (at is not None and wall - at > timeout):
                    stale.add(owner)
            count = sum(_give_back(s, owner, self.clock.now()) for owner in stale)
            self._unreleased -= stale
            return count

    # --- E4 -------------------------------------------------------------------------------
    def batch_size(self, session: Session) -> int:
        return self._batch_size or int(settings.get(session, "engine.batch_size"))

    def execute_due(self, now: datetime, stats: PassStats | None = None) -> PassStats:
        """Execute everything due at ``now``, including 0-delay children made meanwhile.

        With only transactional channels (the outbox) a batch is selected, executed and
        written in ONE transaction: nothing can leave before the commit, so no durable
        claim is needed. Outside channels need the claim committed first (E13).
        """
        stats = stats or PassStats(started_at=now)
        with self.db.read() as s:
            channels = self.channels_factory(s, now)
            direct = channels.email.transactional and channels.sms.transactional
            channels.close()
        while not self.should_stop():
            if direct:
                count = self._direct_batch(now, stats)
            else:
                rows = self.claim(now)
                count = len(rows)
                if rows:
                    self.process(rows, now, stats)
            if not count:
                break
            stats.batches += 1
        return stats

    def _due(self, s: Session, now: datetime, columns: list[Any], only: list[int] | None) -> Any:
        runnable = or_(C.c.state == "running", and_(T.c.is_test == true(), C.c.state == "draft"))
        due = (
            select(*columns)
            .join(P, P.c.id == T.c.participant_id)
            .join(C, C.c.id == T.c.campaign_id)
            .where(
                T.c.state == "scheduled",
                T.c.due_at <= now,
                T.c.claimed_by.is_(None),
                P.c.state == "running",
                runnable,
                campaign_faults.workable(now),
            )
            .order_by(T.c.due_at, T.c.id)
            .limit(self.batch_size(s))
        )
        if only is not None:
            due = due.where(ids_in(s, T.c.id, only))
        if self.db.dialect == "postgresql":
            due = due.with_for_update(of=T, skip_locked=True)
        return due

    _ROW = (
        T.c.id,
        T.c.campaign_id,
        T.c.activity_id,
        T.c.participant_id,
        T.c.parent_id,
        T.c.record_id,
        T.c.is_test,
        T.c.due_at,
        T.c.attempts,
        T.c.claimed_by,
    )

    def _direct_batch(self, now: datetime, stats: PassStats, only: list[int] | None = None) -> int:
        rows: list[TraceRow] = []
        try:
            with self.db.session() as s:
                rows = [
                    TraceRow._make(r) for r in s.execute(self._due(s, now, list(self._ROW), only))
                ]
                if not rows:
                    return 0
                ctx = self._context(BatchWork(session=s), rows, now, self._plans(s, rows))
                try:
                    self._execute(ctx, rows)
                finally:
                    ctx.channels.close()
        except CampaignFailed as failure:  # rolled back; now set aside, the rest goes on
            self._isolated(failure, now, stats)
            return len(rows)
        except OperationalError as exc:
            raise EngineFailure(f"the database failed during a batch: {exc.orig}") from exc
        except Exception as exc:  # isolate the culprit: the batch rolled back, redo one by one
            if not rows:
                raise
            log.exception("batch of %d traces failed", len(rows))
            if len(rows) > 1:
                for row in rows:
                    self._direct_batch(now, stats, only=[row.id])
            else:
                self._fail(rows, now, f"{type(exc).__name__}: {exc}")
                stats.executed += 1
                stats.by_state["error"] += 1
            return len(rows)
        self._count(stats, rows, ctx.outcome)
        return len(rows)

    @staticmethod
    def _count(stats: PassStats, rows: list[TraceRow], outcome: Any) -> None:
        stats.executed += len(rows)
        stats.campaigns.update(r.campaign_id for r in rows)
        for state, n in outcome.counts().items():
            stats.by_state[state] += n

    def claim(self, now: datetime) -> list[TraceRow]:
        """Claim up to a batch of due traces under a fresh token (committed); returns them."""
        token = self._token()
        with self.db.session() as s:
            due = self._due(s, now, [T.c.id], None)
            claimed = affected(
                s.execute(
                    update(T)
                    .where(T.c.id.in_(due.scalar_subquery()))
                    .values(claimed_by=token, claimed_at=datetime.now(UTC))
                    .execution_options(synchronize_session=False)
                )
            )
            if not claimed:
                return []
            rows = s.execute(
                select(*self._ROW).where(T.c.claimed_by == token).order_by(T.c.due_at, T.c.id)
            ).all()
            return [TraceRow._make(r) for r in rows]

    def _token(self) -> str:
        """A claim token no earlier batch of this worker used."""
        self._batches += 1
        return f"{self.worker_id}:{self._batches}"

    def _claim_alone(self, row: TraceRow) -> TraceRow | None:
        """Move one trace of a failed batch to a claim of its own, so that redoing it
        (and releasing what it did not settle) leaves the batch's other traces alone."""
        token = self._token()
        with self.db.session() as s:
            moved = s.execute(
                update(T)
                .where(T.c.id == row.id, T.c.claimed_by == row.claimed_by)
                .values(claimed_by=token)
            )
            return row._replace(claimed_by=token) if affected(moved) else None

    def process(self, rows: list[TraceRow], now: datetime, stats: PassStats) -> None:
        try:
            with self.db.read() as s:
                plans = self._plans(s, rows)
        except CampaignFailed as failure:  # give its traces back untouched, go on without it
            self._isolated(failure, now, stats)
            self._release_campaign(rows, failure.campaign_id)
            rest = [r for r in rows if r.campaign_id != failure.campaign_id]
            if rest:
                self.process(rest, now, stats)
            return
        work = BatchWork(db=self.db)
        try:
            try:
                ctx = self._context(work, rows, now, plans)
                try:
                    self._execute(ctx, rows)
                finally:
                    ctx.channels.close()
            except BaseException:
                work.rollback()
                raise
        except OperationalError as exc:
            # The database, not a trace, failed (locked, connection lost): what was not
            # committed is lost. Release the claims and let a later pass try again.
            self._release(rows, now)
            raise EngineFailure(f"the database failed during a batch: {exc.orig}") from exc
        except Exception as exc:  # isolate the culprit: retry the traces one by one
            log.exception("batch of %d traces failed", len(rows))
            left = self._still_claimed(rows)
            self._count_settled(stats, [r for r in rows if r.id not in left])
            for row in rows:
                if row.id not in left:
                    continue  # settled before the failure
                if left[row.id]:  # with the server when it failed: never sent again
                    self._fail([row], now, "Interrupted: delivery unknown")
                    stats.executed += 1
                    stats.by_state["error"] += 1
                elif len(rows) > 1:
                    alone = self._claim_alone(row)
                    if alone is not None:
                        self.process([alone], now, stats)
                else:
                    self._fail([row], now, f"{type(exc).__name__}: {exc}")
                    stats.executed += 1
                    stats.by_state["error"] += 1
            return
        self._count(stats, rows, ctx.outcome)

    def _count_settled(self, stats: PassStats, rows: list[TraceRow]) -> None:
        """Count what a failed batch had finished and committed before its failure."""
        if not rows:
            return
        with self.db.read() as s:
            states = s.scalars(select(T.c.state).where(ids_in(s, T.c.id, [r.id for r in rows])))
            for state in states:
                stats.by_state[state] += 1
        stats.executed += len(rows)
        stats.campaigns.update(r.campaign_id for r in rows)

    def _still_claimed(self, rows: list[TraceRow]) -> dict[int, bool]:
        """The batch's traces still claimed by it, and whether each was handed off."""
        with self.db.read() as s:
            return {
                tid: bool(handoff)
                for tid, handoff in s.execute(
                    select(T.c.id, T.c.handoff).where(T.c.claimed_by == rows[0].claimed_by)
                )
            }

    @staticmethod
    def _plans(s: Session, rows: list[TraceRow]) -> dict[int, CampaignPlan]:
        plans: dict[int, CampaignPlan] = {}
        for cid in sorted({r.campaign_id for r in rows}):
            with _blame(cid, "read this campaign's steps"):
                plans[cid] = load_plan(s, cid)
        return plans

    def _context(
        self, work: BatchWork, rows: list[TraceRow], now: datetime, plans: dict[int, CampaignPlan]
    ) -> BatchContext:
        s = work.session
        budget = float(settings.get(s, "engine.batch_seconds"))
        return BatchContext(
            work=work,
            now=now,
            plans=plans,
            channels=self.channels_factory(s, now),
            max_attempts=int(settings.get(s, "engine.max_attempts")),
            settle=self._settle_rows(rows),
            deadline=time.monotonic() + budget if work.splits else None,
            group_size=int(settings.get(s, "engine.handoff_group")),
        )

    def _execute(self, ctx: BatchContext, rows: list[TraceRow]) -> None:
        groups: dict[int, list[TraceRow]] = defaultdict(list)
        for r in rows:
            groups[r.activity_id].append(r)
        for activity_id, group in groups.items():
            plan = ctx.plans[group[0].campaign_id]
            execute_activity(ctx, plan, plan.activities[activity_id], group)
        ctx.open_ids.clear()
        ctx.settle(ctx)
        s = ctx.session
        token = rows[0].claimed_by
        if token is not None:  # anything the outcome did not settle goes back to the pool
            s.execute(
                update(T)
                .where(T.c.claimed_by == token)
                .values(claimed_by=None, claimed_at=None, handoff=False)
            )
        ctx.work.commit()

    @staticmethod
    def _settle_rows(rows: list[TraceRow]) -> Callable[[BatchContext], None]:
        """Writes the batch's final decisions not yet written: outcomes, E6 children,
        bounces and completed participants (also releasing the claims they settle)."""
        campaign_of = {r.activity_id: r.campaign_id for r in rows}
        participant_of = {r.id: r.participant_id for r in rows}

        def settle(ctx: BatchContext) -> None:
            part = ctx.outcome.take(ctx.open_ids)
            if not part.final and not part.retries:
                return
            s = ctx.session
            part.write(s, ctx.now)
            for activity_id, ids in part.processed_by_activity().items():
                plan = ctx.plans[campaign_of[activity_id]]
                for child_id in plan.activities[activity_id].children:
                    create_child_traces(
                        s, plan.activities[child_id], ids_in(s, T.c.id, ids), ctx.now, ctx.now
                    )
            part.apply_bounces(s, ctx.now)
            participants = sorted({participant_of[tid] for tid in part.final})
            if participants:
                complete_participants(s, ids_in(s, P.c.id, participants), ctx.now)

        return settle

    def _release_campaign(self, rows: list[TraceRow], campaign_id: int) -> None:
        """Unclaim one campaign's traces of a batch: nothing of them has been done."""
        with self.db.session() as s:
            s.execute(
                update(T)
                .where(T.c.claimed_by == rows[0].claimed_by, T.c.campaign_id == campaign_id)
                .values(claimed_by=None, claimed_at=None, handoff=False)
            )

    def _release(self, rows: list[TraceRow], now: datetime) -> None:
        """Give a failed batch back; a message that may have left is never re-sent."""
        try:
            with self.db.session() as s:
                _give_back(s, str(rows[0].claimed_by), now)
        except OperationalError:
            log.warning("could not release claims now; they will be recovered later")
            self._unreleased.add(str(rows[0].claimed_by))

    def _fail(self, rows: list[TraceRow], now: datetime, message: str) -> None:
        with self.db.session() as s:
            s.execute(
                update(T)
                .where(ids_in(s, T.c.id, [r.id for r in rows]))
                .values(
                    state="error",
                    message=message[:2000],
                    done_at=now,
                    claimed_by=None,
                    claimed_at=None,
                    handoff=False,
                )
            )
            complete_ids(s, {r.participant_id for r in rows}, now)


def run_until_idle(executor: Executor, *, max_passes: int = 1000) -> list[PassStats]:
    """Repeat passes until one finds nothing to do (``journeys run --until-idle``)."""
    passes: list[PassStats] = []
    for _ in range(max_passes):
        stats = executor.run_pass()
        passes.append(stats)
        if stats.idle or executor.should_stop():
            break
    return passes


def next_due(db: Database) -> datetime | None:
    """When the next dated trace of a runnable campaign falls due (for the runner)."""
    with db.read() as s:
        return s.scalar(
            select(T.c.due_at)
            .join(C, C.c.id == T.c.campaign_id)
            .where(
                T.c.state == "scheduled",
                T.c.due_at.is_not(None),
                or_(C.c.state == "running", and_(T.c.is_test == true(), C.c.state == "draft")),
            )
            .order_by(T.c.due_at)
            .limit(1)
        )
