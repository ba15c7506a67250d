"""HaaS 0.2 baseline of the IPMI OBM driver: create `ipmi` unless it exists.

A HaaS 0.2 database already has this table under this name; it is kept
as it is, with every row.

Revision ID: 4b9e9d637c6b
Revises:
Create Date: 2016-03-15 00:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '4b9e9d637c6b'
down_revision = None
branch_labels = ('haas.ext.obm.ipmi',)
# The core revision that creates `obm`, which this table refers to.
depends_on = '6a8c19565060'

# Tables this first revision adopts where it finds them (legacy name ->
# today's name); HaaS compares them with this revision's schema first.
legacy_tables = {}

TABLE = 'ipmi'

def _existing_tables():
    if op.get_context().as_sql:
        return set()  # offline SQL is written for an empty database
    return set(sa.inspect(op.get_bind()).get_table_names())


def _create():
    op.create_table(
        TABLE,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(), nullable=False),
        sa.Column('user', sa.String(), nullable=False),
        sa.Column('password', sa.String(), nullable=False),
        sa.ForeignKeyConstraint(['id'], ['obm.id'], name='ipmi_id_fkey'),
        sa.PrimaryKeyConstraint('id', name='ipmi_pkey'),
    )


def upgrade():
    if TABLE not in _existing_tables():
        _create()


def downgrade():
    op.drop_table(TABLE)
