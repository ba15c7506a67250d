"""HaaS 0.3: the keys of the Cisco Nexus switch are 64-bit.

They become bigint (nexus) on PostgreSQL, as core's do; SQLite's are 64-bit
already.

Revision ID: 45b6520d2c63
Revises: bf72d2ab7e56
Create Date: 2026-12-01 17:00:06

"""
from haas.migrations.ops import narrow_keys, widen_keys

# revision identifiers, used by Alembic.
revision = '45b6520d2c63'
down_revision = 'bf72d2ab7e56'
branch_labels = None
# Core's HaaS 0.3 head, after its keys became 64-bit (3c2af72d0b46):
# core's part of the release comes first, whole.
depends_on = '6ab9ae569654'

lint_waivers = {
    'type-change-rewrites':
        'the table is rewritten once, in the upgrade transaction while the '
        'servers are stopped',
}

COLUMNS = {'nexus': ['id']}
SEQUENCES = []


def upgrade():
    widen_keys(COLUMNS, SEQUENCES)


def downgrade():
    narrow_keys(COLUMNS, SEQUENCES)
