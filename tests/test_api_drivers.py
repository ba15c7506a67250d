"""The hardware drivers register their types and check their fields at
switch_register and node_register: a bad field is a 400, never a 500."""

import json

import pytest

from haas.ext.obm.ipmi import Ipmi
from haas.ext.switches.dell import PowerConnect55xx
from haas.ext.switches.nexus import Nexus
from haas.model import Node, Switch, db

from support.databases import built_app, rolled_back

DRIVERS = ['haas.ext.auth.null', 'haas.ext.network_allocators.null',
           'haas.ext.switches.dell', 'haas.ext.switches.nexus',
           'haas.ext.obm.ipmi']
NEXUS = 'http://schema.massopencloud.org/haas/v0/switches/nexus'
DELL = 'http://schema.massopencloud.org/haas/v0/switches/powerconnect55xx'
IPMI = 'http://schema.massopencloud.org/haas/v0/obm/ipmi'
MOCK_OBM = 'http://schema.massopencloud.org/haas/v0/obm/mock'
LOGIN = {'hostname': 'sw', 'username': 'admin', 'password': 'secret'}


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def drivers_app(request, tmp_path_factory):
    with built_app(request.param, tmp_path_factory.mktemp('db'), DRIVERS,
                   extra='[devel]\ndry_run =\n') as app:
        yield app


@pytest.fixture
def client(drivers_app):
    with rolled_back(drivers_app) as app:
        yield app.test_client()


def answer(response):
    body = response.get_data()
    return response.status_code, (json.loads(body) if body else None)


@pytest.mark.parametrize('dummy_vlan, stored', [(42, '42'), ('42', '42'),
                                                (0, '0'), ('4096', '4096')])
def test_a_nexus_takes_its_dummy_vlan_as_a_number_or_text(client, dummy_vlan,
                                                          stored):
    response = client.put('/switch/n1', json={'type': NEXUS, **LOGIN,
                                              'dummy_vlan': dummy_vlan})

    assert answer(response) == (200, None)
    switch = db.session.execute(db.select(Switch)).scalar_one()
    assert (type(switch), switch.label, switch.hostname, switch.dummy_vlan) \
        == (Nexus, 'n1', 'sw', stored)


@pytest.mark.parametrize('dummy_vlan, problem', [
    (4097, 'Value error, must be between 0 and 4096'),
    ('x', 'Value error, must be a VLAN number'),
    (True, 'Value error, must be a VLAN number'),
])
def test_a_nexus_with_a_bad_dummy_vlan_is_400(client, dummy_vlan, problem):
    response = client.put('/switch/n1', json={'type': NEXUS, **LOGIN,
                                              'dummy_vlan': dummy_vlan})

    assert answer(response) == (400, {
        'type': 'ValidationError',
        'msg': f'The fields are not valid for switch type {NEXUS}: '
               f'dummy_vlan: {problem}'})
    assert db.session.execute(db.select(Switch)).first() is None


@pytest.mark.parametrize('fields, saved', [({}, False), ({'save': True},
                                                         True)])
def test_a_nexus_saves_its_configuration_only_when_told(client, fields,
                                                        saved):
    response = client.put('/switch/n1', json={'type': NEXUS, **LOGIN,
                                              'dummy_vlan': 2000, **fields})

    assert answer(response) == (200, None)
    switch = db.session.execute(db.select(Switch)).scalar_one()
    assert switch.save is saved


def test_a_nexus_port_is_named_as_the_switch_writes_it(client):
    client.put('/switch/n1', json={'type': NEXUS, **LOGIN,
                                   'dummy_vlan': 2000})

    refused = client.put('/switch/n1/port/gi1/0/5')
    registered = client.put('/switch/n1/port/Ethernet1/5')

    assert (answer(refused)[0], answer(registered)) == (400, (200, None))
    assert answer(refused)[1]['msg'] == (
        "'gi1/0/5' is not a port of a Nexus: a Nexus 5500 names its ports "
        'Ethernet<slot>/<port> (slots 1-4, ports 1-48, as Ethernet1/5), or '
        'Ethernet<fex>/1/<port> on a fabric extender (100-199)')


def test_a_dell_switch_registers_with_its_login(client):
    response = client.put('/switch/d1', json={'type': DELL, **LOGIN})

    assert answer(response) == (200, None)
    switch = db.session.execute(db.select(Switch)).scalar_one()
    assert (type(switch), switch.username) == (PowerConnect55xx, 'admin')


@pytest.mark.parametrize('fields, problem', [
    ({'hostname': 'sw', 'username': 'admin'}, 'password: Field required'),
    ({**LOGIN, 'port': 23}, 'port: Extra inputs are not permitted'),
    ({**LOGIN, 'hostname': 7}, 'hostname: Input should be a valid string'),
])
def test_a_dell_switch_with_bad_fields_is_400(client, fields, problem):
    response = client.put('/switch/d1', json={'type': DELL, **fields})

    assert answer(response) == (400, {
        'type': 'ValidationError',
        'msg': f'The fields are not valid for switch type {DELL}: {problem}'})


def test_an_ipmi_node_registers_and_powers_on_under_dry_run(client):
    registered = client.put('/node/n1', json={'obm': {
        'type': IPMI, 'host': 'bmc', 'user': 'root', 'password': 'pw'}})
    cycled = client.post('/node/n1/power_cycle')

    assert (answer(registered), answer(cycled)) == ((200, None), (200, None))
    node = db.session.execute(db.select(Node)).scalar_one()
    assert (type(node.obm), node.obm.host, node.obm.user) == (Ipmi, 'bmc',
                                                              'root')


def test_an_ipmi_node_without_its_password_is_400(client):
    response = client.put('/node/n1', json={'obm': {
        'type': IPMI, 'host': 'bmc', 'user': 'root'}})

    assert answer(response) == (400, {
        'type': 'ValidationError',
        'msg': f'The fields are not valid for OBM type {IPMI}: password: '
               f'Field required'})


@pytest.mark.parametrize('host', ['bmc:6230', '10.0.0.5', '[fd00::5]:623'])
def test_an_ipmi_bmc_may_carry_its_port(client, host):
    response = client.put('/node/n1', json={'obm': {
        'type': IPMI, 'host': host, 'user': 'root', 'password': 'pw'}})

    assert answer(response) == (200, None)


@pytest.mark.parametrize('host, port', [('bmc:0', '0'), ('bmc:x', 'x'),
                                        ('bmc:65536', '65536')])
def test_an_ipmi_bmc_with_a_bad_port_is_400(client, host, port):
    response = client.put('/node/n1', json={'obm': {
        'type': IPMI, 'host': host, 'user': 'root', 'password': 'pw'}})

    assert answer(response) == (400, {
        'type': 'ValidationError',
        'msg': f'The fields are not valid for OBM type {IPMI}: host: Value '
               f"error, has a bad port: '{port}' (HOST, HOST:PORT or "
               f'[IPV6]:PORT, a port 1-65535)'})


def test_a_driver_of_an_extension_not_enabled_is_an_unknown_type(client):
    # The mock OBM is imported in this process, but not enabled here.
    response = client.put('/node/n1', json={'obm': {
        'type': MOCK_OBM, 'host': 'h', 'user': 'u', 'password': 'p'}})

    assert answer(response) == (400, {
        'type': 'BadArgumentError',
        'msg': f"'{MOCK_OBM}' is not a valid OBM type."})


def test_a_nexus_with_an_infinite_dummy_vlan_is_400(client):
    body = ('{"type": "%s", "hostname": "sw", "username": "admin", '
            '"password": "secret", "dummy_vlan": Infinity}' % NEXUS)

    response = client.put('/switch/n1', data=body)

    # JSON has no Infinity: the body is refused before the driver sees it.
    assert answer(response) == (400, {
        'type': 'ValidationError',
        'msg': 'The request body holds Infinity, which is not a JSON '
               'number.'})
