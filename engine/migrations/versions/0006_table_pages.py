"""table pages: the dashboard's traces and participants in the order they are listed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 12:15:00.000000

The dashboard lists a campaign's real traces newest first, or by when they were done,
and its real participants newest first (issue 23). Without an index in that order the
database sorted every row of the campaign for each 200-row page (a second at a million
traces); with one, a page is a short index walk, and a deep page an index-only count.
The done-time index leaves ``is_test`` out on purpose: with it, SQLite's planner chose it
for every campaign-wide sort (by step, by record) and read the rows in done order, at
random, four times slower than in id order.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ('ix_trace_campaign_list', 'trace', ['campaign_id', 'is_test', 'id']),
    ('ix_trace_campaign_done', 'trace', ['campaign_id', 'done_at']),
    ('ix_participant_campaign_list', 'participant', ['campaign_id', 'is_test', 'id']),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
