"""The maintenance pool ([maintenance]): a node a project detaches goes to
the maintenance project, powered off and its ports reverted, and the
configured URL is told; an administrator frees it from there.  Through
the Flask test client with database auth and the mock OBM, on both
databases, the URL a real HTTP server of the test's own."""

import http.server
import json
import re
import socket
import threading

import pytest

import haas
from haas import deferred
from haas.errors import ConfigError
from haas.ext.obm import mock
from haas.model import REVERT_PORT, NetworkingAction, Node, Port, db

from support.api import (
    AUTH_REQUIRED,
    DONE,
    MOCK_OBM,
    MOCK_SWITCH,
    NO_ACCESS,
    blocked,
)
from support.config import API_EXTENSIONS, CHEAP_HASHES, config_text
from support.databases import built_app
from support.servers import serving

TOKEN = 's3cret-token'


class Receiver(http.server.ThreadingHTTPServer):
    """The maintenance service: keeps what is POSTed to it, and answers
    `status`; while `hold` is clear it answers nothing (a service that
    hangs), until the test sets it."""

    def __init__(self):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.received = []
        self.status = 204
        self.hold = threading.Event()
        self.hold.set()

    @property
    def url(self):
        return f'http://127.0.0.1:{self.server_address[1]}/maintain'


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers['Content-Length'])
        body = json.loads(self.rfile.read(length))
        self.server.received.append((
            self.path, self.headers['Content-Type'],
            self.headers.get('Authorization'), body))
        self.server.hold.wait(30)
        self.send_response(self.server.status)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope='module')
def receiving():
    """The module's Receiver, serving in a thread."""
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.hold.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver(receiving):
    """The module's Receiver as a new one is: nothing received, answering
    204 at once, whatever the test before set."""
    receiving.received.clear()
    receiving.status = 204
    receiving.hold.set()
    return receiving


def maintenance_config(url, timeout=1):
    return (f'[maintenance]\nproject = cleaning\nurl = {url}\n'
            f'token = {TOKEN}\ntimeout = {timeout}\n')


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def api_app(request, tmp_path_factory, receiving):
    """conftest's api_app, with a maintenance pool that tells the module's
    Receiver."""
    with built_app(request.param, tmp_path_factory.mktemp('db'),
                   API_EXTENSIONS,
                   extra=CHEAP_HASHES + maintenance_config(receiving.url)) \
            as app:
        yield app


@pytest.fixture
def switches(tmp_path, monkeypatch):
    """Where the mock switches keep their ports, this test's own."""
    from haas.ext.switches import mock as mock_switch
    monkeypatch.setattr(mock_switch, 'state_dir', lambda config: str(tmp_path))
    return tmp_path


def apply_all():
    """What serve-networks does, until nothing is pending."""
    deferred.Daemon().apply_all()


@pytest.fixture
def world(call, receiver, switches):
    """Project cleaning; node-97 in project runway, powered on, its nic
    eth0 cabled to port gi1/0/1 of switch sw0; node-99 free."""
    mock.STATE.clear()
    for method, path, body in [
            ('PUT', '/project/cleaning', None),
            ('PUT', '/switch/sw0', {'type': MOCK_SWITCH, 'hostname': 'h',
                                    'username': 'u', 'password': 'p'}),
            ('PUT', '/switch/sw0/port/gi1/0/1', None),
            ('PUT', '/node/node-97', {'obm': {
                'type': MOCK_OBM, 'host': 'node-97-bmc', 'user': 'u',
                'password': 'p'}}),
            ('PUT', '/node/node-99', {'obm': {
                'type': MOCK_OBM, 'host': 'node-99-bmc', 'user': 'u',
                'password': 'p'}}),
            ('PUT', '/node/node-97/nic/eth0',
             {'macaddr': '02:00:00:00:00:01'}),
            ('POST', '/switch/sw0/port/gi1/0/1/connect_nic',
             {'node': 'node-97', 'nic': 'eth0'}),
            ('POST', '/project/runway/connect_node', {'node': 'node-97'}),
            ('POST', '/node/node-97/power_on', None)]:
        assert call('admin', method, path, body) == DONE, path
    yield
    mock.STATE.clear()


def project_of(node):
    db.session.expire_all()
    found = db.session.execute(db.select(Node).filter_by(
        label=node)).scalar_one()
    return found.project.label if found.project else None


def reverts():
    """The pending reverts of the nic-cabled ports: (port, nic) each."""
    return db.session.execute(
        db.select(Port.label, NetworkingAction.nic_id.is_not(None))
        .join(Port, NetworkingAction.port_id == Port.id)
        .where(NetworkingAction.type == REVERT_PORT,
               NetworkingAction.status == 'PENDING',
               NetworkingAction.nic_id.is_not(None))).all()


def journal(switches):
    """What the mock switch sw0 applied: [port, channel, network] each."""
    from haas.config import Config
    from haas.ext.switches import mock as mock_switch
    return [entry[1:] for entry in mock_switch.read_state(Config.from_string(
        f'[haas.ext.switches.mock]\nstate_dir = {switches}\n'),
        'sw0')['applied']]


def detach(call, who, project='runway', node='node-97', **body):
    return call(who, 'POST', f'/project/{project}/detach_node',
                {'node': node, **body})


# --- the move into the pool --------------------------------------------------

@pytest.mark.parametrize('who', ['runway', 'admin'])
def test_a_detached_node_goes_to_maintenance_off_its_ports_reverted(
        call, world, switches, who):
    apply_all()  # the revert of the port's registration
    before = journal(switches)

    response = detach(call, who)
    queued = reverts()
    apply_all()

    assert (response, project_of('node-97'), mock.state('node-97-bmc'),
            queued, journal(switches)[len(before):], reverts()) == (
        DONE, 'cleaning',
        {'power': 'Off', 'bootdev': 'none',
         'done': ['power on', 'power off']},
        [('gi1/0/1', True)], [['gi1/0/1', None, None]], [])


def test_the_maintenance_url_is_told_which_node_came_from_where(
        call, world, receiver):
    response = call('runway', 'POST', '/project/runway/detach_node',
                    {'node': 'node-97'})
    [(path, kind, authorization, body)] = receiver.received
    request_id = body.pop('request_id')

    assert (response, path, kind, authorization, body) == (
        DONE, '/maintain', 'application/json', f'Bearer {TOKEN}',
        {'node': 'node-97', 'project': 'cleaning',
         'from_project': 'runway'})
    assert isinstance(request_id, str) and request_id


@pytest.mark.parametrize('who, expected', [
    ('other', NO_ACCESS),
    ('anonymous', AUTH_REQUIRED),
])
def test_others_cannot_detach_and_nothing_happens(call, world, receiver,
                                                  who, expected):
    assert (detach(call, who), project_of('node-97'),
            mock.state('node-97-bmc')['power'], reverts(),
            receiver.received) == (expected, 'runway', 'On', [], [])


def test_the_former_project_has_no_access_in_maintenance(call, world):
    assert detach(call, 'runway') == DONE
    assert (call('runway', 'GET', '/node/node-97/power_status'),
            detach(call, 'runway', project='cleaning'),
            project_of('node-97')) == (NO_ACCESS, NO_ACCESS, 'cleaning')


def test_the_administrator_frees_a_node_from_maintenance(call, world,
                                                         receiver):
    assert detach(call, 'runway') == DONE
    refused = detach(call, 'admin', project='cleaning')
    apply_all()
    receiver.received.clear()
    mock.state('node-97-bmc')['done'].clear()

    assert refused == blocked('A networking operation is already active on '
                              'the nic.')
    assert (detach(call, 'admin', project='cleaning'),
            project_of('node-97'),
            call('admin', 'GET', '/nodes/free'),
            mock.state('node-97-bmc')['done'], receiver.received) == (
        DONE, None, (200, ['node-97', 'node-99']), [], [])


# --- failures that do not undo the move --------------------------------------

@pytest.mark.parametrize('status', [404, 500])
def test_a_url_that_refuses_does_not_fail_the_detach(call, world, receiver,
                                                     status):
    receiver.status = status
    assert (detach(call, 'runway'), project_of('node-97'),
            len(receiver.received)) == (DONE, 'cleaning', 1)


def test_a_url_that_does_not_answer_does_not_hold_the_detach(
        call, world, receiver):
    receiver.hold.clear()
    try:
        response = detach(call, 'runway')
    finally:
        receiver.hold.set()
    assert (response, project_of('node-97'), len(receiver.received)) == (
        DONE, 'cleaning', 1)


def test_a_missing_maintenance_project_blocks_the_detach(call, world,
                                                         receiver):
    assert call('admin', 'DELETE', '/project/cleaning') == DONE

    assert (detach(call, 'runway'), project_of('node-97'),
            mock.state('node-97-bmc')['power'], reverts(),
            receiver.received) == (
        blocked('The maintenance project cleaning ([maintenance] project) '
                'does not exist: an administrator must create it before a '
                'node can be detached.'),
        'runway', 'On', [], [])


def test_the_usual_refusals_come_first(call, world, receiver):
    assert call('runway', 'PUT', '/node/node-97/obm',
                {'enabled': True}) == DONE
    assert (detach(call, 'runway'), project_of('node-97'),
            receiver.received) == (
        blocked('The OBM of node node-97 is enabled: disable it first '
                '(PUT /node/node-97/obm), or have an administrator force '
                'the detach.'), 'runway', [])


# --- the configuration -------------------------------------------------------

@pytest.mark.parametrize('section, message', [
    ('[maintenance]\nproject = cleaning\nurl = ftp://example.org/x\n',
     "[maintenance] url must be an http:// or https:// URL, not "
     "'ftp://example.org/x'"),
    ('[maintenance]\nproject = cleaning\nurl = http://\n',
     "[maintenance] url must be an http:// or https:// URL, not 'http://'"),
    ('[maintenance]\nurl = http://example.org/\n',
     '[maintenance] url and token need [maintenance] project, which is '
     'missing'),
    ('[maintenance]\nproject = cleaning\ntimeout = 0\n',
     "[maintenance] timeout must be a number of seconds, more than 0 and "
     "at most 60, not '0'"),
    ('[maintenance]\nproject = cleaning\ntimeout = soon\n',
     "[maintenance] timeout must be a number of seconds (0 or more), not "
     "'soon'"),
])
def test_a_bad_maintenance_section_stops_the_start(tmp_path, section,
                                                   message):
    with pytest.raises(ConfigError) as raised:
        haas.create_app(config_text(f'sqlite:///{tmp_path}/haas.db',
                                    extra=section))
    assert str(raised.value) == message


# --- a served site, its nodes behind simulated BMCs --------------------------

IPMI = 'http://schema.massopencloud.org/haas/v0/obm/ipmi'
BMC_USER, BMC_PASSWORD = 'admin', 'secret'


def served(databases, tmp_path, receiver):
    """A served site with the IPMI driver and a maintenance pool that
    tells `receiver`."""
    return serving(databases.new(), tmp_path,
                   extensions=API_EXTENSIONS + ['haas.ext.obm.ipmi'],
                   extra='[haas.ext.obm.ipmi]\ntimeout = 2\nretries = 0\n'
                   + maintenance_config(receiver.url, timeout=5))


def register(server, address):
    """Node n1 in project p, its BMC at `address`; project cleaning."""
    host, port = address
    for method, path, body in [
            ('PUT', '/node/n1', {'obm': {
                'type': IPMI, 'host': f'{host}:{port}', 'user': BMC_USER,
                'password': BMC_PASSWORD}}),
            ('PUT', '/project/p', None), ('PUT', '/project/cleaning', None),
            ('POST', '/project/p/connect_node', {'node': 'n1'})]:
        assert server.call(method, path, body) == DONE, path


def test_a_served_detach_powers_the_node_off_at_its_bmc(databases, tmp_path,
                                                        receiver):
    from haas.simulators import bmc
    with bmc.running(str(tmp_path / 'bmc'), BMC_USER, BMC_PASSWORD) \
            as address, served(databases, tmp_path, receiver) as server:
        register(server, address)
        assert server.call('POST', '/node/n1/power_on') == DONE
        on = server.call('GET', '/node/n1/power_status')

        assert (on, server.call('POST', '/project/p/detach_node',
                                {'node': 'n1'}),
                server.call('GET', '/project/cleaning/nodes'),
                server.call('GET', '/node/n1/power_status'),
                [body['node'] for *_, body in receiver.received]) == (
            (200, {'power_status': 'On'}), DONE, (200, ['n1']),
            (200, {'power_status': 'Off'}), ['n1'])


def test_a_bmc_that_does_not_answer_does_not_lose_the_detach(
        databases, tmp_path, receiver):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(('127.0.0.1', 0))
        address = silent.getsockname()
        with served(databases, tmp_path, receiver) as server:
            register(server, address)

            assert (server.call('POST', '/project/p/detach_node',
                                {'node': 'n1'}),
                    server.call('GET', '/project/cleaning/nodes'),
                    server.call('GET', '/project/p/nodes'),
                    [body['node'] for *_, body in receiver.received]) == (
                DONE, (200, ['n1']), (200, []), ['n1'])
        host, port = address
        assert [re.sub(r' \(request \w+\)$', '', line) for line in
                (tmp_path / 'server.log').read_text().splitlines()
                if 'haas.maintenance' in line] == [
            f'ERROR:haas.maintenance:node n1 is in the maintenance project '
            f'cleaning but was not powered off: BMC {host}:{port} did not '
            f'answer within 2 s.']
