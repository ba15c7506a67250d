"""HaaS 0.3: networking actions keep a uuid, a status and a type.

The uuid is the status_id a client asks about; the status is PENDING,
DONE or ERROR; the type modify_port or revert_port.  The daemon keeps an
action once applied, with its status.
The actions queued under HaaS 0.2 become PENDING modify_port actions,
each given a uuid.

Going back deletes the finished actions, which HaaS 0.2 never kept, and
is refused while a revert_port action is pending, which HaaS 0.2 cannot
express.

Revision ID: 956783fe5a7b
Revises: 5a8438c6d019
Create Date: 2026-12-01 17:00:03

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '956783fe5a7b'
down_revision = '5a8438c6d019'
branch_labels = None
depends_on = None

lint_waivers = {
    'constraint-not-valid':
        'the checks are added in the statement that rewrites the table for '
        'its new columns: validating them costs nothing more',
    'index-not-concurrent':
        'the uuid index is built in the upgrade transaction, while the '
        'servers are stopped',
}

# As the model spells them: with OR, which reads the same after a dump.
STATUS = "status = 'PENDING' OR status = 'DONE' OR status = 'ERROR'"
TYPE = "type = 'modify_port' OR type = 'revert_port'"
# A version 4 uuid, in SQL: PostgreSQL's own, or SQLite's random bytes.
UUID = {
    'postgresql': 'gen_random_uuid()::text',
    'sqlite': "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || "
              "'-4' || substr(hex(randomblob(2)), 2) || '-' || "
              "substr('89ab', 1 + (abs(random()) % 4), 1) || "
              "substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))",
}


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # One statement: the table is rewritten once, every row given its
        # uuid, status and type on the way.
        op.execute(
            f"ALTER TABLE networking_action "
            f"ADD COLUMN uuid varchar NOT NULL DEFAULT {UUID['postgresql']}, "
            f"ADD COLUMN status varchar NOT NULL DEFAULT 'PENDING', "
            f"ADD COLUMN type varchar NOT NULL DEFAULT 'modify_port', "
            f"ADD CONSTRAINT networking_action_status_check CHECK ({STATUS}), "
            f"ADD CONSTRAINT networking_action_type_check CHECK ({TYPE})")
        op.execute('ALTER TABLE networking_action '
                   'ALTER COLUMN uuid DROP DEFAULT, '
                   'ALTER COLUMN status DROP DEFAULT, '
                   'ALTER COLUMN type DROP DEFAULT')
        op.execute('ALTER TABLE networking_action ADD CONSTRAINT '
                   'networking_action_uuid_key UNIQUE (uuid)')
        return
    # SQLite: the columns are filled, then the table is copied once with
    # its constraints.
    for column in ('uuid', 'status', 'type'):
        op.add_column('networking_action',
                      sa.Column(column, sa.String(), nullable=True))
    op.execute(f"UPDATE networking_action SET uuid = {UUID['sqlite']}, "
               f"status = 'PENDING', type = 'modify_port'")
    with op.batch_alter_table('networking_action') as batch:
        for column in ('uuid', 'status', 'type'):
            batch.alter_column(column, existing_type=sa.String(),
                               nullable=False)
        batch.create_unique_constraint('networking_action_uuid_key', ['uuid'])
        batch.create_check_constraint('status', STATUS)
        batch.create_check_constraint('type', TYPE)


def downgrade():
    if not op.get_context().as_sql:
        reverts = op.get_bind().execute(sa.text(
            "SELECT count(*) FROM networking_action "
            "WHERE status = 'PENDING' AND type = 'revert_port'")).scalar()
        if reverts:
            raise RuntimeError(
                f'{reverts} revert_port action(s) are pending, which HaaS 0.2 '
                f'cannot hold: let serve-networks apply them first')
    op.execute("DELETE FROM networking_action WHERE status <> 'PENDING'")
    with op.batch_alter_table('networking_action') as batch:
        batch.drop_constraint(op.f('networking_action_type_check'),
                              type_='check')
        batch.drop_constraint(op.f('networking_action_status_check'),
                              type_='check')
        batch.drop_constraint('networking_action_uuid_key', type_='unique')
        for column in ('type', 'status', 'uuid'):
            batch.drop_column(column)
