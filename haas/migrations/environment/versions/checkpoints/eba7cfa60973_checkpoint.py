"""Checkpoint of branch haas at release 0.3 (eba7cfa60973).

Builds the branch's tables at eba7cfa60973 at once, on a database where
the branch has none yet, in place of the revisions it replaces; a
database at any of them goes on through the history.  Written by
`haas-admin db checkpoint haas --release 0.3` from the schema the
history builds there; `haas-admin db check` proves it still equal to
that history.  Never edited but to make it equal again.
"""

import sqlalchemy as sa
from alembic import op


branch = 'haas'
checkpoint_of = 'eba7cfa60973'
replaces = ('6a8c19565060',
 'b5f9f30f275f',
 '5a8438c6d019',
 '956783fe5a7b',
 '153502badb2b',
 '3c2af72d0b46',
 '6ab9ae569654',
 'eba7cfa60973')


def upgrade():
    op.create_table('obm',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('type', sa.VARCHAR(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('obm_pkey'))
    )
    op.create_table('project',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('label', sa.VARCHAR(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('project_pkey')),
    sa.UniqueConstraint('label', name=op.f('project_label_key'))
    )
    op.create_table('switch',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('label', sa.VARCHAR(), nullable=False),
    sa.Column('type', sa.VARCHAR(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('switch_pkey')),
    sa.UniqueConstraint('label', name=op.f('switch_label_key'))
    )
    op.create_table('headnode',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('label', sa.VARCHAR(), nullable=False),
    sa.Column('project_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=False),
    sa.Column('dirty', sa.BOOLEAN(), nullable=False),
    sa.Column('base_img', sa.VARCHAR(), nullable=False),
    sa.Column('uuid', sa.VARCHAR(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('headnode_project_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('headnode_pkey')),
    sa.UniqueConstraint('uuid', name=op.f('headnode_uuid_key'))
    )
    op.create_table('network',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('label', sa.VARCHAR(), nullable=False),
    sa.Column('owner_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=True),
    sa.Column('allocated', sa.BOOLEAN(), nullable=True),
    sa.Column('network_id', sa.VARCHAR(), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['project.id'], name=op.f('network_owner_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('network_pkey')),
    sa.UniqueConstraint('label', name=op.f('network_label_key'))
    )
    op.create_table('node',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('label', sa.VARCHAR(), nullable=False),
    sa.Column('project_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=True),
    sa.Column('obm_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['obm_id'], ['obm.id'], name=op.f('node_obm_id_fkey')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('node_project_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('node_pkey')),
    sa.UniqueConstraint('label', name=op.f('node_label_key'))
    )
    op.create_table('port',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('label', sa.VARCHAR(), nullable=False),
    sa.Column('owner_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['switch.id'], name=op.f('port_owner_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('port_pkey'))
    )
    op.create_table('hnic',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('label', sa.VARCHAR(), nullable=False),
    sa.Column('owner_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=False),
    sa.Column('network_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], name=op.f('hnic_network_id_fkey')),
    sa.ForeignKeyConstraint(['owner_id'], ['headnode.id'], name=op.f('hnic_owner_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('hnic_pkey'))
    )
    op.create_table('metadata',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('label', sa.VARCHAR(), nullable=False),
    sa.Column('value', sa.VARCHAR(), nullable=False),
    sa.Column('owner_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['node.id'], name=op.f('metadata_owner_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('metadata_pkey')),
    sa.UniqueConstraint('owner_id', 'label', name=op.f('metadata_owner_id_key'))
    )
    op.create_table('network_projects',
    sa.Column('project_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=False, nullable=False),
    sa.Column('network_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=False, nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], name=op.f('network_projects_network_id_fkey')),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('network_projects_project_id_fkey')),
    sa.PrimaryKeyConstraint('network_id', 'project_id', name=op.f('network_projects_pkey'))
    )
    op.create_index(op.f('network_projects_project_id_idx'), 'network_projects', ['project_id'], unique=False)
    op.create_table('nic',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('label', sa.VARCHAR(), nullable=False),
    sa.Column('owner_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=False),
    sa.Column('mac_addr', sa.VARCHAR(), nullable=True),
    sa.Column('port_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['node.id'], name=op.f('nic_owner_id_fkey')),
    sa.ForeignKeyConstraint(['port_id'], ['port.id'], name=op.f('nic_port_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('nic_pkey'))
    )
    op.create_table('network_attachment',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('nic_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=False),
    sa.Column('network_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=False),
    sa.Column('channel', sa.VARCHAR(), nullable=False),
    sa.ForeignKeyConstraint(['network_id'], ['network.id'], name=op.f('network_attachment_network_id_fkey')),
    sa.ForeignKeyConstraint(['nic_id'], ['nic.id'], name=op.f('network_attachment_nic_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('network_attachment_pkey'))
    )
    op.create_table('networking_action',
    sa.Column('id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), autoincrement=True, nullable=False),
    sa.Column('nic_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=False),
    sa.Column('new_network_id', sa.INTEGER().with_variant(sa.BIGINT(), 'postgresql'), nullable=True),
    sa.Column('channel', sa.VARCHAR(), nullable=False),
    sa.Column('uuid', sa.VARCHAR(), nullable=False),
    sa.Column('status', sa.VARCHAR(), nullable=False),
    sa.Column('type', sa.VARCHAR(), nullable=False),
    sa.Column('error', sa.TEXT(), nullable=True),
    sa.CheckConstraint("status = 'PENDING' OR status = 'DONE' OR status = 'ERROR'", name=op.f('networking_action_status_check')),
    sa.CheckConstraint("type = 'modify_port' OR type = 'revert_port'", name=op.f('networking_action_type_check')),
    sa.ForeignKeyConstraint(['new_network_id'], ['network.id'], name=op.f('networking_action_new_network_id_fkey')),
    sa.ForeignKeyConstraint(['nic_id'], ['nic.id'], name=op.f('networking_action_nic_id_fkey')),
    sa.PrimaryKeyConstraint('id', name=op.f('networking_action_pkey')),
    sa.UniqueConstraint('uuid', name=op.f('networking_action_uuid_key'))
    )
