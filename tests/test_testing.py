"""haas.testing: `haas-admin db test EXT` on HaaS's own extensions and on the
third-party example, each check failing on a script written to break it,
and the pytest plugin's MigrationTests run by pytest on the example."""

import textwrap

import pytest

from support.commands import cli, error_line
from support.config import DEFAULT_EXTENSIONS, LEGACY_EXTENSIONS, config_text
from support.databases import POSTGRES_URL
from support.example import EXAMPLE_MODULE as MODULE
from support.example import FIRST, SECOND, WIDGET
from support.revisions import CORE_HEAD, write_script

pytest_plugins = ['pytester']

CHECKS = ['upgrade_from_empty', 'upgrade_equals_create', 'round_trip',
          'no_drift', 'scripts_import_no_models',
          'checkpoints_equal_history']
PASSED = [f'ok      {check}' for check in CHECKS]
DROP = "op.drop_table('example_widget')"


def db_test(extension, *options, extra=''):
    return cli(['db', 'test', *options, extension],
               config_text('sqlite:///unused.db', DEFAULT_EXTENSIONS,
                           extra=extra))


@pytest.mark.parametrize('extension', LEGACY_EXTENSIONS)
def test_every_extension_of_haas_passes_its_checks(extension):
    result = db_test(extension, extra=(
        '[haas.ext.network_allocators.vlan_pool]\nvlans = 100-110\n'
        if extension.endswith('vlan_pool') else ''))

    assert (result.exit_code, result.stdout.splitlines()) == (0, PASSED)


@pytest.mark.slow
def test_the_checks_run_on_postgresql_too(pg_databases):
    pg_databases.new()  # skips, or fails in CI, without a server

    result = db_test('haas.ext.obm.mock', '--postgresql', POSTGRES_URL)

    assert (result.exit_code, result.stdout.splitlines()) == (0, PASSED)


def test_the_example_extension_passes_with_good_scripts(example_scripts):
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade=DROP, message='add example_widget')

    result = db_test(MODULE)

    assert (result.exit_code, result.stdout.splitlines()) == (0, PASSED)


def failed(result):
    """{check: its problem lines} of a failed run."""
    found, check = {}, None
    for line in result.stdout.splitlines():
        if line.startswith(('ok', 'FAILED')):
            check = line.split()[1]
            found[check] = []
        else:
            found[check].append(line.strip())
    return {c: lines for c, lines in found.items() if lines}


def test_a_script_that_imports_the_models_is_named(example_scripts):
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade=DROP, message='add example_widget',
                 attributes=f'from {MODULE} import ExampleWidget  # noqa')
    path = example_scripts / f'{FIRST}_test.py'

    result = db_test(MODULE)

    assert failed(result) == {'scripts_import_no_models': [
        f'{path} imports {MODULE}: a script must not depend on the models, '
        f'which change after it was written']}
    assert error_line(result) == f'1 of 6 checks failed for {MODULE}'


def test_a_model_the_scripts_do_not_build_is_drift(example_scripts):
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET.replace(
                     "sa.Column('label', sa.String(), nullable=False), ", ''),
                 downgrade=DROP, message='add example_widget')

    result = db_test(MODULE)

    assert set(failed(result)) == {'upgrade_equals_create', 'no_drift'}
    assert failed(result)['no_drift'] == [
        f'branch {MODULE}: models and scripts differ: add column '
        f'example_widget.label (VARCHAR, NOT NULL)']


def test_a_downgrade_that_loses_rows_fails_the_round_trip(example_scripts,
                                                          monkeypatch):
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade=DROP, message='add example_widget')
    # The second adds a column, and its downgrade empties the table too.
    write_script(example_scripts, SECOND, down=FIRST,
                 upgrade="op.add_column('example_widget', sa.Column('note', "
                         "sa.String()))",
                 downgrade="op.execute('DELETE FROM example_widget')\n"
                           "    with op.batch_alter_table('example_widget') "
                           "as batch:\n        batch.drop_column('note')",
                 message='add a note')
    module = __import__(MODULE)
    monkeypatch.setattr(module, 'haas_testing_rows', lambda revision: {
        'project': [{'id': 1, 'label': 'runway'}],
        'example_widget': [{'id': 1, 'label': 'w', 'project_id': 1}],
    } if revision == FIRST else {}, raising=False)

    result = db_test(MODULE)

    assert failed(result)['round_trip'] == [
        f'revision {SECOND}: its downgrade does not give back the rows it '
        f'was upgraded from']


def test_an_extension_that_is_not_installed_is_a_one_line_error():
    assert error_line(db_test('haas_no_such_ext')).startswith(
        'cannot test haas_no_such_ext: ')


# --- the pytest plugin ------------------------------------------------------

BACKENDS = ['sqlite', 'postgresql']


def on_one_backend(pytester, request, backend):
    """Make the author's suite run on `backend` alone, by overriding the
    plugin's haas_databases as an author may; a PostgreSQL run first
    skips here (or fails, in CI) when the server is unreachable, as the
    author's own suite would."""
    if backend == 'postgresql':
        request.getfixturevalue('pg_databases')
    pytester.makeconftest(textwrap.dedent(f'''
        import pytest


        @pytest.fixture
        def haas_databases(haas_{backend}):
            return haas_{backend}
    '''))


@pytest.mark.parametrize('backend', BACKENDS)
def test_an_authors_suite_opts_into_the_checks_with_migration_tests(
        pytester, example_scripts, request, backend):
    on_one_backend(pytester, request, backend)
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade=DROP, message='add example_widget')
    pytester.makepyfile(test_example=textwrap.dedent(f'''
        from haas.testing import MigrationTests


        class TestExampleMigrations(MigrationTests):
            extension = {MODULE!r}
    '''))

    result = pytester.runpytest_inprocess('-p', 'no:cacheprovider', '-q')

    result.assert_outcomes(passed=6)


def write_checkpoint(folder, upgrade):
    """A checkpoint of the example's branch at FIRST."""
    (folder / 'checkpoints').mkdir()
    (folder / 'checkpoints' / f'{FIRST}_checkpoint.py').write_text(
        textwrap.dedent(f'''\
            import sqlalchemy as sa
            from alembic import op

            branch = {MODULE!r}
            checkpoint_of = {FIRST!r}
            replaces = ({FIRST!r},)


            def upgrade():
                {upgrade}
            '''))


def test_a_checkpoint_equal_to_its_history_passes(example_scripts):
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade=DROP, message='add example_widget')
    write_checkpoint(example_scripts, WIDGET)

    result = db_test(MODULE)

    assert (result.exit_code, result.stdout.splitlines()) == (0, PASSED)


def test_a_checkpoint_that_builds_other_than_its_history_is_named(
        example_scripts):
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade=DROP, message='add example_widget')
    write_checkpoint(example_scripts, WIDGET.replace(
        "sa.ForeignKeyConstraint(['project_id'], ['project.id']), ", ''))

    result = db_test(MODULE)

    # An upgrade from nothing takes the checkpoint: it differs from
    # `create` too.
    assert set(failed(result)) == {'checkpoints_equal_history',
                                   'upgrade_equals_create'}
    problem, = failed(result)['checkpoints_equal_history']
    assert problem.startswith(
        f'checkpoint {FIRST} of branch {MODULE} differs from its history: '
        f'tables example_widget: the history builds ')
    assert error_line(result) == f'2 of 6 checks failed for {MODULE}'


def test_a_seeded_row_with_a_column_the_table_lacks_is_named(example_scripts,
                                                             monkeypatch):
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade=DROP, message='add example_widget')
    write_script(example_scripts, SECOND, down=FIRST, message='nothing')
    module = __import__(MODULE)
    monkeypatch.setattr(module, 'haas_testing_rows', lambda revision: {
        'project': [{'id': 1, 'label': 'runway', 'bogus': 3}],
    } if revision == FIRST else {}, raising=False)

    assert failed(db_test(MODULE))['round_trip'] == [
        f'the rows seeded at {FIRST} name column bogus, which project lacks '
        f'there']


@pytest.mark.parametrize('backend', BACKENDS)
def test_an_authors_own_tests_get_an_app_with_the_extension_created(
        pytester, example_scripts, request, backend):
    on_one_backend(pytester, request, backend)
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade=DROP, message='add example_widget')
    pytester.makeini(f'[pytest]\nhaas_extension = {MODULE}\n')
    pytester.makepyfile(test_widgets=textwrap.dedent('''
        from haas.model import db


        def test_the_widget_table_is_there(haas_app):
            with db.engine.connect() as connection:
                assert db.inspect(connection).has_table('example_widget')
    '''))

    result = pytester.runpytest_inprocess('-p', 'no:cacheprovider', '-q')

    result.assert_outcomes(passed=1)
