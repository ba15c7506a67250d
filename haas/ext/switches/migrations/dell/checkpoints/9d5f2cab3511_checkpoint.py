"""Checkpoint of branch haas.ext.switches.dell at release 0.3 (9d5f2cab3511).

Builds the branch's tables at 9d5f2cab3511 at once, on a database where
the branch has none yet, in place of the revisions it replaces; a
database at any of them goes on through the history.  Written by
`haas-admin db checkpoint haas.ext.switches.dell --release 0.3` from the
schema the history builds there; `haas-admin db check` proves it still
equal to that history.  Never edited but to make it equal again.
"""

import sqlalchemy as sa
from alembic import op


branch = 'haas.ext.switches.dell'
checkpoint_of = '9d5f2cab3511'
replaces = ('099b939261c1', '9d5f2cab3511')


def upgrade():
    op.create_table('power_connect55xx',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=False, nullable=False),
    sa.Column('hostname', sa.VARCHAR(), nullable=False),
    sa.Column('username', sa.VARCHAR(), nullable=False),
    sa.Column('password', sa.VARCHAR(), nullable=False),
    sa.ForeignKeyConstraint(['id'], ['switch.id'], name=op.f('power_connect55xx_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('power_connect55xx_pkey'))
    )
