"""The private names of Alembic that haas.migrations.alembic_private relies
on: one test per name, so that an Alembic release that removes or changes
one fails here, by its name, before it fails anywhere in HaaS.

Each test runs the adapter's function on a small history of real scripts,
two branches with a `depends_on` between them, on an in-memory SQLite
database, and checks the name does what the adapter needs.  A last test
checks that no module of HaaS but the adapter uses those names.
"""

import ast
import inspect
import io
import pathlib

import alembic
import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import (
    MigrationContext,
    RevisionStep,
    StampStep,
)
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError

import haas
from haas.migrations import alembic_private
from haas.model import sqlite_like_postgresql

#: The private names the adapter relies on, each named in its docstring.
RELIED_ON = ('_upgrade_revs', '_downgrade_revs', '_stamp_revs',
             'RevisionStep', 'migration_fn', 'get_current_heads',
             'static_output', '_get_ancestor_nodes', '_load_revisions',
             '_db_current_indicator', 'StampStep')
#: Names no module of HaaS uses but the adapter: those above, and the one
#: the adapter replaced with a documented attribute.
PRIVATE = RELIED_ON + ('_versioned_down_revisions',)

SCRIPT = '''"""{message}"""
from alembic import op
import sqlalchemy as sa

revision = {revision!r}
down_revision = {down!r}
branch_labels = {labels!r}
depends_on = {depends!r}


def upgrade():
    op.create_table({table!r}, sa.Column('id', sa.Integer, primary_key=True))


def downgrade():
    op.drop_table({table!r})
'''

#: revision -> (folder, down_revision, branch_labels, depends_on)
HISTORY = {
    'a1': ('a', None, ('a',), None),
    'a2': ('a', 'a1', None, None),
    'b1': ('b', None, ('b',), 'a1'),
}


def write(root, revision, folder, down, labels, depends):
    path = root / folder
    path.mkdir(exist_ok=True)
    (path / f'{revision}_seam.py').write_text(SCRIPT.format(
        message=f'make t_{revision}', revision=revision, down=down,
        labels=labels, depends=depends, table=f't_{revision}'))


@pytest.fixture
def root(tmp_path):
    for revision, spec in HISTORY.items():
        write(tmp_path, revision, *spec)
    return tmp_path


def script_directory(root, folders=('a', 'b')):
    return ScriptDirectory(str(root), version_locations=[
        str(root / folder) for folder in folders])


@pytest.fixture
def script(root):
    return script_directory(root)


@pytest.fixture
def connection():
    engine = sa.create_engine('sqlite://', poolclass=sa.pool.StaticPool)
    # Transactional DDL, as HaaS's engines have: a failed run leaves nothing.
    sqlite_like_postgresql(engine)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def run(script, connection, steps, hidden=()):
    """Run `steps` as HaaS's Runner does: Alembic's context with a `fn`
    that yields them."""
    env = EnvironmentContext(Config(), script,
                             fn=lambda heads, context: list(steps))
    with env:
        env.configure(connection=connection, transaction_per_migration=True)
        alembic_private.hide_rows(env.get_context(), set(hidden))
        with env.begin_transaction():
            env.run_migrations()
    connection.commit()


def rows(connection):
    return sorted(connection.exec_driver_sql(
        'SELECT version_num FROM alembic_version').scalars())


def tables(connection):
    return sorted(sa.inspect(connection).get_table_names())


def plan(steps):
    return [(alembic_private.step_script(s).revision,
             alembic_private.step_is_upgrade(s)) for s in steps]


def require(owner, name, *args, **kwargs):
    """`owner.name`, failing by name if Alembic lost it or it no longer
    takes `args` and `kwargs`."""
    assert hasattr(owner, name), (
        f'Alembic {alembic.__version__} has no {owner.__name__}.{name}, '
        f'which haas.migrations.alembic_private relies on')
    found = getattr(owner, name)
    if args or kwargs:
        try:
            inspect.signature(found).bind(None, *args, **kwargs)
        except TypeError as e:
            pytest.fail(f'Alembic {alembic.__version__} changed '
                        f'{owner.__name__}.{name}: {e}')
    return found


def test_ScriptDirectory__upgrade_revs(script, connection):
    require(ScriptDirectory, '_upgrade_revs', 'heads', ())
    steps = alembic_private.upgrade_steps(script, 'heads', ())
    assert plan(steps) == [('a1', True), ('b1', True), ('a2', True)]
    run(script, connection, steps)
    assert (rows(connection), tables(connection)) == (
        ['a2', 'b1'], ['alembic_version', 't_a1', 't_a2', 't_b1'])
    # From version rows, to one branch's head.
    assert plan(alembic_private.upgrade_steps(script, 'b@head', ('a2',))) \
        == [('b1', True)]


def test_ScriptDirectory__downgrade_revs(script, connection):
    require(ScriptDirectory, '_downgrade_revs', 'b@base', ('a2', 'b1'))
    run(script, connection, alembic_private.upgrade_steps(script, 'heads', ()))
    steps = alembic_private.downgrade_steps(script, 'b@base', ('a2', 'b1'))
    assert plan(steps) == [('b1', False)]
    run(script, connection, steps)
    assert (rows(connection), tables(connection)) == (
        ['a2'], ['alembic_version', 't_a1', 't_a2'])


def test_ScriptDirectory__stamp_revs(script, connection):
    require(ScriptDirectory, '_stamp_revs', 'heads', ())
    steps = alembic_private.stamp_steps(script, ('a2', 'b1'), ())
    assert [alembic_private.is_revision_step(s) for s in steps] == \
        [False] * len(steps)
    run(script, connection, steps)
    # Stamped, and no script ran.
    assert (rows(connection), tables(connection)) == (
        ['a2', 'b1'], ['alembic_version'])


def test_ScriptDirectory__stamp_revs_from_version_rows(script, connection):
    # As adoption stamps one branch after another.
    run(script, connection, alembic_private.stamp_steps(script, 'a2', ()))
    run(script, connection, alembic_private.stamp_steps(script, 'b1',
                                                        ('a2',)))
    assert rows(connection) == ['a2', 'b1']


def test_RevisionStep_script_direction_and_migration_fn(script, connection):
    steps = alembic_private.upgrade_steps(script, 'a@head', ())
    first = steps[0]
    assert isinstance(first, RevisionStep), (
        f'Alembic {alembic.__version__} no longer gives RevisionStep '
        f'objects, which haas.migrations.alembic_private relies on')
    a1 = script.get_revision('a1')
    assert (alembic_private.is_revision_step(first),
            alembic_private.step_script(first),
            alembic_private.step_is_upgrade(first),
            first.migration_fn) == (True, a1, True, a1.module.upgrade)
    calls = []

    def wrap(original):
        def migration_fn(**kw):
            calls.append(original)
            original(**kw)
        return migration_fn

    # Wrapped twice, as a retried step is: the second wraps the original.
    alembic_private.wrap_migration(first, wrap)
    alembic_private.wrap_migration(first, wrap)
    assert first.name == 'upgrade'  # what Alembic logs
    run(script, connection, steps)
    assert (calls, tables(connection)) == (
        [a1.module.upgrade], ['alembic_version', 't_a1', 't_a2'])


def test_StampStep_runs_a_checkpoint_then_stamps_its_revision(script,
                                                             connection):
    require(StampStep, '__init__', (), ('a1',), True, False, None)
    ran = []
    step = alembic_private.checkpoint_step(
        script, 'a1', lambda **kw: ran.append('built'), 'the checkpoint')

    run(script, connection, [step])

    assert (ran, rows(connection), tables(connection)) == (
        ['built'], ['a1'], ['alembic_version'])
    assert alembic_private.checkpoint_of(step) == 'the checkpoint'


@pytest.mark.parametrize('before, after', [
    ('a1', ['b1']),            # b1 depends on a1: its row stands for both
    ('a2', ['a2', 'b1']),      # a2 is past what b1 needs: a row each
])
def test_StampStep_of_a_checkpoint_replaces_the_rows_it_implies(
        script, connection, before, after):
    run(script, connection, alembic_private.upgrade_steps(script, before,
                                                          ()))

    run(script, connection, [alembic_private.checkpoint_step(
        script, 'b1', lambda **kw: None, None)])

    assert rows(connection) == after


def test_MigrationContext_get_current_heads(script, connection):
    require(MigrationContext, 'get_current_heads')
    run(script, connection, alembic_private.upgrade_steps(script, 'heads',
                                                          ()))
    # The row of a branch whose scripts Alembic is not given.
    connection.exec_driver_sql("INSERT INTO alembic_version VALUES ('c1')")
    connection.commit()
    with pytest.raises(ResolutionError):
        # It cannot place that row.
        run(script, connection, alembic_private.downgrade_steps(
            script, 'a1', ('a2', 'b1')))
    connection.rollback()
    run(script, connection, alembic_private.downgrade_steps(
        script, 'a1', ('a2', 'b1')), hidden=['c1'])
    assert (rows(connection), tables(connection)) == (
        ['b1', 'c1'], ['alembic_version', 't_a1', 't_b1'])


def test_MigrationContext_impl_static_output(script):
    output = io.StringIO()
    env = EnvironmentContext(Config(), script, as_sql=True)
    with env:
        env.configure(dialect_name='postgresql', output_buffer=output)
        context = env.get_context()
        require(type(context.impl), 'static_output', '-- a comment')
        alembic_private.write_comment(context, '-- a comment')
    assert output.getvalue() == '-- a comment\n\n'


def test_RevisionMap__get_ancestor_nodes(script):
    require(type(script.revision_map), '_get_ancestor_nodes', [], check=False)
    b1, a2 = script.get_revision('b1'), script.get_revision('a2')
    assert sorted(s.revision for s in
                  alembic_private.ancestors(script, [b1])) == ['a1', 'b1']
    assert sorted(s.revision for s in
                  alembic_private.ancestors(script, [a2, b1])) == \
        ['a1', 'a2', 'b1']


def test_ScriptDirectory__load_revisions(root):
    require(ScriptDirectory, '_load_revisions')
    write(root, 'c1', 'c', 'missing', ('c',), None)
    script = script_directory(root, ('a', 'b', 'c'))
    # Alembic warns of the missing revision, then fails on it.
    with pytest.raises(KeyError), pytest.warns(UserWarning):
        list(script.walk_revisions())
    assert sorted((s.revision, s.down_revision) for s in
                  alembic_private.load_scripts(script)) == [
        ('a1', None), ('a2', 'a1'), ('b1', None), ('c1', 'missing')]


def test_Script__db_current_indicator(script):
    a2 = script.get_revision('a2')
    require(type(a2), '_db_current_indicator')

    def line():
        return a2.cmd_format(verbose=False, include_branches=True,
                             include_doc=True, include_parents=True)

    alembic_private.mark_current(a2, False)
    plain = line()
    alembic_private.mark_current(a2, True)
    assert (plain, line()) == ('a1 -> a2 (a) (head), make t_a2',
                               'a1 -> a2 (a) (head) (current), make t_a2')


def test_down_revisions_are_the_branch_not_depends_on(script):
    assert {r: alembic_private.down_revisions(script.get_revision(r))
            for r in HISTORY} == {'a1': (), 'a2': ('a1',), 'b1': ()}


def test_the_adapter_names_each_private_name_it_relies_on():
    missing = [name for name in RELIED_ON
               if name not in alembic_private.__doc__]
    assert missing == []


def uses(tree):
    """The private names of Alembic that the module `tree` uses."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            found.add(node.attr)
        elif isinstance(node, ast.Name) and node.id in PRIVATE:
            found.add(node.id)
        elif isinstance(node, ast.ImportFrom) and \
                (node.module or '').startswith('alembic'):
            found.update(a.name for a in node.names
                         if a.name in PRIVATE or a.name.startswith('_'))
    return found


def test_no_module_but_the_adapter_uses_alembic_private_names():
    package = pathlib.Path(haas.__file__).parent
    adapter = pathlib.Path(alembic_private.__file__)
    found = {}
    for path in sorted(package.rglob('*.py')):
        if path == adapter:
            continue
        names = uses(ast.parse(path.read_text(), str(path)))
        if names:
            found[str(path.relative_to(package))] = sorted(names)
    assert found == {}


def test_the_check_finds_a_private_name():
    """The test above can fail: it sees each way a module may use one."""
    assert uses(ast.parse(
        'from alembic.runtime.migration import RevisionStep\n'
        'script._upgrade_revs("heads", ())\n'
        'step.migration_fn = f\n'
        'from alembic.util import _private\n')) == {
        '_upgrade_revs', 'RevisionStep', 'migration_fn', '_private'}
