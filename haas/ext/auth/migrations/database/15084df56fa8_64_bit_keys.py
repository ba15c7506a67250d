"""HaaS 0.3: the keys of the database auth backend are 64-bit.

They become bigint (user and user_projects) on PostgreSQL, as core's do;
SQLite's are 64-bit already.

Revision ID: 15084df56fa8
Revises: 570e90107adc
Create Date: 2026-12-01 17:00:06

"""
from haas.migrations.ops import narrow_keys, widen_keys

# revision identifiers, used by Alembic.
revision = '15084df56fa8'
down_revision = '570e90107adc'
branch_labels = None
# Core's HaaS 0.3 head, after its keys became 64-bit (3c2af72d0b46):
# core's part of the release comes first, whole.
depends_on = '6ab9ae569654'

lint_waivers = {
    'type-change-rewrites':
        'the table is rewritten once, in the upgrade transaction while the '
        'servers are stopped',
}

COLUMNS = {'user': ['id'], 'user_projects': ['user_id', 'project_id']}
SEQUENCES = ['user_id_seq']


def upgrade():
    widen_keys(COLUMNS, SEQUENCES)


def downgrade():
    narrow_keys(COLUMNS, SEQUENCES)
