"""`haas-admin` as operators run it: real subprocesses, real databases.

Every error path ends in one line on stderr that starts with "Error:", a
non-zero exit status and no traceback.
"""

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from conftest import (DEFAULT_EXTENSIONS, HAAS_ADMIN, LEGACY_EXTENSIONS,
                      config_text, run_admin)

BRANCHES = 'haas, haas.ext.obm.mock, haas.ext.switches.mock'


def assert_error(result, message):
    assert result.returncode != 0
    assert 'Traceback' not in result.stderr
    lines = [line for line in result.stderr.splitlines()
             if not line.startswith('INFO')]
    assert lines == [f'Error: {message}'], result.stderr


def test_help_needs_neither_config_nor_database(tmp_path):
    result = run_admin(['db', '--help'], cwd=tmp_path,
                       env={'HAAS_CONFIG': str(tmp_path / 'absent.cfg')})
    for verb in ('create', 'upgrade', 'downgrade', 'current', 'heads',
                 'branches', 'history', 'show', 'stamp', 'check', 'migrate',
                 'revision', 'edit', 'merge'):
        assert f'\n  {verb} ' in result.stdout
    assert not (tmp_path / 'haas.db').exists()


def test_defaults_without_config_use_haas_db_here(tmp_path):
    result = run_admin(['db', 'create'], cwd=tmp_path)
    assert result.stdout == ('Created branches: haas, haas.ext.switches.mock, '
                             'haas.ext.obm.mock\n')
    assert (tmp_path / 'haas.db').exists()
    heads = run_admin(['db', 'heads'], cwd=tmp_path).stdout.splitlines()
    current = run_admin(['db', 'current'], cwd=tmp_path).stdout.splitlines()
    assert sorted(h.split()[0] for h in heads) == sorted(
        c.split()[0] for c in current) == [
            '6a8c19565060', 'b5b31d19257d', 'df8d9f423f2b']


def test_missing_haas_config_file(tmp_path):
    result = run_admin(['db', 'current'], cwd=tmp_path, check=False,
                       env={'HAAS_CONFIG': 'nowhere.cfg'})
    assert_error(result, 'HAAS_CONFIG names nowhere.cfg, which does not '
                         'exist; unset it to use ./haas.cfg or the defaults')


@pytest.mark.parametrize('config, message', [
    ('garbage\n', None),
    ('[extensions]\nhaas.ext.nope =\n',
     "extension haas.ext.nope in [extensions] is not installed (No module "
     "named 'haas.ext.nope')"),
    ('[extensions]\nhaas.ext.auth.null =\nhaas.ext.auth.database =\n'
     'haas.ext.network_allocators.null =\n',
     '[extensions] must enable exactly one auth backend, not 2 '
     '(haas.ext.auth.null, haas.ext.auth.database)'),
    ('[extensions]\nhaas.ext.auth.null =\n',
     '[extensions] must enable exactly one network allocator, not 0'),
    ('[extensions]\nhaas.ext.auth.null =\n'
     'haas.ext.network_allocators.vlan_pool =\n'
     '[haas.ext.network_allocators.vlan_pool]\nvlans = 10-x\n',
     "[haas.ext.network_allocators.vlan_pool] vlans: '10-x' is neither a "
     "VLAN number nor a range A-B"),
    ('[database]\nuri = nonsense\n',
     'bad [database] uri: Could not parse SQLAlchemy URL from given URL '
     'string'),
    ('[database]\nuri = postgresql://postgres@127.0.0.1:1/haas\n',
     'cannot use the database: connection to server at "127.0.0.1", port 1 '
     'failed: Connection refused'),
    ('[general]\nlog_level = loud\n',
     "[general] log_level must be one of debug, info, warn, warning, error, "
     "critical, fatal, not 'loud'"),
])
def test_bad_configuration(tmp_path, config, message):
    result = run_admin(['db', 'current'], config=config, cwd=tmp_path,
                       check=False)
    if message is None:
        assert result.stderr.startswith('Error: bad configuration in ')
        message = result.stderr[len('Error: '):].rstrip('\n')
    assert_error(result, message)


@pytest.mark.parametrize('args, message', [
    (['db', 'upgrade', 'abc123'],
     f"unknown revision 'abc123': see `haas-admin db heads` and `haas-admin "
     f"db history`; use 'heads' for every branch or '<branch>@head' "
     f"(branches: {BRANCHES})"),
    (['db', 'downgrade', 'abc123'], None),
    (['db', 'show', 'abc123'], None),
    (['db', 'stamp', 'abc123'], None),
    (['db', 'upgrade', 'head'],
     "Multiple head revisions are present for given argument 'head'; please "
     "specify a specific target revision, '<branchname>@head' to narrow to a "
     "specific head, or 'heads' for all heads (HaaS keeps one branch per "
     "extension, never merged: use 'heads' for all of them or "
     f"'<branch>@head'; branches: {BRANCHES})"),
    (['create-admin-user', 'alice', 'secret'],
     'create-admin-user needs haas.ext.auth.database in [extensions]'),
    (['serve-networks'],
     'serve-networks is not available yet: the networking journal arrives '
     'with the REST API'),
])
def test_bad_request_on_initialised_database(databases, tmp_path, args,
                                             message):
    config = config_text(databases.new())
    run_admin(['db', 'create'], config=config, cwd=tmp_path)

    result = run_admin(args, config=config, cwd=tmp_path, check=False)

    assert_error(result, message or (
        "unknown revision 'abc123': see `haas-admin db heads` and "
        "`haas-admin db history`; use 'heads' for every branch or "
        f"'<branch>@head' (branches: {BRANCHES})"))


def test_serve_refuses_uninitialised_database(databases, tmp_path):
    result = run_admin(['serve', '--port', '1'], cwd=tmp_path, check=False,
                       config=config_text(databases.new()))
    assert_error(result, 'the database is not initialised: run `haas-admin '
                         'db create` (or `haas-admin db upgrade heads` for an '
                         'existing HaaS database)')


def test_serve_refuses_database_missing_an_enabled_extension(databases,
                                                             tmp_path):
    uri = databases.new()
    run_admin(['db', 'create'], config=config_text(uri), cwd=tmp_path)
    wider = config_text(uri, DEFAULT_EXTENSIONS + ['haas.ext.switches.dell'])

    result = run_admin(['serve-networks'], config=wider, cwd=tmp_path,
                       check=False)

    assert_error(result, 'the tables of branch haas.ext.switches.dell are '
                         'missing: run `haas-admin db create`')


def test_orphan_revision_of_a_disabled_extension(databases, tmp_path):
    uri = databases.new()
    run_admin(['db', 'create'], config=config_text(uri), cwd=tmp_path)
    narrower = config_text(uri, ['haas.ext.auth.null',
                                 'haas.ext.network_allocators.null',
                                 'haas.ext.obm.mock'])
    message = ('the database is stamped at revision b5b31d19257d, which no '
               'enabled branch provides: enable the extension that owns it '
               'in [extensions], or install the HaaS release that wrote it')
    for args in (['db', 'create'], ['db', 'upgrade'], ['serve']):
        result = run_admin(args, config=narrower, cwd=tmp_path, check=False)
        assert_error(result, message)


def test_create_admin_user_then_it_exists(databases, tmp_path):
    config = config_text(databases.new(), ['haas.ext.auth.database',
                                           'haas.ext.network_allocators.null'])
    run_admin(['db', 'create'], config=config, cwd=tmp_path)
    run_admin(['create-admin-user', 'alice', 'secret'], config=config,
              cwd=tmp_path)

    again = run_admin(['create-admin-user', 'alice', 'other'], config=config,
                      cwd=tmp_path, check=False)

    assert_error(again, 'user alice already exists')


def test_upgrade_sql_prints_the_schema_without_touching_the_database(
        databases, tmp_path):
    uri = databases.new()
    result = run_admin(['db', 'upgrade', '--sql'], config=config_text(uri),
                       cwd=tmp_path)
    assert 'CREATE TABLE project' in result.stdout
    assert 'CREATE TABLE mock_obm' in result.stdout
    problem = run_admin(['serve'], config=config_text(uri), cwd=tmp_path,
                        check=False)
    assert 'the database is not initialised' in problem.stderr


def test_flask_cli_runs_the_same_migrations(tmp_path):
    flask = os.path.join(os.path.dirname(sys.executable), 'flask')
    env = {k: v for k, v in os.environ.items() if k != 'HAAS_CONFIG'}
    subprocess.run([flask, '--app', 'haas', 'db', 'upgrade', 'heads'],
                   cwd=tmp_path, env=env, check=True, capture_output=True)
    current = run_admin(['db', 'current'], cwd=tmp_path).stdout.splitlines()
    assert sorted(line.split()[0] for line in current) == [
        '6a8c19565060', 'b5b31d19257d', 'df8d9f423f2b']


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
    rows = run_admin(['db', 'current'], config=config, cwd=tmp_path).stdout
    assert len(rows.splitlines()) == 8
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        versions = connection.exec_driver_sql(
            'SELECT version_num FROM alembic_version').scalars().all()
        vlans = connection.exec_driver_sql(
            'SELECT count(*) FROM vlan').scalar()
    assert len(versions) == len(set(versions)) == 7
    assert vlans == (302 if args == ['db', 'create'] else 0)
