"""Expand and contract with this tree's code alone: the lint's check that an
expand revision only adds, the two phases on PostgreSQL and their refusal
on SQLite, the batched backfill, and the ledger's fingerprint.  The same
with a real HaaS 0.3 server is tests/test_online_upgrade.py."""

import json

import pytest
import sqlalchemy as sa

from haas.migrations import ledger, phasing

from support.commands import cli, error_line
from support.config import DEFAULT_EXTENSIONS, LEGACY_EXTENSIONS, config_text
from support.example import EXAMPLE_MODULE as MODULE
from support.example import FIRST, SECOND, WIDGET
from support.revisions import CORE_HEAD, write_script

WITH_EXAMPLE = DEFAULT_EXTENSIONS + [MODULE]
#: No server listens there: --since must not connect.
NOWHERE = 'postgresql://haas@127.0.0.1:1/haas'

NOT_ADDITIVE = {
    'expand-drops': "op.drop_column('example_widget', 'label')",
    'expand-renames': "op.alter_column('example_widget', 'label', "
                      "new_column_name='name')",
    'expand-sets-not-null': "op.add_column('example_widget', sa.Column("
                            "'size', sa.Integer(), nullable=False))",
    'expand-changes-type': "op.alter_column('example_widget', 'label', "
                           "type_=sa.Text())",
}


def scripts(folder, upgrade, phase):
    write_script(folder, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=WIDGET, message='add example_widget')
    write_script(folder, SECOND, down=FIRST, upgrade=upgrade,
                 message='change widgets',
                 attributes=f'phase = {phase!r}' if phase else '')


def expand_findings(result):
    return [(f['revision'], f['rule'])
            for f in json.loads(result.stdout)['findings']
            if f['rule'].startswith('expand-')]


def lint_since_first(*extra):
    return cli(['db', 'lint', '--since', FIRST, '--extension', MODULE,
                '--json', *extra], config_text(NOWHERE, WITH_EXAMPLE))


@pytest.mark.parametrize('rule', NOT_ADDITIVE)
def test_lint_flags_an_expand_revision_that_does_not_only_add(
        example_scripts, rule):
    scripts(example_scripts, NOT_ADDITIVE[rule], 'expand')

    result = lint_since_first()

    assert (result.exit_code, expand_findings(result)) == (
        1, [(SECOND, rule)])


def test_lint_flags_deleting_rows_and_dropping_a_default_in_expand(
        example_scripts):
    scripts(example_scripts, "op.execute('DELETE FROM example_widget')\n    "
            "op.alter_column('example_widget', 'label', server_default=None, "
            "existing_server_default='x')", 'expand')

    assert expand_findings(lint_since_first()) == [
        (SECOND, 'expand-drops'), (SECOND, 'expand-drops')]


@pytest.mark.parametrize('phase', ['contract', None])
def test_a_contract_revision_may_drop(example_scripts, phase):
    scripts(example_scripts, NOT_ADDITIVE['expand-drops'], phase)

    assert expand_findings(lint_since_first()) == []


def test_an_additive_expand_revision_passes(example_scripts):
    scripts(example_scripts, "op.add_column('example_widget', sa.Column("
            "'size', sa.Integer(), nullable=False, server_default='0'))\n    "
            "op.create_table('example_gadget', sa.Column('id', sa.Integer(), "
            "nullable=False), sa.PrimaryKeyConstraint('id'))\n    "
            "op.drop_column('example_gadget', 'id')", 'expand')

    result = lint_since_first()

    assert (result.exit_code, expand_findings(result)) == (0, [])


def test_a_phase_that_is_neither_is_a_one_line_error(example_scripts):
    scripts(example_scripts, 'pass', 'later')

    result = cli(['db', 'lint', '--since', FIRST, '--extension', MODULE],
                 config_text(NOWHERE, WITH_EXAMPLE))

    assert error_line(result) == (
        f"revision {SECOND} declares phase = 'later': a phase is 'expand' "
        f"or 'contract'")


def test_the_ledger_fingerprint_ignores_a_declared_phase(tmp_path):
    write_script(tmp_path / 'a', FIRST, upgrade="op.execute('SELECT 1')")
    write_script(tmp_path / 'b', FIRST, upgrade="op.execute('SELECT 1')",
                 attributes="phase = 'expand'")
    write_script(tmp_path / 'c', FIRST, upgrade="op.execute('SELECT 2')",
                 attributes="phase = 'expand'")
    a, b, c = (ledger.fingerprint(tmp_path / d / f'{FIRST}_test.py')
               for d in 'abc')

    assert (a == b, b == c) == (True, False)


def test_phases_refuse_sqlite_in_one_line(tmp_path):
    config = config_text(f'sqlite:///{tmp_path / "haas.db"}')
    assert cli(['db', 'create'], config).exit_code == 0

    for phase in ('expand', 'contract'):
        result = cli(['db', 'upgrade', '--phase', phase], config)
        assert error_line(result) == phasing.SQLITE


def rows(uri, table):
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            if not sa.inspect(connection).has_table(table):
                return None
            return sorted(connection.exec_driver_sql(
                f'SELECT version_num FROM {table}').scalars())
    finally:
        engine.dispose()


def test_expand_keeps_alembic_version_and_contract_brings_every_head(
        pg_databases):
    uri = pg_databases.new()
    config = config_text(uri, LEGACY_EXTENSIONS)
    assert cli(['db', 'upgrade', '--to-release', '0.3'], config).exit_code == 0

    expanded = cli(['db', 'upgrade', '--phase', 'expand'], config)
    status = json.loads(cli(['db', 'status', '--json'], config).stdout)
    refused = cli(['db', 'upgrade'], config)
    contracted = cli(['db', 'upgrade', '--phase', 'contract'], config)
    after = json.loads(cli(['db', 'status', '--json'], config).stdout)

    assert expanded.exit_code == 0, expanded.output
    assert (status['phase'], status['current'],
            status['expansion']['serves'],
            status['expansion']['contract_left']) == (
        'expanded', True, True, {
            'haas': ['e0635646ea80'],
            'haas.ext.obm.ipmi': ['2de6116630a2'],
            'haas.ext.obm.mock': ['bf6ad6510a60'],
            'haas.ext.switches.dell': ['e9c7556cca0f'],
            'haas.ext.switches.mock': ['8bdf5c902a41'],
            'haas.ext.switches.nexus': ['8ecb0d349ed2']})
    assert error_line(refused) == (
        'the database is expanded for an online upgrade: finish it with '
        '`haas-admin db upgrade --phase contract` (or go on with --phase '
        'expand) first')
    assert contracted.exit_code == 0, contracted.output
    assert (after['phase'], after['current'], after['expansion'],
            rows(uri, 'haas_schema_expand')) == (
        'contracted', True, None, None)


def test_expand_leaves_the_previous_release_s_version_rows(pg_databases):
    uri = pg_databases.new()
    config = config_text(uri, LEGACY_EXTENSIONS)
    assert cli(['db', 'upgrade', '--to-release', '0.3'], config).exit_code == 0
    before = rows(uri, 'alembic_version')

    assert cli(['db', 'upgrade', '--phase', 'expand'], config).exit_code == 0

    assert rows(uri, 'alembic_version') == before
    # Each branch at its last expand revision: core's before the contract
    # that backfills the actions' ports, dell's and nexus's before the
    # encryption of their passwords; the others have none.
    assert rows(uri, 'haas_schema_expand') == [
        '15084df56fa8', '6061f125b415', '7a8f49167416', '7c3e91d04a52',
        '82a6f7041729', 'a56855f9aa12', 'b9d87c7080f1', 'bfe71cdb8f5d',
        'd7e4a1c9b352']


BACKFILL = '''op.create_table('example_thing',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('label', sa.String(), nullable=True),
        sa.PrimaryKeyConstraint('id'))
    op.execute("INSERT INTO example_thing (id) "
               "VALUES (1), (2), (3), (5), (8)")'''


def test_a_backfill_runs_in_batches_and_tells_its_progress(
        databases, example_scripts):
    config = config_text(databases.new(), WITH_EXAMPLE)
    write_script(example_scripts, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=BACKFILL, message='add example_thing')
    write_script(example_scripts, SECOND, down=FIRST, upgrade=(
        "from haas.migrations.ops import backfill\n    "
        "backfill('example_thing', {'label': \"'thing ' || id\"}, "
        "'label IS NULL AND id > 1', batch_size=2)"),
        attributes='transactional = False', message='label things')

    result = cli(['db', 'upgrade'], config)

    assert result.exit_code == 0, result.output
    assert 'backfill example_thing: 4 of 4 rows, done' in \
        result.stderr.splitlines()
    engine = sa.create_engine(config.split('uri = ')[1].split('\n')[0],
                              poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        assert connection.exec_driver_sql(
            'SELECT id, label FROM example_thing ORDER BY id').all() == [
            (1, None), (2, 'thing 2'), (3, 'thing 3'), (5, 'thing 5'),
            (8, 'thing 8')]
    engine.dispose()


def test_expand_refuses_an_empty_database_and_has_nothing_to_do_twice(
        pg_databases):
    uri = pg_databases.new()
    config = config_text(uri, LEGACY_EXTENSIONS)

    empty = cli(['db', 'upgrade', '--phase', 'expand'], config)
    assert cli(['db', 'upgrade', '--to-release', '0.3'], config).exit_code == 0
    first = cli(['db', 'upgrade', '--phase', 'expand'], config)
    second = cli(['db', 'upgrade', '--phase', 'expand'], config)

    assert error_line(empty) == (
        'the database is not initialised: an online upgrade starts from a '
        'running release; run `haas-admin db create`')
    assert rows(uri, 'haas_schema_expand') is not None
    assert (first.exit_code, second.exit_code) == (0, 0)
    assert second.stderr.splitlines()[-1] == (
        'Nothing to expand: every branch is at its last expand revision')


def test_phase_goes_with_no_revision_and_force_with_a_phase(tmp_path):
    config = config_text(f'sqlite:///{tmp_path / "haas.db"}')

    with_revision = cli(['db', 'upgrade', '--phase', 'expand', 'heads'],
                        config)
    forced = cli(['db', 'upgrade', '--force'], config)

    assert (with_revision.exit_code, forced.exit_code) == (2, 2)
    assert '--phase upgrades every branch' in with_revision.stderr
    assert '--force goes with --phase contract' in forced.stderr
