"""Interactions reach the database through here: spooled first, applied with retries, then
acted on — so a busy database delays them but never loses them, and never an answer.

A request calls :meth:`Recorder.submit`: the operation is appended to the spool
(:mod:`.spool`) and queued once an fsync covers it, and the request waits a bounded
moment for the outcome (:attr:`Limits.answer_within`) before answering either way — never
before it is on disk. One *recorder* thread applies the queue in order, in groups: one
short transaction for up to ``GROUP`` queued operations (group commit, each in its own
savepoint), so the database's commit rate does not bound the click rate. When the database
refuses — ``database is locked`` after the busy timeout, a lost PostgreSQL connection —
the whole queue waits (the database is the problem, not the operation): 0.25 s, 0.5 s,
1 s, … at most :attr:`Limits.retry_max_delay` between attempts, for as long as the server
runs; what is still waiting when it stops stays in the spool for the next start. An
operation that fails for any other reason (a bug, a broken row) is tried three times and
then left in the spool for the next start, without holding up the rest.

A separate *actor* thread then lets what was recorded act — one engine pass for every
interaction recorded meanwhile, or the embedded app's callback — so a long pass (a
0-delay child sending mail) never holds up recording.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import exc as sa_exc

from .spool import Entry, Spool

if TYPE_CHECKING:
    from .limits import Limits
    from .tracker import Applied, Tracker

log = logging.getLogger(__name__)

FIRST_DELAY = 0.25
MAX_OTHER_FAILURES = 3
GROUP = 256  # operations per transaction (group commit)


@dataclass(frozen=True)
class Submitted:
    """A spooled operation: ``spooled`` once it is on disk, ``recorded`` with its outcome
    once the database has it."""

    recorded: Future[Any]
    spooled: Future[None]


class NotRecordedYet(Exception):
    """The operation is in the spool and will be applied later (the request answered)."""


@dataclass(eq=False)
class _Job:
    entry: Entry
    replayed: bool = False  # from an earlier server's file: maybe applied already
    future: Future[Any] = field(default_factory=Future)
    failures: int = 0


def transient(exc: BaseException) -> bool:
    """A failure of the database rather than of the operation: worth waiting out."""
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and bool(exc.connection_invalidated)


def _resolve(future: Future[Any], value: Any = None, error: BaseException | None = None) -> None:
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
    except InvalidStateError:  # already resolved or given up by its request
        pass


class Recorder:
    def __init__(self, tracker: Tracker, spool: Spool, limits: Limits) -> None:
        self.tracker = tracker
        self.spool = spool
        self.limits = limits
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._left = 0  # failed for another reason: left in the spool for the next start
        self._pause_until = 0.0  # the database is refusing: no attempt before this
        self._outage_failures = 0
        self._single_left = 0  # groups of one while a failing group is being searched
        self._stopping = False
        self._drain_until = 0.0
        self._thread = threading.Thread(
            target=self._run, name="journeys-tracking-recorder", daemon=True
        )
        self._actor = _Actor(tracker)

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Open the spool (adopting what an earlier server left) and start applying."""
        for entry in self.spool.open():
            self._queue.append(_Job(entry, replayed=True))
        self._actor.start()
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Apply what can be applied within ``timeout``; the rest stays in the spool.
        False if the recorder is still inside a database call (it then closes the spool
        when that returns)."""
        with self._cond:
            self._stopping = True
            self._drain_until = time.monotonic() + timeout
            self._cond.notify_all()
        self._thread.join(timeout + 1.0)
        return not self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Operations not yet in the database (queued, or left for the next start)."""
        with self._cond:
            return len(self._queue) + self._left

    # --- the request side -----------------------------------------------------------------
    def submit(self, op: dict[str, Any]) -> Submitted:
        """Spool ``op`` and queue it once it is on disk. ``recorded`` resolves with its
        outcome once it is in the database — and, when it made steps due (a 0-delay
        child of a click), once those have run too (E7); ``spooled`` once it is on disk.
        Writes to the spool file (no fsync wait): call it off the event loop.
        """
        job = _Job(Entry(uuid.uuid4().hex, op))
        spooled: Future[None] = Future()

        def safe() -> None:
            with self._cond:
                self._queue.append(job)
                self._cond.notify_all()
            _resolve(spooled)

        try:
            self.spool.add(job.entry, on_safe=safe)
        except OSError as exc:  # a full or vanished disk: still recorded, if not crash-proof
            log.error("tracking spool: cannot write (%s); the interaction is kept in memory", exc)
            safe()
        return Submitted(job.future, spooled)

    # --- the recorder thread --------------------------------------------------------------
    def _next(self) -> _Job | None:
        """The next job, once the database may be asked again; None: stop now."""
        with self._cond:
            while True:
                now = time.monotonic()
                if self._stopping and (not self._queue or now >= self._drain_until):
                    return None
                if self._queue and self._pause_until <= now:
                    return self._queue[0]
                wake = self._pause_until if self._queue else None
                if self._stopping:
                    wake = min(wake or self._drain_until, self._drain_until)
                self._cond.wait(None if wake is None else max(0.01, wake - now))

    def _run(self) -> None:
        try:
            while (group := self._group()) is not None:
                try:
                    with self.spool.turn():
                        results = self.tracker.apply_group(
                            [(job.entry.op, job.replayed) for job in group]
                        )
                except Exception as exc:
                    if transient(exc):  # the database itself: the whole queue waits
                        self._outage(exc)
                        continue
                    if len(group) > 1:  # outside any one operation: find the culprit
                        log.error("tracking: a group failed; trying it one by one", exc_info=exc)
                        self._single_left = len(group)
                        continue
                    results = [exc]
                self._settle(group, results)
        finally:
            self._actor.stop()
            self.spool.close()

    def _group(self) -> list[_Job] | None:
        """The jobs at the head of the queue, up to :data:`GROUP`; None: stop now."""
        if self._next() is None:
            return None
        with self._cond:
            size = GROUP
            if self._single_left:
                self._single_left -= 1
                size = 1
            return [self._queue[i] for i in range(min(size, len(self._queue)))]

    def _settle(self, group: list[_Job], results: list[Any]) -> None:
        """Recorded jobs leave the queue and are acted on; one that failed by itself stays
        at the head for another try, and after three is left in the spool."""
        applied: list[tuple[_Job, Any]] = []
        kept: list[_Job] = []
        for job, result in zip(group, results, strict=True):
            if not isinstance(result, Exception):
                applied.append((job, result))
                continue
            job.failures += 1
            log.error(
                "tracking: recording %s failed (attempt %d)",
                job.entry.op.get("kind"),
                job.failures,
                exc_info=result,
            )
            if job.failures < MAX_OTHER_FAILURES:
                kept.append(job)
            else:
                with self._cond:
                    self._left += 1
                _resolve(job.future, error=NotRecordedYet())
        self.spool.done(job.entry.id for job, _ in applied)
        for job, result in applied:
            if not result.interaction.triggered:  # nothing to wait for: answer now
                _resolve(job.future, result.value)
        with self._cond:
            for _ in group:
                self._queue.popleft()
            self._queue.extendleft(reversed(kept))
            if kept:
                self._pause_until = time.monotonic() + FIRST_DELAY * kept[0].failures
            if self._outage_failures:
                log.warning(
                    "tracking: the database takes interactions again (%d waiting)",
                    len(self._queue),
                )
            self._outage_failures = 0
        for job, result in applied:
            self._actor.hand(job.future, result)

    def _outage(self, exc: Exception) -> None:
        with self._cond:
            if not self._outage_failures:
                log.warning(
                    "tracking: the database is not taking interactions (%s); they are "
                    "kept in the spool and retried",
                    str(getattr(exc, "orig", None) or exc).splitlines()[0],
                )
            delay = min(self.limits.retry_max_delay, FIRST_DELAY * 2**self._outage_failures)
            self._outage_failures += 1
            self._pause_until = time.monotonic() + delay


class _Actor:
    """Runs :meth:`Tracker.act` for whatever was recorded meanwhile, one batch at a time."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self._cond = threading.Condition()
        self._items: list[tuple[Future[Any], Applied]] = []
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="journeys-tracking-actor", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def hand(self, future: Future[Any], applied: Applied) -> None:
        with self._cond:
            self._items.append((future, applied))
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(10.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._stopping:
                    self._cond.wait()
                items, self._items = self._items, []
                if not items and self._stopping:
                    return
            try:
                self.tracker.act([applied.interaction for _, applied in items])
            except Exception:  # recorded anyway; the next engine pass picks the work up
                log.exception("tracking: acting on recorded interactions failed")
            finally:
                for future, applied in items:
                    _resolve(future, applied.value)
