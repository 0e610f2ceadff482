"""campaign engine error: one campaign's failure is recorded, backed off and shown

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 19:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import engine.models.base


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engine_error', sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column('engine_error_at', engine.models.base.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column('engine_failures', sa.Integer(), server_default='0', nullable=False)
        )
        batch_op.add_column(
            sa.Column('engine_retry_at', engine.models.base.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_column('engine_retry_at')
        batch_op.drop_column('engine_failures')
        batch_op.drop_column('engine_error_at')
        batch_op.drop_column('engine_error')
