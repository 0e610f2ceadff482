"""The ``journeys`` command line (SPEC §10).

Exit codes: 0 success; 2 bad input (message on stderr, nothing changed); 1 a runtime
failure. Every listing has ``--json``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from engine.db import is_busy
from engine.errors import BUSY_MESSAGE, EngineFailure, UserError
from engine.ids import parse_id

from . import commands
from .output import GuardedStream, OutputClosed

# sysexits.h EX_TEMPFAIL: "try again later" (another process held the database), so a
# script can tell it from bad input (2) and from a real failure (1).
EXIT_BUSY = 75


def _ascii_int(text: str, low: int, high: int) -> int:
    """An argument number: ASCII digits only (``int`` takes '１', ' 1' and '1_0'), bounded."""
    value = parse_id(text)
    if value is None or not low <= value <= high:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number from {low:,} to {high:,} (digits 0-9 only)"
        )
    return value


def _count(text: str) -> int:
    return _ascii_int(text, 1, 1_000_000_000)


def _days(text: str) -> int:
    return _ascii_int(text, 1, 3660)


def _port(text: str) -> int:
    return _ascii_int(text, 0, 65_535)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="journeys",
        description="Design and run behaviour-driven marketing journeys.",
    )
    p.add_argument(
        "--db",
        help="database URL (default: $JOURNEYS_DB or the SQLite file in your data directory)",
    )
    p.add_argument("--now", help="ISO-8601 instant every decision of this command uses")
    p.add_argument(
        "--read-only",
        action="store_true",
        help="open the database to look, never to write (any edit is refused)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log what the engine does")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_, description=help_)

    cmd("gui", "open the designer (the embedded engine runs while it is open)")
    c = cmd(
        "dashboard",
        "open the managers' overview of every campaign (no engine, no editing); "
        "it follows the database as others write to it",
    )
    c.add_argument("campaign", nargs="?", help="also open this campaign's dashboard")
    c.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="open the database so that this program can never write to it",
    )
    cmd("init", "create or migrate the database")

    c = cmd("import", "import a campaign file as a new draft campaign; prints its id")
    c.add_argument("file")
    c.add_argument(
        "--trust", action="store_true", help="enable the file's execute_code and webhook actions"
    )
    c.add_argument("--name", help="name of the new campaign (default: the file's)")

    c = cmd("export", "write a campaign file")
    c.add_argument("campaign")
    c.add_argument("-o", "--output", help="file to write (default: standard output)")

    c = cmd("templates", "list the bundled campaign templates")
    c.add_argument("--json", action="store_true")

    c = cmd("new", "create a campaign from a template; prints its id")
    c.add_argument("--template", required=True, metavar="KEY")
    c.add_argument("--name")

    c = cmd("records", "import or list audience records")
    rsub = c.add_subparsers(dest="records_command", metavar="ACTION", required=True)
    r = rsub.add_parser("import", help="import records from a CSV file (header = field names)")
    r.add_argument("model")
    r.add_argument("csv")
    r = rsub.add_parser("list", help="list records")
    r.add_argument("model")
    r.add_argument("--json", action="store_true")
    r.add_argument("--limit", type=_count, help="at most this many (1 to 1,000,000,000)")

    c = cmd("list", "campaigns with state and participant counts")
    c.add_argument("--json", action="store_true")

    for name, help_ in (
        ("start", "start a campaign (it syncs its audience at once)"),
        ("stop", "stop a campaign (scheduled traces wait for a restart)"),
    ):
        c = cmd(name, help_)
        c.add_argument("campaign")

    c = cmd("run", "one engine pass: sync running campaigns, execute what is due")
    c.add_argument("--until-idle", action="store_true", help="repeat until nothing is due")
    c.add_argument("--json", action="store_true")

    c = cmd("worker", "run the engine until interrupted (SIGINT/SIGTERM finish the batch)")
    c.add_argument(
        "--no-tracking",
        action="store_true",
        help="do not serve tracking links here (another process does)",
    )

    c = cmd("serve", "run the tracking server alone (opens, clicks, unsubscribes, callbacks)")
    c.add_argument("--port", type=_port, help="port to listen on (default: tracking.port; 0 = any)")
    c.add_argument("--host", help="address to listen on (default: tracking.bind, 127.0.0.1)")
    c.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="N tracking servers sharing the port, one per core for a large send (default 1)",
    )
    c.add_argument("--share-port", action="store_true", help=argparse.SUPPRESS)

    c = cmd("event", "record an interaction on a participant's message")
    c.add_argument("campaign")
    c.add_argument("--activity", required=True, metavar="KEY")
    c.add_argument("--record", required=True, metavar="REF", help="record id or email")
    c.add_argument(
        "--type",
        required=True,
        choices=["open", "click", "reply", "bounce", "sms_click", "sms_bounce"],
    )
    c.add_argument("--url", help="the clicked URL (logged against its link)")
    c.add_argument("--test", action="store_true", help="on the record's test participant")

    c = cmd(
        "retry",
        "put errored traces back to scheduled, due now (by default those interrupted with "
        "delivery unknown and those that gave up after transient failures); check the mail "
        "or SMS server's log first: a retried message is sent again",
    )
    c.add_argument("campaign")
    c.add_argument("--activity", metavar="KEY", help="only this activity's traces")
    c.add_argument(
        "--state",
        choices=["error"],
        help="'error': every errored trace, template and server-action errors included",
    )

    c = cmd("test", "launch a test participant for a record")
    c.add_argument("campaign")
    c.add_argument("--record", required=True, metavar="REF")

    c = cmd("report", "a campaign's counters, or its dashboard as a PDF report")
    c.add_argument("campaign")
    c.add_argument("--json", action="store_true")
    c.add_argument(
        "--pdf",
        metavar="FILE",
        help="write the dashboard report (KPIs, journey, steps, plot, links) to FILE.pdf",
    )
    c.add_argument(
        "--days",
        type=_days,
        default=7,
        help="the report's period in days, against the one before (default 7)",
    )

    c = cmd("traces", "a campaign's traces")
    c.add_argument("campaign")
    c.add_argument("--activity", metavar="KEY")
    c.add_argument(
        "--state", choices=["scheduled", "waiting", "processed", "rejected", "canceled", "error"]
    )
    c.add_argument("--test", action="store_true", help="include test participants")
    c.add_argument("--json", action="store_true")

    c = cmd("render", "draw a campaign's journey diagram to a PNG or SVG file (no window)")
    c.add_argument("campaign")
    c.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.png or FILE.svg")

    c = cmd("outbox", "messages held by the embedded outbox channel")
    c.add_argument("--campaign")
    c.add_argument("--json", action="store_true")

    c = cmd(
        "settings",
        "show or set settings; a secret (smtp.password, imap.password, sms.token, "
        "secret.NAME) is read from a hidden prompt or standard input, never from arguments",
    )
    c.add_argument("key", nargs="?")
    c.add_argument("value", nargs="?")
    c.add_argument("--unset", action="store_true", help="reset to the default / forget a secret")
    c.add_argument("--json", action="store_true")

    c = cmd("send-test", "send one activity's message, rendered for a record, to a test address")
    c.add_argument("campaign")
    c.add_argument("--activity", required=True, metavar="KEY")
    c.add_argument("--record", required=True, metavar="REF", help="record id or email")
    c.add_argument("--to", help="recipient (default: test.recipient_email / test.recipient_phone)")

    c = cmd("poll-mailbox", "read the reply and bounce mailbox (imap.url) once")
    c.add_argument("--json", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    command = args.command or "gui"
    stdout = sys.stdout
    sys.stdout = guarded = GuardedStream(stdout)
    try:
        code = commands.dispatch(command, args)
        sys.stdout.flush()  # inside the guard: a closed pipe is noticed here, not at exit
        return code
    except OutputClosed:
        return 141  # what a shell reports for a Unix tool ended by SIGPIPE; nothing printed
    except EOFError:
        print(
            "journeys: error: standard input ended while a question was waiting for an "
            "answer; run the command in a terminal",
            file=sys.stderr,
        )
        return 2
    except UserError as exc:
        print(f"journeys: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        if not is_busy(exc) or os.environ.get("JOURNEYS_DEBUG"):
            return _failed(exc)
        print(f"journeys: busy: {BUSY_MESSAGE}", file=sys.stderr)
        return EXIT_BUSY
    except KeyboardInterrupt:
        print("journeys: interrupted", file=sys.stderr)
        return 130
    finally:
        if sys.stdout is guarded:
            sys.stdout = stdout


def _failed(exc: Exception) -> int:
    """Exit 1 for a runtime failure, said plainly (the class name only if nothing else)."""
    if isinstance(exc, EngineFailure):
        print(f"journeys: failed: {exc}", file=sys.stderr)
        return 1
    if os.environ.get("JOURNEYS_DEBUG"):
        raise exc
    print(f"journeys: failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
