"""history points

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00.000000
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('history_point',
    sa.Column('room_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('paths', sa.Integer(), nullable=False),
    sa.Column('base', sa.Boolean(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['room_id'], ['room.id'], ),
    sa.PrimaryKeyConstraint('room_id', 'at_ms')
    )
    with op.batch_alter_table('history_point', schema=None) as batch_op:
        batch_op.create_index('ix_history_point_at', ['at_ms'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('history_point', schema=None) as batch_op:
        batch_op.drop_index('ix_history_point_at')

    op.drop_table('history_point')
