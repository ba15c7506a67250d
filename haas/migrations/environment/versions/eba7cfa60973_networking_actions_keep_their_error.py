"""Networking actions keep the reason they failed, in networking_action.error.

A switch's refusal marks an action ERROR; a switch that cannot take it now
leaves it PENDING, to be tried again.  Either way the reason, which only
the daemon's log held, is kept with the action for show_networking_action.
A nullable column: existing actions have no reason, and nothing is
rewritten.  Going back drops the reasons.

Revision ID: eba7cfa60973
Revises: 6ab9ae569654
Create Date: 2027-01-15 10:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'eba7cfa60973'
down_revision = '6ab9ae569654'
branch_labels = None
depends_on = None

# A nullable column: HaaS 0.3 reads and writes the table as before.
phase = 'expand'


def upgrade():
    with op.batch_alter_table('networking_action') as batch:
        batch.add_column(sa.Column('error', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('networking_action') as batch:
        batch.drop_column('error')
