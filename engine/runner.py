"""The embedded engine: passes driven by APScheduler in a background thread.

There is one scheduler job, the pass. The traces table is the timer store: after each pass
the job is re-armed for the next due trace (or the poll interval, whichever is sooner),
and :meth:`EngineRunner.wake` brings the next pass forward when new work appears.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger

from . import settings
from .clock import Clock, SystemClock
from .db import Database
from .events import EngineEvents
from .executor import Executor, PassStats, next_due

log = logging.getLogger(__name__)
JOB_ID = "journeys-pass"


class EngineRunner:
    def __init__(
        self, db: Database, clock: Clock | None = None, *, executor: Executor | None = None
    ) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.events = EngineEvents()
        self._stopping = threading.Event()
        self.executor = executor or Executor(db, self.clock, should_stop=self._stopping.is_set)
        self._scheduler: BackgroundScheduler | None = None
        self._paused = False
        self._last_sync: datetime | None = None
        self.last_pass: PassStats | None = None
        self.last_pass_at: datetime | None = None
        self.passes = 0
        with db.session() as s:
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
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        sched.add_job(
            self._pass, DateTrigger(run_date=datetime.now(UTC)), id=JOB_ID, replace_existing=True
        )
        sched.start()
        self._scheduler = sched
        self.events.state_changed.emit("running")

    def stop(self) -> None:
        """Finish the batch under way, then stop; no thread is left behind."""
        sched, self._scheduler = self._scheduler, None
        if sched is None:
            return
        self._stopping.set()
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

    # --- the job -------------------------------------------------------------------------
    def _pass(self) -> None:
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
            log.exception("engine pass failed")
            self.events.failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            self._rearm()

    def _rearm(self) -> None:
        if self._stopping.is_set() or self._scheduler is None:
            return
        wall = datetime.now(UTC)
        when = wall + self.poll
        try:
            due = next_due(self.db)
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
