"""Add the Dell N3000 switch driver's table, dell_n3000.

One row per N3000 switch: how to reach it over SSH, the dummy VLAN its
ports take as their native VLAN when no network is native, and whether
each change is saved to the startup configuration.  Its id is the
switch's, bigint on PostgreSQL like every key since HaaS 0.3.

Revision ID: 5990e8f736a1
Revises:
Create Date: 2026-12-06 15:27:27

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '5990e8f736a1'
down_revision = None
branch_labels = ('haas.ext.switches.n3000',)
# `switch` is created by core's 6a8c19565060, but its key is bigint only
# from 3c2af72d0b46 on; this table's key refers to it, so it waits for
# core's HaaS 0.3, whole, as the other drivers' 0.3 revisions do.
depends_on = '6ab9ae569654'

# A new table, which HaaS 0.3 does not read.
phase = 'expand'


def upgrade():
    op.create_table(
        'dell_n3000',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  nullable=False),
        sa.Column('hostname', sa.String(), nullable=False),
        sa.Column('username', sa.String(), nullable=False),
        sa.Column('password', sa.String(), nullable=False),
        sa.Column('dummy_vlan', sa.Integer(), nullable=False),
        sa.Column('save', sa.Boolean(), server_default=sa.false(),
                  nullable=False),
        sa.ForeignKeyConstraint(['id'], ['switch.id'],
                                name='dell_n3000_id_fkey'),
        sa.PrimaryKeyConstraint('id', name='dell_n3000_pkey'),
    )


def downgrade():
    op.drop_table('dell_n3000')
