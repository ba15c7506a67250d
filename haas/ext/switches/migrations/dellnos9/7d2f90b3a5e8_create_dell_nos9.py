"""Create `dell_nos9`, the Dell OS9 switch driver's table.

Revision ID: 7d2f90b3a5e8
Revises:
Create Date: 2026-12-06 15:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '7d2f90b3a5e8'
down_revision = None
branch_labels = ('haas.ext.switches.dellnos9',)
# Core's head when this branch began: `switch`, which this table refers
# to, with its 64-bit keys.
depends_on = 'eba7cfa60973'

# A new table, which HaaS 0.3 does not read.
phase = 'expand'


def upgrade():
    op.create_table(
        'dell_nos9',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('hostname', sa.String(), nullable=False),
        sa.Column('username', sa.String(), nullable=False),
        sa.Column('password', sa.String(), nullable=False),
        sa.Column('interface_type', sa.String(), nullable=False),
        sa.Column('save', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['id'], ['switch.id'],
                                name='dell_nos9_id_fkey'),
        sa.PrimaryKeyConstraint('id', name='dell_nos9_pkey'),
    )


def downgrade():
    op.drop_table('dell_nos9')
