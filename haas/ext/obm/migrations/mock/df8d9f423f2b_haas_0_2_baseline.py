"""HaaS 0.2 baseline of the mock OBM: adopt `mockobm`, or create.

Before schema versioning this table was called `mockobm`.  Where that
table exists it is renamed to `mock_obm`, with its constraints, keeping
every row; where neither name exists the table is created.  The revision
id is the one upstream HaaS gave this migration, so databases it stamped
are recognised.

Revision ID: df8d9f423f2b
Revises:
Create Date: 2016-03-15 00:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = 'df8d9f423f2b'
down_revision = None
branch_labels = ('haas.ext.obm.mock',)
# The core revision that creates `obm`, which this table refers to.
depends_on = '6a8c19565060'

TABLE = 'mock_obm'

LEGACY_NAME = 'mockobm'

# Tables this first revision adopts where it finds them (legacy name ->
# today's name); HaaS compares them with this revision's schema first.
legacy_tables = {LEGACY_NAME: TABLE}


def _adopt():
    op.rename_table(LEGACY_NAME, TABLE)
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        for suffix in ('_pkey', '_id_fkey'):
            op.execute(f'ALTER TABLE {TABLE} RENAME CONSTRAINT '
                       f'{LEGACY_NAME}{suffix} TO {TABLE}{suffix}')


def _existing_tables():
    if op.get_context().as_sql:
        return set()  # offline SQL is written for an empty database
    return set(sa.inspect(op.get_bind()).get_table_names())


def _create():
    op.create_table(
        TABLE,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('host', sa.String(), nullable=False),
        sa.Column('user', sa.String(), nullable=False),
        sa.Column('password', sa.String(), nullable=False),
        sa.ForeignKeyConstraint(['id'], ['obm.id'], name='mock_obm_id_fkey'),
        sa.PrimaryKeyConstraint('id', name='mock_obm_pkey'),
    )


def upgrade():
    existing = _existing_tables()
    if LEGACY_NAME in existing and TABLE not in existing:
        _adopt()
    elif TABLE not in existing:
        _create()


def downgrade():
    op.drop_table(TABLE)
