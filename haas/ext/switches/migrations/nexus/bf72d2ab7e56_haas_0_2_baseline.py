"""HaaS 0.2 baseline of the Cisco Nexus switch driver: create `nexus` unless it exists.

A HaaS 0.2 database already has this table under this name; it is kept
as it is, with every row.

Revision ID: bf72d2ab7e56
Revises:
Create Date: 2016-03-15 00:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'bf72d2ab7e56'
down_revision = None
branch_labels = ('haas.ext.switches.nexus',)
# The core revision that creates `switch`, which this table refers to.
depends_on = '6a8c19565060'

# Tables this first revision adopts where it finds them (legacy name ->
# today's name); HaaS compares them with this revision's schema first.
legacy_tables = {}

TABLE = 'nexus'

def _existing_tables():
    if op.get_context().as_sql:
        return set()  # offline SQL is written for an empty database
    return set(sa.inspect(op.get_bind()).get_table_names())


def _create():
    op.create_table(
        TABLE,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hostname', sa.String(), nullable=False),
        sa.Column('username', sa.String(), nullable=False),
        sa.Column('password', sa.String(), nullable=False),
        sa.Column('dummy_vlan', sa.String(), nullable=False),
        sa.ForeignKeyConstraint(['id'], ['switch.id'], name='nexus_id_fkey'),
        sa.PrimaryKeyConstraint('id', name='nexus_pkey'),
    )


def upgrade():
    if TABLE not in _existing_tables():
        _create()


def downgrade():
    op.drop_table(TABLE)
