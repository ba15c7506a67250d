"""HaaS 0.2 baseline of the VLAN pool allocator: create `vlan`.

A HaaS 0.2 database already has this table under this name; it is kept as
it is, with every row.  The pool's VLANs are not inserted here: they come
from the configuration, through `haas-admin db create`.

Revision ID: 652c395af394
Revises:
Create Date: 2016-03-15 00:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '652c395af394'
down_revision = None
branch_labels = ('haas.ext.network_allocators.vlan_pool',)
depends_on = None

# Tables this first revision adopts where it finds them (legacy name ->
# today's name); HaaS compares them with this revision's schema first.
legacy_tables = {}


def _existing_tables():
    if op.get_context().as_sql:
        return set()  # offline SQL is written for an empty database
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade():
    existing = _existing_tables()
    if 'vlan' in existing and op.get_bind().dialect.name == 'postgresql':
        # HaaS 0.2's sequence carries no type, which PostgreSQL takes as
        # bigint; the integer id column `create` makes gets an integer one.
        op.execute('ALTER SEQUENCE IF EXISTS vlan_id_seq AS integer')
    if 'vlan' not in existing:
        op.create_table(
            'vlan',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('vlan_no', sa.Integer(), nullable=False),
            sa.Column('available', sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint('id', name='vlan_pkey'),
            sa.UniqueConstraint('vlan_no', name='vlan_vlan_no_key'),
        )


def downgrade():
    op.drop_table('vlan')
