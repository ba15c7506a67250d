"""HaaS 0.3: a network's creator is its owner.

network.creator_id becomes network.owner_id, its foreign key renamed with
it.

Revision ID: b5f9f30f275f
Revises: 6a8c19565060
Create Date: 2026-12-01 17:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b5f9f30f275f'
down_revision = '6a8c19565060'
branch_labels = None
depends_on = None

lint_waivers = {
    'breaking-rename-or-drop':
        'HaaS 0.3 reads the new name; a server of another release refuses '
        'the schema, so no server reads the old name after the upgrade',
}


def _rename(old, new):
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE network RENAME COLUMN {old}_id TO {new}_id')
        op.execute(f'ALTER TABLE network RENAME CONSTRAINT '
                   f'network_{old}_id_fkey TO network_{new}_id_fkey')
        return
    # SQLite renames a constraint by copying the table; the new one is
    # added once the column has its new name.
    with op.batch_alter_table('network') as batch:
        batch.drop_constraint(f'network_{old}_id_fkey', type_='foreignkey')
        batch.alter_column(f'{old}_id', new_column_name=f'{new}_id')
    with op.batch_alter_table('network') as batch:
        batch.create_foreign_key(f'network_{new}_id_fkey', 'project',
                                 [f'{new}_id'], ['id'])


def upgrade():
    _rename('creator', 'owner')


def downgrade():
    _rename('owner', 'creator')
