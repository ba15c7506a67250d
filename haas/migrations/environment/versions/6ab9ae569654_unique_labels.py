"""HaaS 0.3: network, node, project and switch labels are unique.

The database now holds them unique, as the API has always kept them.

Rows written around the API may share a label; the data checks stop the
upgrade before any change, naming the labels to rename.

Revision ID: 6ab9ae569654
Revises: 3c2af72d0b46
Create Date: 2026-12-01 17:00:06

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '6ab9ae569654'
down_revision = '3c2af72d0b46'
branch_labels = None
depends_on = None

TABLES = ('network', 'node', 'project', 'switch')

data_checks = [
    (f'SELECT label, count(*) FROM {table} GROUP BY label '
     f'HAVING count(*) > 1 ORDER BY label',
     f'{table} labels must be unique: rename all but one {table} of each '
     f'label shown (label, count)')
    for table in TABLES
]

lint_waivers = {
    'index-not-concurrent':
        'the unique index is built in the upgrade transaction, while the '
        'servers are stopped; it reads each table once',
}


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_unique_constraint(f'{table}_label_key', ['label'])


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'{table}_label_key', type_='unique')
