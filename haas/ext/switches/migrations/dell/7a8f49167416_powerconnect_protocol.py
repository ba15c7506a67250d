"""A PowerConnect switch may be reached over telnet.

power_connect55xx.protocol: registering a switch with `protocol:
"telnet"` makes the driver reach its command line over telnet instead
of SSH (for devices or sites without SSH; telnet sends the password in
clear).  NOT NULL with a server default of 'ssh': existing switches keep
today's transport, and PostgreSQL adds the column without rewriting the
table.  Going back drops the choice: every switch is then reached over
SSH again.

Revision ID: 7a8f49167416
Revises: 4f1c2e8a7b30
Create Date: 2026-12-06 18:40:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '7a8f49167416'
down_revision = '4f1c2e8a7b30'
branch_labels = None
depends_on = None

# A column with a default: HaaS 0.3 inserts switches as before.
phase = 'expand'


def upgrade():
    # A plain ADD COLUMN on both databases (SQLite takes one with a
    # default): batch mode would rebuild the table on SQLite, which
    # `upgrade --sql` cannot write without reading it.
    op.add_column('power_connect55xx',
                  sa.Column('protocol', sa.String(), nullable=False,
                            server_default='ssh'))


def downgrade():
    with op.batch_alter_table('power_connect55xx') as batch:
        batch.drop_column('protocol')
