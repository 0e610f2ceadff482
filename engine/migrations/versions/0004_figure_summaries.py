"""figure summaries: counters kept by triggers, so reports never count raw traces

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 06:10:00.000000

See engine/models/figures.py for why triggers, why no foreign keys, and why PostgreSQL
appends differences while SQLite updates one row. The existing rows are counted once
here, then the triggers keep the counts. Traces, participants and interactions are
deleted only with their activity, campaign or link (a cascade), so only those deletes
have triggers: they drop the summary rows of what is gone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from engine.migrations.summary_sql import (
    CLICK,
    NOTIFY,
    TraceCounters,
    case,
    plpgsql,
)


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# What one trace contributes to each activity_stat column ({r} is NEW, OLD or a table).
TRACE_COUNTS = {
    'scheduled': "{r}.state = 'scheduled'",
    'waiting': "{r}.state = 'scheduled' AND {r}.due_at IS NULL",
    'processed': "{r}.state = 'processed'",
    'rejected': "{r}.state = 'rejected'",
    'canceled': "{r}.state = 'canceled'",
    'error': "{r}.state = 'error'",
    'opened': "{r}.state = 'processed' AND {r}.opened_at IS NOT NULL",
    'clicked': "{r}.state = 'processed' AND {r}.clicked_at IS NOT NULL",
    'replied': "{r}.state = 'processed' AND {r}.replied_at IS NOT NULL",
    'bounced': "{r}.state = 'processed' AND {r}.bounced_at IS NOT NULL",
}
TABLES = ('activity_stat', 'activity_hour_stat', 'participant_stat', 'link_stat')
HOURLY = {c: TRACE_COUNTS[c] for c in ('processed', 'rejected')}
COUNTERS = TraceCounters(
    TRACE_COUNTS,
    HOURLY,
    ('state', 'due_at', 'done_at', 'opened_at', 'clicked_at', 'replied_at', 'bounced_at'),
    ('state', 'done_at'),
)


def upgrade() -> None:
    op.create_table('activity_hour_stat',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('activity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('hour', sa.String(length=13), nullable=False),
    sa.Column('processed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rejected', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_hour_stat'))
    )
    op.create_index('ix_activity_hour_stat_activity', 'activity_hour_stat', ['activity_id', 'hour'], unique=False)
    op.create_index('ix_activity_hour_stat_campaign', 'activity_hour_stat', ['campaign_id', 'hour'], unique=False)
    op.create_table('activity_stat',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('activity_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('scheduled', sa.Integer(), server_default='0', nullable=False),
    sa.Column('waiting', sa.Integer(), server_default='0', nullable=False),
    sa.Column('processed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rejected', sa.Integer(), server_default='0', nullable=False),
    sa.Column('canceled', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error', sa.Integer(), server_default='0', nullable=False),
    sa.Column('opened', sa.Integer(), server_default='0', nullable=False),
    sa.Column('clicked', sa.Integer(), server_default='0', nullable=False),
    sa.Column('replied', sa.Integer(), server_default='0', nullable=False),
    sa.Column('bounced', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_stat'))
    )
    op.create_index(op.f('ix_activity_stat_activity_id'), 'activity_stat', ['activity_id'], unique=False)
    op.create_index('ix_activity_stat_campaign', 'activity_stat', ['campaign_id', 'activity_id'], unique=False)
    op.create_table('link_stat',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('link_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('clicks', sa.Integer(), server_default='0', nullable=False),
    sa.Column('unique_clicks', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_link_stat'))
    )
    op.create_index(op.f('ix_link_stat_link_id'), 'link_stat', ['link_id'], unique=False)
    op.create_table('participant_stat',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('is_test', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('n', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participant_stat'))
    )
    op.create_index('ix_participant_stat_key', 'participant_stat', ['campaign_id', 'is_test', 'state'], unique=False)

    dialect = op.get_bind().dialect.name
    _backfill(dialect)
    for statement in (_sqlite_triggers() if dialect == 'sqlite' else _postgresql_triggers()):
        op.execute(statement)


def _backfill(dialect: str) -> None:
    cols = ', '.join(TRACE_COUNTS)
    counted = ', '.join(f"COALESCE(c.{c}, 0)" for c in TRACE_COUNTS)
    keyed = 'id, ' if dialect == 'sqlite' else ''  # SQLite: the activity's id is the row's
    named = ', '.join(
        f"SUM({case(e, 't')}) AS {c}" for c, e in TRACE_COUNTS.items()
    )
    op.execute(  # a row for every activity, even one without traces (SQLite relies on it)
        f"INSERT INTO activity_stat ({keyed}activity_id, campaign_id, {cols}) "
        f"SELECT {'a.id, ' if keyed else ''}a.id, a.campaign_id, {counted} "
        "FROM activity a LEFT JOIN "
        f"(SELECT t.activity_id, {named} FROM trace t WHERE t.is_test = false "
        "GROUP BY t.activity_id) AS c ON c.activity_id = a.id"
    )
    COUNTERS.backfill_hours(op.execute, dialect)
    op.execute(
        "INSERT INTO participant_stat (campaign_id, is_test, state, n) "
        "SELECT campaign_id, is_test, state, COUNT(*) FROM participant "
        "GROUP BY campaign_id, is_test, state"
    )
    op.execute(
        "INSERT INTO link_stat (link_id, clicks, unique_clicks) "
        "SELECT i.link_id, COUNT(*), COUNT(DISTINCT i.trace_id) FROM interaction i "
        "JOIN trace t ON t.id = i.trace_id "
        f"WHERE i.type IN {CLICK} AND i.link_id IS NOT NULL AND t.is_test = false "
        "GROUP BY i.link_id"
    )


def _cleanup_triggers_sqlite() -> list[str]:
    return [
        "CREATE TRIGGER activity_stat_gone AFTER DELETE ON activity BEGIN "
        "DELETE FROM activity_stat WHERE activity_id = OLD.id; "
        "DELETE FROM activity_hour_stat WHERE activity_id = OLD.id; END",
        "CREATE TRIGGER campaign_stat_gone AFTER DELETE ON campaign BEGIN "
        "DELETE FROM activity_stat WHERE campaign_id = OLD.id; "
        "DELETE FROM activity_hour_stat WHERE campaign_id = OLD.id; "
        "DELETE FROM participant_stat WHERE campaign_id = OLD.id; END",
        "CREATE TRIGGER link_stat_gone AFTER DELETE ON link BEGIN "
        "DELETE FROM link_stat WHERE link_id = OLD.id; END",
    ]


def _sqlite_triggers() -> list[str]:
    """The trace triggers (see TraceCounters.sqlite), then participants and clicks."""
    def ensure_participant(r: str) -> str:
        return (
            "INSERT INTO participant_stat (campaign_id, is_test, state, n) "
            f"SELECT {r}.campaign_id, {r}.is_test, {r}.state, 0 WHERE NOT EXISTS "
            f"(SELECT 1 FROM participant_stat WHERE campaign_id = {r}.campaign_id "
            f"AND is_test = {r}.is_test AND state = {r}.state); "
        )

    def participant_add(r: str, sign: str) -> str:
        return (
            f"UPDATE participant_stat SET n = n {sign} 1 WHERE campaign_id = {r}.campaign_id "
            f"AND is_test = {r}.is_test AND state = {r}.state; "
        )

    return [
        "CREATE TRIGGER activity_stat_new AFTER INSERT ON activity BEGIN "
        "INSERT INTO activity_stat (id, activity_id, campaign_id) "
        "VALUES (NEW.id, NEW.id, NEW.campaign_id); "
        "END",
        *COUNTERS.sqlite(),
        "CREATE TRIGGER participant_stat_insert AFTER INSERT ON participant BEGIN "
        + ensure_participant('NEW')
        + participant_add('NEW', '+')
        + "END",
        "CREATE TRIGGER participant_stat_update AFTER UPDATE OF state ON participant "
        "WHEN OLD.state IS NOT NEW.state BEGIN "
        + participant_add('OLD', '-')
        + ensure_participant('NEW')
        + participant_add('NEW', '+')
        + "END",
        "CREATE TRIGGER link_stat_insert AFTER INSERT ON interaction "
        f"WHEN NEW.type IN {CLICK} AND NEW.link_id IS NOT NULL "
        "AND (SELECT is_test FROM trace WHERE id = NEW.trace_id) = 0 BEGIN "
        "INSERT INTO link_stat (link_id) SELECT NEW.link_id WHERE NOT EXISTS "
        "(SELECT 1 FROM link_stat WHERE link_id = NEW.link_id); "
        "UPDATE link_stat SET clicks = clicks + 1, unique_clicks = unique_clicks + NOT EXISTS "
        "(SELECT 1 FROM interaction i WHERE i.trace_id = NEW.trace_id AND i.link_id = NEW.link_id "
        f"AND i.type IN {CLICK} AND i.id <> NEW.id) WHERE link_id = NEW.link_id; END",
        *_cleanup_triggers_sqlite(),
    ]


def _postgresql_triggers() -> list[str]:
    trace = COUNTERS.postgresql(NOTIFY)

    def participant_rows(rows: str, sign: str) -> str:
        return f"SELECT campaign_id, is_test, state, {sign}1 AS n FROM {rows}"

    def participant_delta(parts: str) -> str:
        return (
            "INSERT INTO participant_stat (campaign_id, is_test, state, n) "
            f"SELECT campaign_id, is_test, state, SUM(n) FROM ({parts}) AS d "
            "WHERE EXISTS (SELECT 1 FROM campaign c WHERE c.id = d.campaign_id) "
            "GROUP BY campaign_id, is_test, state HAVING SUM(n) <> 0;"
        )

    def trigger(name: str, event: str, table: str, refs: str) -> str:
        return (
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {refs} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )

    clicks = (
        "INSERT INTO link_stat (link_id, clicks, unique_clicks) "
        "SELECT n.link_id, COUNT(*), COUNT(DISTINCT n.trace_id) FILTER (WHERE NOT EXISTS "
        "(SELECT 1 FROM interaction i WHERE i.trace_id = n.trace_id AND i.link_id = n.link_id "
        f"AND i.type IN {CLICK} AND i.id NOT IN (SELECT id FROM new_rows))) "
        "FROM new_rows n JOIN trace t ON t.id = n.trace_id "
        f"WHERE n.type IN {CLICK} AND n.link_id IS NOT NULL AND NOT t.is_test "
        "GROUP BY n.link_id;"
    )
    return [
        plpgsql('trace_stat_insert', trace['trace_stat_insert']),
        trigger('trace_stat_insert', 'INSERT', 'trace', 'NEW TABLE AS new_rows'),
        plpgsql('trace_stat_update', trace['trace_stat_update']),
        trigger(
            'trace_stat_update', 'UPDATE', 'trace', 'OLD TABLE AS old_rows NEW TABLE AS new_rows'
        ),
        plpgsql(
            'participant_stat_insert',
            participant_delta(participant_rows('new_rows', '')) + NOTIFY.format(rows='new_rows'),
        ),
        trigger('participant_stat_insert', 'INSERT', 'participant', 'NEW TABLE AS new_rows'),
        plpgsql(
            'participant_stat_update',
            participant_delta(
                f"{participant_rows('new_rows', '')} UNION ALL {participant_rows('old_rows', '-')}"
            )
            + NOTIFY.format(rows='new_rows'),
        ),
        trigger(
            'participant_stat_update',
            'UPDATE',
            'participant',
            'OLD TABLE AS old_rows NEW TABLE AS new_rows',
        ),
        plpgsql('link_stat_insert', clicks),
        trigger('link_stat_insert', 'INSERT', 'interaction', 'NEW TABLE AS new_rows'),
        plpgsql(
            'stat_gone',
            "IF TG_TABLE_NAME = 'link' THEN DELETE FROM link_stat WHERE link_id = OLD.id; "
            "ELSIF TG_TABLE_NAME = 'activity' THEN "
            "DELETE FROM activity_stat WHERE activity_id = OLD.id; "
            "DELETE FROM activity_hour_stat WHERE activity_id = OLD.id; "
            "ELSE DELETE FROM activity_stat WHERE campaign_id = OLD.id; "
            "DELETE FROM activity_hour_stat WHERE campaign_id = OLD.id; "
            "DELETE FROM participant_stat WHERE campaign_id = OLD.id; END IF;",
        ),
        *(
            f"CREATE TRIGGER {t}_stat_gone AFTER DELETE ON {t} FOR EACH ROW "
            "EXECUTE FUNCTION stat_gone()"
            for t in ('activity', 'campaign', 'link')
        ),
    ]


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    triggers = {
        'trace': (
            'trace_stat_insert',
            'trace_stat_update',
            'trace_hour_insert',
            'trace_hour_out',
            'trace_hour_in',
        ),
        'participant': ('participant_stat_insert', 'participant_stat_update'),
        'interaction': ('link_stat_insert',),
        'activity': ('activity_stat_gone', 'activity_stat_new'),
        'campaign': ('campaign_stat_gone',),
        'link': ('link_stat_gone',),
    }
    for table, names in triggers.items():
        for name in names:
            op.execute(
                f"DROP TRIGGER IF EXISTS {name}"
                + ('' if dialect == 'sqlite' else f" ON {table}")
            )
    if dialect != 'sqlite':
        for name in (
            'trace_stat_insert',
            'trace_stat_update',
            'participant_stat_insert',
            'participant_stat_update',
            'link_stat_insert',
            'stat_gone',
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    for table in TABLES:
        op.drop_table(table)
