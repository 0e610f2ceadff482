"""The embedded engine: passes driven by APScheduler in a background thread.

There is one scheduler job, the pass. The traces table is the timer store: after each pass
the job is re-armed for the next due trace (or the poll interval, whichever is sooner),
and :meth:`EngineRunner.wake` brings the next pass forward when new work appears.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from . import settings
from .clock import Clock, SystemClock
from .db import Database, is_busy
from .events import EngineEvents
from .executor import Executor, PassStats, next_due

log = logging.getLogger(__name__)
JOB_ID = "journeys-pass"
# A pass that met another process's write lock is tried again this soon, not at the poll.
BUSY_RETRY = timedelta(seconds=3)
BUSY_RETRYING = "the database is busy: another Journeys process is writing; retrying"
MAILBOX_JOB_ID = "journeys-mailbox"


class EngineRunner:
    def __init__(
        self,
        db: Database,
        clock: Clock | None = None,
        *,
        executor: Executor | None = None,
        tracking: bool = False,
    ) -> None:
        """``tracking`` also serves the tracking server (the app and ``journeys worker``
        do; tests and extra workers on one host leave it to a single process)."""
        self.db = db
        self._tracking_wanted = tracking
        self.mailbox_error: str | None = None
        self.tracking: Any = None
        self.tracking_error: str | None = None
        self.clock = clock or SystemClock()
        self.events = EngineEvents()
        self._stopping = threading.Event()
        self.executor = executor or Executor(db, self.clock, should_stop=self._stopping.is_set)
        # Its own executor: the mailbox thread runs the children of what it records.
        self._mailbox_executor = Executor(db, self.clock, should_stop=self._stopping.is_set)
        self._scheduler: BackgroundScheduler | None = None
        self._paused = False
        self._last_sync: datetime | None = None
        self.last_pass: PassStats | None = None
        self.last_pass_at: datetime | None = None
        self.passes = 0
        with db.read() as s:
            self.poll = timedelta(seconds=int(settings.get(s, "engine.poll_seconds")))
            self.sync_every = timedelta(
                minutes=int(settings.get(s, "engine.sync_interval_minutes"))
            )

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if self._scheduler is not None:
            return
        self._stopping.clear()
        sched = BackgroundScheduler(
            # The mailbox has its own thread: a dead IMAP server must not delay passes.
            executors={
                "default": ThreadPoolExecutor(max_workers=1),
                "mailbox": ThreadPoolExecutor(max_workers=1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        sched.add_job(
            self._pass, DateTrigger(run_date=datetime.now(UTC)), id=JOB_ID, replace_existing=True
        )
        with self.db.read() as s:
            imap_configured = settings.get(s, "imap.url") is not None
            mailbox_every = int(settings.get(s, "imap.poll_seconds"))
        if imap_configured:
            sched.add_job(
                self._poll_mailbox,
                "interval",
                seconds=mailbox_every,
                id=MAILBOX_JOB_ID,
                executor="mailbox",
                next_run_time=datetime.now(UTC),
            )
        sched.start()
        self._scheduler = sched
        if self._tracking_wanted:
            self._start_tracking()
        self.events.state_changed.emit("running")

    def _start_tracking(self) -> None:
        """Serve opens, clicks and opt-outs; a taken port is reported, not fatal."""
        from .errors import EngineFailure
        from .tracking_server import TrackingServer

        with self.db.read() as s:
            host = settings.get(s, "tracking.bind")
            port = int(settings.get(s, "tracking.port"))
        server = TrackingServer(
            self.db, self.clock, host, port, on_interaction=self._on_interaction
        )
        try:
            server.start()
        except EngineFailure as exc:
            self.tracking_error = str(exc)
            log.error("tracking server not started: %s", exc)
            self.events.failed.emit(f"tracking server not started: {exc}")
            return
        self.tracking = server

    def _on_interaction(self, result: Any) -> None:
        # Called from a request thread after its commit: wake the pass so 0-delay
        # children run now, and let the GUI refresh the counters.
        self.wake()
        if result.campaigns:
            self.events.counters_changed.emit(set(result.campaigns))

    def stop(self) -> None:
        """Finish the batch under way, then stop; no thread is left behind."""
        sched, self._scheduler = self._scheduler, None
        if sched is None:
            return
        self._stopping.set()
        if self.tracking is not None:
            self.tracking.stop()
            self.tracking = None
        sched.shutdown(wait=True)
        self.events.state_changed.emit("stopped")

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True
        self.events.state_changed.emit("paused")

    def resume(self) -> None:
        self._paused = False
        self.events.state_changed.emit("running")
        self.wake()

    def wake(self, at: datetime | None = None) -> None:
        """Run the next pass now (or at ``at`` if that is sooner than planned)."""
        sched = self._scheduler
        if sched is None or self._stopping.is_set():
            return
        when = at or datetime.now(UTC)
        job = sched.get_job(JOB_ID)
        if job is not None and job.next_run_time is not None and job.next_run_time <= when:
            return
        try:
            sched.add_job(self._pass, DateTrigger(run_date=when), id=JOB_ID, replace_existing=True)
        except Exception:  # scheduler shutting down
            log.debug("wake ignored", exc_info=True)

    # --- the jobs ------------------------------------------------------------------------
    def _poll_mailbox(self) -> None:
        """Read replies and bounces; report a failure once, not at every poll."""
        from .inbound import poll_mailbox

        if self._paused or self._stopping.is_set():
            return
        result = poll_mailbox(self.db, self.clock, executor=self._mailbox_executor)
        if result.error and result.error != self.mailbox_error:
            self.events.failed.emit(f"mailbox: {result.error}")
        self.mailbox_error = result.error
        if result.campaigns:
            self.events.counters_changed.emit(set(result.campaigns))

    def _pass(self) -> None:
        soon: timedelta | None = None
        try:
            if not self._paused:
                now = self.clock.now()
                do_sync = self._last_sync is None or now - self._last_sync >= self.sync_every
                stats = self.executor.run_pass(sync=do_sync)
                if do_sync:
                    self._last_sync = now
                self.last_pass, self.last_pass_at, self.passes = stats, now, self.passes + 1
                self.events.pass_finished.emit(stats)
                if stats.campaigns:
                    self.events.counters_changed.emit(set(stats.campaigns))
        except Exception as exc:  # keep the engine alive; say what happened
            if is_busy(exc):  # another process writes: nothing lost, try again shortly
                log.warning("engine pass postponed: %s", BUSY_RETRYING)
                self.events.failed.emit(BUSY_RETRYING)
                soon = BUSY_RETRY
            else:
                log.exception("engine pass failed")
                self.events.failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            self._rearm(soon)

    def _rearm(self, soon: timedelta | None = None) -> None:
        """Re-arm the pass for the next due trace or the poll; ``soon`` (after a busy
        database) is a fixed retry, so due work does not hammer a held lock."""
        if self._stopping.is_set() or self._scheduler is None:
            return
        wall = datetime.now(UTC)
        when = wall + min(self.poll, soon or self.poll)
        try:
            due = None if soon else next_due(self.db)
        except Exception:
            due = None
        if due is not None:
            # Business time may differ from wall time (an injected clock): translate.
            lag = due - self.clock.now()
            when = min(when, wall + max(lag, timedelta(0)))
        try:
            self._scheduler.add_job(
                self._pass, DateTrigger(run_date=when), id=JOB_ID, replace_existing=True
            )
        except Exception:
            log.debug("re-arm ignored", exc_info=True)
