"""The migration ledger: what `create`, `upgrade`, `downgrade` and a failed
revision record, `db log`, and `db verify` with its policy and --accept.

The third-party example branch gets scripts written for each test, so that
a test can edit a script after it ran.
"""

import json

import pytest

from haas import migrations
from haas.migrations import LEDGER, ledger
from haas.migrations.scripts import Branches
from haas.model import db

from support.commands import cli, error_line
from support.config import DEFAULT_EXTENSIONS, config_text
from support.databases import make_app, table_rows
from support.example import EXAMPLE_MODULE as MODULE
from support.example import FIRST, SECOND, WIDGET
from support.legacy import load_dump, read_dump
from support.revisions import (
    CORE_HEAD,
    CORE_REVISIONS,
    LEDGER_HEAD,
    OBM,
    OBM_0_3,
    OBM_BASELINE,
    OBM_HEAD,
    SWITCH,
    SWITCH_0_3,
    SWITCH_BASELINE,
    SWITCH_HEAD,
    write_script,
)

DROP_WIDGET = "op.drop_table('example_widget')"
WITH_EXAMPLE = DEFAULT_EXTENSIONS + [MODULE]
#: (branch, revision) of every script of core and the mock drivers, in
#: the order an upgrade runs them.
DEFAULT_SCRIPTS = [('haas', r) for r in CORE_REVISIONS] + [
    (SWITCH, SWITCH_BASELINE), (SWITCH, SWITCH_0_3), (SWITCH, SWITCH_HEAD),
    (OBM, OBM_BASELINE), (OBM, OBM_0_3), (OBM, OBM_HEAD)]
#: The scripts `upgraded` applied, which verify checks: the ledger's, those
#: and the example's.
APPLIED = 1 + len(DEFAULT_SCRIPTS) + 1


def rows(app, *columns):
    """The ledger's rows, oldest first, as tuples of `columns`."""
    return [tuple(row[c] for c in columns)
            for row in table_rows(app)['haas_schema_ledger']]


def scripts_of(app):
    """Revision id -> Alembic Script, for the branches of `app`."""
    return Branches(app.extensions['haas'].config.extensions).revisions


def first_script(folder, upgrade=WIDGET):
    write_script(folder, FIRST, labels=(MODULE,), depends=CORE_HEAD,
                 upgrade=upgrade, downgrade=DROP_WIDGET,
                 message='add example_widget')
    return folder / f'{FIRST}_test.py'


@pytest.fixture
def upgraded(databases, example_scripts):
    """A database upgraded with the example branch's first script: its
    app, its config text and that script's path."""
    uri = databases.new()
    path = first_script(example_scripts)
    config = config_text(uri, WITH_EXAMPLE)
    # Every revision runs, and is recorded: none is built from a checkpoint.
    assert cli(['db', 'upgrade', '--no-checkpoints'], config).exit_code == 0
    return make_app(uri, WITH_EXAMPLE), config, path


# --- what is recorded -----------------------------------------------------

def test_create_records_each_branch_it_made_and_verify_has_nothing_to_check(
        databases):
    app = make_app(databases.new())
    config = config_text(app.config['SQLALCHEMY_DATABASE_URI'])

    cli(['db', 'create'], config)
    verify = cli(['db', 'verify'], config)

    assert rows(app, 'branch', 'revision', 'direction', 'outcome',
                'fingerprint', 'error') == [
        ('haas', CORE_HEAD, 'create', 'ok', None, None),
        (LEDGER, LEDGER_HEAD, 'create', 'ok', None, None),
        (SWITCH, SWITCH_HEAD, 'create', 'ok', None, None),
        (OBM, OBM_HEAD, 'create', 'ok', None, None)]
    assert (verify.exit_code, verify.stdout) == (
        0, 'Every applied script is the code that ran (0 checked).\n')


def test_upgrade_records_the_ledger_first_then_each_revision_with_its_code(
        upgraded):
    app, config, path = upgraded
    scripts = scripts_of(app)

    recorded = rows(app, 'branch', 'revision', 'direction', 'outcome',
                    'fingerprint')

    assert recorded[0][:4] == (LEDGER, LEDGER_HEAD, 'upgrade', 'ok')
    assert sorted(recorded[1:]) == sorted(
        (branch, revision, 'upgrade', 'ok',
         ledger.fingerprint(scripts[revision].path))
        for branch, revision in DEFAULT_SCRIPTS + [(MODULE, FIRST)])
    assert all(started is not None and duration >= 0 for started, duration
               in rows(app, 'started_at', 'duration'))


def test_downgrade_records_the_code_of_the_downgrade(upgraded):
    app, config, path = upgraded

    cli(['db', 'downgrade', f'{MODULE}@-1'], config)

    assert rows(app, 'branch', 'revision', 'direction', 'outcome',
                'fingerprint')[-1] == (
        MODULE, FIRST, 'downgrade', 'ok',
        ledger.fingerprint(path, 'downgrade'))
    assert ledger.fingerprint(path, 'downgrade') != ledger.fingerprint(path)


def test_failed_revision_is_recorded_with_its_error_and_the_others_stay(
        databases, example_scripts):
    app = make_app(databases.new(), WITH_EXAMPLE)
    config = config_text(app.config['SQLALCHEMY_DATABASE_URI'], WITH_EXAMPLE)
    first_script(example_scripts)
    write_script(example_scripts, SECOND, down=FIRST,
                 upgrade="op.execute('SELECT * FROM no_such_table')",
                 message='break')

    failed = cli(['db', 'upgrade'], config)

    assert failed.exit_code == 1
    recorded = rows(app, 'branch', 'revision', 'direction', 'outcome')
    assert recorded[-2:] == [(MODULE, FIRST, 'upgrade', 'ok'),
                             (MODULE, SECOND, 'upgrade', 'failed')]
    error, = [e for e in rows(app, 'error') if e != (None,)]
    assert 'no_such_table' in error[0]
    # The branches after the failure were not reached; core's row is implied.
    assert table_rows(app)['alembic_version'] == [
        {'version_num': LEDGER_HEAD}, {'version_num': FIRST}]


def test_a_database_from_before_the_ledger_gets_its_history_back_filled(
        databases):
    app = make_app(databases.new())
    config = config_text(app.config['SQLALCHEMY_DATABASE_URI'])
    cli(['db', 'upgrade'], config)
    # As an earlier HaaS left it: no ledger, no row of its branch.
    with app.app_context(), db.engine.begin() as connection:
        connection.exec_driver_sql('DROP TABLE haas_schema_ledger')
        connection.exec_driver_sql(
            f"DELETE FROM alembic_version WHERE version_num = '{LEDGER_HEAD}'")
        connection.exec_driver_sql(
            f"DELETE FROM haas_schema_branch WHERE branch = '{LEDGER}'")

    upgrade = cli(['db', 'upgrade'], config)
    log = cli(['db', 'log'], config)

    assert upgrade.exit_code == 0
    scripts = scripts_of(app)
    # Every script applied, each branch's in order; then the ledger's own.
    assert rows(app, 'branch', 'revision', 'direction', 'outcome',
                'started_at', 'fingerprint') == [
        (branch, revision, 'upgrade', 'before ledger', None,
         ledger.fingerprint(scripts[revision].path))
        for branch, revision in DEFAULT_SCRIPTS] + [
        (LEDGER, LEDGER_HEAD, 'upgrade', 'ok',
         rows(app, 'started_at')[len(DEFAULT_SCRIPTS)][0],
         ledger.fingerprint(scripts[LEDGER_HEAD].path))]
    assert log.stdout.splitlines()[1].split() == [
        '-', 'haas', CORE_REVISIONS[0], 'upgrade', 'before', 'ledger', '-',
        rows(app, 'haas_version')[0][0]]


def test_the_legacy_dump_is_adopted_with_the_ledger_recording_it(
        pg_databases):
    app = make_app(pg_databases.new(), ['haas.ext.auth.null',
                                        'haas.ext.network_allocators.null',
                                        'haas.ext.switches.mock',
                                        'haas.ext.obm.mock',
                                        'haas.ext.switches.nexus',
                                        'haas.ext.switches.dell',
                                        'haas.ext.obm.ipmi'])
    uri = app.config['SQLALCHEMY_DATABASE_URI']
    load_dump(uri, read_dump())
    with app.app_context():
        migrations.upgrade('heads')

    recorded = rows(app, 'branch', 'revision', 'direction', 'outcome')
    assert recorded[0] == (LEDGER, LEDGER_HEAD, 'upgrade', 'ok')
    # Each baseline adopts its tables; HaaS 0.3's revisions run after.
    assert sorted(recorded[1:]) == sorted(
        (branch, revision, 'upgrade', 'ok')
        for branch, revision in DEFAULT_SCRIPTS + [
            ('haas.ext.switches.nexus', 'bf72d2ab7e56'),
            ('haas.ext.switches.nexus', '45b6520d2c63'),
            ('haas.ext.switches.nexus', '7c3e91d04a52'),
            ('haas.ext.switches.nexus', '8ecb0d349ed2'),
            ('haas.ext.switches.dell', '099b939261c1'),
            ('haas.ext.switches.dell', '9d5f2cab3511'),
            ('haas.ext.switches.dell', '4f1c2e8a7b30'),
            ('haas.ext.switches.dell', '7a8f49167416'),
            ('haas.ext.switches.dell', 'e9c7556cca0f'),
            ('haas.ext.obm.ipmi', '4b9e9d637c6b'),
            ('haas.ext.obm.ipmi', 'bfe71cdb8f5d'),
            ('haas.ext.obm.ipmi', '2de6116630a2')])


# --- db log -----------------------------------------------------------------

def test_log_lists_every_row_and_its_json_is_the_same_bytes_twice(upgraded):
    app, config, path = upgraded
    cli(['db', 'downgrade', f'{MODULE}@-1'], config)

    text = cli(['db', 'log'], config)
    one, two = (cli(['db', 'log', '--json'], config) for _ in range(2))
    only = cli(['db', 'log', '--extension', MODULE, '--json'], config)

    assert text.exit_code == 0 and one.stdout == two.stdout
    assert text.stdout.splitlines()[0].split() == [
        'STARTED', '(UTC)', 'BRANCH', 'REVISION', 'DIRECTION', 'OUTCOME',
        'SECONDS', 'HAAS']
    assert len(text.stdout.splitlines()) == 1 + len(rows(app, 'id'))
    every = json.loads(one.stdout)
    assert [(r['branch'], r['direction']) for r in every][-1] == (
        MODULE, 'downgrade')
    assert sorted(every[0]) == [
        'branch', 'direction', 'duration', 'error', 'fingerprint',
        'haas_version', 'id', 'outcome', 'reason', 'revision', 'started_at']
    assert every[0]['started_at'].endswith('Z')
    assert [(r['branch'], r['direction'])
            for r in json.loads(only.stdout)] == [
        (MODULE, 'upgrade'), (MODULE, 'downgrade')]


def test_log_refuses_an_unknown_extension_and_a_database_without_a_ledger(
        databases, upgraded):
    app, config, path = upgraded
    empty = config_text(databases.new())

    assert error_line(cli(['db', 'log', '--extension', 'haas.ext.nope'],
                          config)).startswith(
        'haas.ext.nope is neither an enabled branch nor one the ledger names')
    assert error_line(cli(['db', 'log'], empty)) == (
        'the database has no migration ledger yet: the database is not '
        'initialised: run `haas-admin db create`')


# --- db verify --------------------------------------------------------------

@pytest.mark.parametrize('edit', [
    'reformatted', 'a comment', 'a docstring', 'the downgrade'])
def test_verify_ignores_what_is_not_the_code_that_ran(upgraded, edit):
    app, config, path = upgraded
    text = path.read_text()
    text = {
        'reformatted': text.replace(WIDGET, WIDGET.replace(', ', ',\n    ')),
        'a comment': text.replace('def upgrade():',
                                  '# checked by hand\ndef upgrade():'),
        'a docstring': text.replace('def upgrade():\n',
                                    'def upgrade():\n    """Widgets."""\n'),
        'the downgrade': text.replace(DROP_WIDGET,
                                      "op.drop_table('example_widget')\n"
                                      "    op.execute('SELECT 1')"),
    }[edit]
    assert text != path.read_text()
    path.write_text(text)

    result = cli(['db', 'verify'], config)

    assert (result.exit_code, result.stdout) == (
        0, f'Every applied script is the code that ran ({APPLIED} checked).\n')


def changed_widget(path):
    path.write_text(path.read_text().replace(
        "sa.Column('label', sa.String(), nullable=False)",
        "sa.Column('label', sa.String(), nullable=True)"))


def test_verify_names_an_applied_script_whose_code_changed(upgraded):
    app, config, path = upgraded
    changed_widget(path)

    result = cli(['db', 'verify'], config)
    as_json = cli(['db', 'verify', '--json'], config)

    line, = result.stdout.splitlines()
    assert line.startswith(f'changed: revision {FIRST} of branch {MODULE} '
                           f'({path}), applied 20')
    assert error_line(result) == (
        f'1 applied script changed since it ran: revision {FIRST} of branch '
        f'{MODULE} ({path}); review the change, then record it with '
        f'`haas-admin db verify --accept {FIRST} --reason TEXT`')
    found = json.loads(as_json.stdout)
    assert (as_json.exit_code, found['checked'],
            [(c['branch'], c['revision'], c['file'], c['now'])
             for c in found['changed']]) == (
        1, APPLIED, [(MODULE, FIRST, str(path), ledger.fingerprint(path))])


def test_upgrade_refuses_while_an_applied_script_changed_unless_warn_only(
        upgraded, example_scripts):
    app, config, path = upgraded
    changed_widget(path)
    write_script(example_scripts, SECOND, down=FIRST, message='second')
    warn = config + '[migrations]\nverify = warn\n'
    before = table_rows(app)

    refused = cli(['db', 'upgrade'], config)
    unchanged = table_rows(app)
    warned = cli(['db', 'upgrade'], warn)

    assert error_line(refused) == (
        f'1 applied script changed since it ran: revision {FIRST} of branch '
        f'{MODULE} ({path}); review the change, then record it with '
        f'`haas-admin db verify --accept {FIRST} --reason TEXT`')
    assert unchanged == before
    assert warned.exit_code == 0
    assert warned.stderr.splitlines()[0] == (
        f'Warning: 1 applied script changed since it ran: revision {FIRST} of '
        f'branch {MODULE} ({path}); review the change, then record it with '
        f'`haas-admin db verify --accept {FIRST} --reason TEXT`')
    assert rows(app, 'revision', 'outcome')[-1] == (SECOND, 'ok')


def test_the_plan_shows_a_changed_script_and_exits_1_as_upgrade_would(
        upgraded):
    app, config, path = upgraded
    changed_widget(path)

    text = cli(['db', 'upgrade', '--plan'], config)
    as_json = cli(['db', 'upgrade', '--plan', '--json'], config)
    warned = cli(['db', 'upgrade', '--plan'],
                 config + '[migrations]\nverify = warn\n')

    assert (text.exit_code, text.stdout) == (
        1, f'Changed since it ran: revision {FIRST} of branch {MODULE} '
           f'({path})\n')
    assert error_line(text).startswith('1 applied script changed since it '
                                       'ran: ')
    assert [(c['revision'], c['direction'])
            for c in json.loads(as_json.stdout)['changed']] == [
        (FIRST, 'upgrade')]
    assert (warned.exit_code, warned.stdout) == (0, text.stdout)


def test_a_change_after_an_accepted_one_says_when_it_was_accepted(upgraded):
    app, config, path = upgraded
    original = path.read_text()
    changed_widget(path)
    cli(['db', 'verify', '--accept', FIRST, '--reason', 'reviewed'], config)
    path.write_text(original)

    result = cli(['db', 'verify'], config)

    assert result.stdout.startswith(
        f'changed: revision {FIRST} of branch {MODULE} ({path}), accepted 20')


def test_an_accepted_change_is_recorded_and_verify_passes_again(upgraded):
    app, config, path = upgraded
    changed_widget(path)

    accepted = cli(['db', 'verify', '--accept', FIRST[:6], '--reason',
                    ' label may be empty '], config)
    again = cli(['db', 'verify'], config)

    assert (accepted.exit_code, accepted.stdout) == (
        0, f'Accepted the change to revision {FIRST} of branch {MODULE}: '
           f'label may be empty\n')
    assert rows(app, 'branch', 'revision', 'direction', 'outcome',
                'fingerprint', 'reason')[-1] == (
        MODULE, FIRST, 'accept', 'ok', ledger.fingerprint(path),
        'label may be empty')
    assert (again.exit_code, again.stdout) == (
        0, f'Every applied script is the code that ran ({APPLIED} checked).\n')


def test_accept_needs_a_reason_and_a_changed_applied_revision(upgraded):
    app, config, path = upgraded
    before = table_rows(app)

    no_reason = cli(['db', 'verify', '--accept', FIRST], config)
    unchanged = cli(['db', 'verify', '--accept', FIRST, '--reason', 'x'],
                    config)
    reason_alone = cli(['db', 'verify', '--reason', 'x'], config)

    assert error_line(no_reason) == ('give the reason the change is '
                                     'accepted: --reason TEXT')
    assert error_line(unchanged) == (
        f'{FIRST} is not one of the applied revisions whose script changed '
        f'since it ran (changed: none)')
    assert reason_alone.exit_code == 2
    assert table_rows(app) == before


def test_the_ledger_is_a_branch_of_haas_that_cannot_be_forgotten(upgraded):
    app, config, path = upgraded

    assert error_line(cli(['db', 'forget', LEDGER], config)) == (
        f'{LEDGER} is a branch of HaaS itself, which is always enabled: it '
        f'cannot be forgotten')


def test_an_unknown_verify_policy_is_a_one_line_error(upgraded):
    app, config, path = upgraded

    result = cli(['db', 'upgrade'], config + '[migrations]\nverify = maybe\n')

    assert error_line(result) == (
        "[migrations] verify must be one of fail, warn, not 'maybe'")


# --- fingerprints ------------------------------------------------------------

def test_a_fingerprint_is_of_the_code_of_one_direction(tmp_path):
    write_script(tmp_path, FIRST, upgrade=WIDGET, downgrade=DROP_WIDGET)
    path = tmp_path / f'{FIRST}_test.py'
    up, down = ledger.fingerprint(path), ledger.fingerprint(path, 'downgrade')

    path.write_text(path.read_text().replace(DROP_WIDGET, 'pass'))

    assert (ledger.fingerprint(path), ledger.fingerprint(path, 'downgrade')
            != down, up != down) == (up, True, True)
    assert len(up) == 64 and int(up, 16) >= 0
