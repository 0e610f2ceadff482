"""period figures: unsubscribes, and what each hour's messages led to

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 08:40:00.000000

The dashboard's KPI tiles compare a period with the one before it (SPEC §6 and issue 23):
sent, opened, clicked, replied, bounced and unsubscribed, each as a share of the
messages *sent in that period*. So activity_hour_stat, which counted processed and
rejected traces by the hour of ``done_at``, now also counts what those messages led to,
in the same row (a cohort: an open a week later still counts for the day it was sent).
An unsubscribe is recorded on the message it came from (``trace.unsubscribed_at``).
Only the trace triggers change; the hourly rows are counted again from the traces.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.models.base
from engine.migrations.summary_sql import (
    NOTIFY,
    POSTGRESQL_TRACE_FUNCTIONS,
    SQLITE_TRACE_TRIGGERS,
    TraceCounters,
    plpgsql,
)

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SENT = "{r}.state = 'processed'"
TRACE_COUNTS = {
    'scheduled': "{r}.state = 'scheduled'",
    'waiting': "{r}.state = 'scheduled' AND {r}.due_at IS NULL",
    'processed': SENT,
    'rejected': "{r}.state = 'rejected'",
    'canceled': "{r}.state = 'canceled'",
    'error': "{r}.state = 'error'",
    **{
        f: f"{SENT} AND {{r}}.{f}_at IS NOT NULL"
        for f in ('opened', 'clicked', 'replied', 'bounced', 'unsubscribed')
    },
}
LED_TO = ('opened', 'clicked', 'replied', 'bounced', 'unsubscribed')
COUNTERS = TraceCounters(
    TRACE_COUNTS,
    {c: TRACE_COUNTS[c] for c in ('processed', 'rejected', *LED_TO)},
    ('state', 'due_at', 'done_at', *(f'{f}_at' for f in LED_TO)),
    ('state', 'done_at', *(f'{f}_at' for f in LED_TO)),
)
# What 0004 created, to put back on downgrade.
BEFORE = TraceCounters(
    {c: e for c, e in TRACE_COUNTS.items() if c != 'unsubscribed'},
    {c: TRACE_COUNTS[c] for c in ('processed', 'rejected')},
    ('state', 'due_at', 'done_at', 'opened_at', 'clicked_at', 'replied_at', 'bounced_at'),
    ('state', 'done_at'),
)


def _install(counters: TraceCounters) -> None:
    dialect = op.get_bind().dialect.name
    if dialect == 'sqlite':
        for name in SQLITE_TRACE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in counters.sqlite():
            op.execute(statement)
    else:
        bodies = counters.postgresql(NOTIFY)
        for name in POSTGRESQL_TRACE_FUNCTIONS:
            op.execute(plpgsql(name, bodies[name], replace=True))
    op.execute("DELETE FROM activity_hour_stat")
    counters.backfill_hours(op.execute, dialect)


def upgrade() -> None:
    with op.batch_alter_table('trace', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('unsubscribed_at', engine.models.base.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table('activity_stat', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('unsubscribed', sa.Integer(), server_default='0', nullable=False)
        )
    with op.batch_alter_table('activity_hour_stat', schema=None) as batch_op:
        for name in LED_TO:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default='0', nullable=False))
    _install(COUNTERS)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':  # they name the columns dropped
        for name in SQLITE_TRACE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would trip the cleanup triggers
    # that name these tables.
    for table, column in (
        *(('activity_hour_stat', name) for name in LED_TO),
        ('activity_stat', 'unsubscribed'),
        ('trace', 'unsubscribed_at'),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    _install(BEFORE)
