"""Per-branch checkpoints: a branch's schema at one revision, built at once.

A checkpoint is a script in the `checkpoints/` folder beside a branch's
version scripts, which Alembic never reads: it is no revision of the
graph.  An upgrade of a branch that has no tables yet runs it in place of
the revisions it replaces, then stamps the revision it stands for; a
branch at any revision goes on through the history.  `db checkpoint`
writes one from the schema the history builds; `differences` (run by `db
check` and `db test`) proves a committed one still equal to it.
"""

import contextlib
import dataclasses
import datetime
import glob
import hashlib
import importlib.util
import os
import pprint
import textwrap
import weakref

import sqlalchemy as sa
from alembic.autogenerate import render_python_code
from alembic.operations import ops as alembic_ops
from sqlalchemy.sql.elements import conv

from haas.errors import MigrationError, squashed
from haas.migrations import alembic_private

#: The folder, inside a branch's folder, that holds its checkpoints.
FOLDER = 'checkpoints'
#: Tables of the bookkeeping, which belong to no branch's checkpoint.
BOOKKEEPING = ('alembic_version', 'haas_schema_branch', 'haas_schema_ledger')


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A checkpoint script: the schema of `branch` at `revision`, in place
    of the revisions `replaces` (the branch's first up to `revision`)."""

    branch: str
    revision: str
    replaces: tuple[str, ...]
    path: str
    module: object = dataclasses.field(compare=False, repr=False)

    def __str__(self):
        return f'checkpoint {self.revision} of branch {self.branch}'

    def upgrade(self, **kw):
        """Build the branch's tables (and seed rows), in Alembic's `op`."""
        self.module.upgrade()


def folder_of(branches, branch):
    return os.path.join(branches.folders[branch], FOLDER)


def _load(path):
    name = 'haas_checkpoint_' + hashlib.sha1(
        os.path.abspath(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # a script that cannot even be read
        raise MigrationError(f'checkpoint {path} cannot be read: '
                             f'{type(e).__name__}: {squashed(e)}') from None
    return module


#: Branches -> what `read` found for it: each is read once.
_read = weakref.WeakKeyDictionary()


def of(branches):
    """Branch -> its usable checkpoints (Checkpoint), earliest first."""
    if branches not in _read:
        _read[branches] = read(branches)
    return _read[branches][0]


def problems(branches):
    """Why each checkpoint of `branches` that `of` leaves out cannot be
    used, one line each."""
    of(branches)
    return _read[branches][1]


def read(branches):
    """Branch -> its checkpoint scripts (Checkpoint), earliest first, and
    the problems of those that cannot be used, one line each."""
    found, problems = {}, []
    for branch in branches.names:
        for path in sorted(glob.glob(os.path.join(
                folder_of(branches, branch), '*.py'))):
            module = _load(path)
            revision = getattr(module, 'checkpoint_of', None)
            checkpoint = Checkpoint(
                getattr(module, 'branch', None), revision,
                tuple(getattr(module, 'replaces', ())), path, module)
            problem = _problem(branches, branch, checkpoint)
            if problem:
                problems.append(f'{path}: {problem}')
                continue
            found.setdefault(branch, []).append(checkpoint)
    for checkpoints in found.values():
        checkpoints.sort(key=lambda c: len(c.replaces))
    return found, problems


def _problem(branches, branch, checkpoint):
    if checkpoint.branch != branch:
        return (f'it says branch = {checkpoint.branch!r}, but it is in the '
                f'folder of branch {branch}')
    if not callable(getattr(checkpoint.module, 'upgrade', None)):
        return 'it has no upgrade()'
    if branches.branch_of(checkpoint.revision or '') != branch:
        return (f'checkpoint_of = {checkpoint.revision!r} is no revision of '
                f'branch {branch}')
    history = tuple(s.revision for s in branches.by_branch[branch][
        :branches.position(branch, checkpoint.revision)])
    if checkpoint.replaces != history:
        return (f'replaces {", ".join(checkpoint.replaces) or "nothing"}, '
                f'but branch {branch} reaches {checkpoint.revision} through '
                f'{", ".join(history)}: write it again with `haas-admin db '
                f'checkpoint {branch} --revision {checkpoint.revision}`')
    return None


# --- in an upgrade ------------------------------------------------------

def _provides(branches, step):
    checkpoint = alembic_private.checkpoint_of(step)
    if checkpoint is not None:
        return set(checkpoint.replaces)
    return {alembic_private.step_script(step).revision}


def _needs(branches, step):
    """Every revision that must be there before `step` runs."""
    checkpoint = alembic_private.checkpoint_of(step)
    script = branches.revisions[checkpoint.revision] if checkpoint else \
        alembic_private.step_script(step)
    return {s.revision for s in alembic_private.ancestors(
        branches.script, [script])} - _provides(branches, step)


def substitute(branches, steps, empty):
    """`steps` (an upgrade's, in order) with, for each branch of `empty`
    (branches without tables), the revisions up to its latest checkpoint
    that they reach replaced by that checkpoint."""
    steps = list(steps)
    for branch in empty:
        for checkpoint in reversed(of(branches).get(branch, [])):
            replaced = _replace(branches, steps, checkpoint)
            if replaced is not None:
                steps = replaced
                break
    return steps


def _replace(branches, steps, checkpoint):
    """`steps` with `checkpoint` in place of the revisions it replaces,
    after every step it needs and before every step that needs one of
    them; None where the steps do not run them all."""
    replaced = set(checkpoint.replaces)
    upgrades = {alembic_private.step_script(s).revision for s in steps
                if alembic_private.is_revision_step(s)
                and alembic_private.step_is_upgrade(s)}
    if not replaced <= upgrades:
        return None
    rest = [s for s in steps if not (
        alembic_private.is_revision_step(s)
        and alembic_private.step_script(s).revision in replaced)]
    needed = _needs(branches, alembic_private.checkpoint_step(
        branches.script, checkpoint.revision, None, checkpoint))
    position = max((i + 1 for i, s in enumerate(rest)
                    if _provides(branches, s) & needed), default=0)
    if any(_needs(branches, s) & replaced for s in rest[:position]):
        return None  # no place in this order: the history runs instead
    step = alembic_private.checkpoint_step(
        branches.script, checkpoint.revision, checkpoint.upgrade, checkpoint)
    return rest[:position] + [step] + rest[position:]


# --- scratch databases --------------------------------------------------

@contextlib.contextmanager
def _scratch():
    from haas.model import sqlite_like_postgresql
    engine = sa.create_engine('sqlite://', poolclass=sa.pool.StaticPool)
    sqlite_like_postgresql(engine)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql('PRAGMA foreign_keys=OFF')
            yield connection
    finally:
        engine.dispose()


def _runner(branches):
    from haas.migrations.runner import Runner
    from haas.model import db
    # The models' metadata, as upgrades have it: its naming convention
    # names what a script leaves unnamed.
    return Runner(branches, target_metadata=db.metadata, data_checks=False)


def _rows_of(connection):
    """The version rows of a database."""
    return tuple(connection.exec_driver_sql(
        'SELECT version_num FROM alembic_version').scalars())


def _upgrade(branches, connection, target, checkpoint=None):
    steps = alembic_private.upgrade_steps(branches.script, target,
                                          _rows_of(connection)
                                          if sa.inspect(connection).has_table(
                                              'alembic_version') else ())
    if checkpoint is not None:
        replaced = _replace(branches, steps, checkpoint)
        if replaced is None:
            raise MigrationError(f'{checkpoint} cannot run in place of the '
                                 f'revisions it replaces')
        steps = replaced
    _runner(branches).run(connection, steps)


# --- writing a checkpoint -------------------------------------------------

def target(branches, branch, release=None, revision=None):
    """The revision of `branch` a checkpoint is asked for."""
    from haas.migrations import releases
    if (release is None) == (revision is None):
        raise MigrationError('name the checkpoint\'s point: --release X or '
                             '--revision R')
    if release is not None:
        revisions = releases.Release(release).revisions
        if branch not in revisions:
            raise MigrationError(f'branch {branch} is not part of release '
                                 f'{release}')
        revision = revisions[branch]
    if branches.branch_of(revision) != branch:
        raise MigrationError(f'{revision} is no revision of branch {branch}: '
                             f'see `haas-admin db history --extension '
                             f'{branch}`')
    return revision


def write(branches, branch, revision, postgresql, release=None,
          output=None):
    """Write the checkpoint of `branch` at `revision` (see `render`);
    its path."""
    text = render(branches, branch, revision, postgresql, release)
    path = output or os.path.join(folder_of(branches, branch),
                                  f'{revision}_checkpoint.py')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)
    return path


def _built(branches, connection, branch, revision):
    """(the tables of `branch` at `revision`, reflected, in the order
    their foreign keys need, and {table: its rows}), on the empty
    database of `connection`."""
    script = branches.revisions[revision]
    outside = [s.revision for s in alembic_private.ancestors(
        branches.script, [script]) if branches.branch_of(s.revision) != branch]
    if outside:
        redundant = branches.redundant(outside)
        _upgrade(branches, connection,
                 tuple(r for r in outside if r not in redundant))
    before = set(sa.inspect(connection).get_table_names())
    _upgrade(branches, connection, revision)
    metadata = sa.MetaData()
    metadata.reflect(connection)
    own = [t for t in metadata.sorted_tables
           if t.name not in before and t.name not in BOOKKEEPING]
    rows = {t.name: [dict(r) for r in connection.execute(
        sa.select(t).order_by(*(t.primary_key.columns or t.columns)))
        .mappings()] for t in own}
    return own, rows


def render(branches, branch, revision, postgresql, release=None):
    """The text of the checkpoint of `branch` at `revision`: the tables,
    indexes and rows the history builds there, on a scratch SQLite
    database and on a scratch database that `postgresql()` makes (a URL):
    the structure as SQLite has it (check constraints as written), each
    column's type and sequence as each backend has it."""
    with _scratch() as connection:
        own, rows = _built(branches, connection, branch, revision)
    engine = sa.create_engine(postgresql(), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            served, served_rows = _built(branches, connection, branch,
                                         revision)
    finally:
        engine.dispose()
    if [t.name for t in own] != [t.name for t in served] or \
            rows != served_rows:
        raise MigrationError(
            f'the history of branch {branch} builds other tables or rows on '
            f'SQLite than on PostgreSQL at {revision}: a checkpoint cannot '
            f'stand for it')
    operations = []
    for table, twin in zip(own, served):
        for column in table.columns:
            _merge(table.name, column, twin.columns[column.name])
        for named in (*table.constraints, *table.indexes):
            if named.name is not None:
                # Final, as reflected: the models' naming convention, which
                # the migrations' `op` applies, must not name it again.
                named.name = conv(named.name)
        operations.append(alembic_ops.CreateTableOp.from_table(table))
        operations += [alembic_ops.CreateIndexOp.from_index(i)
                       for i in sorted(table.indexes, key=lambda i: i.name)]
    body = '\n'.join(
        line for line in render_python_code(
            alembic_ops.UpgradeOps(ops=operations)).splitlines()
        if not line.strip().startswith('# ###'))
    seeds = [(name, found) for name, found in rows.items() if found]
    for name, found in seeds:
        body += '\n' + textwrap.indent(
            f'ops.insert_rows({name!r}, {_literal(found)})', '    ')
    command = f'--release {release}' if release else f'--revision {revision}'
    return _TEMPLATE.format(
        title=f'Checkpoint of branch {branch} at '
              + (f'release {release} ({revision}).' if release
                 else f'{revision}.'),
        text=textwrap.fill(_TEXT.format(revision=revision, branch=branch,
                                        command=command), 72,
                           break_on_hyphens=False),
        branch=branch, revision=revision,
        replaces=_literal(tuple(
            s.revision for s in branches.by_branch[branch][
                :branches.position(branch, revision)])),
        imports=('import datetime\n\n' if 'datetime.' in body else ''),
        ops='from haas.migrations import ops\n' if seeds else '',
        body=body.rstrip())


def _merge(table, column, twin):
    """Make reflected SQLite `column` what both backends build: PostgreSQL's
    type where SQLite's differs (as a variant), its serial or not."""
    from sqlalchemy.dialects import sqlite
    ours = _portable(column.type)
    theirs = twin.type
    if str(ours.compile(dialect=sqlite.dialect())) == str(
            _portable(theirs).compile(dialect=sqlite.dialect())):
        column.type = theirs if type(theirs).__module__.startswith(
            'sqlalchemy.sql') else ours
    else:
        column.type = ours.with_variant(theirs, 'postgresql')
    default = twin.server_default
    serial = default is not None and str(default.arg).startswith('nextval(')
    if column.primary_key and isinstance(theirs, sa.Integer):
        column.autoincrement = serial
    if serial:
        default = None
    if str(getattr(default, 'arg', None)) != str(
            getattr(column.server_default, 'arg', None)):
        raise MigrationError(
            f'{table}.{column.name} has the default '
            f'{getattr(column.server_default, "arg", None)} on SQLite, '
            f'{getattr(default, "arg", None)} on PostgreSQL: write that '
            f'column of the checkpoint by hand')


def _portable(type_):
    """A reflected type as both SQLite and PostgreSQL take it: SQLite's
    own classes (DATETIME, JSON) as their generic type."""
    if type(type_).__module__.startswith('sqlalchemy.dialects.sqlite'):
        return type_.as_generic()
    return type_


def _literal(value):
    for row in value if isinstance(value, list) else ():
        for item in row.values():
            if not isinstance(item, (str, int, float, bool, type(None),
                                     datetime.date)):
                raise MigrationError(f'a seed row holds {item!r}, which a '
                                     f'checkpoint cannot write out')
    return pprint.pformat(value, width=68, sort_dicts=True)


_TEMPLATE = '''\
"""{title}

{text}
"""

{imports}import sqlalchemy as sa
from alembic import op

{ops}
branch = {branch!r}
checkpoint_of = {revision!r}
replaces = {replaces}


def upgrade():
{body}
'''

_TEXT = (
    "Builds the branch's tables at {revision} at once, on a database where "
    "the branch has none yet, in place of the revisions it replaces; a "
    "database at any of them goes on through the history.  Written by "
    "`haas-admin db checkpoint {branch} {command}` from the schema the "
    "history builds there; `haas-admin db check` proves it still equal to "
    "that history.  Never edited but to make it equal again.")


# --- proving it -------------------------------------------------------------

def snapshot(connection):
    """The schema and every row of a database, version rows included (the
    ledger's aside: it records how, not what)."""
    from haas.migrations.snapshot import schema_snapshot, tables_to_read
    found = schema_snapshot(connection)
    found['rows'] = {
        name: [tuple(r) for r in connection.execute(
            sa.select(table).order_by(*table.columns))]
        for name, table in tables_to_read(connection).items()
        if name != 'haas_schema_ledger'}
    return found


def differences(branches, checkpoint):
    """How `checkpoint` builds something other than its history does, on
    scratch SQLite databases: one line per table (or other part) that
    differs, none when it is equal."""
    built = []
    for using in (None, checkpoint):
        with _scratch() as connection:
            try:
                _upgrade(branches, connection, checkpoint.revision, using)
            except MigrationError as e:
                return [f'{checkpoint}: {e}']
            built.append(snapshot(connection))
    return compare(checkpoint, *built)


def compare(checkpoint, history, built):
    """The lines that say how snapshot `built` differs from `history`."""
    problems = []
    for part in ('tables', 'rows', 'sequences'):
        ours, theirs = history.get(part, {}), built.get(part, {})
        if part == 'sequences':
            ours, theirs = {'sequences': ours}, {'sequences': theirs}
        for key in sorted(set(ours) | set(theirs)):
            if ours.get(key) != theirs.get(key):
                problems.append(
                    f'{checkpoint} differs from its history: {part} '
                    f'{key}: the history builds {ours.get(key)!r}, the '
                    f'checkpoint {theirs.get(key)!r}')
    return problems
