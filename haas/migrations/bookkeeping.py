"""What a database records about its branches: version rows and labels.

Alembic's ``alembic_version`` holds revision ids only, and drops the row of
a revision once a revision that depends on it is stamped.  So that a
branch keeps its name after its extension is disabled or uninstalled, HaaS
also keeps ``haas_schema_branch``: one row per stamped branch, with its
revision, the revisions of other branches that revision implies, and its
tables.  ``alembic_version`` stays the truth; the labels only name it.
"""

import functools

import sqlalchemy as sa

VERSION_TABLE = 'alembic_version'
BRANCH_TABLE = 'haas_schema_branch'
#: The version rows of a database whose next release is expanded but not
#: contracted (haas.migrations.phases): the previous release's servers
#: read alembic_version only, which keeps their heads until the contract.
EXPAND_TABLE = 'haas_schema_expand'

_metadata = sa.MetaData()
branch_table = sa.Table(
    BRANCH_TABLE, _metadata,
    sa.Column('branch', sa.String(255), nullable=False),
    sa.Column('revision', sa.String(32), nullable=False),
    # Space-separated revision ids of other branches this one implies.
    sa.Column('requires', sa.String(), nullable=False),
    # Space-separated names of the branch's tables.
    sa.Column('tables', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('branch', name=f'{BRANCH_TABLE}_pkey'),
)
version_table = sa.table(VERSION_TABLE, sa.column('version_num'))

#: Tables that belong to no branch because they describe the branches.
TABLES = (VERSION_TABLE, BRANCH_TABLE, EXPAND_TABLE)


class Label:
    """A row of haas_schema_branch."""

    def __init__(self, branch, revision, requires='', tables=''):
        self.branch = branch
        self.revision = revision
        self.requires = tuple(requires.split())
        self.tables = tuple(tables.split())


def _has(connection, table, present):
    if present is not None:
        return table in present
    return sa.inspect(connection).has_table(table)


def version_rows(connection, present=None, table=VERSION_TABLE):
    """The revision ids in alembic_version, or in `table` (empty without
    the table).

    `present`, if given, names the database's tables, read already.
    """
    if not _has(connection, table, present):
        return []
    rows = sa.table(table, sa.column('version_num'))
    return sorted(connection.execute(sa.select(rows.c.version_num)).scalars())


def labels(connection, present=None):
    """Branch -> Label, as haas_schema_branch records them."""
    if not _has(connection, BRANCH_TABLE, present):
        return {}
    return {row.branch: Label(row.branch, row.revision, row.requires,
                              row.tables)
            for row in connection.execute(sa.select(branch_table))}


def ensure(connection):
    """Create haas_schema_branch unless it exists."""
    branch_table.create(connection, checkfirst=True)


def record(connection, branches, tables_of, rows=None, ensured=False):
    """Write the labels of every enabled branch for the current rows.

    `rows` are the version rows if the caller knows them (Alembic does,
    after each revision); `tables_of(branch)` names the tables of a branch;
    `ensured` says that haas_schema_branch exists.  Rows of branches that
    are not enabled are kept as they are: they name the version rows of
    disabled or uninstalled extensions.  Only labels that change are
    written: after a revision, that of its branch.
    """
    if rows is None:
        rows = version_rows(connection)
    if not ensured:
        ensure(connection)
    current = branches.effective([r for r in rows if r in branches.revisions])
    written = {row.branch: row for row in connection.execute(
        sa.select(branch_table).where(
            branch_table.c.branch.in_(list(branches.folders))))}
    wanted = {b: (rev, ' '.join(sorted(branches.requires(rev).values())),
                  ' '.join(sorted(tables_of(b))))
              for b, rev in current.items()}
    # An enabled branch stamped at a revision its scripts lack (a newer
    # release's, hidden from Alembic) keeps its label while that row is
    # there: only the label names it.
    in_database = functools.cache(lambda: set(version_rows(connection)))
    kept = {branch for branch, row in written.items()
            if branch not in current and row.revision not in branches.revisions
            and row.revision in in_database()}
    stale = [branch for branch, row in written.items()
             if branch not in kept
             and (row.revision, row.requires, row.tables)
             != wanted.get(branch)]
    if stale:
        connection.execute(branch_table.delete().where(
            branch_table.c.branch.in_(stale)))
    values = [{'branch': b, 'revision': rev, 'requires': requires,
               'tables': tables}
              for b, (rev, requires, tables) in wanted.items()
              if b not in written or b in stale]
    if values:
        connection.execute(branch_table.insert(), values)


def forget_label(connection, branch):
    if sa.inspect(connection).has_table(BRANCH_TABLE):
        connection.execute(branch_table.delete().where(
            branch_table.c.branch == branch))


def insert_rows(connection, revisions):
    if revisions:
        connection.execute(version_table.insert(),
                           [{'version_num': r} for r in revisions])


def delete_rows(connection, revisions):
    if revisions:
        connection.execute(version_table.delete().where(
            version_table.c.version_num.in_(list(revisions))))
