"""Pre-migration data checks: a revision's SQL that must return no rows,
run before any revision of an upgrade, shown by --plan, written into
--sql; run in the revision's own transaction where they could not run
before, or when the revision fails."""

import json

import pytest
import sqlalchemy as sa

from haas.model import db

from support.commands import cli, error_line
from support.config import DEFAULT_EXTENSIONS, config_text
from support.databases import make_app, table_rows
from support.example import EXAMPLE_MODULE as MODULE
from support.example import FIRST, SECOND, WIDGET
from support.revisions import CORE_HEAD, write_script

WITH_EXAMPLE = DEFAULT_EXTENSIONS + [MODULE]
DUPLICATES = ('SELECT label, count(*) FROM example_widget GROUP BY label '
              'HAVING count(*) > 1 ORDER BY label')
MESSAGE = 'widget labels must be unique: rename the duplicates'
# Batch mode: SQLite adds a constraint by copying the table.
UNIQUE = ("with op.batch_alter_table('example_widget') as batch:\n"
          "        batch.create_unique_constraint('example_widget_label_key', "
          "['label'])")


def first(folder, upgrade=WIDGET):
    write_script(folder, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=upgrade, downgrade="op.drop_table('example_widget')",
                 message='add example_widget')


def second(folder, checks=f'data_checks = [({DUPLICATES!r}, {MESSAGE!r})]',
           down=FIRST):
    write_script(folder, SECOND, down=down, upgrade=UNIQUE,
                 downgrade="with op.batch_alter_table('example_widget') as "
                           "batch:\n        batch.drop_constraint("
                           "'example_widget_label_key')",
                 message='unique widget labels', attributes=checks)


def widgets(app, *labels):
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO project (id, label) VALUES (1, 'runway')")
        for i, label in enumerate(labels, 1):
            connection.exec_driver_sql(
                f"INSERT INTO example_widget (id, label, project_id) "
                f"VALUES ({i}, '{label}', 1)")


@pytest.fixture
def at_first(databases, example_scripts):
    """A database at the example branch's first revision, the second
    (which makes labels unique, after its check) pending."""
    app = make_app(databases.new(), WITH_EXAMPLE)
    config = config_text(app.config['SQLALCHEMY_DATABASE_URI'], WITH_EXAMPLE)
    first(example_scripts)
    assert cli(['db', 'upgrade'], config).exit_code == 0
    second(example_scripts)
    return app, config


FINDING = (f'revision {SECOND} of branch {MODULE} cannot run: {MESSAGE} '
           f'(4 rows: (a, 2), (b, 2), (c, 3), ...)')
#: A data migration that writes two widgets of one label.
DUPLICATING = ("op.execute(\"INSERT INTO example_widget (id, label, "
               "project_id) VALUES (1, 'a', 1), (2, 'a', 1)\")")
#: The last line of an upgrade that DUPLICATING stops at SECOND.
STOPPED = (f'Error: revision {SECOND} of branch {MODULE} cannot run: '
           f'{MESSAGE} (1 row: (a, 2)); nothing of it was applied; the '
           f'database stays at the last revision that completed')


def test_a_failed_check_stops_the_upgrade_before_it_changes_anything(
        at_first):
    app, config = at_first
    widgets(app, 'a', 'a', 'b', 'b', 'c', 'c', 'c', 'd', 'd', 'e')
    before = table_rows(app)

    result = cli(['db', 'upgrade'], config)

    assert error_line(result) == f'{FINDING}; nothing was changed'
    assert table_rows(app) == before


def test_the_plan_shows_what_the_checks_find_and_exits_1(at_first):
    app, config = at_first
    widgets(app, 'a', 'a', 'b', 'b', 'c', 'c', 'c', 'd', 'd', 'e')

    text = cli(['db', 'upgrade', '--plan'], config)
    as_json = cli(['db', 'upgrade', '--plan', '--json'], config)

    assert text.exit_code == 1
    assert text.stdout.splitlines()[-1] == f'Data check failed: {FINDING}'
    assert text.stderr == ('Error: 1 data check failed: the upgrade would '
                           'stop before it changes anything\n')
    assert json.loads(as_json.stdout)['findings'] == [{
        'branch': MODULE, 'revision': SECOND, 'message': MESSAGE, 'count': 4,
        'sample': [['a', '2'], ['b', '2'], ['c', '3']]}]


def test_with_clean_data_the_checked_revision_runs(at_first):
    app, config = at_first
    widgets(app, 'a', 'b')

    plan = cli(['db', 'upgrade', '--plan', '--json'], config)
    result = cli(['db', 'upgrade'], config)

    assert (plan.exit_code, json.loads(plan.stdout)['findings']) == (0, [])
    assert result.exit_code == 0
    with app.app_context(), db.engine.connect() as connection:
        assert 'example_widget_label_key' in {
            u['name'] for u in db.inspect(connection).get_unique_constraints(
                'example_widget')}


def test_a_check_on_a_table_a_pending_revision_makes_runs_in_its_revision(
        databases, example_scripts):
    # Both pending: the first makes the table and fills it with duplicates
    # (a data migration, say); the second's check can only run after it.
    app = make_app(databases.new(), WITH_EXAMPLE)
    config = config_text(app.config['SQLALCHEMY_DATABASE_URI'], WITH_EXAMPLE)
    first(example_scripts, upgrade=WIDGET + '\n    ' + (
        "op.execute(\"INSERT INTO project (id, label) VALUES (1, 'p')\")\n"
        "    " + DUPLICATING))
    second(example_scripts)

    result = cli(['db', 'upgrade'], config)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == STOPPED
    ledger = [(r['revision'], r['outcome'])
              for r in table_rows(app)['haas_schema_ledger']]
    assert ledger[-2:] == [(FIRST, 'ok'), (SECOND, 'failed')]
    assert {r['version_num'] for r in table_rows(app)['alembic_version']} >= {
        FIRST}


MIDDLE = 'abababababab'


def test_a_check_that_ran_clean_before_the_upgrade_is_not_run_again(
        at_first):
    app, config = at_first
    widgets(app, 'a', 'b')
    ran = []

    def counting(connection, cursor, statement, *args):
        ran.append(statement)
    sa.event.listen(sa.engine.Engine, 'before_cursor_execute', counting)
    try:
        result = cli(['db', 'upgrade'], config)
    finally:
        sa.event.remove(sa.engine.Engine, 'before_cursor_execute', counting)

    assert result.exit_code == 0
    assert ran.count(DUPLICATES) == 1


def test_rows_written_after_the_checks_fail_the_revision_named_by_them(
        at_first, example_scripts):
    app, config = at_first
    widgets(app)  # the project only
    write_script(example_scripts, MIDDLE, down=FIRST, upgrade=DUPLICATING,
                 message='duplicate widgets')
    second(example_scripts, down=MIDDLE)

    result = cli(['db', 'upgrade'], config)

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == STOPPED
    assert {r['version_num'] for r in table_rows(app)['alembic_version']} >= {
        MIDDLE}


def test_the_sql_of_an_upgrade_carries_its_checks_for_a_dba(
        pg_databases, example_scripts):
    # PostgreSQL's: SQLite's batch mode needs the live table to copy.
    config = config_text(pg_databases.new(), WITH_EXAMPLE)
    first(example_scripts)
    second(example_scripts)

    result = cli(['db', 'upgrade', '--sql', '--extension', MODULE], config)

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    marker = lines.index(f'-- upgrade {MODULE}: {SECOND} (unique widget '
                         f'labels)')
    after = [line for line in lines[marker + 1:] if line]
    assert after[0] == (f'-- data check, must return no rows ({MESSAGE}): '
                        f'{DUPLICATES}')


def test_a_malformed_declaration_is_a_one_line_error(at_first,
                                                     example_scripts):
    app, config = at_first
    second(example_scripts, checks=f'data_checks = [{DUPLICATES!r}]')

    assert error_line(cli(['db', 'upgrade'], config)) == (
        f'revision {SECOND}: data_checks holds (sql, message) pairs of '
        f'strings, not {DUPLICATES!r}')
