"""`haas-admin` as operators run it, on real databases.

Every error path ends in one line on stderr that starts with "Error:", exit
status 1 and no traceback.  Output is checked in-process; a subprocess runs
only where the process itself is the point: the environment, the exit
status of the real executable, the flask command line, concurrency.
"""

import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa

import haas
from haas.model import db

from support.commands import HAAS_ADMIN, cli, error_line, run_admin
from support.config import DEFAULT_EXTENSIONS, LEGACY_EXTENSIONS, config_text
from support.revisions import CORE_HEAD, CORE_REVISIONS, described, upgrades

BRANCHES = ('haas, haas.ext.obm.mock, haas.ext.switches.mock, '
            'haas.migrations.ledger')
UNKNOWN = ("unknown revision 'abc123': see `haas-admin db heads` and "
           "`haas-admin db history`; use 'heads' for every branch or "
           f"'<branch>@head' (branches: {BRANCHES})")


def test_help_needs_neither_config_nor_database(tmp_path):
    result = run_admin(['db', '--help'], cwd=tmp_path,
                       env={'HAAS_CONFIG': str(tmp_path / 'absent.cfg')})
    verbs = [line.split()[0] for line in
             result.stdout.split('Commands:\n', 1)[1].splitlines()
             if line.startswith('  ') and not line.startswith('   ')]
    assert verbs == ['branches', 'check', 'checkpoint', 'create', 'current',
                     'downgrade', 'edit', 'forget', 'heads', 'history',
                     'lint', 'log', 'merge', 'migrate', 'revision', 'show',
                     'stamp', 'status', 'test', 'upgrade', 'verify']
    assert not (tmp_path / 'haas.db').exists()


def test_reading_commands_leave_no_database_file_behind(tmp_path):
    results = [run_admin(['db', *args], cwd=tmp_path, check=False)
               for args in (['status'], ['current'], ['upgrade', '--plan'])]

    assert [(r.returncode, r.stderr) for r in results] == [
        (1, ''), (0, ''), (0, '')]
    assert results[0].stdout.splitlines()[-1] == (
        'Next: the database is not initialised: run `haas-admin db create`')
    assert list(tmp_path.iterdir()) == []


def test_help_summaries_are_whole_first_paragraphs():
    result = cli(['db', '--help'])
    listing = result.stdout.split('Commands:\n', 1)[1]
    summaries = ' '.join(listing.split())
    assert '...' not in listing and '``' not in result.stdout
    assert ('upgrade Upgrade the database to REVISION; by default every '
            "branch's head.") in summaries
    assert ("forget Remove an orphaned branch's version row, and its tables "
            "if asked.") in summaries


def test_defaults_without_config_use_haas_db_here(tmp_path):
    result = run_admin(['db', 'create'], cwd=tmp_path)
    assert result.stdout == ('Created branches: haas, haas.migrations.ledger, '
                             'haas.ext.switches.mock, haas.ext.obm.mock\n')
    assert (tmp_path / 'haas.db').exists()
    current = run_admin(['db', 'current'], cwd=tmp_path).stdout
    assert current == (f'{CORE_HEAD} (haas) (head)\n'
                       '82a6f7041729 (haas.migrations.ledger) (head)\n'
                       '8bdf5c902a41 (haas.ext.switches.mock) (head)\n'
                       'bf6ad6510a60 (haas.ext.obm.mock) (head)\n')


@pytest.mark.parametrize('setting, message', [
    ('nowhere.cfg', 'HAAS_CONFIG names nowhere.cfg, which does not exist; '
                    'unset it to use ./haas.cfg or the defaults'),
    ('.', 'HAAS_CONFIG names ., which is a directory: name the '
          'configuration file in it'),
])
def test_haas_config_naming_no_file_exits_1(tmp_path, setting, message):
    result = run_admin(['db', 'current'], cwd=tmp_path, check=False,
                       env={'HAAS_CONFIG': setting})
    assert (result.returncode, result.stdout, result.stderr) == (
        1, '', f'Error: {message}\n')


@pytest.mark.parametrize('text, message', [
    (b'garbage\n', None),
    (b'[database]\nuri = caf\xe9\n',
     '{path} is not UTF-8 text: byte 0xe9 on line 2'),
    (b'[extensions]\nhaas.ext.nope =\n',
     "extension haas.ext.nope in [extensions] is not installed (No module "
     "named 'haas.ext.nope')"),
    (b'[extensions]\nos =\nhaas.ext.auth.null =\n'
     b'haas.ext.network_allocators.null =\n',
     'os in [extensions] is not a HaaS extension: importing it registered '
     'no migration folder, model, auth backend or network allocator'),
    (b'[extensions]\nhaas.ext.auth.null =\nhaas.ext.auth.database =\n'
     b'haas.ext.network_allocators.null =\n',
     '[extensions] must enable exactly one auth backend, not 2 '
     '(haas.ext.auth.null, haas.ext.auth.database)'),
    (b'[extensions]\nhaas.ext.auth.null =\n',
     '[extensions] must enable exactly one network allocator, not 0'),
    (b'[extensions]\nhaas.ext.auth.null =\n'
     b'haas.ext.network_allocators.vlan_pool =\n'
     b'[haas.ext.network_allocators.vlan_pool]\nvlans = 10-x\n',
     "[haas.ext.network_allocators.vlan_pool] vlans: '10-x' is neither a "
     "VLAN number nor a range A-B"),
    (b'[database]\nuri = nonsense\n',
     'bad [database] uri: Could not parse SQLAlchemy URL from given URL '
     'string'),
    (b'[database]\nuri = postgresql://postgres@127.0.0.1:1/haas\n',
     'cannot use the database: connection to server at "127.0.0.1", port 1 '
     'failed: Connection refused'),
    (b'[database]\nconnect_timeout = soon\n',
     "[database] connect_timeout must be a number of seconds (0 or more), "
     "not 'soon'"),
    (b'[general]\nlog_level = loud\n',
     "[general] log_level must be one of debug, info, warn, warning, error, "
     "critical, fatal, not 'loud'"),
])
def test_bad_configuration(tmp_path, monkeypatch, text, message):
    path = tmp_path / 'haas.cfg'
    path.write_bytes(text)
    monkeypatch.setenv('HAAS_CONFIG', str(path))

    line = error_line(cli(['db', 'current']))

    if message is None:
        assert line.startswith(f'bad configuration in {path}: ')
    else:
        assert line == message.format(path=path)


@pytest.mark.parametrize('args, message', [
    (['db', 'upgrade', 'abc123'], UNKNOWN),
    (['db', 'downgrade', 'abc123'], UNKNOWN),
    (['db', 'show', 'abc123'], UNKNOWN),
    (['db', 'stamp', 'abc123'], UNKNOWN),
    (['db', 'stamp', ''], "no revision given: name one, 'heads' for every "
                          "branch or '<branch>@head'"),
    (['db', 'upgrade', 'head'],
     "'head' stands for several heads (" + ', '.join(sorted([
         CORE_HEAD, '82a6f7041729', 'bf6ad6510a60', '8bdf5c902a41'])) +
     "): HaaS keeps one branch per extension; use "
     "'heads' for all of them or '<branch>@head' for one (branches: "
     f"{BRANCHES})"),
    # One step more than core has.
    (['db', 'downgrade', f'haas@-{len(CORE_REVISIONS) + 1}'],
     f'haas@-{len(CORE_REVISIONS) + 1} goes below the base of branch haas: '
     f'it has {len(CORE_REVISIONS)} revisions applied; haas@base reverts '
     f'all of them'),
    (['db', 'downgrade', 'haas@base'],
     'downgrading haas that far would also downgrade haas.ext.switches.mock, '
     'haas.ext.obm.mock, which depend on it: downgrade them first, or give '
     '--cascade'),
    (['db', 'upgrade', '--extension', 'haas.ext.switches.dell'],
     'haas.ext.switches.dell is not the branch of an enabled extension '
     '(branches: haas, haas.migrations.ledger, haas.ext.switches.mock, '
     'haas.ext.obm.mock)'),
    (['db', 'forget', 'haas.ext.obm.mock'],
     'haas.ext.obm.mock is enabled: take it out of [extensions] first (to '
     'remove its tables from an enabled extension, downgrade it: '
     '`haas-admin db downgrade --extension haas.ext.obm.mock base`)'),
    (['db', 'forget', 'haas.ext.obm.ipmi'],
     'the database has no orphaned branch or revision haas.ext.obm.ipmi '
     '(`haas-admin db status` lists them)'),
    (['create-admin-user', 'alice'],
     'the auth backend haas.ext.auth.null keeps no users: enable '
     'haas.ext.auth.database to create them'),
])
def test_bad_request_on_initialised_database(databases, args, message):
    config = config_text(databases.new())
    cli(['db', 'create'], config)

    assert error_line(cli(args, config)) == message


def test_bad_request_exits_1_from_the_real_executable(tmp_path):
    run_admin(['db', 'create'], cwd=tmp_path)
    result = run_admin(['db', 'upgrade', 'abc123'], cwd=tmp_path,
                       check=False)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, '', f'Error: {UNKNOWN}\n')


def test_serve_refuses_uninitialised_database(databases):
    result = cli(['serve', '--port', '1'], config_text(databases.new()))
    assert error_line(result) == ('the database is not initialised: run '
                                  '`haas-admin db create`')


def test_serve_refuses_database_missing_an_enabled_extension(databases):
    uri = databases.new()
    cli(['db', 'create'], config_text(uri))
    wider = config_text(uri, DEFAULT_EXTENSIONS + ['haas.ext.switches.dell'])

    assert error_line(cli(['serve-networks'], wider)) == (
        'the tables of branch haas.ext.switches.dell are missing: run '
        '`haas-admin db create`')


def test_serve_networks_refuses_a_poll_of_no_time_with_one_line(databases):
    uri = databases.new()
    cli(['db', 'create'], config_text(uri))

    assert error_line(cli(['serve-networks'], config_text(
        uri, extra='[daemon]\npoll = 0\n'))) == (
        "[daemon] poll must be a number of seconds (more than 0), not '0'")


def test_create_admin_user_then_it_exists(databases):
    config = config_text(databases.new(), ['haas.ext.auth.database',
                                           'haas.ext.network_allocators.null'])
    cli(['db', 'create'], config)
    created = cli(['create-admin-user', 'alice', '--password-stdin'], config,
                  input='secret\n')
    asked = cli(['create-admin-user', 'bob'], config, input='pw\npw\n')

    again = cli(['create-admin-user', 'alice', '--password-stdin'], config,
                input='other\n')

    assert (created.exit_code, created.output) == (0, '')
    assert asked.exit_code == 0 and 'Password' in asked.output
    assert error_line(again) == 'user alice already exists'
    app = haas.create_app(config)
    with app.app_context():
        from haas.ext.auth.database import User
        users = {u.label: u for u in db.session.execute(
            db.select(User)).scalars()}
        assert sorted(users) == ['alice', 'bob']
        assert all(u.is_admin for u in users.values())
        assert users['alice'].verify_password('secret')
        assert users['bob'].verify_password('pw')
        assert users['alice'].hashed_password.startswith('$argon2id$')
        db.engine.dispose()


def test_create_admin_user_checks_the_schema_before_asking_the_password(
        databases):
    config = config_text(databases.new(), ['haas.ext.auth.database',
                                           'haas.ext.network_allocators.null'])

    result = cli(['create-admin-user', 'alice'], config, input='pw\npw\n')

    assert 'Password' not in result.stdout
    assert error_line(result) == ('the database is not initialised: run '
                                  '`haas-admin db create`')


def test_create_admin_user_refuses_an_empty_password(databases):
    config = config_text(databases.new(), ['haas.ext.auth.database',
                                           'haas.ext.network_allocators.null'])
    cli(['db', 'create'], config)

    result = cli(['create-admin-user', 'alice', '--password-stdin'], config,
                 input='\n')

    assert error_line(result) == 'the password is empty'


def test_read_only_verbs_print_only_their_answer(databases):
    config = config_text(databases.new())
    cli(['db', 'create'], config)
    for args in (['db', 'heads'], ['db', 'current'], ['db', 'history'],
                 ['db', 'branches'], ['db', 'show'], ['db', 'status'],
                 ['db', 'check'], ['db', 'upgrade', '--plan']):
        result = cli(args, config)
        assert (args, result.exit_code, result.stderr) == (args, 0, '')


def test_check_on_a_clean_database_says_so_once(databases):
    config = config_text(databases.new())
    cli(['db', 'create'], config)

    result = cli(['db', 'check'], config)

    assert (result.exit_code, result.stdout) == (
        0, 'No problems: the scripts form one line per branch, the models '
           'match them, and the database is at every head.\n')


def test_show_without_revision_shows_every_head(databases):
    config = config_text(databases.new())
    result = cli(['db', 'show'], config)
    assert [line for line in result.stdout.splitlines()
            if line.startswith('Rev: ')] == [
        f'Rev: {CORE_HEAD} (head)', 'Rev: 82a6f7041729 (head)',
        'Rev: 8bdf5c902a41 (head)', 'Rev: bf6ad6510a60 (head)']


def test_upgrade_prints_one_line_per_revision_to_stderr(databases):
    result = cli(['db', 'upgrade', '--no-checkpoints'],
                 config_text(databases.new()))
    lines = result.stderr.splitlines()
    assert (result.exit_code, result.stdout) == (0, '')
    assert [re.sub(r' in [0-9.]+ s$', '', line) for line in lines] == [
        f'upgraded {branch} to {described(script)}'
        for branch, script in upgrades('haas.migrations.ledger', 'haas',
                                       'haas.ext.obm.mock',
                                       'haas.ext.switches.mock')]
    assert all(re.search(r' in [0-9.]+ s$', line) for line in lines)


def test_flask_cli_runs_haas_group(tmp_path):
    flask = os.path.join(os.path.dirname(sys.executable), 'flask')
    env = {k: v for k, v in os.environ.items() if k != 'HAAS_CONFIG'}
    subprocess.run([flask, '--app', 'haas', 'db', 'upgrade', 'heads'],
                   cwd=tmp_path, env=env, check=True, capture_output=True)
    # Flask-Migrate's own group has no `status`.
    status = subprocess.run([flask, '--app', 'haas', 'db', 'status'],
                            cwd=tmp_path, env=env, capture_output=True,
                            text=True)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[-1] == (
        'Every enabled branch is at its head.')


@pytest.mark.parametrize('args', [['db', 'create'], ['db', 'upgrade']])
def test_concurrent_schema_commands_on_postgresql_wait_for_each_other(
        pg_databases, tmp_path, args):
    uri = pg_databases.new()
    config = config_text(uri, LEGACY_EXTENSIONS)
    path = tmp_path / 'haas.cfg'
    path.write_text(config)
    env = {k: v for k, v in os.environ.items() if k != 'HAAS_CONFIG'}
    env['HAAS_CONFIG'] = str(path)
    runs = [subprocess.Popen([HAAS_ADMIN, *args], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(3)]
    results = [(run.wait(timeout=120), run.stdout.read(), run.stderr.read())
               for run in runs]

    assert [code for code, _, _ in results] == [0, 0, 0], results
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        versions = connection.exec_driver_sql(
            'SELECT version_num FROM alembic_version').scalars().all()
        vlans = connection.exec_driver_sql(
            'SELECT count(*) FROM vlan').scalar()
    # A row per branch: the ledger, core (its head is past the 0.3
    # revision the extensions' heads depend on) and each extension.
    assert len(versions) == len(set(versions)) == 9
    assert vlans == 302
