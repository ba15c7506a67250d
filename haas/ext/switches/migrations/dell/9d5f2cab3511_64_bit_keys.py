"""HaaS 0.3: the keys of the Dell PowerConnect switch are 64-bit.

They become bigint (power_connect55xx) on PostgreSQL, as core's do;
SQLite's are 64-bit already.

Revision ID: 9d5f2cab3511
Revises: 099b939261c1
Create Date: 2026-12-01 17:00:06

"""
from haas.migrations.ops import narrow_keys, widen_keys

# revision identifiers, used by Alembic.
revision = '9d5f2cab3511'
down_revision = '099b939261c1'
branch_labels = None
# Core's HaaS 0.3 head, after its keys became 64-bit (3c2af72d0b46):
# core's part of the release comes first, whole.
depends_on = '6ab9ae569654'

lint_waivers = {
    'type-change-rewrites':
        'the table is rewritten once, in the upgrade transaction while the '
        'servers are stopped',
}

COLUMNS = {'power_connect55xx': ['id']}
SEQUENCES = []


def upgrade():
    widen_keys(COLUMNS, SEQUENCES)


def downgrade():
    narrow_keys(COLUMNS, SEQUENCES)
