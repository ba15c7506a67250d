"""A Nexus switch may save its configuration after each change.

nexus.save: registering a switch with `save: true` makes the driver
copy the running configuration to the startup one after each change, so
that a reboot keeps what HaaS set.  NOT NULL with a server default of false: existing
switches keep today's behaviour, and PostgreSQL adds the column without
rewriting the table.  Going back drops the choice.

Revision ID: 7c3e91d04a52
Revises: 45b6520d2c63
Create Date: 2027-02-01 11:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '7c3e91d04a52'
down_revision = '45b6520d2c63'
branch_labels = None
depends_on = None

# A column with a default: HaaS 0.3 inserts switches as before.
phase = 'expand'


def upgrade():
    # A plain ADD COLUMN on both databases (SQLite takes one with a
    # default): batch mode would rebuild the table on SQLite, which
    # `upgrade --sql` cannot write without reading it.
    op.add_column('nexus', sa.Column('save', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('nexus') as batch:
        batch.drop_column('save')
