"""The online upgrade from HaaS 0.3 to this tree, with a real 0.3 server.

HaaS 0.3's code, from its "Release 0.3.0" commit, makes the database and
serves it under a steady client while this tree's `db upgrade --phase
expand` runs: no request fails, and a 0.3 server started afterwards
accepts the expanded schema, as this tree's server does.  `--phase
contract` refuses while a 0.3 server is connected, runs once they are
gone, and this tree's servers serve the result.
"""

import json
import os
import subprocess
import threading
import time
import urllib.error

import pytest
import sqlalchemy as sa

from haas import crypto
from haas.migrations.servers import RELEASE

from support.commands import HAAS_ADMIN, cli
from support.config import API_EXTENSIONS, CHEAP_HASHES, config_text
from support.release import start_server, stop, written_out
from support.servers import ADMIN, eventually

MOCK = 'http://schema.massopencloud.org/haas/v0'
#: This tree's extensions: 0.3's, and a switch driver that 0.3 has not.
EXTENSIONS_0_4 = API_EXTENSIONS + ['haas.ext.switches.brocade']


@pytest.fixture(scope='session')
def release_0_3(tmp_path_factory):
    return written_out('0.3', tmp_path_factory.mktemp('release-0.3'))


class SteadyClient(threading.Thread):
    """Requests to `server`, one after the other, until stopped: reads of
    the nodes, a node, the switch, and a project made and deleted."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.stopping = threading.Event()
        self.failures = []
        self.requests = 0
        self.longest = 0.0

    def run(self):
        n = 0
        while not self.stopping.is_set():
            n += 1
            for method, path in (('GET', '/nodes/all'), ('GET', '/node/n0'),
                                 ('GET', '/switch/sw0'),
                                 ('PUT', f'/project/steady-{n}'),
                                 ('DELETE', f'/project/steady-{n}')):
                started = time.monotonic()
                try:
                    status, _ = self.server.call(method, path)
                except (OSError, urllib.error.URLError) as e:
                    status = repr(e)
                self.longest = max(self.longest, time.monotonic() - started)
                self.requests += 1
                if status not in (200, 202, 204):
                    self.failures.append((method, path, status))

    def stop(self):
        self.stopping.set()
        self.join(timeout=60)


def populate(server):
    """A switch, nodes cabled to its ports, a project holding one, and a
    networking action that 0.3 queued (by nic: 0.3 has no port on it)."""
    def admin(method, path, **body):
        status, answer = server.call(method, path, body or None)
        assert status in (200, 202), (method, path, status, answer)
        return answer
    admin('PUT', '/switch/sw0', type=f'{MOCK}/switches/mock',
          hostname='sw0', username='admin', password='sw0-secret')
    for i in range(3):
        admin('PUT', f'/node/n{i}', obm={
            'type': f'{MOCK}/obm/mock', 'host': f'n{i}-bmc', 'user': 'u',
            'password': f'n{i}-secret'})
        admin('PUT', f'/node/n{i}/nic/eth0', macaddr=f'n{i}-mac')
        admin('PUT', f'/switch/sw0/port/p{i}')
        admin('POST', f'/switch/sw0/port/p{i}/connect_nic', node=f'n{i}',
              nic='eth0')
    admin('PUT', '/project/proj')
    admin('POST', '/project/proj/connect_node', node='n0')
    admin('PUT', '/network/net0', owner='proj', access='proj', net_id='')
    admin('POST', '/node/n0/nic/eth0/connect_network', network='net0')


def this_tree(config_path):
    env = {**os.environ, 'HAAS_CONFIG': str(config_path)}
    return (lambda *args: [HAAS_ADMIN, *args]), env


def query(uri, sql):
    engine = sa.create_engine(uri, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return connection.exec_driver_sql(sql).all()
    finally:
        engine.dispose()


def status(config):
    return json.loads(cli(['db', 'status', '--json'], config).stdout)


def test_0_3_serves_through_expand_and_this_tree_serves_after_contract(
        release_0_3, pg_databases, tmp_path):
    uri = pg_databases.new()
    mock_state = f'[haas.ext.switches.mock]\nstate_dir = {tmp_path}/state\n'
    config_0_3 = tmp_path / 'haas-0.3.cfg'
    config_0_3.write_text(config_text(uri, API_EXTENSIONS,
                                      extra=CHEAP_HASHES + mock_state))
    config = config_text(uri, EXTENSIONS_0_4, extra=CHEAP_HASHES + mock_state)
    config_path = tmp_path / 'haas.cfg'
    config_path.write_text(config)
    release_0_3.admin(config_0_3, 'db', 'create')
    release_0_3.admin(config_0_3, 'create-admin-user', ADMIN[0],
                      '--password-stdin', input=ADMIN[1] + '\n')
    old, old_server = release_0_3.serve(config_0_3, uri,
                                         tmp_path / 'old.log')
    processes = [old]
    try:
        populate(old_server)
        client = SteadyClient(old_server)
        client.start()
        try:
            eventually(lambda: client.requests > 20, what='steady requests')
            expanded = cli(['db', 'upgrade', '--phase', 'expand'], config)
            eventually(lambda: client.requests > 200,
                       what='requests after the expand phase')
        finally:
            client.stop()
        assert expanded.exit_code == 0, expanded.output
        assert (client.failures, client.is_alive()) == ([], False)

        # A 0.3 server still starts, and so does this tree's.
        assert release_0_3.admin(config_0_3, 'db', 'status').returncode == 0
        fresh, fresh_server = release_0_3.serve(config_0_3, uri,
                                                tmp_path / 'fresh.log')
        processes.append(fresh)
        assert fresh_server.call('GET', '/node/n1')[0] == 200
        command, env = this_tree(config_path)
        new, new_server = start_server(command, env, uri,
                                       tmp_path / 'new.log')
        processes.append(new)
        assert [new_server.call('GET', path)[0] for path in
                ('/nodes/all', '/switch/sw0', '/node/n0')] == [200] * 3

        expanded_status = status(config)
        refused = cli(['db', 'upgrade', '--phase', 'contract'], config)
        daemon = subprocess.run(command('serve-networks'), env=env,
                                capture_output=True, text=True, timeout=120)

        stop(old)
        stop(fresh)
        eventually(lambda: all(c['release'] == RELEASE
                               for c in status(config)['clients']),
                   what='the 0.3 servers\' connections to end')
        contracted = cli(['db', 'upgrade', '--phase', 'contract'], config)
        after = status(config)
        served = [new_server.call('GET', path)[0] for path in
                  ('/nodes/all', '/switch/sw0', '/node/n0')]
        again, again_server = start_server(command, env, uri,
                                           tmp_path / 'again.log')
        processes.append(again)
        again_served = again_server.call('GET', '/node/n2')[0]
    finally:
        for process in processes:
            stop(process)

    assert expanded_status['phase'] == 'expanded'
    assert expanded_status['current'] is True
    assert {c['release'] for c in expanded_status['clients']} == {
        None, RELEASE}
    assert refused.exit_code == 1
    assert (daemon.returncode, daemon.stderr.splitlines()[-1:]) == (1, [
        'Error: the database is expanded for an online upgrade, not '
        'contracted: this process starts after `haas-admin db upgrade '
        '--phase contract`; the previous release\'s runs until then'])
    assert f'may be of servers of a release before {RELEASE}' in refused.stderr
    assert contracted.exit_code == 0, contracted.output
    assert (after['phase'], after['current']) == ('contracted', True)
    assert (served, again_served) == ([200] * 3, 200)
    # The contract's backfill gave 0.3's action its nic's port; the
    # passwords 0.3 kept as text are tokens now.
    assert query(uri, 'SELECT count(*) FROM networking_action a JOIN nic '
                      'ON nic.id = a.nic_id WHERE a.port_id = nic.port_id') \
        == [(1,)]
    passwords = [p for p, in query(uri, 'SELECT password FROM mock_switch')]
    assert [crypto.is_token(p) for p in passwords] == [True]
