"""`db lint --trace`: the pending revisions run on the database in a
transaction that is rolled back, with what each statement locked and
rewrote; the database left as it was.  PostgreSQL only."""

import json

import pytest

from support.commands import cli, error_line
from support.config import DEFAULT_EXTENSIONS, LEGACY_EXTENSIONS, config_text
from support.databases import make_app, snapshot, table_rows
from support.example import EXAMPLE_MODULE as MODULE
from support.example import FIRST, SECOND, WIDGET
from support.legacy import load_dump
from support.revisions import CORE_HEAD, write_script

WITH_EXAMPLE = DEFAULT_EXTENSIONS + [MODULE]

#: The core revision that turns the integer keys into bigint.
KEYS = '3c2af72d0b46'


def state(app):
    """The schema, the version rows and every row of the database."""
    return snapshot(app), table_rows(app)


def sequences(app):
    from haas.model import db
    with app.app_context(), db.engine.connect() as connection:
        return connection.exec_driver_sql(
            'SELECT sequencename, last_value FROM pg_sequences '
            'ORDER BY 1').all()


def test_trace_names_the_lock_and_rewrite_of_the_64_bit_keys_and_leaves_all(
        pg_databases, dump):
    uri = pg_databases.new()
    load_dump(uri, dump)
    config = config_text(uri, LEGACY_EXTENSIONS)
    assert cli(['db', 'upgrade', '--to-release', '0.2'],
               config).exit_code == 0
    app = make_app(uri, LEGACY_EXTENSIONS)
    before = state(app), sequences(app)

    result = cli(['db', 'lint', '--trace'], config)
    as_json = cli(['db', 'lint', '--trace', '--json'], config)

    assert (state(app), sequences(app)) == before
    assert result.exit_code == 0, result.stderr
    assert f'haas {KEY_LINE}' in result.stdout.splitlines()
    node = [t for t in json.loads(as_json.stdout)['trace']
            if t['revision'] == KEYS
            and t['statement'].startswith('ALTER TABLE "node" ALTER')]
    assert node == [{
        'branch': 'haas', 'revision': KEYS, 'skipped': None,
        'statement': 'ALTER TABLE "node" ALTER COLUMN "id" TYPE bigint, '
                     'ALTER COLUMN "project_id" TYPE bigint, ALTER COLUMN '
                     '"obm_id" TYPE bigint',
        'locks': [{'table': 'node', 'mode': 'AccessExclusiveLock'}],
        'rewrites': ['node']}]


KEY_LINE = (f'{KEYS}: traced: ALTER TABLE "node" ALTER COLUMN "id" TYPE '
            f'bigint, ALTER COLUMN "project_id" TYPE bigint, ALTER COLUMN '
            f'"obm_id" TYPE b...: AccessExclusiveLock on node, rewrite')


def test_trace_on_sqlite_says_it_cannot_in_one_line(tmp_path):
    config = config_text(f'sqlite:///{tmp_path / "haas.db"}')
    assert cli(['db', 'create'], config).exit_code == 0

    result = cli(['db', 'lint', '--trace'], config)

    assert (result.exit_code, error_line(result)) == (
        1, '--trace runs the revisions on PostgreSQL only: this database '
           'is sqlite')


@pytest.fixture
def example_at_first(pg_databases, example_scripts):
    """The config of a PostgreSQL database at the example branch's first
    revision, with a widget in it."""
    uri = pg_databases.new()
    config = config_text(uri, WITH_EXAMPLE)
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, downgrade="op.drop_table('example_widget')",
                 message='add example_widget')
    assert cli(['db', 'upgrade'], config).exit_code == 0
    return config, make_app(uri, WITH_EXAMPLE)


def traced(config):
    result = cli(['db', 'lint', '--trace', '--json'], config)
    return [(t['statement'], t['locks'], t['rewrites'], t['skipped'])
            for t in json.loads(result.stdout)['trace']]


@pytest.mark.parametrize('column, type_, rewrites', [
    # The server agrees with lint: varchar to text keeps the table.
    ('label', 'sa.Text()', []),
    ('id', 'sa.BigInteger()', ['example_widget']),
])
def test_trace_tells_a_rewrite_from_a_type_change_that_keeps_the_table(
        example_at_first, example_scripts, column, type_, rewrites):
    config, app = example_at_first
    write_script(example_scripts, SECOND, down=FIRST, message='retype',
                 upgrade=f"op.alter_column('example_widget', '{column}', "
                         f"type_={type_})",
                 attributes="lint_waivers = {'type-change-rewrites': 'few'}")
    before = state(app)

    found = traced(config)

    assert state(app) == before
    assert found == [(
        f'ALTER TABLE example_widget ALTER COLUMN {column} TYPE '
        f'{"TEXT" if column == "label" else "BIGINT"}',
        [{'table': 'example_widget', 'mode': 'AccessExclusiveLock'}],
        rewrites, None)]


def test_trace_stops_before_a_revision_outside_a_transaction(
        example_at_first, example_scripts):
    config, app = example_at_first
    write_script(example_scripts, SECOND, down=FIRST, message='index',
                 upgrade="op.create_index('example_widget_label_idx', "
                         "'example_widget', ['label'], "
                         "postgresql_concurrently=True)",
                 attributes='transactional = False')
    before = state(app)

    found = traced(config)

    assert state(app) == before
    assert found == [('', [], [], 'it runs outside a transaction, which a '
                                  'trace cannot roll back')]


def test_trace_does_not_go_with_since(tmp_path):
    config = config_text(f'sqlite:///{tmp_path / "haas.db"}')

    result = cli(['db', 'lint', '--trace', '--since', 'base', '--extension',
                  'haas'], config)

    assert (result.exit_code, error_line(result)) == (
        1, '--trace runs the pending revisions on the database: it does not '
           'go with --since')


def test_a_revision_that_fails_stops_the_trace_in_one_line_keeping_nothing(
        example_at_first, example_scripts):
    config, app = example_at_first
    write_script(example_scripts, SECOND, down=FIRST, message='twice',
                 upgrade="op.execute('CREATE TABLE example_kept (id int)')\n"
                         "    op.add_column('example_widget', "
                         "sa.Column('label', sa.Text()))")
    before = state(app)

    result = cli(['db', 'lint', '--trace'], config)

    assert state(app) == before
    assert (result.exit_code, error_line(result)) == (
        1, f'--trace stopped at revision {SECOND} of branch {MODULE}, which '
           f'failed: column "label" of relation "example_widget" already '
           f'exists (everything the trace ran is rolled back)')
