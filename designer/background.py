"""Long work off the GUI thread: a callable in a QThread, with progress, cancel and outcome.

::

    task = BackgroundTask(partial(run_import, db, path), name="CSV import")
    task.progressed.connect(self._on_progress)   # whatever the work reports
    task.succeeded.connect(self._on_done)        # its return value
    task.failed.connect(self._on_failed)         # (message for a person, the exception)
    task.cancelled.connect(self._on_cancelled)
    task.start()

The work receives a :class:`TaskContext`: ``ctx.report(value)`` publishes progress and
raises :class:`Cancelled` once ``task.cancel()`` was asked, so an engine progress
callback that calls it is also the cancel point; ``ctx.check()`` only checks. The work
opens its own database session (sessions never cross threads) and returns plain data,
never ORM objects.

Every public signal is emitted on the GUI thread (the worker only posts to the task),
and the outcome only once the thread has ended: a slot that sees ``succeeded`` can rely
on ``is_running()`` being False. Progress is coalesced: a burst of reports reaches the
GUI as its latest value.

A ``QThread`` destroyed while it runs aborts the process, so a running task is kept
alive here whatever happens to its owner. An owner closing calls :meth:`shutdown`: ask
to cancel, stop telling the owner anything, wait a little; work that cannot stop at once
(a network call in flight) finishes on its own, unseen. When the application quits, and
at interpreter exit, every task still running is cancelled and waited for.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal

from engine.db import database_message
from engine.errors import JourneysError

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside the work when cancel was asked; the task ends as cancelled."""


class TaskContext:
    """What the work sees of its task: the cancel flag and the progress channel."""

    def __init__(self, post: Callable[[object], None]) -> None:
        self.cancel_event = threading.Event()
        self._post = post

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` when cancel was asked."""
        if self.cancel_event.is_set():
            raise Cancelled

    def report(self, value: object) -> None:
        """Publish ``value`` as progress; raises :class:`Cancelled` when cancel was asked."""
        self.check()
        self._post(value)


def user_message(exc: BaseException) -> str:
    """What a person reads about ``exc``: the engine's own words, else a short summary."""
    if isinstance(exc, JourneysError):
        return str(exc)
    if (said := database_message(exc)) is not None:
        return said
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = str(exc).strip()
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"unexpected error ({detail}); the details are in the log"


def _caused_by_cancel(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, Cancelled):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class _Worker(QThread):
    """Runs the work once; the outcome is read by the task after the thread ended."""

    def __init__(self, work: Callable[[TaskContext], Any], ctx: TaskContext, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.work = work
        self.ctx = ctx
        self.outcome = "running"  # then ok | error | cancelled
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.work(self.ctx)
            self.outcome = "ok"
        except BaseException as exc:  # everything must reach the GUI, nothing may escape
            if _caused_by_cancel(exc):
                self.outcome = "cancelled"
            else:
                if not isinstance(exc, JourneysError):
                    log.error("%s failed", self.objectName(), exc_info=exc)
                self.error = exc
                self.outcome = "error"


# Tasks whose thread may still run: the reference that keeps a QThread from being
# destroyed while it runs when its owner is gone. Only touched on the GUI thread.
_running: set[BackgroundTask] = set()
_hooked: set[str] = set()  # "atexit", and the application whose aboutToQuit is hooked


def running_tasks() -> list[BackgroundTask]:
    """Tasks started and not yet finished (their owner may be gone)."""
    return list(_running)


def shutdown_all() -> None:
    """Cancel every running task and wait for each thread to end (on quit and at exit)."""
    tasks = list(_running)
    for task in tasks:
        task.cancel()  # all at once, so they stop side by side
    for task in tasks:
        task.shutdown(None)


def _install_hooks() -> None:
    if "atexit" not in _hooked:
        atexit.register(shutdown_all)
        _hooked.add("atexit")
    app = QCoreApplication.instance()
    if app is not None and f"app-{id(app)}" not in _hooked:
        app.aboutToQuit.connect(shutdown_all)
        _hooked.add(f"app-{id(app)}")


class BackgroundTask(QObject):
    """One run of ``work(ctx)`` in its own thread; see the module docstring."""

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, object)  # message for a person, the exception
    cancelled = Signal()
    finished = Signal()  # after succeeded, failed or cancelled
    _posted = Signal()  # worker thread -> GUI thread: new progress is waiting

    def __init__(self, work: Callable[[TaskContext], Any], *, name: str = "background task"):
        # No parent: the owner's destruction must not destroy a running thread.
        super().__init__()
        self.name = name
        self.ctx = TaskContext(self._post)
        self._worker = _Worker(work, self.ctx, name)
        self._worker.finished.connect(self._on_thread_finished)
        self._posted.connect(self._deliver_progress)
        self._lock = threading.Lock()
        self._latest: object = None
        self._pending = False
        self._started = False
        self._done = False
        self._detached = False

    # --- owner API (GUI thread) ------------------------------------------------------
    def start(self) -> None:
        if self._started:
            raise RuntimeError(f"{self.name} was already started")
        self._started = True
        _install_hooks()
        _running.add(self)
        self._worker.start()

    def cancel(self) -> None:
        """Ask the work to stop at its next check; it ends as cancelled if it does."""
        self.ctx.cancel_event.set()

    @property
    def cancel_requested(self) -> bool:
        return self.ctx.cancelled

    def is_running(self) -> bool:
        """True while the worker thread runs."""
        return self._worker.isRunning()

    @property
    def outcome(self) -> str:
        """How the work ended: ``running`` until then, ``ok``, ``error`` or ``cancelled``
        (also known to a detached task, whose outcome signals are not emitted)."""
        return self._worker.outcome

    @property
    def done(self) -> bool:
        """True once the outcome was delivered (or would have been, when detached)."""
        return self._done

    def wait(self, msecs: int | None = None) -> bool:
        """Block until the thread ended (at most ``msecs``); then deliver the outcome."""
        if not self._started:
            return True
        ended = self._worker.wait() if msecs is None else self._worker.wait(max(0, msecs))
        if ended:
            self._finish()
        return bool(ended)

    def shutdown(self, wait_ms: int | None = 0) -> bool:
        """Cancel, stop emitting, wait up to ``wait_ms`` (None: no limit); True when ended.

        What an owner calls when it closes. A thread still running afterwards stays
        referenced here until it ends, so nothing is destroyed while it runs.
        """
        self._detached = True
        self.cancel()
        return self.wait(wait_ms)

    # --- worker side -----------------------------------------------------------------
    def _post(self, value: object) -> None:
        with self._lock:
            self._latest = value
            if self._pending:
                return
            self._pending = True
        self._posted.emit()

    # --- GUI thread ------------------------------------------------------------------
    def _deliver_progress(self) -> None:
        with self._lock:
            value, pending, self._pending = self._latest, self._pending, False
        if pending and not self._detached:
            self.progressed.emit(value)

    def _on_thread_finished(self) -> None:
        self._worker.wait()  # "finished" comes just before the thread really ends
        self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        _running.discard(self)
        if self._detached:
            return
        self._deliver_progress()  # the last report, if it is still queued
        worker = self._worker
        if worker.outcome == "ok":
            self.succeeded.emit(worker.result)
        elif worker.outcome == "cancelled":
            self.cancelled.emit()
        else:
            error = worker.error or RuntimeError("the work ended without an outcome")
            self.failed.emit(user_message(error), error)
        self.finished.emit()
