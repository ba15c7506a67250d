"""HaaS 0.3: a network's access is a list of projects.

The list is the join table network_projects; an empty list means public.  Each network's one project
of access (network.access_id) becomes one row of the list.

Going back is refused while a network has more than one project in its
list, naming them: HaaS 0.2 can hold only one.

Revision ID: 5a8438c6d019
Revises: b5f9f30f275f
Create Date: 2026-12-01 17:00:01

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '5a8438c6d019'
down_revision = 'b5f9f30f275f'
branch_labels = None
depends_on = None

lint_waivers = {
    'breaking-rename-or-drop':
        'network.access_id is read by HaaS 0.2 only, whose servers refuse '
        'a 0.3 schema; its values are in network_projects',
}

KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'network_projects',
        sa.Column('project_id', KEY, nullable=False),
        sa.Column('network_id', KEY, nullable=False),
        sa.PrimaryKeyConstraint('network_id', 'project_id',
                                name='network_projects_pkey'),
    )
    op.execute('INSERT INTO network_projects (project_id, network_id) '
               'SELECT access_id, id FROM network '
               'WHERE access_id IS NOT NULL')
    # Checked once, over the filled table, rather than row by row.
    with op.batch_alter_table('network_projects') as batch:
        batch.create_foreign_key('network_projects_project_id_fkey',
                                 'project', ['project_id'], ['id'])
        batch.create_foreign_key('network_projects_network_id_fkey',
                                 'network', ['network_id'], ['id'])
    op.create_index('network_projects_project_id_idx', 'network_projects',
                    ['project_id'])
    with op.batch_alter_table('network') as batch:
        batch.drop_constraint('network_access_id_fkey', type_='foreignkey')
        batch.drop_column('access_id')


def downgrade():
    if not op.get_context().as_sql:
        shared = op.get_bind().execute(sa.text(
            'SELECT n.label FROM network n '
            'JOIN network_projects p ON p.network_id = n.id '
            'GROUP BY n.id, n.label HAVING count(*) > 1 '
            'ORDER BY n.label')).scalars().all()
        if shared:
            raise RuntimeError(
                f'HaaS 0.2 gives a network one project at most, and '
                f'{len(shared)} have more ({", ".join(shared[:3])}'
                f'{", ..." if len(shared) > 3 else ""}): revoke the access '
                f'of all but one project first')
    access = sa.Column('access_id', sa.Integer(), nullable=True)
    if op.get_bind().dialect.name != 'postgresql':
        with op.batch_alter_table('network', recreate='always') as batch:
            batch.add_column(access, insert_after='owner_id')
            batch.create_foreign_key('network_access_id_fkey', 'project',
                                     ['access_id'], ['id'])
    else:
        op.add_column('network', access)
        op.create_foreign_key('network_access_id_fkey', 'network', 'project',
                              ['access_id'], ['id'])
        # PostgreSQL adds a column last: the two that followed access_id
        # move after it again, as HaaS 0.2 had them.
        for column, kind in (('allocated', 'boolean'),
                             ('network_id', 'varchar NOT NULL')):
            op.execute(f'ALTER TABLE network ADD COLUMN {column}_ '
                       f'{kind.split()[0]}')
            op.execute(f'UPDATE network SET {column}_ = {column}')
            op.execute(f'ALTER TABLE network DROP COLUMN {column}')
            op.execute(f'ALTER TABLE network RENAME COLUMN {column}_ '
                       f'TO {column}')
            if kind.endswith('NOT NULL'):
                op.execute(f'ALTER TABLE network ALTER COLUMN {column} '
                           f'SET NOT NULL')
    op.execute('UPDATE network SET access_id = ('
               'SELECT project_id FROM network_projects p '
               'WHERE p.network_id = network.id)')
    op.drop_table('network_projects')
