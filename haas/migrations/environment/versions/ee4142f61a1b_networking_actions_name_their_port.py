"""Networking actions name the port they change, and may have no nic.

A port is reverted when it is registered, before any nic is cabled to
it, so an action now names its port (networking_action.port_id) and its
nic only when it has one (nic_id becomes nullable); a check keeps one of
the two set.  The daemon groups actions by the port's switch and keeps a
port's actions in order with its nic's.

The expand half of the change: the column, and the foreign key and the
check added NOT VALID (each takes its lock for a moment, and reads no
row), while HaaS 0.3's servers keep queueing actions by nic.  The actions
are given their nic's port, and the constraints validated, by the
contract revision e0635646ea80, once no 0.3 server is left to queue an
action without its port.

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

# Additive: HaaS 0.3 queues every action with its nic, which the check
# accepts, and reads no action without one until a 0.4 server queues it.
phase = 'expand'

Key = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
NIC_OR_PORT = 'nic_id IS NOT NULL OR port_id IS NOT NULL'


def upgrade():
    with op.batch_alter_table('networking_action') as batch:
        batch.add_column(sa.Column('port_id', Key, nullable=True))
        batch.create_foreign_key('networking_action_port_id_fkey', 'port',
                                 ['port_id'], ['id'],
                                 postgresql_not_valid=True)
        batch.alter_column('nic_id', existing_type=Key, nullable=True)
        batch.create_check_constraint('nic_or_port', NIC_OR_PORT,
                                      postgresql_not_valid=True)


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
