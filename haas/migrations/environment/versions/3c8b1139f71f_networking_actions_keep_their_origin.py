"""Networking actions keep when and by which request they were queued.

networking_action.queued_at (UTC) tells how long an action has waited,
which the metrics report for the oldest pending one; request_id is the
id of the API request that queued it (the caller's X-Request-Id, or the
one the server gave it), which the daemon adds to its log lines about
the action.  Two nullable columns: actions queued before have neither,
and nothing is rewritten.  Going back drops them.

Revision ID: 3c8b1139f71f
Revises: a7c6e21bf432
Create Date: 2026-12-06 19:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '3c8b1139f71f'
down_revision = 'a7c6e21bf432'
branch_labels = None
depends_on = None

# Nullable columns: HaaS 0.3 queues actions as before.
phase = 'expand'


def upgrade():
    with op.batch_alter_table('networking_action') as batch:
        batch.add_column(sa.Column('queued_at', sa.DateTime(),
                                   nullable=True))
        batch.add_column(sa.Column('request_id', sa.String(),
                                   nullable=True))


def downgrade():
    with op.batch_alter_table('networking_action') as batch:
        batch.drop_column('request_id')
        batch.drop_column('queued_at')
