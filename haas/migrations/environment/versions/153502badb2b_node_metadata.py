"""HaaS 0.3: nodes carry metadata, in the metadata table.

Metadata are labelled JSON values an administrator sets, one value per
label and node.  Going back is refused while any node has metadata, which
HaaS 0.2 cannot hold.

Revision ID: 153502badb2b
Revises: 956783fe5a7b
Create Date: 2026-12-01 17:00:04

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '153502badb2b'
down_revision = '956783fe5a7b'
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'metadata',
        sa.Column('id', KEY, nullable=False),
        sa.Column('label', sa.String(), nullable=False),
        sa.Column('value', sa.String(), nullable=False),
        sa.Column('owner_id', KEY, nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['node.id'],
                                name='metadata_owner_id_fkey'),
        sa.PrimaryKeyConstraint('id', name='metadata_pkey'),
        sa.UniqueConstraint('owner_id', 'label', name='metadata_owner_id_key'),
    )


def downgrade():
    if not op.get_context().as_sql:
        held = op.get_bind().execute(sa.text(
            'SELECT count(*) FROM metadata')).scalar()
        if held:
            raise RuntimeError(
                f'the nodes hold {held} metadata value(s), which HaaS 0.2 '
                f'cannot: delete them first (node_delete_metadata)')
    op.drop_table('metadata')
