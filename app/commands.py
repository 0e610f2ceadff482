"""What each ``journeys`` command does; argument parsing lives in :mod:`app.cli`."""

from __future__ import annotations

import argparse
import contextlib
import functools
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import campaign_files, campaigns, gallery, records, reporting, retry
from engine.api import figures, lookups
from engine.api import settings as api_settings
from engine.api.interactions import record_on_message
from engine.clock import Clock, FixedClock, SystemClock, parse_instant
from engine.db import Database
from engine.errors import EngineFailure, UserError
from engine.executor import Executor, run_until_idle
from engine.fields import TARGET_MODELS

from .output import OutputClosed, print_json, print_listing, print_table

if TYPE_CHECKING:
    from .serve_group import ServeGroup


class Ctx:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.clock: Clock
        if args.db is not None and not args.db.strip():
            raise UserError("--db: the database URL is empty (e.g. sqlite:///path/to/file.db)")
        if args.now is not None:  # --now '' must not quietly mean the real clock
            try:
                self.clock = FixedClock(parse_instant(args.now))
            except ValueError as exc:
                raise UserError(f"--now: {exc}") from None
        else:
            self.clock = SystemClock()
        self._db: Database | None = None
        self.read_only = bool(getattr(args, "read_only", False))

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.args.db, read_only=self.read_only)
        return self._db

    def now(self):  # type: ignore[no-untyped-def]
        return self.clock.now()

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def dispatch(command: str, args: argparse.Namespace) -> int:
    handler = HANDLERS[command]
    ctx = Ctx(args)
    try:
        return handler(ctx) or 0
    finally:
        ctx.close()


# --- handlers -------------------------------------------------------------------------------


def cmd_gui(ctx: Ctx) -> int:
    from app.gui import run_gui

    return run_gui(ctx.args.db, ctx.read_only)


def cmd_dashboard(ctx: Ctx) -> int:
    from app.gui import run_dashboard

    campaign_id = None
    if ctx.args.campaign:
        with ctx.db.read() as s:
            campaign_id = campaigns.find_campaign(s, ctx.args.campaign).id
    return run_dashboard(ctx.db, ctx.clock, campaign_id)


def cmd_init(ctx: Ctx) -> int:
    db = ctx.db
    print(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")
    return 0


def cmd_import(ctx: Ctx) -> int:
    doc = campaign_files.load_file(Path(ctx.args.file))
    with ctx.db.session() as s:
        c = campaign_files.import_document(
            s, doc, trust=ctx.args.trust, now=ctx.now(), name=ctx.args.name
        )
        cid, name = c.id, c.name
    untrusted = lookups.untrusted_actions(ctx.db, cid)
    _say_if_renamed(ctx.args.name or doc["campaign"]["name"], name)
    if untrusted:
        print(
            f"note: {untrusted} execute_code/webhook action(s) imported disabled; "
            "re-import with --trust to enable them",
            file=sys.stderr,
        )
    print(f"imported {name!r} as draft campaign {cid}")
    return 0


def cmd_export(ctx: Ctx) -> int:
    with ctx.db.read() as s:
        c = campaigns.find_campaign(s, ctx.args.campaign)
        text = campaign_files.dumps(campaign_files.export_document(s, c.id))
    if ctx.args.output:
        out = Path(ctx.args.output)
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {out}: {exc.strerror}") from None
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_templates(ctx: Ctx) -> int:
    items = gallery.list_templates()
    print_listing(items, ctx.args.json, ["key", "name", "target", "description"])
    return 0


def _say_if_renamed(wanted: str, name: str) -> None:
    note = campaign_files.renamed_note(wanted, name)
    if note:
        print(f"note: {note}", file=sys.stderr)


def cmd_new(ctx: Ctx) -> int:
    doc = gallery.load_template(ctx.args.template)
    with ctx.db.session() as s:
        c = campaign_files.import_document(s, doc, trust=True, now=ctx.now(), name=ctx.args.name)
        cid, name = c.id, c.name
    _say_if_renamed(ctx.args.name or doc["campaign"]["name"], name)
    print(f"created {name!r} from template {ctx.args.template!r} as draft campaign {cid}")
    return 0


def cmd_records(ctx: Ctx) -> int:
    model = ctx.args.model
    valid = (*TARGET_MODELS, "user")
    if model not in valid:
        raise UserError(f"unknown model {model!r} (expected one of {', '.join(valid)})")
    if ctx.args.records_command == "import":
        path = Path(ctx.args.csv)
        progress = _progress if sys.stderr.isatty() else None
        with ctx.db.session() as s:
            n = records.import_csv(s, model, path, now=ctx.now(), progress=progress)
        if progress:
            sys.stderr.write("\n")
        print(f"imported {n} {model} record(s) from {path}")
        return 0
    with ctx.db.read() as s:
        rows = records.list_records(s, model, limit=ctx.args.limit)
    if ctx.args.json:
        print_json(rows)
    else:
        cols = ["id", "name", "email", "phone"] if model != "user" else ["id", "name", "email"]
        if model == "event_registration":
            cols = ["id", "event", "name", "email", "state"]
        elif model in ("contact", "lead"):
            cols += ["tags"]
        print_table(rows, cols, empty=f"(no {model} records)")
    return 0


def _progress(done: int, total: int) -> None:
    sys.stderr.write(f"\r  {done}/{total} rows")
    sys.stderr.flush()


def cmd_list(ctx: Ctx) -> int:
    with ctx.db.read() as s:
        rows = reporting.campaign_list(s)
    keys = ("id", "name", "state", "target", "participants", "archived")
    if ctx.args.json:
        print_json([{k: r[k] for k in keys} for r in rows])
    else:
        print_table(
            [{**r, "state": r["state"] + (" (archived)" if r["archived"] else "")} for r in rows],
            ["id", "name", "state", "target", "participants"],
            empty="(no campaign yet: try `journeys templates` and `journeys new`)",
        )
    return 0


def cmd_start(ctx: Ctx) -> int:
    with ctx.db.session() as s:
        c = campaigns.find_campaign(s, ctx.args.campaign)
        joined = campaigns.start(s, c, ctx.now())
        name = c.name
    print(f"{name!r} is running; {joined} record(s) joined")
    return 0


def cmd_stop(ctx: Ctx) -> int:
    with ctx.db.session() as s:
        c = campaigns.find_campaign(s, ctx.args.campaign)
        campaigns.stop(s, c, ctx.now())
        name = c.name
    print(f"{name!r} is stopped; scheduled steps wait for a restart")
    return 0


def cmd_retry(ctx: Ctx) -> int:
    with ctx.db.session() as s:
        c = campaigns.find_campaign(s, ctx.args.campaign)
        result = retry.retry_traces(
            s,
            c,
            ctx.now(),
            activity_key=ctx.args.activity,
            every_error=ctx.args.state == "error",
        )
        name = c.name
    n = result.retried
    print(f"{n} trace{'' if n == 1 else 's'} of {name!r} put back to scheduled, due now")
    if n and not result.campaign_running:
        print(f"{name!r} is not running: they wait until it is started", file=sys.stderr)
    return 0


def _stats_dict(stats: Any) -> dict[str, Any]:
    return {
        "at": stats.started_at.isoformat(),
        "joined": stats.joined,
        "removed": stats.removed,
        "executed": stats.executed,
        "outcomes": dict(stats.by_state),
        "expired_waiting": stats.expired_waiting,
        "recovered": stats.recovered,
    }


def cmd_run(ctx: Ctx) -> int:
    ex = Executor(ctx.db, ctx.clock)
    passes = run_until_idle(ex) if ctx.args.until_idle else [ex.run_pass()]
    if ctx.args.json:
        print_json([_stats_dict(p) for p in passes])
        return 0
    for p in passes:
        outcomes = ", ".join(f"{n} {k}" for k, n in sorted(p.by_state.items())) or "nothing due"
        print(
            f"pass at {p.started_at.isoformat()}: {p.joined} joined, {p.removed} removed, "
            f"{p.executed} executed ({outcomes})"
        )
    return 0


class StopRequest:
    """SIGINT and SIGTERM ask a long-running command to stop.

    The handler only notes the signal. Python runs a handler on the main thread between
    two bytecodes — possibly inside ``threading.Event.wait()``, which holds the event's
    lock — so a handler calling ``Event.set()`` can wait for that lock forever (a
    ``journeys serve`` sent SIGTERM one time in a few dozen hung that way). Printing is
    left to the main loop for the same reason (stderr's buffer has a lock too).
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.signum = signum

    def wait(self, tick: Callable[[], str | None] | None = None) -> str:
        """Sleep until a signal came (a signal cuts the sleep short); its name.
        ``tick`` runs between sleeps (a supervisor's look at its helpers); a reason it
        returns ends the wait too."""
        while self.signum is None:
            time.sleep(0.25)
            if tick is not None and self.signum is None and (reason := tick()):
                return reason
        return signal.Signals(self.signum).name


def run_until_signalled(
    command: str,
    stop: StopRequest,
    finish: Callable[[], None],
    *,
    stopping: str = "stopping",
    tick: Callable[[], str | None] | None = None,
    say: Callable[[str], None] | None = None,
) -> None:
    """The main loop of every long-running command (``worker``, ``serve``): wait for a
    signal (or ``tick``'s reason), say so, run ``finish`` whatever happens, say stopped.
    ``stop`` is installed by the caller, when its start can no longer fail."""
    if say is None:
        say = functools.partial(print, file=sys.stderr, flush=True)
    try:
        signalled = stop.wait(tick)
        say(f"journeys {command}: {signalled}, {stopping}…")
    finally:
        finish()
    say(f"journeys {command}: stopped")


def cmd_worker(ctx: Ctx) -> int:
    from engine.runner import EngineRunner

    runner = EngineRunner(ctx.db, ctx.clock, tracking=not ctx.args.no_tracking)
    stop = StopRequest()
    stop.install()
    runner.events.pass_finished.connect(_report_pass)
    runner.start()
    if runner.tracking is not None:
        print(f"journeys worker: tracking server on {runner.tracking.url}", file=sys.stderr)
    elif runner.tracking_error:
        print(f"journeys worker: warning: {runner.tracking_error}", file=sys.stderr)
    print("journeys worker: running (Ctrl+C to stop)", file=sys.stderr)
    run_until_signalled("worker", stop, runner.stop, stopping="finishing the batch")
    return 0


def cmd_serve(ctx: Ctx) -> int:
    """The tracking server until SIGINT/SIGTERM; it also runs what interactions trigger."""
    from engine.tracking_server import TrackingServer, can_share_port

    from .serve_group import ServeGroup, check_count

    port = ctx.args.port
    if port is not None and not 0 <= port <= 65535:
        raise UserError(f"--port {port}: must be a port number from 0 to 65535")
    # Reads: starting does not wait for another program's writes.
    host = ctx.args.host or api_settings.value(ctx.db, "tracking.bind")
    port = api_settings.value(ctx.db, "tracking.port") if port is None else port
    links = api_settings.tracking_base_url(ctx.db)
    try:
        host = api_settings.SPECS["tracking.bind"].parse(host)
    except ValueError as exc:
        raise UserError(f"--host {host!r} {exc}") from None
    helpers = check_count(ctx.args.processes) - 1
    shared = helpers > 0 or ctx.args.share_port
    if shared and not can_share_port():
        raise UserError("--processes: this system cannot share a port between processes")
    server = TrackingServer(ctx.db, ctx.clock, host, port, share_port=shared)
    stop = StopRequest()
    server.start()  # a taken port fails here, before any signal handler is replaced
    group = ServeGroup(_url_of(ctx), host, server.port, helpers, ctx.args.now)
    try:
        if helpers:
            group.start()
    except BaseException:
        server.stop()
        raise
    stop.install()
    print(f"journeys serve: listening on {server.url} (Ctrl+C to stop)", flush=True)
    helper = ctx.args.share_port  # one of another serve's processes: it says it all
    say = (lambda *_: None) if helper else functools.partial(print, file=sys.stderr, flush=True)
    say(f"journeys serve: links in messages point to {links}")
    if helpers:
        pids = ", ".join(map(str, group.pids))
        say(f"journeys serve: {helpers + 1} processes share the port (helpers {pids})")

    def finish() -> None:
        group.stop()
        server.stop()

    run_until_signalled("serve", stop, finish, tick=lambda: _tick(group), say=say)
    return 0


def _url_of(ctx: Ctx) -> str:
    return ctx.db.engine.url.render_as_string(hide_password=False)


def _tick(group: ServeGroup) -> str | None:
    """Replace helpers that died; a helper whose own serve is gone stops too."""
    for line in group.watch():
        print(f"journeys serve: {line}", file=sys.stderr, flush=True)
    return group.orphaned()


def _report_pass(stats: Any) -> None:
    if not stats.idle:
        with contextlib.suppress(OutputClosed):  # `worker | head`: the worker keeps working
            _print_pass(stats)


def _print_pass(stats: Any) -> None:
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(stats.by_state.items()))
    print(
        f"{stats.started_at.isoformat()}: {stats.joined} joined, {stats.executed} executed"
        f"{' (' + outcomes + ')' if outcomes else ''}",
        flush=True,
    )


def cmd_event(ctx: Ctx) -> int:
    res = record_on_message(
        ctx.db,
        ctx.clock,
        ctx.args.campaign,
        ctx.args.activity,
        ctx.args.record,
        ctx.args.type,
        test=ctx.args.test,
        url=ctx.args.url,
    )
    print(
        f"recorded {ctx.args.type} on trace {res.trace_id}"
        f"{' (first time)' if res.first_time else ' (repeat)'}; "
        f"{res.triggered} step(s) triggered, {res.canceled} canceled, "
        f"{res.executed} executed now"
    )
    return 0


def cmd_test(ctx: Ctx) -> int:
    with ctx.db.session() as s:
        c = campaigns.find_campaign(s, ctx.args.campaign)
        record_id = records.resolve_record(s, c.target, ctx.args.record)
        pid = campaigns.launch_test(s, c, record_id, ctx.now())
    print(
        f"test participant {pid} launched for record {record_id}; "
        "`journeys run` executes its due steps"
    )
    return 0


def cmd_report(ctx: Ctx) -> int:
    with ctx.db.read() as s:
        c = campaigns.find_campaign(s, ctx.args.campaign)
        report = figures.read_campaign_figures(s, c.id).as_report()
    if ctx.args.pdf:
        from designer.dashboard.report_pdf import write_report

        pages = write_report(ctx.db, ctx.clock, c.id, ctx.args.pdf, ctx.args.days)
        print(f"wrote {ctx.args.pdf} ({pages} page{'' if pages == 1 else 's'})", file=sys.stderr)
        return 0
    if ctx.args.json:
        print_json(report)
        return 0
    camp, parts = report["campaign"], report["participants"]
    print(f"{camp['name']} (#{camp['id']}, {camp['state']})")
    print("participants: " + ", ".join(f"{v} {k}" for k, v in parts.items()))
    rows = [{"activity": k, **v} for k, v in report["activities"].items()]
    cols = [
        "activity",
        "scheduled",
        "waiting",
        "processed",
        "rejected",
        "canceled",
        "error",
        "sent",
        "opened",
        "clicked",
        "replied",
        "bounced",
    ]
    print_table(rows, cols, empty="(no activity)")
    return 0


def cmd_traces(ctx: Ctx) -> int:
    with ctx.db.read() as s:
        c = campaigns.find_campaign(s, ctx.args.campaign)
        if ctx.args.activity:
            campaigns.find_activity(s, c.id, ctx.args.activity)
        rows = reporting.traces(
            s,
            c.id,
            activity_key=ctx.args.activity,
            state=ctx.args.state,
            include_test=ctx.args.test,
        )
    print_listing(
        rows,
        ctx.args.json,
        ["id", "activity", "record", "state", "due", "processed_at", "message"],
        empty="(no trace)",
    )
    return 0


def cmd_render(ctx: Ctx) -> int:
    """The journey diagram, drawn by the designer's own scene on the offscreen platform."""
    out = Path(ctx.args.output)
    if out.suffix.lower() not in (".png", ".svg"):
        raise UserError(f"{out}: the diagram must be a .png or .svg file")
    with ctx.db.read() as s:
        cid = campaigns.find_campaign(s, ctx.args.campaign).id
    from designer.render import render_campaign

    size = render_campaign(ctx.db, cid, out, ctx.clock)
    print(f"wrote {out} ({size.width()}x{size.height()})", file=sys.stderr)
    return 0


def cmd_outbox(ctx: Ctx) -> int:
    rows = lookups.outbox(ctx.db, ctx.args.campaign)
    print_listing(
        rows,
        ctx.args.json,
        ["id", "channel", "to", "subject", "campaign", "activity", "sent_at"],
        empty="(the outbox is empty)",
    )
    return 0


def cmd_settings(ctx: Ctx) -> int:
    from . import secrets_cli

    key, value = ctx.args.key, ctx.args.value
    if key is not None and secrets_cli.is_secret(key):
        return secrets_cli.command(key, value, unset=ctx.args.unset)
    if key is None:
        values = api_settings.effective(ctx.db)  # never waits for another's write lock
        secret_rows = secrets_cli.rows()
        if ctx.args.json:
            print_json({**values, **{r["key"]: r["value"] for r in secret_rows}})
        else:
            print_table(
                [
                    {"key": k, "value": v, "about": api_settings.SPECS[k].help}
                    for k, v in values.items()
                ]
                + secret_rows,
                ["key", "value", "about"],
            )
        return 0
    if key not in api_settings.SPECS:
        raise UserError(
            f"unknown setting {key!r}; known settings: {', '.join(sorted(api_settings.SPECS))}"
        )
    if ctx.args.unset:
        value = ""
    if value is None:
        current = api_settings.value(ctx.db, key)
        print_json(current) if ctx.args.json else print("-" if current is None else current)
        return 0
    stored = api_settings.save(ctx.db, {key: value})[key]
    print(f"{key} = {'-' if stored is None else stored}")
    return 0


def cmd_send_test(ctx: Ctx) -> int:
    from engine.send_test import send_test

    with ctx.db.session() as s:
        result = send_test(
            s, ctx.args.campaign, ctx.args.activity, ctx.args.record, ctx.now(), to=ctx.args.to
        )
    what = f"{result.kind} {result.subject!r}" if result.subject else result.kind
    if result.status == "sent":
        print(f"sent {what} to {result.to} through {result.channel} (links not tracked)")
        return 0
    word = {"rejected": "refused", "transient": "not sent (try again)"}.get(result.status)
    raise EngineFailure(f"{what} to {result.to} {word or 'failed'}: {result.detail}")


def cmd_poll_mailbox(ctx: Ctx) -> int:
    from engine.inbound import poll_mailbox

    result = poll_mailbox(ctx.db, ctx.clock)
    if not result.configured:
        raise UserError(
            "no mailbox is configured: set imap.url (e.g. `journeys settings imap.url "
            "imaps://replies@mail.example.com/INBOX`), imap.address and imap.password"
        )
    if ctx.args.json:
        print_json(result.as_dict())
    else:
        print(
            f"{result.fetched} message(s) read: {result.replies} reply(ies), "
            f"{result.bounces} bounce(s), {result.ignored} ignored, "
            f"{result.duplicates} already counted"
            + (f"; {result.remaining} left for the next poll" if result.remaining else "")
        )
        for problem in result.failed:
            print(f"journeys: left for the next poll: {problem}", file=sys.stderr)
    if result.error:
        raise EngineFailure(result.error)
    return 0


HANDLERS = {
    "gui": cmd_gui,
    "poll-mailbox": cmd_poll_mailbox,
    "init": cmd_init,
    "import": cmd_import,
    "export": cmd_export,
    "templates": cmd_templates,
    "new": cmd_new,
    "records": cmd_records,
    "list": cmd_list,
    "start": cmd_start,
    "stop": cmd_stop,
    "retry": cmd_retry,
    "run": cmd_run,
    "worker": cmd_worker,
    "serve": cmd_serve,
    "event": cmd_event,
    "test": cmd_test,
    "report": cmd_report,
    "dashboard": cmd_dashboard,
    "traces": cmd_traces,
    "render": cmd_render,
    "outbox": cmd_outbox,
    "settings": cmd_settings,
    "send-test": cmd_send_test,
}
