"""HaaS 0.3: the keys of the IPMI OBM are 64-bit.

They become bigint (ipmi) on PostgreSQL, as core's do; SQLite's are 64-bit
already.

Revision ID: bfe71cdb8f5d
Revises: 4b9e9d637c6b
Create Date: 2026-12-01 17:00:06

"""
from haas.migrations.ops import narrow_keys, widen_keys

# revision identifiers, used by Alembic.
revision = 'bfe71cdb8f5d'
down_revision = '4b9e9d637c6b'
branch_labels = None
# Core's HaaS 0.3 head, after its keys became 64-bit (3c2af72d0b46):
# core's part of the release comes first, whole.
depends_on = '6ab9ae569654'

lint_waivers = {
    'type-change-rewrites':
        'the table is rewritten once, in the upgrade transaction while the '
        'servers are stopped',
}

COLUMNS = {'ipmi': ['id']}
SEQUENCES = []


def upgrade():
    widen_keys(COLUMNS, SEQUENCES)


def downgrade():
    narrow_keys(COLUMNS, SEQUENCES)
