"""The `haas` client, as a user runs it: real processes of the client, of
`haas-admin serve` and of `haas-admin serve-networks`."""

import json
import os
import subprocess
import sys

from support.commands import HAAS
from support.servers import (
    action_status,
    eventually,
    free_port,
    haas,
    ports,
    running,
    status_id,
)


def test_a_node_is_cabled_connected_detached_and_removed_with_the_client(
        live_site):
    cable_connect_detach_and_remove(*live_site)


def test_the_same_under_gunicorn_on_postgresql(pg_databases, tmp_path):
    with running(pg_databases.new(), tmp_path, gunicorn=True) as site:
        cable_connect_detach_and_remove(*site)


def cable_connect_detach_and_remove(server, state):
    """A node's whole life through the client, against `server` with a
    networking daemon whose mock switches keep their state in `state`."""
    for args in [
            ('project', 'create', 'runway'),
            ('node', 'register', 'n1', 'mock', 'host=bmc', 'user=root',
             'password=pw'),
            ('node', 'register-nic', 'n1', 'eth0', 'de:ad:be:ef:00:01'),
            ('switch', 'register', 'sw0', 'mock', 'hostname=sw0',
             'username=admin', 'password=secret'),
            ('port', 'register', 'sw0', 'gi1/0/5'),
            ('port', 'connect-nic', 'sw0', 'gi1/0/5', 'n1', 'eth0'),
            ('project', 'connect-node', 'runway', 'n1'),
            ('network', 'create', 'pxe', 'runway', 'runway', '')]:
        assert haas(server, *args) == (0, '', '')
    connected = status_id(haas(server, 'node', 'connect-network', 'n1',
                               'eth0', 'pxe'))
    vlan = json.loads(haas(server, 'network', 'show', 'pxe', '--json')[1])[
        'channels'][1].split('/')[1]

    shown = eventually(lambda: json.loads(haas(
        server, 'node', 'show', 'n1', '--json')[1])['nics'][0]['networks'])

    assert shown == {'vlan/native': 'pxe'}
    assert ports(state, 'sw0') == {'gi1/0/5': {'vlan/native': vlan}}
    assert action_status(server, connected) == 'DONE'
    assert haas(server, 'action', 'show', connected)[1] == (
        'channel: vlan/native\n'
        'error:\n'
        'new_network: pxe\n'
        'nic: eth0\n'
        'node: n1\n'
        'port: gi1/0/5\n'
        'status: DONE\n'
        'switch: sw0\n'
        'type: modify_port\n')
    # The administrator's view: where the nic is cabled, and no metadata.
    assert haas(server, 'node', 'show', 'n1')[1] == (
        'metadata: {}\n'
        'name: n1\n'
        'nics:\n'
        '  - eth0\n'
        '    macaddr: de:ad:be:ef:00:01\n'
        '    networks:\n'
        '      vlan/native: pxe\n'
        '    port: gi1/0/5\n'
        '    switch: sw0\n'
        'project: runway\n')
    assert haas(server, 'project', 'nodes', 'runway')[1] == 'n1\n'

    detached = status_id(haas(server, 'node', 'detach-network', 'n1', 'eth0',
                              'pxe'))
    assert detached != connected
    assert eventually(lambda: ports(state, 'sw0') == {})
    assert eventually(lambda: not json.loads(haas(
        server, 'node', 'show', 'n1', '--json')[1])['nics'][0]['networks'])
    assert eventually(lambda: action_status(server, detached) == 'DONE')
    for args in [('project', 'detach-node', 'runway', 'n1'),
                 ('port', 'detach-nic', 'sw0', 'gi1/0/5'),
                 ('node', 'delete-nic', 'n1', 'eth0'),
                 ('node', 'delete', 'n1'),
                 ('port', 'delete', 'sw0', 'gi1/0/5'),
                 ('switch', 'delete', 'sw0'),
                 ('network', 'delete', 'pxe'),
                 ('project', 'delete', 'runway')]:
        assert haas(server, *args) == (0, '', '')
    assert haas(server, 'project', 'list') == (0, '', '')
    assert haas(server, 'node', 'free', '--json') == (0, '[]\n', '')


def test_a_refused_call_prints_the_servers_error_and_exits_1(live_site):
    server, _ = live_site
    haas(server, 'project', 'create', 'runway')

    again = haas(server, 'project', 'create', 'runway', check=False)
    wrong = haas(server, 'project', 'list', credentials=('admin', 'guess'),
                 check=False)
    bad_type = haas(server, 'node', 'register', 'n1', 'nosuch', 'host=h',
                    check=False)

    assert again == (1, '', 'Error: DuplicateError: Project runway already '
                            'exists.\n')
    assert wrong == (1, '', 'Error: AuthorizationError: Authentication '
                            'failed. Authentication is required to use this '
                            'service.\n')
    assert bad_type == (1, '', "Error: BadArgumentError: "
                               "'http://schema.massopencloud.org/haas/v0/obm/"
                               "nosuch' is not a valid OBM type.\n")


def test_a_list_as_json_parses_back(live_site):
    server, _ = live_site
    for name in ('b', 'a'):
        haas(server, 'project', 'create', name)

    status, out, err = haas(server, 'project', 'list', '--json')

    assert (status, json.loads(out), err) == (0, ['a', 'b'], '')


def test_a_refused_connection_is_one_line():
    endpoint = f'http://127.0.0.1:{free_port()}'

    result = haas(endpoint, 'project', 'list', check=False)

    assert result == (1, '', f'Error: cannot reach the HaaS API at '
                             f'{endpoint}: connection refused\n')


def test_no_endpoint_is_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ('HAAS_ENDPOINT', 'HAAS_CONFIG')}
    result = subprocess.run([HAAS, 'project', 'list'], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=60)

    assert (result.returncode, result.stderr) == (
        1, 'Error: no endpoint: set HAAS_ENDPOINT or [client] endpoint in '
           'haas.cfg\n')


def test_the_client_imports_nothing_of_the_server():
    code = ('import sys; from haas import cli; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("sqlalchemy", "flask", "flask_sqlalchemy", "requests", '
            '"pydantic") or m in ("haas.model", "haas.app", "haas.rest")))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, check=True)

    assert result.stdout == '[]\n'


def test_help_loads_no_http_library_and_no_json():
    code = ('import sys; from haas import cli; '
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("requests", "urllib3", "json")))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, check=True)

    assert result.stdout == '[]\n'
