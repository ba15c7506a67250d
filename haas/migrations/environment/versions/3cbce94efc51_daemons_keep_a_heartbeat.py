"""Daemons keep a heartbeat, in daemon_heartbeat.

Each running networking daemon (each process of `[daemon] processes`)
keeps a row, named by its host and process id, whose seen_at it renews
every few seconds and which it deletes when it stops: `haas-admin doctor`
tells from it whether a daemon is alive, on any host.  A new table:
nothing is rewritten.  Going back drops it.

Revision ID: 3cbce94efc51
Revises: 3c8b1139f71f
Create Date: 2026-12-06 19:15:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '3cbce94efc51'
down_revision = '3c8b1139f71f'
branch_labels = None
depends_on = None

# A new table, which HaaS 0.3 does not read.
phase = 'expand'


def upgrade():
    op.create_table(
        'daemon_heartbeat',
        sa.Column('name', sa.String(), nullable=False),
        sa.Column('kind', sa.String(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('daemon_heartbeat_pkey')))


def downgrade():
    op.drop_table('daemon_heartbeat')
