"""HaaS 0.3: core's primary and foreign keys are 64-bit.

They become bigint, with bigint sequences, on PostgreSQL; SQLite's keys
are 64-bit already.  Each table is rewritten once: the foreign keys on these columns,
and those of extensions that refer to them, are dropped first and
restored after.  (network_projects and metadata were made 64-bit by
the revisions that created them.)

Going back is refused, naming the column, where a key no longer fits in
32 bits.

Revision ID: 3c2af72d0b46
Revises: 153502badb2b
Create Date: 2026-12-01 17:00:05

"""
from haas.migrations.ops import narrow_keys, widen_keys

# revision identifiers, used by Alembic.
revision = '3c2af72d0b46'
down_revision = '153502badb2b'
branch_labels = None
depends_on = None

lint_waivers = {
    'type-change-rewrites':
        'widening the keys rewrites each table once, in the upgrade '
        'transaction while the servers are stopped; there is no way '
        'around the rewrite',
}

COLUMNS = {
    'project': ['id'],
    'obm': ['id'],
    'switch': ['id'],
    'node': ['id', 'project_id', 'obm_id'],
    'port': ['id', 'owner_id'],
    'nic': ['id', 'owner_id', 'port_id'],
    'network': ['id', 'owner_id'],
    'headnode': ['id', 'project_id'],
    'hnic': ['id', 'owner_id', 'network_id'],
    'networking_action': ['id', 'nic_id', 'new_network_id'],
    'network_attachment': ['id', 'nic_id', 'network_id'],
}
SEQUENCES = [f'{table}_id_seq' for table in COLUMNS]


def upgrade():
    widen_keys(COLUMNS, SEQUENCES)


def downgrade():
    narrow_keys(COLUMNS, SEQUENCES)
