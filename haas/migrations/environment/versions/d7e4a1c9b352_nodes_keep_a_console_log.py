"""Nodes keep a console log, in console_log.

The console worker (`haas-admin serve-consoles`) captures the serial
console of each node whose row says so and keeps the last of its output
there, where any API server reads it.  A new table: nothing is
rewritten.  Going back drops it, and the logs with it.

Revision ID: d7e4a1c9b352
Revises: 3cbce94efc51
Create Date: 2026-12-06 19:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'd7e4a1c9b352'
down_revision = '3cbce94efc51'
branch_labels = None
depends_on = None

# A new table, which HaaS 0.3 does not read.
phase = 'expand'


def upgrade():
    key = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
    op.create_table(
        'console_log',
        sa.Column('node_id', key, nullable=False),
        sa.Column('capture', sa.Boolean(), nullable=False),
        sa.Column('epoch', sa.BigInteger(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['node_id'], ['node.id'],
                                name=op.f('console_log_node_id_fkey'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('node_id', name=op.f('console_log_pkey')))


def downgrade():
    op.drop_table('console_log')
