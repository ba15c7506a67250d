"""The REST API served by `haas-admin serve`, spoken to over real HTTP:
a whole life cycle of a node on a network, on SQLite and PostgreSQL."""

import base64
import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import NotFound

from conftest import API_EXTENSIONS, CHEAP_HASHES, HAAS_ADMIN, config_text
from haas.model import NetworkingAction

MOCK_OBM = 'http://schema.massopencloud.org/haas/v0/obm/mock'
MOCK_SWITCH = 'http://schema.massopencloud.org/haas/v0/switches/mock'
ADMIN = ('admin', 'admin-pw')
EMPTY = (200, b'')
#: conftest's config_text pool, 100-200, 300-500.
POOL = [*range(100, 201), *range(300, 501)]
PENDING = (409, {'type': 'BlockedError',
                 'msg': 'A networking operation is already active on the '
                        'nic.'})
#: What the scenario leaves behind in the tables it touches: nothing.
NO_ROWS = {name: [] for name in (
    'project', 'node', 'obm', 'mock_obm', 'nic', 'switch', 'mock_switch',
    'port', 'network', 'network_projects', 'networking_action',
    'network_attachment', 'metadata')}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Server:
    """A `haas-admin serve` process and an HTTP client of it."""

    def __init__(self, base, uri):
        self.base, self.uri = base, uri

    def call(self, method, path, body=None, credentials=ADMIN):
        """(status, JSON body, or the raw bytes of an empty answer)."""
        status, headers, data = self.raw(method, path, body, credentials)
        return status, json.loads(data) if data else data

    def raw(self, method, path, body=None, credentials=ADMIN):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data,
                                         method=method)
        if credentials is not None:
            token = base64.b64encode(':'.join(credentials).encode()).decode()
            request.add_header('Authorization', f'Basic {token}')
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.headers, e.read()

    def rows(self, tables):
        """Every row of each of `tables`, ordered."""
        engine = sa.create_engine(self.uri, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                metadata = sa.MetaData()
                metadata.reflect(connection, only=tables)
                return {name: [tuple(row) for row in connection.execute(
                            sa.select(table).order_by(*table.columns))]
                        for name, table in metadata.tables.items()}
        finally:
            engine.dispose()

    def actions(self):
        """The networking actions: (channel, uuid, status, type) each."""
        table = NetworkingAction.__table__
        engine = sa.create_engine(self.uri, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(
                    sa.select(table.c.channel, table.c.uuid, table.c.status,
                              table.c.type).order_by(table.c.id))]
        finally:
            engine.dispose()

    def refuse_pending_actions(self):
        """Mark the pending networking actions ERROR, as the networking
        daemon (none runs here) does when their switch refuses them;
        returns how many there were."""
        table = NetworkingAction.__table__
        engine = sa.create_engine(self.uri, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as connection:
                return connection.execute(
                    sa.update(table).where(table.c.status == 'PENDING')
                    .values(status='ERROR')).rowcount
        finally:
            engine.dispose()


def _admin(args, env, input=None):
    result = subprocess.run([HAAS_ADMIN, *args], capture_output=True,
                            text=True, env=env, input=input, timeout=120)
    assert result.returncode == 0, (args, result.stderr)


@contextlib.contextmanager
def serving(uri, tmp_path, extra='', gunicorn=False):
    """A server on a new schema of `uri`, with one administrator, ADMIN;
    `extra` goes into its haas.cfg (tmp_path / 'haas.cfg').  The server
    is `haas-admin serve`, or with `gunicorn` two gunicorn workers."""
    path = tmp_path / 'haas.cfg'
    path.write_text(config_text(uri, API_EXTENSIONS,
                                extra=CHEAP_HASHES + extra))
    env = {**os.environ, 'HAAS_CONFIG': str(path)}
    _admin(['db', 'create'], env)
    _admin(['create-admin-user', ADMIN[0], '--password-stdin'], env,
           input=ADMIN[1] + '\n')
    port = free_port()
    server = Server(f'http://127.0.0.1:{port}', uri)
    log_path = tmp_path / 'server.log'
    with open(log_path, 'wb') as log:
        command = [HAAS_ADMIN, 'serve', '--host', '127.0.0.1', '--port',
                   str(port)]
        if gunicorn:
            command = [os.path.join(os.path.dirname(HAAS_ADMIN), 'gunicorn'),
                       '-w', '2', '-b', f'127.0.0.1:{port}',
                       'haas.wsgi:application']
        process = subprocess.Popen(command, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.raw('GET', '/projects', credentials=None)
                break
            except urllib.error.URLError:
                if process.poll() is not None:
                    pytest.fail(f'the server exited ({process.returncode}):\n'
                                f'{log_path.read_text()}')
                if time.monotonic() > deadline:
                    pytest.fail(f'the server did not answer within 30 s:\n'
                                f'{log_path.read_text()}')
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


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
        'channels': ['vlan/native', 'vlan/100']})

    queued = call('POST', '/node/node-1/nic/eth0/connect_network',
                  {'network': 'net-1'})
    [(channel, status_id, status, kind)] = server.actions()
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
    assert server.refuse_pending_actions() == 1
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
