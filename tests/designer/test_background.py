"""designer.background: work off the GUI thread, progress, cancel, errors and safe shutdown."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

from designer.background import (
    BackgroundTask,
    Cancelled,
    TaskContext,
    running_tasks,
    shutdown_all,
    user_message,
)
from engine.errors import UserError, ValidationError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def no_task_left(qtbot: QtBot) -> Any:
    """Every test must leave no thread running behind it."""
    yield
    qtbot.waitUntil(lambda: not running_tasks(), timeout=10_000)


class Recorder(QObject):
    """A GUI-thread receiver that notes which thread each slot ran on."""

    def __init__(self, task: BackgroundTask) -> None:
        super().__init__()
        self.task = task
        self.events: list[tuple[str, object, bool, bool]] = []
        task.progressed.connect(self.on_progress)
        task.succeeded.connect(self.on_succeeded)
        task.failed.connect(self.on_failed)
        task.cancelled.connect(self.on_cancelled)

    def _note(self, kind: str, value: object) -> None:
        on_gui = threading.current_thread() is threading.main_thread()
        self.events.append((kind, value, on_gui, self.task.is_running()))

    def on_progress(self, value: object) -> None:
        self._note("progress", value)

    def on_succeeded(self, value: object) -> None:
        self._note("succeeded", value)

    def on_failed(self, message: str, error: object) -> None:
        self._note("failed", (message, error))

    def on_cancelled(self) -> None:
        self._note("cancelled", None)

    def kinds(self) -> list[str]:
        return [e[0] for e in self.events]


def test_work_runs_off_the_gui_thread_and_its_outcome_arrives_on_it(qtbot: QtBot) -> None:
    ran_on: list[threading.Thread] = []

    def work(ctx: TaskContext) -> dict[str, int]:
        ran_on.append(threading.current_thread())
        for i in range(5):
            ctx.report(i)
        return {"answer": 42}

    task = BackgroundTask(work, name="answer")
    recorder = Recorder(task)
    with qtbot.waitSignal(task.finished, timeout=5000):
        task.start()
    assert ran_on and ran_on[0] is not threading.main_thread()
    assert recorder.kinds()[-1] == "succeeded"
    # Every slot ran on the GUI thread; the outcome came after the thread had ended.
    assert all(on_gui for _, _, on_gui, _ in recorder.events)
    assert recorder.events[-1] == ("succeeded", {"answer": 42}, True, False)
    # Progress is coalesced but ordered, and its last value always arrives.
    values = [v for kind, v, _, _ in recorder.events if kind == "progress"]
    assert values and values == sorted(values) and values[-1] == 4
    assert task.done and task not in running_tasks()


def test_the_gui_thread_keeps_running_while_the_work_does(qtbot: QtBot) -> None:
    release = threading.Event()
    gui_ticks: list[int] = []

    def work(ctx: TaskContext) -> str:
        # Busy Python work, holding the GIL as much as the interpreter lets it.
        while not release.is_set():
            sum(range(10_000))
        return "released"

    task = BackgroundTask(work, name="busy")
    task.start()
    # The GUI thread runs its event loop meanwhile: the work only ends when it says so.
    qtbot.waitUntil(lambda: gui_ticks.append(1) or len(gui_ticks) > 20, timeout=5000)
    assert task.is_running()
    with qtbot.waitSignal(task.succeeded, timeout=5000) as outcome:
        release.set()
    assert outcome.args == ["released"]


def test_cancel_stops_the_work_at_its_next_report(qtbot: QtBot) -> None:
    reached: list[int] = []

    def work(ctx: TaskContext) -> str:
        for i in range(100_000):
            ctx.report(i)
            reached.append(i)
            time.sleep(0.002)  # a slice of simulated work
        return "finished anyway"

    task = BackgroundTask(work, name="cancellable")
    recorder = Recorder(task)
    with qtbot.waitSignal(task.progressed, timeout=5000):
        task.start()
    with qtbot.waitSignal(task.finished, timeout=5000):
        task.cancel()
    assert task.cancel_requested
    assert recorder.kinds()[-1] == "cancelled"
    assert "succeeded" not in recorder.kinds()
    assert len(reached) < 100_000


def test_a_cancel_wrapped_by_the_work_still_counts_as_cancelled(qtbot: QtBot) -> None:
    def work(ctx: TaskContext) -> None:
        ctx.cancel_event.set()
        try:
            ctx.check()
        except Cancelled as exc:
            raise RuntimeError("the engine wrapped it") from exc

    task = BackgroundTask(work)
    with qtbot.waitSignal(task.cancelled, timeout=5000):
        task.start()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (UserError("'x' is not a valid phone number"), "'x' is not a valid phone number"),
        (FileNotFoundError(2, "No such file or directory", "/nope.csv"),
         "No such file or directory (/nope.csv)"),
        (ZeroDivisionError("division by zero"),
         "unexpected error (ZeroDivisionError: division by zero); the details are in the log"),
    ],
)  # fmt: skip
def test_an_error_in_the_work_reaches_the_gui_with_a_message_for_a_person(
    qtbot: QtBot, error: Exception, message: str
) -> None:
    def work(ctx: TaskContext) -> None:
        raise error

    task = BackgroundTask(work)
    recorder = Recorder(task)
    with qtbot.waitSignal(task.failed, timeout=5000) as failed:
        task.start()
    assert failed.args == [message, error]
    assert recorder.events[-1][2:] == (True, False)  # on the GUI thread, thread ended


def test_validation_problems_travel_whole(qtbot: QtBot) -> None:
    from engine.errors import Problem

    problems = [Problem("row 3, column email", "'bob' is not a valid email address")]

    def work(ctx: TaskContext) -> None:
        raise ValidationError(problems, title="people.csv: nothing imported")

    task = BackgroundTask(work)
    with qtbot.waitSignal(task.failed, timeout=5000) as failed:
        task.start()
    error = failed.args[1]
    assert isinstance(error, ValidationError) and error.problems == problems


def test_user_message_names_the_database_problem_not_the_sql() -> None:
    from sqlalchemy.exc import OperationalError

    exc = OperationalError("INSERT INTO contact …", {}, Exception("database is locked"))
    assert user_message(exc) == "database error: database is locked"


def test_an_owner_gone_mid_work_neither_aborts_nor_hears_the_outcome(qtbot: QtBot) -> None:
    release = threading.Event()
    finished_work = threading.Event()

    def work(ctx: TaskContext) -> str:
        release.wait(10)  # ignores cancel, like a network call in flight
        finished_work.set()
        return "late"

    task = BackgroundTask(work, name="uncancellable")
    recorder = Recorder(task)
    task.start()
    assert not task.shutdown(50)  # asked to stop, still running: it is detached
    assert task in running_tasks() and task.is_running()
    # The owner and every reference to the task go away while its thread runs.
    del task
    recorder.deleteLater()
    del recorder
    gc.collect()
    (kept,) = running_tasks()
    assert kept.is_running()
    release.set()
    qtbot.waitUntil(lambda: not running_tasks(), timeout=5000)
    assert finished_work.is_set()
    assert not kept.is_running()


def test_shutdown_all_cancels_and_waits_for_every_task(qtbot: QtBot) -> None:
    stopped: list[str] = []

    def work(name: str, ctx: TaskContext) -> None:
        try:
            while True:
                ctx.report(name)
                time.sleep(0.005)
        finally:
            stopped.append(name)

    from functools import partial

    tasks = [BackgroundTask(partial(work, name)) for name in ("a", "b")]
    for task in tasks:
        task.start()
    qtbot.waitUntil(lambda: all(t.is_running() for t in tasks), timeout=5000)
    shutdown_all()
    assert sorted(stopped) == ["a", "b"]
    assert not any(t.is_running() for t in tasks) and not running_tasks()


QUIT_SCRIPT = """
import os, sys, threading
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, {repo!r})
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog
from designer.background import BackgroundTask

app = QApplication([])
dialog = QDialog()
done = threading.Event()

def work(ctx):
    # Does not look at cancel: a network call that must run out its timeout.
    done.wait(0.8)
    print("work ended", flush=True)
    return 1

task = BackgroundTask(work, name="slow send")
task.succeeded.connect(dialog.accept)
task.start()
del task
if {event_loop}:
    QTimer.singleShot(100, dialog.deleteLater)
    QTimer.singleShot(150, app.quit)
    app.exec()
print("leaving", flush=True)
"""


@pytest.mark.parametrize("event_loop", [True, False], ids=["app-quits", "script-ends"])
def test_quitting_while_work_runs_waits_for_it_instead_of_aborting(event_loop: bool) -> None:
    script = textwrap.dedent(QUIT_SCRIPT).format(repo=str(REPO), event_loop=event_loop)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert "Destroyed while thread" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert "work ended" in proc.stdout
