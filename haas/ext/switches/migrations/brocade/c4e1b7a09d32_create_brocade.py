"""Create `brocade`, the Brocade NOS switch driver's table.

Revision ID: c4e1b7a09d32
Revises:
Create Date: 2026-12-06 15:30:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'c4e1b7a09d32'
down_revision = None
branch_labels = ('haas.ext.switches.brocade',)
# Core's head when this branch began: `switch`, which this table refers
# to, with its 64-bit keys.
depends_on = 'eba7cfa60973'

# A new table, which HaaS 0.3 does not read.
phase = 'expand'


def upgrade():
    op.create_table(
        'brocade',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('hostname', sa.String(), nullable=False),
        sa.Column('username', sa.String(), nullable=False),
        sa.Column('password', sa.String(), nullable=False),
        sa.Column('interface_type', sa.String(), nullable=False),
        sa.Column('save', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['id'], ['switch.id'],
                                name='brocade_id_fkey'),
        sa.PrimaryKeyConstraint('id', name='brocade_pkey'),
    )


def downgrade():
    op.drop_table('brocade')
