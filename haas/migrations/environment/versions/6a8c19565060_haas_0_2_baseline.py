"""HaaS 0.2 baseline of core: adopt a pre-versioning database, or create.

Before schema versioning, HaaS named two tables after their class names in
lower case.  Where those legacy tables exist they are renamed to today's
names, with their id sequences and constraints, keeping every row; every
core table that exists under neither name is created.  The revision id is
the one upstream HaaS gave its first core migration, so databases it
stamped are recognised.

Revision ID: 6a8c19565060
Revises:
Create Date: 2016-03-15 00:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '6a8c19565060'
down_revision = None
branch_labels = ('haas',)
depends_on = None

LEGACY_NAMES = {
    'networkattachment': 'network_attachment',
    'networkingaction': 'networking_action',
}
# Tables this first revision adopts where it finds them (legacy name ->
# today's name); HaaS compares them with this revision's schema first.
legacy_tables = LEGACY_NAMES


def _tables():
    """Table name -> (columns and constraints), in creation order."""
    def pk(table):
        return sa.PrimaryKeyConstraint('id', name=f'{table}_pkey')

    def fk(table, column, target):
        return sa.ForeignKeyConstraint([column], [target],
                                       name=f'{table}_{column}_fkey')

    def label():
        return sa.Column('label', sa.String(), nullable=False)

    def id_():
        return sa.Column('id', sa.Integer(), nullable=False)

    return {
        'project': [id_(), label(), pk('project')],
        'obm': [id_(), sa.Column('type', sa.String(), nullable=False),
                pk('obm')],
        'switch': [id_(), label(),
                   sa.Column('type', sa.String(), nullable=False),
                   pk('switch')],
        'node': [id_(), label(),
                 sa.Column('project_id', sa.Integer(), nullable=True),
                 sa.Column('obm_id', sa.Integer(), nullable=False),
                 fk('node', 'obm_id', 'obm.id'),
                 fk('node', 'project_id', 'project.id'), pk('node')],
        'port': [id_(), label(),
                 sa.Column('owner_id', sa.Integer(), nullable=False),
                 fk('port', 'owner_id', 'switch.id'), pk('port')],
        'nic': [id_(), label(),
                sa.Column('owner_id', sa.Integer(), nullable=False),
                sa.Column('mac_addr', sa.String(), nullable=True),
                sa.Column('port_id', sa.Integer(), nullable=True),
                fk('nic', 'owner_id', 'node.id'),
                fk('nic', 'port_id', 'port.id'), pk('nic')],
        'network': [id_(), label(),
                    sa.Column('creator_id', sa.Integer(), nullable=True),
                    sa.Column('access_id', sa.Integer(), nullable=True),
                    sa.Column('allocated', sa.Boolean(), nullable=True),
                    sa.Column('network_id', sa.String(), nullable=False),
                    fk('network', 'access_id', 'project.id'),
                    fk('network', 'creator_id', 'project.id'),
                    pk('network')],
        'headnode': [id_(), label(),
                     sa.Column('project_id', sa.Integer(), nullable=False),
                     sa.Column('dirty', sa.Boolean(), nullable=False),
                     sa.Column('base_img', sa.String(), nullable=False),
                     sa.Column('uuid', sa.String(), nullable=False),
                     fk('headnode', 'project_id', 'project.id'),
                     pk('headnode'),
                     sa.UniqueConstraint('uuid', name='headnode_uuid_key')],
        'hnic': [id_(), label(),
                 sa.Column('owner_id', sa.Integer(), nullable=False),
                 sa.Column('network_id', sa.Integer(), nullable=True),
                 fk('hnic', 'network_id', 'network.id'),
                 fk('hnic', 'owner_id', 'headnode.id'), pk('hnic')],
        'networking_action': [
            id_(), sa.Column('nic_id', sa.Integer(), nullable=False),
            sa.Column('new_network_id', sa.Integer(), nullable=True),
            sa.Column('channel', sa.String(), nullable=False),
            fk('networking_action', 'new_network_id', 'network.id'),
            fk('networking_action', 'nic_id', 'nic.id'),
            pk('networking_action')],
        'network_attachment': [
            id_(), sa.Column('nic_id', sa.Integer(), nullable=False),
            sa.Column('network_id', sa.Integer(), nullable=False),
            sa.Column('channel', sa.String(), nullable=False),
            fk('network_attachment', 'network_id', 'network.id'),
            fk('network_attachment', 'nic_id', 'nic.id'),
            pk('network_attachment')],
    }


def _existing_tables():
    if op.get_context().as_sql:
        return set()  # offline SQL is written for an empty database
    return set(sa.inspect(op.get_bind()).get_table_names())


def _adopt(old, new):
    """Rename table `old` to `new`, with its sequence and constraints."""
    op.rename_table(old, new)
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    op.execute(f'ALTER SEQUENCE IF EXISTS {old}_id_seq '
               f'RENAME TO {new}_id_seq')
    constraints = bind.execute(sa.text(
        'SELECT conname FROM pg_constraint '
        'WHERE conrelid = CAST(:table AS regclass) AND conname LIKE :prefix'
    ), {'table': new, 'prefix': old + r'\_%'}).scalars().all()
    for name in constraints:
        op.execute(f'ALTER TABLE {new} RENAME CONSTRAINT {name} '
                   f'TO {new}{name[len(old):]}')


def _integer_sequences(tables):
    # HaaS 0.2's sequences carry no type, which PostgreSQL takes as bigint;
    # the integer id columns `create` makes get integer sequences.
    if op.get_bind().dialect.name == 'postgresql':
        for name in tables:
            op.execute(f'ALTER SEQUENCE IF EXISTS {name}_id_seq AS integer')


def upgrade():
    existing = _existing_tables()
    for old, new in LEGACY_NAMES.items():
        if old in existing and new not in existing:
            _adopt(old, new)
            existing.add(new)
    tables = _tables()
    _integer_sequences([name for name in tables if name in existing])
    for name, elements in tables.items():
        if name not in existing:
            op.create_table(name, *elements)


def downgrade():
    for name in reversed(list(_tables())):
        op.drop_table(name)
