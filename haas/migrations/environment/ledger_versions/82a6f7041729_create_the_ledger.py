"""Create the migration ledger, `haas_schema_ledger`.

One row per revision applied or reverted, per stamp, per `create` and per
accepted change (see haas.migrations.ledger).  The revisions a database
had before this one are back-filled once it has run, by HaaS, as "before
ledger".

Revision ID: 82a6f7041729
Revises:
Create Date: 2026-12-01 00:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '82a6f7041729'
down_revision = None
branch_labels = ('haas.migrations.ledger',)
depends_on = None


def upgrade():
    op.create_table(
        'haas_schema_ledger',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('branch', sa.String(length=255), nullable=False),
        sa.Column('revision', sa.String(length=32), nullable=False),
        sa.Column('direction', sa.String(length=16), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('duration', sa.Float(), nullable=True),
        sa.Column('haas_version', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='haas_schema_ledger_pkey'),
    )


def downgrade():
    op.drop_table('haas_schema_ledger')
