"""The Brocade NOS and Dell OS9 drivers against their simulators, over
real HTTP: what HaaS queues is what the device then shows to a client
that is not HaaS (its own REST resources and `show` commands)."""

import base64
import contextlib
import os
import re
import signal
import subprocess
import threading
import urllib.error
import urllib.request

import pytest
import sqlalchemy as sa

from haas import deferred
from haas.model import NetworkingAction, Switch, db
from haas.simulators import http
from haas.simulators.brocade import Brocade
from haas.simulators.dellnos9 import DellNOS9

from support.api import OBM, answer, calls
from support.databases import built_app, rolled_back
from support.servers import eventually, free_port, running
from support.switches import simulator

EXTENSIONS = ['haas.ext.auth.null', 'haas.ext.network_allocators.vlan_pool',
              'haas.ext.switches.brocade', 'haas.ext.switches.dellnos9',
              'haas.ext.obm.mock']
BROCADE = 'http://schema.massopencloud.org/haas/v0/switches/brocade'
DELL = 'http://schema.massopencloud.org/haas/v0/switches/dellnos9'
USER, PASSWORD = 'admin', 'sw-secret'
TIMEOUTS = ''.join(f'[haas.ext.switches.{name}]\nconnect_timeout = 2\n'
                   f'read_timeout = 5\n' for name in ('brocade', 'dellnos9'))


class Device:
    """How a client that is not HaaS sees a simulated switch: through its
    own REST resources, with urllib."""

    def __init__(self, model, address, port):
        self.model, self.base, self.port = model, f'http://{address}', port

    def request(self, method, path, body=None, password=PASSWORD):
        request = urllib.request.Request(
            self.base + path, method=method,
            data=None if body is None else body.encode())
        token = base64.b64encode(f'{USER}:{password}'.encode()).decode()
        request.add_header('Authorization', f'Basic {token}')
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.read().decode()

    def carried(self):
        """(native VLAN or None, tagged VLANs, shut down) of the port, as
        the device shows them."""
        if self.model == 'brocade':
            _, text = self.request(
                'GET', '/rest/config/running/interface/TenGigabitEthernet/'
                f'%22{self.port}%22')
            native = re.search(r'<native-vlan>(\d+)</native-vlan>', text)
            tagged = re.search(r'<add>([\d,-]+)</add>', text)
            return (native and int(native[1]),
                    tagged[1] if tagged else '',
                    '<shutdown>' in text)
        _, text = self.request(
            'POST', '/api/running/dell/_operations/cli',
            '<input><show-command>interfaces switchport GigabitEthernet '
            f'{self.port}</show-command></input>')
        native = re.search(r'^U\s+(\d+)', text, re.MULTILINE)
        tagged = re.search(r'^T\s+(\S+)', text, re.MULTILINE)
        _, port = self.request(
            'GET', '/api/running/dell/interfaces/interface/gige-'
            f'{self.port.replace("/", "-")}?with-defaults')
        return (native and int(native[1]), tagged[1] if tagged else '',
                '<shutdown>true</shutdown>' in port)


#: model -> (simulator, type URI, interface_type, a port, a port the
#: device lacks).
MODELS = {'brocade': (Brocade, BROCADE, 'TenGigabitEthernet', '1/0/5',
                      '1/0/60'),
          'dellnos9': (DellNOS9, DELL, 'GigabitEthernet', '1/5', '1/60')}


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def rest_app(request, tmp_path_factory):
    with built_app(request.param, tmp_path_factory.mktemp('db'), EXTENSIONS,
                   extra=TIMEOUTS) as app:
        yield app


@pytest.fixture
def client(rest_app):
    with rolled_back(rest_app) as app:
        yield app.test_client()


@contextlib.contextmanager
def simulated(model, folder, latency=0.0):
    with http.running(MODELS[model][0](str(folder)), USER, PASSWORD,
                      latency) as server:
        yield server


def register(client, model, address, port=None, password=PASSWORD,
             **fields):
    """Switch sw of `model` at `address`, node n1 of project p cabled to
    its port, and networks native-net (VLAN 100) and tagged-net (101)."""
    _, uri, interface_type, default_port, _ = MODELS[model]
    port = port or default_port
    calls(client, {},
          ('PUT', '/switch/sw', {'type': uri, 'hostname': address,
                                 'username': USER, 'password': password,
                                 'interface_type': interface_type,
                                 **fields}),
          ('PUT', f'/switch/sw/port/{port}', None),
          ('PUT', '/project/p', None),
          ('PUT', '/node/n1', {'obm': OBM}),
          ('PUT', '/node/n1/nic/eth0', {'macaddr': 'm'}),
          ('POST', f'/switch/sw/port/{port}/connect_nic',
           {'node': 'n1', 'nic': 'eth0'}),
          ('POST', '/project/p/connect_node', {'node': 'n1'}),
          ('PUT', '/network/native-net', {'owner': 'admin', 'access': 'p',
                                          'net_id': '100'}),
          ('PUT', '/network/tagged-net', {'owner': 'admin', 'access': 'p',
                                          'net_id': '101'}))
    # The port's revert, queued as it was registered, before the tests'
    # own actions (which would wait behind it).
    deferred.Daemon().apply_all()


def apply(client, path, body):
    """Queue a change, and let a daemon apply it; the action's status and
    error."""
    response = client.post(path, json=body)
    assert response.status_code == 202, response.json
    deferred.Daemon().apply_all()
    found = client.get(f'/networking_action/{response.json["status_id"]}')
    return found.json['status'], found.json['error']


def connect(client, network, channel='vlan/native'):
    return apply(client, '/node/n1/nic/eth0/connect_network',
                 {'network': network, 'channel': channel})


def detach(client, network):
    return apply(client, '/node/n1/nic/eth0/detach_network',
                 {'network': network})


def networks(client):
    return client.get('/node/n1').json['nics'][0]['networks']


@pytest.mark.parametrize('model', MODELS)
def test_native_and_tagged_networks_reach_the_port_and_leave_it(
        client, model, tmp_path):
    with simulated(model, tmp_path) as server:
        device = Device(model, server.address, MODELS[model][3])
        register(client, model, server.address)

        assert connect(client, 'native-net') == ('DONE', None)
        assert device.carried() == (100, '', False)
        assert connect(client, 'tagged-net', 'vlan/101') == ('DONE', None)
        assert device.carried() == (100, '101', False)
        assert networks(client) == {'vlan/native': 'native-net',
                                    'vlan/101': 'tagged-net'}
        assert detach(client, 'tagged-net') == ('DONE', None)
        assert device.carried() == (100, '', False)
        assert detach(client, 'native-net') == ('DONE', None)
        # Off every network, the port is shut down, not left on VLAN 1.
        native, tagged, shutdown = device.carried()
        assert (native in (None, 1), tagged, shutdown) == (True, '', True)
        assert networks(client) == {}


@pytest.mark.parametrize('model', MODELS)
def test_a_revert_takes_the_port_off_every_network(client, model, tmp_path):
    with simulated(model, tmp_path) as server:
        device = Device(model, server.address, MODELS[model][3])
        register(client, model, server.address)
        connect(client, 'native-net')
        connect(client, 'tagged-net', 'vlan/101')

        response = client.post(f'/switch/sw/port/{device.port}/revert')
        assert response.status_code == 200, response.json
        assert deferred.Daemon().apply_all() == 1

        native, tagged, shutdown = device.carried()
        assert (native in (None, 1), tagged, shutdown) == (True, '', True)
        assert networks(client) == {}
        session = db.session.execute(sa.select(Switch)).scalar_one() \
            .session()
        assert session.port_networks(device.port) == {}
        session.disconnect()


@pytest.mark.parametrize('model', MODELS)
def test_the_session_reads_what_the_port_carries(client, model, tmp_path):
    with simulated(model, tmp_path) as server:
        register(client, model, server.address)
        connect(client, 'native-net')
        connect(client, 'tagged-net', 'vlan/101')
        session = db.session.execute(sa.select(Switch)).scalar_one() \
            .session()
        try:
            assert session.port_networks(MODELS[model][3]) == {
                'vlan/native': '100', 'vlan/101': '101'}
        finally:
            session.disconnect()


def test_a_brocade_port_carries_tagged_networks_without_a_native_one(
        client, tmp_path):
    with simulated('brocade', tmp_path) as server:
        device = Device('brocade', server.address, '1/0/5')
        register(client, 'brocade', server.address)

        assert connect(client, 'tagged-net', 'vlan/101') == ('DONE', None)

        _, text = device.request(
            'GET', '/rest/config/running/interface/TenGigabitEthernet/'
            '%221/0/5%22/switchport/trunk')
        # Its native VLAN's frames are tagged: untagged ones are dropped.
        assert (device.carried(), '<tag>' in text) == (
            (None, '101', False), True)
        assert client.get('/switch/sw').json['capabilities'] == [
            'nativeless-trunk-mode']


def test_a_dell_port_takes_its_native_network_first(client, tmp_path):
    with simulated('dellnos9', tmp_path) as server:
        register(client, 'dellnos9', server.address)

        response = client.post('/node/n1/nic/eth0/connect_network', json={
            'network': 'tagged-net', 'channel': 'vlan/101'})

        # OS9 keeps every port untagged in some VLAN: it has no
        # nativeless trunk, so core's rule holds its nics to it.
        assert client.get('/switch/sw').json['capabilities'] == []
        assert answer(response) == (409, {
            'type': 'BlockedError',
            'msg': 'Switch sw cannot carry tagged VLANs on a port without a '
                   'native one: connect a network to nic eth0 on '
                   'vlan/native first.'})


@pytest.mark.parametrize('model', MODELS)
def test_a_port_off_every_network_is_parked_on_the_parking_vlan(
        rest_app, model, tmp_path):
    config = rest_app.extensions['haas'].config
    section = f'haas.ext.switches.{model}'
    config.parser.set(section, 'parking_vlan', '999')
    try:
        with rolled_back(rest_app) as app, \
                simulated(model, tmp_path) as server:
            client = app.test_client()
            device = Device(model, server.address, MODELS[model][3])
            register(client, model, server.address)
            connect(client, 'native-net')
            detach(client, 'native-net')

            assert device.carried() == (999, '', False)
            assert networks(client) == {}
    finally:
        config.parser.remove_option(section, 'parking_vlan')


@pytest.mark.parametrize('model', MODELS)
def test_a_refused_change_ends_in_error_with_the_devices_message(
        client, model, tmp_path):
    with simulated(model, tmp_path) as server:
        # A port the switch does not have: it refuses, and says so.
        register(client, model, server.address, port=MODELS[model][4])

        status, error = connect(client, 'native-net')

    expected = {
        'brocade': 'switch sw answered 404 to GET /rest/config/running/'
                   'interface/TenGigabitEthernet/%221/0/60%22: interface '
                   'TenGigabitEthernet 1/0/60 does not exist',
        'dellnos9': 'switch sw answered 404 to GET /api/running/dell/'
                    'interfaces/interface/gige-1-60?with-defaults: '
                    'interface gige-1-60 does not exist'}[model]
    assert (status, error) == ('ERROR', expected)
    assert networks(client) == {}


def test_a_vlan_the_brocade_reserves_is_refused(client, tmp_path):
    with simulated('brocade', tmp_path) as server:
        register(client, 'brocade', server.address)
        db.session.execute(sa.text("UPDATE network SET network_id = '4090' "
                                   "WHERE label = 'native-net'"))
        db.session.commit()

        assert connect(client, 'native-net') == (
            'ERROR', 'switch sw answered 400 to POST /rest/config/running/'
                     'interface: %Error: Vlan 4090 is reserved')


@pytest.mark.parametrize('model', MODELS)
def test_a_wrong_password_ends_in_error(client, model, tmp_path):
    with simulated(model, tmp_path) as server:
        register(client, model, server.address, password='wrong')

        status, error = connect(client, 'native-net')

    assert (status, error.endswith(': authentication failed'),
            'answered 401' in error) == ('ERROR', True, True)


@pytest.mark.parametrize('model', MODELS)
def test_a_slow_switch_is_waited_for(client, model, tmp_path):
    with simulated(model, tmp_path) as server:
        device = Device(model, server.address, MODELS[model][3])
        register(client, model, server.address)
        # Slow from here on: the connect, not the registration's revert.
        server.latency = 0.2

        assert connect(client, 'native-net') == ('DONE', None)
        assert device.carried()[0] == 100


@pytest.mark.parametrize('model', MODELS)
def test_a_switch_slower_than_the_timeout_is_unavailable(
        rest_app, model, tmp_path):
    config = rest_app.extensions['haas'].config
    section = f'haas.ext.switches.{model}'
    config.parser.set(section, 'read_timeout', '0.2')
    try:
        with rolled_back(rest_app) as app, \
                simulated(model, tmp_path, latency=1) as server:
            client = app.test_client()
            register(client, model, server.address)

            # The port's revert at its registration is the first action
            # the switch does not answer in time.
            revert = db.session.execute(sa.select(NetworkingAction)).scalar()
            status, error = revert.status, revert.error
    finally:
        config.parser.set(section, 'read_timeout', '5')
    assert (status, 'did not answer' in error, 'ReadTimeout' in error) == (
        'PENDING', True, True)


@pytest.mark.parametrize('model', MODELS)
def test_save_copies_the_running_configuration_to_the_startup_one(
        client, model, tmp_path):
    with simulated(model, tmp_path) as server:
        register(client, model, server.address, save=True)
        connect(client, 'native-net')
        state = server.model.state

        # What a power cycle keeps is what was saved.
        state.power_cycle()
        assert Device(model, server.address,
                      MODELS[model][3]).carried()[0] == 100


@pytest.mark.parametrize('model', MODELS)
def test_without_save_a_power_cycle_loses_the_change(client, model,
                                                     tmp_path):
    with simulated(model, tmp_path) as server:
        register(client, model, server.address)
        connect(client, 'native-net')

        server.model.state.power_cycle()
        assert Device(model, server.address,
                      MODELS[model][3]).carried()[0] in (None, 1)


@pytest.mark.parametrize('model, label', [
    ('brocade', '1/5'), ('brocade', 'Te 1/0/5'), ('dellnos9', '1/0/5/1'),
    ('dellnos9', 'gi1/5')])
def test_a_port_the_switch_could_not_have_is_refused(client, model, label,
                                                     tmp_path):
    _, uri, interface_type, _, _ = MODELS[model]
    calls(client, {}, ('PUT', '/switch/sw', {
        'type': uri, 'hostname': '127.0.0.1:1', 'username': USER,
        'password': PASSWORD, 'interface_type': interface_type}))

    status, body = answer(client.put(f'/switch/sw/port/{label}'))

    assert (status, body['type']) == (400, 'BadArgumentError')


@pytest.mark.parametrize('fields, problem', [
    ({'interface_type': 'Serial'}, 'interface_type'),
    ({'hostname': 'ftp://sw'}, 'hostname'),
    ({'save': 'yes'}, 'save')])
def test_bad_registration_fields_are_refused(client, fields, problem):
    body = {'type': BROCADE, 'hostname': 'sw:80', 'username': USER,
            'password': PASSWORD, 'interface_type': 'TenGigabitEthernet',
            **fields}

    status, found = answer(client.put('/switch/sw', json=body))

    assert (status, found['type'], problem in found['msg']) == (
        400, 'ValidationError', True)


def test_the_interface_type_is_kept_as_the_cli_writes_it(client):
    calls(client, {}, ('PUT', '/switch/sw', {
        'type': DELL, 'hostname': 'https://sw:8008', 'username': USER,
        'password': PASSWORD, 'interface_type': 'tengigabitethernet'}))
    switch = db.session.execute(sa.select(Switch)).scalar_one()
    assert (switch.interface_type, switch.save) == ('TenGigabitEthernet',
                                                    False)


def test_save_may_be_given_as_text(client):
    calls(client, {}, ('PUT', '/switch/sw', {
        'type': BROCADE, 'hostname': 'sw', 'username': USER,
        'password': PASSWORD, 'interface_type': 'TenGigabitEthernet',
        'save': 'True'}))
    switch = db.session.execute(sa.select(Switch)).scalar_one()
    assert switch.save is True


# Simulators in processes of their own: `haas-admin simulate switch`.

@contextlib.contextmanager
def spawned(model, state, port, latency=0.0):
    process = simulator(model, port, state, latency, USER, PASSWORD)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        process.stdout.close()


def curl(*args):
    return subprocess.run(['curl', '-s', '-u', f'{USER}:{PASSWORD}', *args],
                          capture_output=True, text=True, check=True,
                          timeout=30).stdout


@pytest.mark.parametrize('model', MODELS)
def test_curl_sees_the_vlan_haas_put_on_the_port(client, model, tmp_path):
    port = free_port()
    base = f'http://127.0.0.1:{port}'
    # Where the device shows a port's VLAN 105: the Brocade on the port's
    # trunk; OS9, VLAN-centric, on the VLAN's own interface.
    if model == 'brocade':
        resource, member = (f'{base}/rest/config/running/interface/'
                            'TenGigabitEthernet/%221/0/5%22/switchport/'
                            'trunk', '<native-vlan>105</native-vlan>')
    else:
        resource, member = (f'{base}/api/running/dell/interfaces/interface/'
                            'vlan-105', '<gige>1/5</gige>')
    with spawned(model, tmp_path / 'state', port) as process:
        register(client, model, f'127.0.0.1:{port}')
        calls(client, {}, ('PUT', '/network/v105', {
            'owner': 'admin', 'access': 'p', 'net_id': '105'}))

        assert connect(client, 'v105') == ('DONE', None)
        shown = curl(resource)
        assert detach(client, 'v105') == ('DONE', None)
        after = curl(resource)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0

    assert (member in shown, '105' in shown, member in after) == (
        True, True, False)


@pytest.mark.parametrize('model', MODELS)
def test_a_switch_killed_mid_session_gets_the_change_once_back(
        client, model, tmp_path):
    port = free_port()
    state = tmp_path / 'state'
    device = Device(model, f'127.0.0.1:{port}', MODELS[model][3])
    with spawned(model, state, port, latency=0.3) as process:
        register(client, model, f'127.0.0.1:{port}')
        response = client.post('/node/n1/nic/eth0/connect_network',
                               json={'network': 'native-net'})
        daemon = deferred.Daemon()
        # The first answer takes 0.3 s: the switch dies before it.
        killer = threading.Timer(0.15, process.kill)
        killer.start()
        daemon.apply_all()
        killer.join()
    uuid = response.json['status_id']
    pending = client.get(f'/networking_action/{uuid}').json
    assert (pending['status'], 'did not answer' in pending['error']) == (
        'PENDING', True)

    with spawned(model, state, port):
        assert eventually(lambda: deferred.Daemon().apply_all() == 1,
                          what='the retry')
        assert deferred.Daemon().apply_all() == 0
        done = client.get(f'/networking_action/{uuid}').json
        assert (done['status'], done['error'], device.carried()[0]) == (
            'DONE', None, 100)
    # The port's revert at its registration, and the connect, once: in
    # the order queued (PostgreSQL returns updated rows last otherwise).
    assert [(a.type, a.status) for a in db.session.execute(
        sa.select(NetworkingAction).order_by(NetworkingAction.id))
        .scalars()] == [
        ('revert_port', 'DONE'), ('modify_port', 'DONE')]


@pytest.mark.parametrize('model', MODELS)
def test_the_simulator_keeps_its_configuration_across_a_restart(model,
                                                                tmp_path):
    port = free_port()
    _, _, kind, label, _ = MODELS[model]
    device = Device(model, f'127.0.0.1:{port}', label)
    if model == 'brocade':
        changes = [
            ('POST', '/rest/config/running/interface',
             '<Vlan><name>100</name></Vlan>'),
            ('POST', f'/rest/config/running/interface/{kind}/%22{label}%22',
             '<switchport/>'),
            ('PUT', f'/rest/config/running/interface/{kind}/%22{label}%22/'
             'switchport/mode', '<mode><vlan-mode>trunk</vlan-mode></mode>'),
            ('PUT', f'/rest/config/running/interface/{kind}/%22{label}%22/'
             'switchport/trunk', '<trunk><native-vlan>100</native-vlan>'
             '</trunk>')]
    else:
        changes = [
            ('PUT', '/api/running/dell/interfaces/interface/gige-1-5',
             '<interface><name>gige-1-5</name><portmode><hybrid>true'
             '</hybrid></portmode><switchport/><shutdown>false</shutdown>'
             '</interface>'),
            ('POST', '/api/running/dell/_operations/cli',
             '<input><config-commands>interface vlan 100\\r\\n untagged '
             f'{kind} {label}</config-commands></input>')]
    with spawned(model, tmp_path, port):
        for method, path, body in changes:
            assert device.request(method, path, body)[0] < 300
        assert device.request('GET', '/', password='wrong')[0] == 401
    with spawned(model, tmp_path, port):
        assert device.carried()[0] == 100


def test_end_to_end_through_the_server_and_the_daemon(databases, tmp_path):
    """Both drivers, through `haas-admin serve` and `serve-networks`."""
    uri = databases.new()
    folders = {model: tmp_path / model for model in MODELS}
    with contextlib.ExitStack() as stack:
        servers = {model: stack.enter_context(simulated(model, folder))
                   for model, folder in folders.items()}
        server, _ = stack.enter_context(running(
            uri, tmp_path, extensions=EXTENSIONS, extra=TIMEOUTS))
        server.call('PUT', '/project/p')
        for n, (model, sim) in enumerate(servers.items()):
            _, type_uri, kind, label, _ = MODELS[model]
            node = f'n{n}'
            for method, path, body in [
                    ('PUT', f'/switch/{model}', {
                        'type': type_uri, 'hostname': sim.address,
                        'username': USER, 'password': PASSWORD,
                        'interface_type': kind}),
                    ('PUT', f'/switch/{model}/port/{label}', None),
                    ('PUT', f'/node/{node}', {'obm': OBM}),
                    ('PUT', f'/node/{node}/nic/eth0', {'macaddr': 'm'}),
                    ('POST', f'/switch/{model}/port/{label}/connect_nic',
                     {'node': node, 'nic': 'eth0'}),
                    ('POST', '/project/p/connect_node', {'node': node})]:
                assert server.call(method, path, body)[0] == 200, path
        server.call('PUT', '/network/a', {'owner': 'p', 'access': 'p',
                                          'net_id': ''})
        server.call('PUT', '/network/b', {'owner': 'p', 'access': 'p',
                                          'net_id': ''})
        devices = {model: Device(model, sim.address, MODELS[model][3])
                   for model, sim in servers.items()}

        def applied(path, body):
            for n in range(len(MODELS)):
                status, found = server.call(
                    'POST', f'/node/n{n}/nic/eth0/{path}', body)
                assert status == 202, found
                eventually(lambda: server.call(
                    'GET', f'/networking_action/{found["status_id"]}'
                )[1]['status'] == 'DONE', what=f'{path} {body}')
            return {model: d.carried() for model, d in devices.items()}

        both = dict.fromkeys(MODELS)
        assert applied('connect_network', {'network': 'a'}) == {
            **both, 'brocade': (100, '', False), 'dellnos9': (100, '', False)}
        assert applied('connect_network', {'network': 'b',
                                           'channel': 'vlan/101'}) == {
            **both, 'brocade': (100, '101', False),
            'dellnos9': (100, '101', False)}
        assert applied('detach_network', {'network': 'b'}) == {
            **both, 'brocade': (100, '', False), 'dellnos9': (100, '', False)}
        assert server.call('GET', '/node/n0')[1]['nics'][0]['networks'] == {
            'vlan/native': 'a'}
        for model, label in ((m, MODELS[m][3]) for m in MODELS):
            status, found = server.call(
                'POST', f'/switch/{model}/port/{label}/revert')
            assert status == 200, found
            eventually(lambda: server.call(
                'GET', f'/networking_action/{found["status_id"]}'
            )[1]['status'] == 'DONE', what='the revert')
        assert {model: (d.carried()[1:]) for model, d in devices.items()} \
            == {'brocade': ('', True), 'dellnos9': ('', True)}
        assert server.call('GET', '/node/n1')[1]['nics'][0]['networks'] \
            == {}


def test_the_example_configuration_documents_the_options():
    text = open(os.path.join(os.path.dirname(__file__), '..',
                             'haas.cfg.example')).read()
    for section in ('brocade', 'dellnos9'):
        block = text.split(f'#[haas.ext.switches.{section}]')[1][:2000]
        for option in ('connect_timeout', 'read_timeout', 'parking_vlan',
                       'ca_bundle'):
            assert f'#{option} =' in block, (section, option)

