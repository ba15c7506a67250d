"""Nodes say whether their OBM is enabled (node.obm_enabled).

node_set_obm (`PUT /node/<node>/obm`) sets it: a node whose OBM is
disabled (false) refuses power, boot device and console calls, and one
whose OBM is enabled (true) is not detached from its project unless an
administrator forces it.  NULL, what every node has before (and a new
node until it is set), leaves the node as HaaS 0.3 had it: its OBM
answers and its project may detach it.

Going back is refused while a node's OBM is disabled: the older schema
would let anyone power it again.

Revision ID: a7c6e21bf432
Revises: ee4142f61a1b
Create Date: 2026-12-06 18:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'a7c6e21bf432'
down_revision = 'ee4142f61a1b'
branch_labels = None
depends_on = None

# A nullable column: HaaS 0.3 reads and writes nodes as before.
phase = 'expand'


def upgrade():
    with op.batch_alter_table('node') as batch:
        batch.add_column(sa.Column('obm_enabled', sa.Boolean(),
                                   nullable=True))


def downgrade():
    if not op.get_context().as_sql:
        disabled = op.get_bind().execute(sa.text(
            'SELECT count(*) FROM node WHERE NOT obm_enabled')).scalar()
        if disabled:
            raise RuntimeError(
                f'{disabled} node(s) have their OBM disabled, which the '
                f'older schema cannot hold: enable them first '
                f'(node_set_obm)')
    with op.batch_alter_table('node') as batch:
        batch.drop_column('obm_enabled')
