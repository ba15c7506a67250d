"""HaaS 0.2 baseline of database auth: create `user` and `user_projects`.

A HaaS 0.2 database already has these tables under these names; they are
kept as they are, with every row.

Revision ID: 570e90107adc
Revises:
Create Date: 2016-03-15 00:00:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '570e90107adc'
down_revision = None
branch_labels = ('haas.ext.auth.database',)
# The core revision that creates `project`, which user_projects refers to.
depends_on = '6a8c19565060'

# Tables this first revision adopts where it finds them (legacy name ->
# today's name); HaaS compares them with this revision's schema first.
legacy_tables = {}


def _existing_tables():
    if op.get_context().as_sql:
        return set()  # offline SQL is written for an empty database
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade():
    existing = _existing_tables()
    if 'user' in existing and op.get_bind().dialect.name == 'postgresql':
        # HaaS 0.2's sequence carries no type, which PostgreSQL takes as
        # bigint; the integer id column `create` makes gets an integer one.
        op.execute('ALTER SEQUENCE IF EXISTS user_id_seq AS integer')
    if 'user' not in existing:
        op.create_table(
            'user',
            sa.Column('id', sa.Integer(), nullable=False),
            sa.Column('label', sa.String(), nullable=False),
            sa.Column('is_admin', sa.Boolean(), nullable=False),
            sa.Column('hashed_password', sa.String(), nullable=True),
            sa.PrimaryKeyConstraint('id', name='user_pkey'),
        )
    if 'user_projects' not in existing:
        op.create_table(
            'user_projects',
            sa.Column('user_id', sa.Integer(), nullable=True),
            sa.Column('project_id', sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(['project_id'], ['project.id'],
                                    name='user_projects_project_id_fkey'),
            sa.ForeignKeyConstraint(['user_id'], ['user.id'],
                                    name='user_projects_user_id_fkey'),
        )


def downgrade():
    op.drop_table('user_projects')
    op.drop_table('user')
