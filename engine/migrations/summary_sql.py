"""SQL for the figure summaries' triggers and backfills, as the migrations that need it.

Migrations 0004 and 0005 each keep their own frozen column sets and pass them here, so a
later migration extends the counters without copying 0004's generators (and without
changing what 0004 creates: its SQL is a function of the sets it passes). See
engine/models/figures.py for why triggers, why no foreign keys, and why PostgreSQL
appends differences while SQLite updates one row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Exec = Callable[[str], object]

DONE = "{r}.state IN ('processed', 'rejected') AND {r}.done_at IS NOT NULL"
CLICK = "('click', 'sms_click')"
# The trace triggers a TraceCounters creates; the other summary triggers never change.
SQLITE_TRACE_TRIGGERS = (
    "trace_stat_insert",
    "trace_stat_update",
    "trace_hour_insert",
    "trace_hour_out",
    "trace_hour_in",
)
POSTGRESQL_TRACE_FUNCTIONS = ("trace_stat_insert", "trace_stat_update")


def case(cond: str, r: str) -> str:
    return f"CASE WHEN {cond.format(r=r)} THEN 1 ELSE 0 END"


def hour_of(dialect: str, col: str) -> str:
    if dialect == "sqlite":
        return f"substr({col}, 1, 13)"  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff'
    return f"to_char({col}, 'YYYY-MM-DD HH24')"


@dataclass(frozen=True)
class TraceCounters:
    """What one trace adds to activity_stat (``counts``) and, once it is done, to the
    activity_hour_stat row of its ``done_at`` hour (``hourly``); each value is a condition
    on the row ``{r}`` (NEW, OLD or a table alias). ``watched`` are the trace columns the
    activity counts read, ``hour_watched`` those the hourly counts read."""

    counts: dict[str, str]
    hourly: dict[str, str]
    watched: tuple[str, ...]
    hour_watched: tuple[str, ...]

    # --- backfill -------------------------------------------------------------------------
    def backfill_hours(self, execute: Exec, dialect: str) -> None:
        hour = hour_of(dialect, "t.done_at")
        cols = ", ".join(self.hourly)
        sums = ", ".join(f"SUM({case(e, 't')})" for e in self.hourly.values())
        execute(
            f"INSERT INTO activity_hour_stat (activity_id, campaign_id, hour, {cols}) "
            f"SELECT t.activity_id, t.campaign_id, {hour}, {sums} FROM trace t "
            f"WHERE t.is_test = false AND {DONE.format(r='t')} "
            f"GROUP BY t.activity_id, t.campaign_id, {hour}"
        )

    # --- SQLite ---------------------------------------------------------------------------
    def sqlite(self) -> list[str]:
        """Row triggers, each guarded by WHEN so a write runs only the statements it needs.

        Every activity has its activity_stat row from its creation (and from the backfill),
        so the hot path — a trace inserted or updated — is one UPDATE of one row, found by
        its rowid: on SQLite an activity's row has the activity's id as its own.
        """
        counts = ", ".join(f"{c} = {c} + ({e.format(r='NEW')})" for c, e in self.counts.items())
        both = ", ".join(
            f"{c} = {c} + ({e.format(r='NEW')}) - ({e.format(r='OLD')})"
            for c, e in self.counts.items()
        )
        moved = "(" + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in self.hour_watched) + ")"
        hour_cols = ", ".join(self.hour_watched)

        def hour_add(r: str, sign: str) -> str:
            h = hour_of("sqlite", f"{r}.done_at")
            sets = ", ".join(f"{c} = {c} {sign} ({e.format(r=r)})" for c, e in self.hourly.items())
            return (
                f"UPDATE activity_hour_stat SET {sets} "
                f"WHERE activity_id = {r}.activity_id AND hour = {h}; "
            )

        def hour_in(r: str) -> str:
            h = hour_of("sqlite", f"{r}.done_at")
            return (
                "INSERT INTO activity_hour_stat (activity_id, campaign_id, hour) "
                f"SELECT {r}.activity_id, {r}.campaign_id, {h} WHERE NOT EXISTS "
                f"(SELECT 1 FROM activity_hour_stat WHERE activity_id = {r}.activity_id "
                f"AND hour = {h}); " + hour_add(r, "+")
            )

        return [
            "CREATE TRIGGER trace_stat_insert AFTER INSERT ON trace WHEN NEW.is_test = 0 BEGIN "
            f"UPDATE activity_stat SET {counts} WHERE id = NEW.activity_id; END",
            "CREATE TRIGGER trace_hour_insert AFTER INSERT ON trace WHEN NEW.is_test = 0 "
            f"AND {DONE.format(r='NEW')} BEGIN {hour_in('NEW')} END",
            f"CREATE TRIGGER trace_stat_update AFTER UPDATE OF {', '.join(self.watched)} ON trace "
            "WHEN NEW.is_test = 0 BEGIN "
            f"UPDATE activity_stat SET {both} WHERE id = NEW.activity_id; END",
            f"CREATE TRIGGER trace_hour_out AFTER UPDATE OF {hour_cols} ON trace "
            f"WHEN NEW.is_test = 0 AND {DONE.format(r='OLD')} AND {moved} "
            f"BEGIN {hour_add('OLD', '-')} END",
            f"CREATE TRIGGER trace_hour_in AFTER UPDATE OF {hour_cols} ON trace "
            f"WHEN NEW.is_test = 0 AND {DONE.format(r='NEW')} AND {moved} "
            f"BEGIN {hour_in('NEW')} END",
        ]

    # --- PostgreSQL -----------------------------------------------------------------------
    def postgresql(self, notify: str) -> dict[str, str]:
        """The bodies of the statement-level trace trigger functions, by name; ``notify``
        is the statement that tells listeners which campaigns changed (``{rows}``)."""

        def signed(r: str, sign: str) -> str:
            return ", ".join(f"{sign}({case(e, r)}) AS {c}" for c, e in self.counts.items())

        cols = ", ".join(self.counts)
        sums = ", ".join(f"SUM({c})" for c in self.counts)
        nonzero = " OR ".join(f"SUM({c}) <> 0" for c in self.counts)
        hour_cols = ", ".join(self.hourly)
        hour_sums = ", ".join(f"SUM({c})" for c in self.hourly)
        hour_nonzero = " OR ".join(f"SUM({c}) <> 0" for c in self.hourly)
        hour = hour_of("postgresql", "done_at")
        live = "EXISTS (SELECT 1 FROM activity a WHERE a.id = d.activity_id)"

        def activity_delta(parts: str) -> str:
            return (
                f"INSERT INTO activity_stat (activity_id, campaign_id, {cols}) "
                f"SELECT activity_id, campaign_id, {sums} FROM ({parts}) AS d WHERE {live} "
                f"GROUP BY activity_id, campaign_id HAVING {nonzero};"
            )

        def hour_delta(parts: str) -> str:
            return (
                f"INSERT INTO activity_hour_stat (activity_id, campaign_id, hour, {hour_cols}) "
                f"SELECT activity_id, campaign_id, hour, {hour_sums} "
                f"FROM ({parts}) AS d WHERE {live} GROUP BY activity_id, campaign_id, hour "
                f"HAVING {hour_nonzero};"
            )

        def hour_rows(rows: str, sign: str) -> str:
            figures = ", ".join(f"{sign}({case(e, rows)}) AS {c}" for c, e in self.hourly.items())
            return (
                f"SELECT activity_id, campaign_id, {hour} AS hour, {figures} "
                f"FROM {rows} WHERE NOT is_test AND {DONE.format(r=rows)}"
            )

        def trace_rows(rows: str, sign: str) -> str:
            return (
                f"SELECT activity_id, campaign_id, {signed(rows, sign)} FROM {rows} "
                "WHERE NOT is_test"
            )

        return {
            "trace_stat_insert": activity_delta(trace_rows("new_rows", ""))
            + hour_delta(hour_rows("new_rows", ""))
            + notify.format(rows="new_rows"),
            "trace_stat_update": activity_delta(
                f"{trace_rows('new_rows', '')} UNION ALL {trace_rows('old_rows', '-')}"
            )
            + hour_delta(f"{hour_rows('new_rows', '')} UNION ALL {hour_rows('old_rows', '-')}")
            + notify.format(rows="new_rows"),
        }


def plpgsql(name: str, body: str, *, replace: bool = False) -> str:
    return (
        f"CREATE {'OR REPLACE ' if replace else ''}FUNCTION {name}() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$"
    )


NOTIFY = (
    "PERFORM pg_notify('journeys_figures', c::text) FROM "
    "(SELECT DISTINCT campaign_id AS c FROM {rows}) AS changed;"
)
