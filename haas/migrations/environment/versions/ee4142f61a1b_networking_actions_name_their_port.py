"""Networking actions name the port they change, and may have no nic.

A port is reverted when it is registered, before any nic is cabled to
it, so an action now names its port (networking_action.port_id) and its
nic only when it has one (nic_id becomes nullable); a check keeps one of
the two set.  The daemon groups actions by the port's switch and keeps a
port's actions in order with its nic's.  The queued actions are given
their nic's port, in one UPDATE.

Going back deletes the finished actions that have no nic, and is refused
while one is pending: the older schema cannot hold it.

Revision ID: ee4142f61a1b
Revises: eba7cfa60973
Create Date: 2026-12-06 15:20:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'ee4142f61a1b'
down_revision = 'eba7cfa60973'
branch_labels = None
depends_on = None

lint_waivers = {
    'constraint-not-valid':
        'networking_action holds one finished action per nic at most and '
        'the pending ones: the check and the foreign key read a small '
        'table once, in the upgrade transaction, while the servers are '
        'stopped',
}

Key = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
NIC_OR_PORT = 'nic_id IS NOT NULL OR port_id IS NOT NULL'


def upgrade():
    with op.batch_alter_table('networking_action') as batch:
        batch.add_column(sa.Column('port_id', Key, nullable=True))
    op.execute('UPDATE networking_action SET port_id = '
               '(SELECT nic.port_id FROM nic '
               'WHERE nic.id = networking_action.nic_id)')
    with op.batch_alter_table('networking_action') as batch:
        batch.create_foreign_key('networking_action_port_id_fkey', 'port',
                                 ['port_id'], ['id'])
        batch.alter_column('nic_id', existing_type=Key, nullable=True)
        batch.create_check_constraint('nic_or_port', NIC_OR_PORT)


def downgrade():
    if not op.get_context().as_sql:
        pending = op.get_bind().execute(sa.text(
            "SELECT count(*) FROM networking_action "
            "WHERE nic_id IS NULL AND status = 'PENDING'")).scalar()
        if pending:
            raise RuntimeError(
                f'{pending} action(s) on ports without a nic are pending, '
                f'which the older schema cannot hold: let serve-networks '
                f'apply them first')
    op.execute('DELETE FROM networking_action WHERE nic_id IS NULL')
    with op.batch_alter_table('networking_action') as batch:
        batch.drop_constraint(op.f('networking_action_nic_or_port_check'),
                              type_='check')
        batch.alter_column('nic_id', existing_type=Key, nullable=False)
        batch.drop_constraint('networking_action_port_id_fkey',
                              type_='foreignkey')
        batch.drop_column('port_id')
