"""Networking actions queued before 0.4 get their nic's port.

The contract half of ee4142f61a1b: every action that has a nic and no
port is given its nic's port, in batches that each commit (the servers
keep serving meanwhile), and the foreign key and the check that
ee4142f61a1b added NOT VALID are validated, reading the table without
blocking its writers.  It waits for the contract: until then HaaS 0.3's
servers may queue actions without their port.  Going back forgets
nothing: the ports stay, and the constraints stay valid.

Revision ID: e0635646ea80
Revises: d7e4a1c9b352
Create Date: 2026-12-06 22:00:00

"""
from alembic import op

from haas.migrations.ops import backfill

# revision identifiers, used by Alembic.
revision = 'e0635646ea80'
down_revision = 'd7e4a1c9b352'
branch_labels = None
depends_on = None

# HaaS 0.3's servers queue actions without their port until they stop.
phase = 'contract'
# Each batch of the backfill commits on its own (haas.migrations.ops).
transactional = False


def upgrade():
    backfill('networking_action',
             {'port_id': '(SELECT nic.port_id FROM nic '
                         'WHERE nic.id = networking_action.nic_id)'},
             'port_id IS NULL AND nic_id IS NOT NULL')
    if op.get_context().dialect.name == 'postgresql':
        op.execute('ALTER TABLE networking_action '
                   'VALIDATE CONSTRAINT networking_action_port_id_fkey')
        op.execute('ALTER TABLE networking_action '
                   'VALIDATE CONSTRAINT networking_action_nic_or_port_check')


def downgrade():
    pass
