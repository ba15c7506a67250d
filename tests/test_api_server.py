"""The REST API served by `haas-admin serve`, spoken to over real HTTP:
a whole life cycle of a node on a network, on SQLite and PostgreSQL."""

import base64
import json
import socket

import pytest
from werkzeug.exceptions import NotFound

from support.api import MOCK_OBM, MOCK_SWITCH
from support.servers import ADMIN, serving

EMPTY = (200, b'')
#: support.config's config_text pool, 100-200, 300-500.
POOL = [*range(100, 201), *range(300, 501)]
PENDING = (409, {'type': 'BlockedError',
                 'msg': 'A networking operation is already active on the '
                        'nic.'})
#: What the scenario leaves behind in the tables it touches: nothing.
NO_ROWS = {name: [] for name in (
    'project', 'node', 'obm', 'mock_obm', 'nic', 'switch', 'mock_switch',
    'port', 'network', 'network_projects', 'networking_action',
    'network_attachment', 'metadata')}


@pytest.fixture
def server(databases, tmp_path):
    with serving(databases.new(), tmp_path) as server:
        yield server


def test_node_goes_onto_a_network_and_everything_is_deleted_again(server):
    call = server.call
    assert call('PUT', '/project/runway') == EMPTY
    assert call('PUT', '/node/node-1', {'obm': {
        'type': MOCK_OBM, 'host': 'h', 'user': 'u', 'password': 'p'}}) == EMPTY
    assert call('PUT', '/node/node-1/nic/eth0',
                {'macaddr': 'de:ad:be:ef:00:01'}) == EMPTY
    assert call('PUT', '/switch/sw0', {
        'type': MOCK_SWITCH, 'hostname': 'h', 'username': 'u',
        'password': 'p'}) == EMPTY
    assert call('PUT', '/switch/sw0/port/gi1/0/5') == EMPTY
    assert call('POST', '/switch/sw0/port/gi1/0/5/connect_nic',
                {'node': 'node-1', 'nic': 'eth0'}) == EMPTY
    assert call('POST', '/project/runway/connect_node',
                {'node': 'node-1'}) == EMPTY
    assert call('PUT', '/network/net-1', {
        'owner': 'runway', 'access': 'runway', 'net_id': ''}) == EMPTY
    assert call('GET', '/network/net-1') == (200, {
        'name': 'net-1', 'owner': 'runway', 'creator': 'runway',
        'access': 'runway', 'projects': ['runway'],
        'channels': ['vlan/native', 'vlan/100'], 'network_id': '100',
        'connected-nodes': {}})

    queued = call('POST', '/node/node-1/nic/eth0/connect_network',
                  {'network': 'net-1'})
    # (The port's own revert, queued as it was registered, is first: no
    # daemon runs here.)
    revert, (channel, status_id, status, kind) = server.actions()
    assert revert[2:] == ('PENDING', 'revert_port')
    assert (queued, channel, status, kind) == (
        (202, {'status_id': status_id}), 'vlan/native', 'PENDING',
        'modify_port')
    assert call('POST', '/node/node-1/nic/eth0/connect_network',
                {'network': 'net-1'}) == PENDING
    assert call('POST', '/project/runway/detach_node',
                {'node': 'node-1'}) == PENDING
    assert call('DELETE', '/network/net-1') == (409, {
        'type': 'BlockedError',
        'msg': 'Network scheduled to become connected to nodes.'})
    # Queued, not applied: the node shows no network yet.
    assert call('GET', '/node/node-1') == (200, {
        'name': 'node-1', 'project': 'runway', 'metadata': {},
        'nics': [{'label': 'eth0', 'macaddr': 'de:ad:be:ef:00:01',
                  'networks': {}, 'port': 'gi1/0/5', 'switch': 'sw0'}]})

    # Refused by the switch, the action blocks nothing; network_delete
    # takes it (it targets the network) with the network.
    assert server.refuse_pending_actions() == 2
    assert call('DELETE', '/network/net-1') == EMPTY
    assert call('POST', '/project/runway/detach_node',
                {'node': 'node-1'}) == EMPTY
    assert call('POST', '/switch/sw0/port/gi1/0/5/detach_nic') == EMPTY
    assert call('DELETE', '/switch/sw0/port/gi1/0/5') == EMPTY
    assert call('DELETE', '/switch/sw0') == EMPTY
    assert call('DELETE', '/node/node-1/nic/eth0') == EMPTY
    assert call('DELETE', '/node/node-1') == EMPTY
    assert call('DELETE', '/project/runway') == EMPTY

    assert call('GET', '/projects') == (200, [])
    assert call('GET', '/free_nodes') == (200, [])
    assert server.rows(list(NO_ROWS)) == NO_ROWS
    # The network's VLAN is back in the pool: every VLAN is available.
    assert sorted(row[1:] for row in server.rows(['vlan'])['vlan']) == [
        (vlan, True) for vlan in POOL]


def test_unknown_path_answers_a_json_not_found_error(server):
    status, headers, data = server.raw('GET', '/no/such/call')

    assert (status, headers.get_content_type(), json.loads(data)) == (
        404, 'application/json',
        {'type': 'NotFoundError', 'msg': NotFound.description})


def test_request_without_credentials_is_refused_with_401(server):
    assert server.call('GET', '/projects', credentials=None) == (401, {
        'type': 'AuthorizationError',
        'msg': 'Authentication failed. Authentication is required to use '
               'this service.'})


def _exchange(base, head, body=b''):
    """Send `head` (a request line and headers, without the blank line
    that ends them) and `body` to the server at `base` over a socket, as
    they are; the answer's (status, JSON body)."""
    host, port = base.rsplit('//', 1)[1].split(':')
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(head.encode('latin-1') + b'\r\n\r\n' + body)
        answer = b''
        while chunk := s.recv(65536):  # the server closes when done
            answer += chunk
    head, _, data = answer.partition(b'\r\n\r\n')
    return int(head.split()[1]), json.loads(data)


def test_a_body_over_max_body_is_413_whether_declared_or_chunked(tmp_path):
    """werkzeug's server, as `haas-admin serve` runs it: a Content-Length
    over the limit is refused with no byte of the body sent; a chunked
    body is refused once it passes the limit."""
    body = json.dumps({'obm': {'type': MOCK_OBM, 'host': 'h', 'user': 'u',
                               'password': 'p'},
                       'metadata': {'pad': 'x' * 2000}}).encode()
    chunks = b''.join(b'%x\r\n%s\r\n' % (len(body[i:i + 500]),
                                         body[i:i + 500])
                      for i in range(0, len(body), 500)) + b'0\r\n\r\n'
    token = base64.b64encode(':'.join(ADMIN).encode()).decode()
    head = (f'PUT /node/n1 HTTP/1.1\r\nHost: haas\r\n'
            f'Authorization: Basic {token}')
    too_large = (413, {'type': 'RequestTooLargeError',
                       'msg': 'The request body is larger than the 1000 '
                              'bytes this server takes ([server] '
                              'max_body).'})

    with serving(f'sqlite:///{tmp_path / "haas.db"}', tmp_path,
                 extra='[server]\nmax_body = 1000\n') as server:
        declared = _exchange(server.base,
                             head + f'\r\nContent-Length: {13 * 10**6}')
        streamed = _exchange(server.base,
                             head + '\r\nTransfer-Encoding: chunked', chunks)
        rows = server.rows(['node', 'obm', 'metadata'])

    assert (declared, streamed) == (too_large, too_large)
    # (Reflection brings the tables they refer to.)
    assert rows == {'node': [], 'obm': [], 'metadata': [], 'project': []}


def test_a_path_that_is_not_utf8_is_400_over_http(tmp_path):
    with serving(f'sqlite:///{tmp_path / "haas.db"}', tmp_path) as server:
        refused = server.call('PUT', '/project/%FF%FE')
        projects = server.call('GET', '/projects')

    assert (refused, projects) == (
        (400, {'type': 'ValidationError',
               'msg': 'The path is not UTF-8 once percent-decoded.'}),
        (200, []))
