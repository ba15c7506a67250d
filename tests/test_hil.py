"""HIL 1.0's clients against HaaS: the requests HIL's client library
(hil/client/*.py at HIL's last release) sends, under /v0, with the answers
HIL's server gives, through a real server and networking daemon on each
database; then HIL's command names and environment variables in `haas`.

HIL's client is a Python 2 program, so the suite replays its requests
rather than running it.  Each step is (caller, method, path, body, status,
answer) with the body as HIL's client serialises it (a `channel` of None
is its default channel) and the answer as HIL's server gives it: a dict
answer must hold HIL's keys with HIL's values (HaaS adds a few of its own,
which HIL's client ignores; README.md's "Compatibility with HIL" names
them), ANY where HIL's server makes a value up (ids, VLANs).
"""

import json
import os
import subprocess
from unittest.mock import ANY

from support.commands import HAAS
from support.servers import ADMIN, eventually, free_port, ports

MOCK_SWITCH = 'http://schema.massopencloud.org/haas/v0/switches/mock'
MOCK_OBM = 'http://schema.massopencloud.org/haas/v0/obm/mock'
ALICE = ('alice', 'alice-pw')
EMPTY = b''

#: HIL 1.0's client library, call by call, before any networking action:
#: (caller, method, path, body, status, answer).
SETUP = [
    # client.project.create, client.user.create, client.user.add
    (ADMIN, 'PUT', '/v0/project/proj', None, 200, EMPTY),
    (ADMIN, 'PUT', '/v0/project/other', None, 200, EMPTY),
    (ADMIN, 'PUT', '/v0/auth/basic/user/alice',
     {'password': 'alice-pw', 'is_admin': False}, 200, EMPTY),
    (ADMIN, 'POST', '/v0/auth/basic/user/alice/add_project',
     {'project': 'proj'}, 200, EMPTY),
    (ADMIN, 'GET', '/v0/projects', None, 200, ['other', 'proj']),
    # client.switch.register, client.port.register, client.switch.show
    (ADMIN, 'PUT', '/v0/switch/sw0', {
        'type': MOCK_SWITCH, 'hostname': 'sw0', 'username': 'admin',
        'password': 'secret'}, 200, EMPTY),
    (ADMIN, 'PUT', '/v0/switch/sw0/port/gi1/0/1', None, 200, EMPTY),
    (ADMIN, 'GET', '/v0/switches', None, 200, ['sw0']),
    (ADMIN, 'GET', '/v0/switch/sw0', None, 200, {
        'name': 'sw0', 'ports': [{'label': 'gi1/0/1'}],
        'capabilities': ANY}),
    # a node (with HIL's pre-obmd `obm` body), its nic, cabled
    (ADMIN, 'PUT', '/v0/node/n1', {'obm': {
        'type': MOCK_OBM, 'host': 'bmc', 'user': 'root',
        'password': 'pw'}}, 200, EMPTY),
    (ADMIN, 'PUT', '/v0/node/n1/nic/eth0', {'macaddr': 'de:ad:be:ef:00:01'},
     200, EMPTY),
    (ADMIN, 'POST', '/v0/switch/sw0/port/gi1/0/1/connect_nic',
     {'node': 'n1', 'nic': 'eth0'}, 200, EMPTY),
    (ADMIN, 'GET', '/v0/switch/sw0/port/gi1/0/1', None, 200,
     {'node': 'n1', 'nic': 'eth0', 'networks': {}}),
    (ADMIN, 'GET', '/v0/nodes/free', None, 200, ['n1']),
    # client.project.connect, client.project.nodes_in, as alice
    (ALICE, 'POST', '/v0/project/proj/connect_node', {'node': 'n1'}, 200,
     EMPTY),
    (ALICE, 'GET', '/v0/project/proj/nodes', None, 200, ['n1']),
    (ADMIN, 'GET', '/v0/nodes/free', None, 200, []),
    # client.network.create: a project's network, and a public one
    (ALICE, 'PUT', '/v0/network/net',
     {'owner': 'proj', 'access': 'proj', 'net_id': ''}, 200, EMPTY),
    (ADMIN, 'PUT', '/v0/network/pub',
     {'owner': 'admin', 'access': '', 'net_id': ''}, 200, EMPTY),
    (ADMIN, 'PUT', '/v0/network/net',
     {'owner': 'proj', 'access': 'proj', 'net_id': ''}, 409,
     {'type': 'DuplicateError', 'msg': ANY}),
    (ADMIN, 'GET', '/v0/networks', None, 200, {
        'net': {'network_id': ANY, 'projects': ['proj']},
        'pub': {'network_id': ANY, 'projects': None}}),
    (ALICE, 'GET', '/v0/network/net', None, 200, {
        'name': 'net', 'owner': 'proj', 'access': ['proj'],
        'channels': ANY, 'connected-nodes': {}}),
    (ALICE, 'GET', '/v0/network/pub', None, 200, {
        'name': 'pub', 'owner': 'admin', 'access': None,
        'channels': ANY, 'connected-nodes': {}}),
    # client.network.grant_access / revoke_access, by the owner's member
    (ALICE, 'PUT', '/v0/network/net/access/other', None, 200, EMPTY),
    (ALICE, 'GET', '/v0/network/net', None, 200, {
        'name': 'net', 'owner': 'proj', 'access': ['other', 'proj'],
        'channels': ANY, 'connected-nodes': {}}),
    (ALICE, 'DELETE', '/v0/network/net/access/other', None, 200, EMPTY),
    (ALICE, 'GET', '/v0/project/proj/networks', None, 200, ['net']),
    # client.node.power_cycle, client.node.show
    (ALICE, 'POST', '/v0/node/n1/power_cycle', {'force': False}, 200,
     EMPTY),
    (ALICE, 'GET', '/v0/node/n1', None, 200, {
        'name': 'n1', 'project': 'proj', 'metadata': {},
        'nics': [{'label': 'eth0', 'macaddr': 'de:ad:be:ef:00:01',
                  'networks': {}}]}),
    # HIL refuses to delete a node in a project, or its nic
    (ADMIN, 'DELETE', '/v0/node/n1/nic/eth0', None, 409,
     {'type': 'BlockedError', 'msg': ANY}),
    (ADMIN, 'DELETE', '/v0/node/n1', None, 409,
     {'type': 'BlockedError', 'msg': ANY}),
    (ADMIN, 'GET', '/v0/active_extensions', None, 200, ANY),
]

#: Once `net` is on the nic, through the daemon.
CONNECTED = [
    (ALICE, 'GET', '/v0/network/net', None, 200, {
        'name': 'net', 'owner': 'proj', 'access': ['proj'],
        'channels': ANY, 'connected-nodes': {'n1': ['eth0']}}),
    (ALICE, 'GET', '/v0/network/net/attachments', None, 200, {
        'n1': {'nic': 'eth0', 'channel': 'vlan/native', 'project': 'proj'}}),
    (ALICE, 'GET', '/v0/network/net/attachments?project=proj', None, 200, {
        'n1': {'nic': 'eth0', 'channel': 'vlan/native', 'project': 'proj'}}),
    (ADMIN, 'GET', '/v0/switch/sw0/port/gi1/0/1', None, 200,
     {'node': 'n1', 'nic': 'eth0', 'networks': {'vlan/native': 'net'}}),
    # Still refused: the network is in use.
    (ALICE, 'DELETE', '/v0/network/net', None, 409,
     {'type': 'BlockedError', 'msg': ANY}),
]

#: After detaching, HIL's client takes everything down again.
TEARDOWN = [
    (ALICE, 'GET', '/v0/network/net', None, 200, {
        'name': 'net', 'owner': 'proj', 'access': ['proj'],
        'channels': ANY, 'connected-nodes': {}}),
    (ALICE, 'POST', '/v0/project/proj/detach_node', {'node': 'n1'}, 200,
     EMPTY),
    (ADMIN, 'POST', '/v0/switch/sw0/port/gi1/0/1/detach_nic', None, 200,
     EMPTY),
    (ADMIN, 'DELETE', '/v0/node/n1/nic/eth0', None, 200, EMPTY),
    (ADMIN, 'DELETE', '/v0/node/n1', None, 200, EMPTY),
    (ADMIN, 'DELETE', '/v0/switch/sw0/port/gi1/0/1', None, 200, EMPTY),
    (ADMIN, 'DELETE', '/v0/switch/sw0', None, 200, EMPTY),
    (ALICE, 'DELETE', '/v0/network/net', None, 200, EMPTY),
    (ADMIN, 'DELETE', '/v0/network/pub', None, 200, EMPTY),
    (ADMIN, 'GET', '/v0/networks', None, 200, {}),
]


def hil_answer(expected, got):
    """`got` as HIL's client reads it: a dict only with the keys HIL's
    answer has (HaaS's extra ones dropped), at every level."""
    if isinstance(expected, dict) and isinstance(got, dict):
        return {key: hil_answer(expected[key], got[key]) if key in expected
                else got[key] for key in got if key in expected}
    if isinstance(expected, list) and isinstance(got, list) \
            and len(expected) == len(got):
        return [hil_answer(e, g) for e, g in zip(expected, got)]
    return got


def replay(server, steps):
    """The steps whose answer is not HIL's: [] when all are."""
    wrong = []
    for who, method, path, body, status, expected in steps:
        got = server.call(method, path, body, credentials=who)
        if got != (status, expected) and (
                got[0], hil_answer(expected, got[1])) != (status, expected):
            wrong.append((method, path, got))
    return wrong


def test_hil_1_0_client_requests_are_answered_as_hil_does(live_site):
    server, state = live_site

    assert replay(server, SETUP) == []

    # client.node.connect_network(node, nic, network, channel=None)
    queued = server.call('POST', '/v0/node/n1/nic/eth0/connect_network',
                         {'network': 'net', 'channel': None},
                         credentials=ALICE)
    assert queued == (202, {'status_id': ANY})
    vlan = server.call('GET', '/v0/networks')[1]['net']['network_id']
    assert eventually(lambda: ports(state, 'sw0')) == {
        'gi1/0/1': {'vlan/native': vlan}}
    assert eventually(lambda: server.call(
        'GET', f'/v0/networking_action/{queued[1]["status_id"]}',
        credentials=ALICE)[1]['status'] == 'DONE')
    assert replay(server, [(
        ALICE, 'GET', f'/v0/networking_action/{queued[1]["status_id"]}',
        None, 200, {'status': 'DONE', 'node': 'n1', 'nic': 'eth0',
                    'type': 'modify_port', 'channel': 'vlan/native',
                    'new_network': 'net'})]) == []
    assert replay(server, CONNECTED) == []

    # client.node.detach_network(node, nic, network)
    detached = server.call('POST', '/v0/node/n1/nic/eth0/detach_network',
                           {'network': 'net'}, credentials=ALICE)
    assert detached == (202, {'status_id': ANY})
    assert eventually(lambda: ports(state, 'sw0') == {})
    assert eventually(lambda: server.call(
        'GET', f'/v0/networking_action/{detached[1]["status_id"]}',
        credentials=ALICE)[1]['status'] == 'DONE')
    assert replay(server, TEARDOWN) == []

    hil_commands_with_hil_variables(server, state)


def hil(server, *args, credentials=ADMIN):
    """`haas ARGS` as a user of HIL's client runs it: HIL_ENDPOINT,
    HIL_USERNAME and HIL_PASSWORD set, and no HAAS_* variable."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('HAAS_', 'HIL_'))}
    env.update(HIL_ENDPOINT=server.base, HIL_USERNAME=credentials[0],
               HIL_PASSWORD=credentials[1])
    result = subprocess.run([HAAS, *args], capture_output=True, text=True,
                            env=env, timeout=60)
    return result.returncode, result.stdout, result.stderr


def hil_commands_with_hil_variables(server, state):
    """HIL's command names, beside ours, on the same server."""
    for args in [
            ('switch', 'register', 'sw1', 'mock', 'hostname=sw1',
             'username=admin', 'password=secret'),
            ('port', 'register', 'sw1', 'te1/0/1'),
            ('node', 'register', 'n2', 'mock', 'host=bmc', 'user=root',
             'password=pw'),
            ('node', 'nic', 'register', 'n2', 'eth0', 'de:ad:be:ef:00:02'),
            ('port', 'nic', 'add', 'sw1', 'te1/0/1', 'n2', 'eth0'),
            ('project', 'node', 'add', 'proj', 'n2'),
            ('node', 'power', 'cycle', 'n2', '--force'),
            ('node', 'metadata', 'add', 'n2', 'rack', '7'),
            ('network', 'create', 'lan', 'proj', 'proj', '')]:
        assert hil(server, *args) == (0, '', ''), args
    assert hil(server, 'project', 'node', 'list', 'proj') == (0, 'n2\n', '')

    # `node network connect` without a channel: the default one.
    status, out, err = hil(server, 'node', 'network', 'connect', 'n2',
                           'eth0', 'lan', '--json', credentials=ALICE)
    assert (status, err) == (0, '')
    connected = json.loads(out)['status_id']
    vlan = server.call('GET', '/v0/networks')[1]['lan']['network_id']
    assert eventually(lambda: ports(state, 'sw1')) == {
        'te1/0/1': {'vlan/native': vlan}}
    assert eventually(lambda: server.call(
        'GET', f'/networking_action/{connected}')[1]['status'] == 'DONE')
    assert hil(server, 'project', 'node', 'remove', 'proj', 'n2')[0] == 1

    assert hil(server, 'node', 'network', 'detach', 'n2', 'eth0', 'lan',
               credentials=ALICE)[0] == 0
    assert eventually(lambda: ports(state, 'sw1') == {})
    eventually(lambda: not server.call('GET', '/node/n2')[1]['nics'][0][
        'networks'])
    for args in [('project', 'node', 'remove', 'proj', 'n2', '--force'),
                 ('port', 'nic', 'remove', 'sw1', 'te1/0/1'),
                 ('node', 'metadata', 'delete', 'n2', 'rack'),
                 ('node', 'nic', 'delete', 'n2', 'eth0'),
                 ('node', 'delete', 'n2')]:
        assert hil(server, *args) == (0, '', ''), args
    assert server.call('GET', '/nodes/all') == (200, [])

    # HAAS_* win over HIL_*: HAAS_ENDPOINT names a port nobody serves.
    nowhere = f'http://127.0.0.1:{free_port()}'
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('HAAS_', 'HIL_'))}
    env.update(HAAS_ENDPOINT=nowhere, HIL_ENDPOINT=server.base)
    result = subprocess.run([HAAS, 'project', 'list'], capture_output=True,
                            text=True, env=env, timeout=60)
    assert (result.returncode, result.stderr) == (
        1, f'Error: cannot reach the HaaS API at {nowhere}: connection '
           f'refused\n')
