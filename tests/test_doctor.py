"""`haas-admin doctor`: one line a check, exit 0 only when all is well;
a switch that cannot be reached, a daemon that died or never ran, a
database that is not current and a bad configuration each say so."""

import datetime
import os
import signal
import subprocess

import pytest

from haas import heartbeat
from haas.model import db

from support.api import OBM, SWITCH, add_admin
from support.commands import HAAS_ADMIN, cli
from support.config import LEGACY_EXTENSIONS, config_text
from support.databases import make_app
from support.servers import eventually, free_port

DELL = 'http://schema.massopencloud.org/haas/v0/switches/powerconnect55xx'


@pytest.fixture
def site(databases, tmp_path):
    """A current database with a mock switch with a port, and a node."""
    uri = databases.new()
    config = config_text(uri, LEGACY_EXTENSIONS, extra=(
        f'[haas.ext.switches.mock]\nstate_dir = {tmp_path / "switches"}\n'))
    assert cli(['db', 'create'], config).exit_code == 0
    app = make_app(uri, LEGACY_EXTENSIONS)
    client = app.test_client()
    admin = add_admin(app)
    assert client.put('/switch/sw0', json=SWITCH,
                      headers=admin).status_code == 200
    assert client.put('/switch/sw0/port/p1',
                      headers=admin).status_code == 200
    assert client.put('/node/n1', json={'obm': OBM},
                      headers=admin).status_code == 200
    return app, client, admin, config


def beat(app, seconds_ago=0):
    with app.app_context():
        beating = heartbeat.Beating(db.engine, heartbeat.NETWORKS)
        beating.beat()
        if seconds_ago:
            with db.engine.begin() as c:
                c.execute(heartbeat._TABLE.update().values(
                    seen_at=heartbeat.utcnow() - datetime.timedelta(
                        seconds=seconds_ago)))
        db.engine.dispose()
    return beating.name


def lines(result):
    return result.stdout.splitlines()


def test_all_well_is_exit_0_and_a_line_a_check(site):
    app, _, _, config = site
    name = beat(app)

    result = cli(['doctor'], config)

    assert result.exit_code == 0, result.output
    assert [line.split(':')[0] for line in lines(result)] == [
        'ok    configuration', 'ok    database',
        'ok    networking daemon', 'ok    switch sw0',
        'ok    BMC of node n1']
    assert f'1 alive ({name})' in lines(result)[2]
    assert lines(result)[3].endswith('reachable, credentials accepted')


def test_the_maintenance_project_is_checked_when_configured(site):
    app, client, admin, config = site
    beat(app)
    config += '[maintenance]\nproject = cleaning\n'
    missing = cli(['doctor'], config)
    assert client.put('/project/cleaning', headers=admin).status_code == 200

    found = cli(['doctor'], config)

    assert (missing.exit_code, lines(missing)[2], found.exit_code,
            lines(found)[2]) == (
        1, 'FAIL  maintenance pool: project cleaning does not exist: '
           'detaches are refused until it is created',
        0, 'ok    maintenance pool: project cleaning')


def test_a_switch_that_cannot_be_reached_fails_its_line(site):
    app, client, admin, config = site
    beat(app)
    assert client.put('/switch/dead', headers=admin, json={
        'type': DELL, 'hostname': f'127.0.0.1:{free_port()}',
        'username': 'admin', 'password': 'secret'}).status_code == 200

    result = cli(['doctor'], config)

    assert result.exit_code == 1
    failed = [line for line in lines(result) if line.startswith('FAIL')]
    assert len(failed) == 1
    assert failed[0].startswith('FAIL  switch dead: cannot reach switch '
                                'dead (127.0.0.1:')
    assert 'ok    switch sw0: reachable' in result.stdout


def test_a_daemon_that_died_and_one_that_never_ran(site):
    app, _, _, config = site

    never = cli(['doctor'], config)
    beat(app, seconds_ago=120)
    died = cli(['doctor'], config)

    assert never.exit_code == died.exit_code == 1
    assert 'FAIL  networking daemon: none running: start `haas-admin ' \
        'serve-networks`' in lines(never)
    [line] = [x for x in lines(died) if 'networking daemon' in x]
    assert line.startswith('FAIL  networking daemon: none alive: the last '
                           'was seen 12')
    assert line.endswith('s ago and did not stop cleanly')


def test_a_running_daemon_is_alive_until_it_stops(site, tmp_path):
    app, _, _, config = site
    path = tmp_path / 'haas.cfg'
    path.write_text(config)
    daemon = subprocess.Popen([HAAS_ADMIN, 'serve-networks'],
                              env={**os.environ, 'HAAS_CONFIG': str(path)},
                              stderr=subprocess.DEVNULL)
    try:
        eventually(lambda: cli(['doctor'], config).exit_code == 0,
                   what='the daemon\'s heartbeat')
        alive = cli(['doctor'], config)
        assert f':{daemon.pid})' in alive.stdout
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
    stopped = cli(['doctor'], config)
    assert 'FAIL  networking daemon: none running' in stopped.stdout


def test_a_database_not_current_stops_the_checks_there(databases):
    config = config_text(databases.new(), LEGACY_EXTENSIONS)

    result = cli(['doctor'], config)

    assert result.exit_code == 1
    assert lines(result)[0].startswith('ok    configuration')
    assert lines(result)[1].startswith('FAIL  database: ')
    assert 'haas-admin db create' in lines(result)[1]
    assert len(lines(result)) == 2


def test_a_bad_configuration_is_one_line(tmp_path):
    result = cli(['doctor'], '[database]\nuri = sqlite:///x.db\n'
                             '[extensions]\nhaas.ext.no.such =\n')

    assert result.exit_code == 1
    assert len(lines(result)) == 1
    assert lines(result)[0].startswith('FAIL  configuration: ')
