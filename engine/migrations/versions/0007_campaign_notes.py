"""campaign notes: sticky notes on the canvas, stored with the campaign they explain

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('campaign', sa.Column('notes', sa.JSON(), nullable=True))


def downgrade() -> None:
    # A plain ALTER TABLE … DROP COLUMN (SQLite 3.35+), never batch mode: batch mode
    # copies the table and drops the old one, and with foreign keys on, dropping
    # ``campaign`` would cascade to every activity, trace and participant.
    op.drop_column('campaign', 'notes')
