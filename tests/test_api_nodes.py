"""The REST calls on nodes, nics, switches and ports (rest-api.md, section 2),
through the Flask test client with database auth, on both databases."""

import logging
from urllib.parse import quote

import pytest

from haas.model import (
    Metadata,
    Network,
    NetworkAttachment,
    NetworkingAction,
    Nic,
    Node,
    Port,
    Project,
    Switch,
    db,
)

from support.api import (
    ADMIN_ONLY,
    AUTH_REQUIRED,
    DONE,
    NO_ACCESS,
    answer,
    blocked,
    caller,
    duplicate,
    error,
    not_found,
)
from support.databases import sharing, table_rows

OBM_TYPE = 'http://schema.massopencloud.org/haas/v0/obm/mock'
SWITCH_TYPE = 'http://schema.massopencloud.org/haas/v0/switches/mock'


def invalid(msg):
    return error(400, 'ValidationError', msg)


def bad_body(problems):
    return invalid(f'The request body is not valid for this request: '
                   f'{problems}')


# --- set-up ---------------------------------------------------------------

def obm(host='node-ipmi', **changes):
    """The `obm` object of node_register; a change to None drops a field."""
    fields = {'type': OBM_TYPE, 'host': host, 'user': 'root',
              'password': 'tapeworm'}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def switch_body(**changes):
    """The body of switch_register; a change to None drops a field."""
    fields = {'type': SWITCH_TYPE, 'hostname': 'sw.example.org',
              'username': 'admin', 'password': 'hunter2'}
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def mac(node, nic):
    """The MAC address the set-up gives `nic` of `node` (opaque to HaaS)."""
    return f'mac of {node} {nic}'


def port_path(switch, port):
    """The path of a port: its label's slashes stay, spaces are quoted."""
    return f'/switch/{switch}/port/{quote(port)}'


class Admin:
    """Set-up through the API as the administrator; every call must work."""

    def __init__(self, call):
        self.call = call

    def __call__(self, method, path, body=None):
        assert self.call('admin', method, path, body) == DONE, (method, path)

    def node(self, label, *nics, project=None):
        self('PUT', f'/node/{label}', {'obm': obm(host=f'{label}-ipmi')})
        for nic in nics:
            self('PUT', f'/node/{label}/nic/{nic}',
                 {'macaddr': mac(label, nic)})
        if project is not None:
            self('POST', f'/project/{project}/connect_node', {'node': label})

    def switch(self, label, *ports):
        self('PUT', f'/switch/{label}', switch_body())
        for port in ports:
            self('PUT', port_path(label, port))

    def cable(self, switch, port, node, nic):
        self('POST', port_path(switch, port) + '/connect_nic',
             {'node': node, 'nic': nic})


@pytest.fixture
def admin(call):
    return Admin(call)


def build_world(client, users):
    """What most tests start from, built once per module and backend
    (conftest.py, shared worlds):
    node-99 (free): eth0, and eth1 cabled to sw0's gi1/0/1;
    node-98 (free), no nics;
    node-97 (in runway): eth0;
    node-96 (in manhattan), no nics;
    sw0 with ports gi1/0/1 and gi1/0/5; sw1 with no ports."""
    admin = Admin(caller(client, users))
    admin.node('node-99', 'eth0', 'eth1')
    admin.node('node-98')
    admin.node('node-97', 'eth0', project='runway')
    admin.node('node-96', project='manhattan')
    admin.switch('sw0', 'gi1/0/1', 'gi1/0/5')
    admin.switch('sw1')
    admin.cable('sw0', 'gi1/0/1', 'node-99', 'eth1')


@pytest.fixture
def world(api):
    """The rows of `build_world`."""
    return sharing(api).world


def find_nic(node, label):
    return db.session.execute(
        db.select(Nic).join(Node, Nic.owner_id == Node.id)
        .filter(Node.label == node, Nic.label == label)).scalar_one()


def network(label, network_id, access=None):
    """A network row made with the models (network_create is not tested
    here): public, or owned by project `access` and for it alone."""
    project = None if access is None else db.session.execute(
        db.select(Project).filter_by(label=access)).scalar_one()
    net = Network(label=label, network_id=network_id, allocated=False,
                  owner=project, access=[] if project is None else [project])
    db.session.add(net)
    db.session.commit()
    return net


def attach(node, nic, net, channel):
    """An applied attachment, as the networking daemon leaves it."""
    db.session.add(NetworkAttachment(nic=find_nic(node, nic), network=net,
                                     channel=channel))
    db.session.commit()


def queue(node, nic, net, channel='vlan/native', status='PENDING'):
    """A NetworkingAction: pending, as node_connect_network leaves it, or
    DONE or ERROR, as the networking daemon does."""
    db.session.add(NetworkingAction(nic=find_nic(node, nic), new_network=net,
                                    channel=channel, status=status))
    db.session.commit()


def cabling():
    """Which nic is cabled to which port: {(node, nic): (switch, port)}."""
    rows = db.session.execute(
        db.select(Node.label, Nic.label, Switch.label, Port.label)
        .select_from(Nic).join(Node, Nic.owner_id == Node.id)
        .join(Port, Nic.port_id == Port.id)
        .join(Switch, Port.owner_id == Switch.id))
    return {(n, i): (s, p) for n, i, s, p in rows}


def ports():
    """Every port, as sorted (switch, port) pairs."""
    return sorted(db.session.execute(
        db.select(Switch.label, Port.label)
        .join(Port, Port.owner_id == Switch.id)).all())


def listed(call, path):
    """The labels a list call gives the administrator, sorted (the spec
    leaves their order to the database)."""
    status, labels = call('admin', 'GET', path)
    assert status == 200, labels
    return sorted(labels)


def obm_log(caplog):
    """What the mock OBM logged: the power and console operations it did."""
    return [r.getMessage() for r in caplog.records
            if r.name == 'haas.ext.obm.mock']


@pytest.fixture
def obm_logging(caplog):
    caplog.set_level(logging.INFO, logger='haas.ext.obm.mock')
    return caplog


# --- authorization, call by call ------------------------------------------

#: Calls only the administrator may make, each of which works for the
#: administrator in `world`.
ADMIN_CALLS = {
    'node_register': ('PUT', '/node/node-new', {'obm': obm()}),
    'node_delete': ('DELETE', '/node/node-98', None),
    'node_register_nic': ('PUT', '/node/node-99/nic/eth2',
                          {'macaddr': mac('node-99', 'eth2')}),
    'node_delete_nic': ('DELETE', '/node/node-99/nic/eth0', None),
    'node_power_cycle of a free node': ('POST', '/node/node-99/power_cycle',
                                        None),
    'node_power_off of a free node': ('POST', '/node/node-99/power_off',
                                      None),
    'switch_register': ('PUT', '/switch/sw-new', switch_body()),
    'switch_delete': ('DELETE', '/switch/sw1', None),
    'switch_register_port': ('PUT', '/switch/sw0/port/gi1/0/9', None),
    'switch_delete_port': ('DELETE', '/switch/sw0/port/gi1/0/5', None),
    'port_connect_nic': ('POST', '/switch/sw0/port/gi1/0/5/connect_nic',
                         {'node': 'node-99', 'nic': 'eth0'}),
    'port_detach_nic': ('POST', '/switch/sw0/port/gi1/0/1/detach_nic', None),
}


@pytest.mark.parametrize('name', ADMIN_CALLS)
def test_admin_only_calls_work_for_the_administrator(call, world, name):
    assert call('admin', *ADMIN_CALLS[name]) == DONE


@pytest.mark.parametrize('who', ['runway', 'other'])
@pytest.mark.parametrize('name', ADMIN_CALLS)
def test_admin_only_calls_refuse_project_members(api, call, world, name,
                                                 who):
    rows = table_rows(api)

    assert (call(who, *ADMIN_CALLS[name]), table_rows(api)) == (ADMIN_ONLY,
                                                                rows)


@pytest.mark.parametrize('name', ADMIN_CALLS)
def test_admin_only_calls_refuse_anonymous_callers(api, call, world, name):
    rows = table_rows(api)

    assert (call('anonymous', *ADMIN_CALLS[name]),
            table_rows(api)) == (AUTH_REQUIRED, rows)


#: Calls on project runway or its node node-97 in `world`, with what they
#: answer the administrator and runway's members (a dict when the answers
#: differ: {caller: answer}).
RUNWAY_CALLS = {
    'project_connect_node': ('POST', '/project/runway/connect_node',
                             {'node': 'node-98'}, DONE),
    'project_detach_node': ('POST', '/project/runway/detach_node',
                            {'node': 'node-97'}, DONE),
    'list_project_nodes': ('GET', '/project/runway/nodes', None,
                           (200, ['node-97'])),
    # Only the administrator sees where a nic is cabled (eth0 is not).
    'show_node of an allocated node': ('GET', '/node/node-97', None, {
        'admin': (200, {'name': 'node-97', 'project': 'runway',
                        'metadata': {},
                        'nics': [{'label': 'eth0',
                                  'macaddr': mac('node-97', 'eth0'),
                                  'networks': {}, 'port': None,
                                  'switch': None}]}),
        'runway': (200, {'name': 'node-97', 'project': 'runway',
                         'metadata': {},
                         'nics': [{'label': 'eth0',
                                   'macaddr': mac('node-97', 'eth0'),
                                   'networks': {}}]})}),
    'node_power_cycle of an allocated node': (
        'POST', '/node/node-97/power_cycle', None, DONE),
    'node_power_off of an allocated node': (
        'POST', '/node/node-97/power_off', None, DONE),
}


@pytest.mark.parametrize('who', ['admin', 'runway'])
@pytest.mark.parametrize('name', RUNWAY_CALLS)
def test_project_calls_work_for_admin_and_project_members(call, world, name,
                                                          who):
    method, path, body, expected = RUNWAY_CALLS[name]
    if isinstance(expected, dict):
        expected = expected[who]

    assert call(who, method, path, body) == expected


@pytest.mark.parametrize('name', RUNWAY_CALLS)
def test_project_calls_refuse_members_of_other_projects(api, call, world,
                                                        name):
    method, path, body, _ = RUNWAY_CALLS[name]
    rows = table_rows(api)

    assert (call('other', method, path, body), table_rows(api)) == (
        NO_ACCESS, rows)


@pytest.mark.parametrize('name', RUNWAY_CALLS)
def test_project_calls_refuse_anonymous_callers(api, call, world, name):
    method, path, body, _ = RUNWAY_CALLS[name]
    rows = table_rows(api)

    assert (call('anonymous', method, path, body), table_rows(api)) == (
        AUTH_REQUIRED, rows)


@pytest.mark.parametrize('method, path, body', [
    ('POST', '/project/nowhere/connect_node', {'node': 'node-99'}),
    ('GET', '/project/nowhere/nodes', None),
    ('GET', '/node/node-00', None),
    ('POST', '/node/node-00/power_off', None),
    ('DELETE', '/switch/sw9', None),
])
def test_anonymous_callers_get_401_before_any_lookup(call, world, method,
                                                     path, body):
    assert call('anonymous', method, path, body) == AUTH_REQUIRED


def test_null_auth_lets_a_caller_without_credentials_register_a_node(
        null_client):
    registered = null_client.put('/node/node-99', json={'obm': obm()})
    free = null_client.get('/free_nodes')

    assert (answer(registered), answer(free)) == (DONE, (200, ['node-99']))


# --- project_connect_node ---------------------------------------------------

def test_project_connect_node_moves_a_free_node_into_the_project(call,
                                                                 world):
    assert call('runway', 'POST', '/project/runway/connect_node',
                {'node': 'node-99'}) == DONE

    assert (listed(call, '/project/runway/nodes'),
            listed(call, '/free_nodes')) == (['node-97', 'node-99'],
                                             ['node-98'])


@pytest.mark.parametrize('who', ['admin', 'other'])
def test_project_connect_node_to_an_unknown_project_is_404(api, call, world,
                                                           who):
    # The project is looked up before access to it is checked.
    rows = table_rows(api)

    assert (call(who, 'POST', '/project/nowhere/connect_node',
                 {'node': 'node-99'}), table_rows(api)) == (
        not_found('Project nowhere does not exist.'), rows)


def test_project_connect_node_of_an_unknown_node_is_404(api, call, world):
    rows = table_rows(api)

    assert (call('runway', 'POST', '/project/runway/connect_node',
                 {'node': 'node-00'}), table_rows(api)) == (
        not_found('Node node-00 does not exist.'), rows)


@pytest.mark.parametrize('node', ['node-97', 'node-96'])
def test_project_connect_node_is_blocked_for_a_node_already_in_a_project(
        api, call, world, node):
    rows = table_rows(api)

    assert (call('admin', 'POST', '/project/runway/connect_node',
                 {'node': node}), table_rows(api)) == (
        blocked('Node is already owned by a project.'), rows)


@pytest.mark.parametrize('body, problem', [
    ({}, 'node: Field required'),
    ({'node': 5}, 'node: Input should be a valid string'),
    ({'node': 'node-99', 'colour': 'red'},
     'colour: Extra inputs are not permitted'),
])
def test_project_connect_node_rejects_a_bad_body_before_authentication(
        api, call, world, body, problem):
    rows = table_rows(api)

    assert (call('anonymous', 'POST', '/project/runway/connect_node', body),
            table_rows(api)) == (bad_body(problem), rows)


def test_project_connect_node_refuses_a_body_repeating_the_path(api, call,
                                                                world):
    rows = table_rows(api)

    assert (call('admin', 'POST', '/project/runway/connect_node',
                 {'node': 'node-99', 'project': 'runway'}),
            table_rows(api)) == (
        invalid('The request body repeats the path parameter project.'), rows)


# --- project_detach_node ----------------------------------------------------

def test_project_detach_node_makes_the_node_free(call, world):
    assert call('runway', 'POST', '/project/runway/detach_node',
                {'node': 'node-97'}) == DONE

    assert (listed(call, '/project/runway/nodes'),
            listed(call, '/free_nodes')) == ([], ['node-97', 'node-98',
                                                  'node-99'])


@pytest.mark.parametrize('who', ['admin', 'other'])
def test_project_detach_node_from_an_unknown_project_is_404(api, call, world,
                                                            who):
    rows = table_rows(api)

    assert (call(who, 'POST', '/project/nowhere/detach_node',
                 {'node': 'node-97'}), table_rows(api)) == (
        not_found('Project nowhere does not exist.'), rows)


def test_project_detach_node_of_an_unknown_node_is_404(api, call, world):
    rows = table_rows(api)

    assert (call('runway', 'POST', '/project/runway/detach_node',
                 {'node': 'node-00'}), table_rows(api)) == (
        not_found('Node node-00 does not exist.'), rows)


@pytest.mark.parametrize('node', ['node-99', 'node-96'])
def test_project_detach_node_of_a_node_not_in_the_project_is_404(
        api, call, world, node):
    rows = table_rows(api)

    assert (call('admin', 'POST', '/project/runway/detach_node',
                 {'node': node}), table_rows(api)) == (
        not_found(f'Node {node} is not in project runway.'), rows)


def test_project_detach_node_is_blocked_by_a_network_attachment(api, call,
                                                                world):
    attach('node-97', 'eth0', network('runway-net', '101', 'runway'),
           'vlan/native')
    rows = table_rows(api)

    assert (call('runway', 'POST', '/project/runway/detach_node',
                 {'node': 'node-97'}), table_rows(api)) == (
        blocked('Node attached to a network'), rows)


def test_project_detach_node_is_blocked_by_a_queued_networking_action(
        api, call, world):
    queue('node-97', 'eth0', network('runway-net', '101', 'runway'))
    rows = table_rows(api)

    assert (call('runway', 'POST', '/project/runway/detach_node',
                 {'node': 'node-97'}), table_rows(api)) == (
        blocked('A networking operation is already active on the nic.'),
        rows)


@pytest.mark.parametrize('status', ['DONE', 'ERROR'])
def test_project_detach_node_is_not_blocked_by_a_finished_action(
        call, world, status):
    queue('node-97', 'eth0', network('runway-net', '101', 'runway'),
          status=status)

    assert call('runway', 'POST', '/project/runway/detach_node',
                {'node': 'node-97'}) == DONE

    assert listed(call, '/project/runway/nodes') == []


def test_detaching_a_node_stops_and_deletes_its_console(call, world,
                                                        obm_logging):
    assert call('runway', 'POST', '/project/runway/detach_node',
                {'node': 'node-97'}) == DONE

    assert obm_log(obm_logging) == [
        'mock OBM node-97-ipmi: console logging stopped',
        'mock OBM node-97-ipmi: console log deleted']


# --- list_project_nodes, list_free_nodes ------------------------------------

def test_list_project_nodes_lists_the_projects_nodes_only(call, world,
                                                          admin):
    admin.node('node-95', project='runway')

    status, labels = call('runway', 'GET', '/project/runway/nodes')

    assert (status, sorted(labels)) == (200, ['node-95', 'node-97'])


def test_list_project_nodes_of_a_project_without_nodes_is_empty(call, world,
                                                               admin):
    admin('POST', '/project/manhattan/detach_node', {'node': 'node-96'})

    assert call('other', 'GET', '/project/manhattan/nodes') == (200, [])


@pytest.mark.parametrize('who', ['admin', 'other'])
def test_list_project_nodes_of_an_unknown_project_is_404(call, world, who):
    assert call(who, 'GET', '/project/nowhere/nodes') == not_found(
        'Project nowhere does not exist.')


@pytest.mark.parametrize('who', ['admin', 'runway', 'other'])
def test_list_free_nodes_lists_nodes_without_a_project_to_anyone(call, world,
                                                                 who):
    status, labels = call(who, 'GET', '/free_nodes')

    assert (status, sorted(labels)) == (200, ['node-98', 'node-99'])


def test_list_free_nodes_refuses_anonymous_callers(call, world):
    assert call('anonymous', 'GET', '/free_nodes') == AUTH_REQUIRED


def test_list_free_nodes_with_no_nodes_is_empty(call, users):
    assert call('admin', 'GET', '/free_nodes') == (200, [])


# --- node_register ----------------------------------------------------------

def test_node_register_makes_a_free_node_with_a_mock_obm(api, call, users):
    assert call('admin', 'PUT', '/node/node-99', {'obm': obm()}) == DONE

    rows = table_rows(api, mask={'node': ['id', 'obm_id'], 'obm': ['id'],
                                 'mock_obm': ['id']})
    assert {table: rows[table] for table in ('node', 'obm', 'mock_obm')} == {
        'node': [{'id': '<masked>', 'label': 'node-99', 'project_id': None,
                  'obm_id': '<masked>', 'obm_enabled': None}],
        'obm': [{'id': '<masked>', 'type': OBM_TYPE}],
        'mock_obm': [{'id': '<masked>', 'host': 'node-ipmi', 'user': 'root',
                      'password': 'tapeworm'}],
    }


def test_node_register_gives_a_node_without_nics(call, users):
    assert call('admin', 'PUT', '/node/node-99', {'obm': obm()}) == DONE

    assert call('admin', 'GET', '/node/node-99') == (200, {
        'name': 'node-99', 'project': None, 'nics': [], 'metadata': {}})


def test_node_register_of_an_existing_node_is_409(api, call, world):
    rows = table_rows(api)

    assert (call('admin', 'PUT', '/node/node-99', {'obm': obm()}),
            table_rows(api)) == (duplicate('Node node-99 already exists.'),
                                 rows)


def test_node_register_of_an_unknown_obm_type_is_400(api, call, users):
    rows = table_rows(api)

    assert (call('admin', 'PUT', '/node/node-99',
                 {'obm': obm(type='http://example.org/obm/nope')}),
            table_rows(api)) == (
        error(400, 'BadArgumentError',
              "'http://example.org/obm/nope' is not a valid OBM type."), rows)


@pytest.mark.parametrize('fields, problems', [
    ({'host': None}, 'host: Field required'),
    ({'host': None, 'user': None, 'password': None},
     'host: Field required; user: Field required; password: Field required'),
    ({'user': 0}, 'user: Input should be a valid string'),
    ({'password': ['tape', 'worm']}, 'password: Input should be a valid '
                                     'string'),
    ({'port': 623}, 'port: Extra inputs are not permitted'),
])
def test_node_register_with_bad_obm_fields_is_a_400_validation_error(
        api, call, users, fields, problems):
    rows = table_rows(api)

    assert (call('admin', 'PUT', '/node/node-99', {'obm': obm(**fields)}),
            table_rows(api)) == (
        invalid(f'The fields are not valid for OBM type {OBM_TYPE}: '
                f'{problems}'), rows)


@pytest.mark.parametrize('body, problem', [
    ({}, 'obm: Field required'),
    ({'obm': OBM_TYPE}, 'obm: Input should be a valid dictionary or '
                        'instance of ObmSpec'),
    ({'obm': obm(type=None)}, 'obm.type: Field required'),
    ({'obm': obm(type=7)}, 'obm.type: Input should be a valid string'),
    ({'obm': obm(), 'nics': []}, 'nics: Extra inputs are not permitted'),
])
def test_node_register_rejects_a_bad_body_before_authentication(
        api, call, users, body, problem):
    rows = table_rows(api)

    assert (call('anonymous', 'PUT', '/node/node-99', body),
            table_rows(api)) == (bad_body(problem), rows)


# --- node_delete ------------------------------------------------------------

def test_node_delete_removes_the_node_and_its_obm(api, call, users, admin):
    rows = table_rows(api)
    admin.node('node-99')

    assert (call('admin', 'DELETE', '/node/node-99'), table_rows(api)) == (
        DONE, rows)


def test_deleting_a_node_stops_and_deletes_its_console(call, world,
                                                       obm_logging):
    assert call('admin', 'DELETE', '/node/node-98') == DONE

    assert obm_log(obm_logging) == [
        'mock OBM node-98-ipmi: console logging stopped',
        'mock OBM node-98-ipmi: console log deleted']


def test_node_delete_works_for_a_node_in_a_project(call, world):
    # rest-api.md lists no project check for node_delete.
    assert call('admin', 'DELETE', '/node/node-96') == DONE

    assert call('admin', 'GET', '/node/node-96') == not_found(
        'Node node-96 does not exist.')


def test_node_delete_of_an_unknown_node_is_404(call, world):
    assert call('admin', 'DELETE', '/node/node-00') == not_found(
        'Node node-00 does not exist.')


def test_node_delete_is_blocked_while_the_node_has_nics(api, call, world):
    rows = table_rows(api)

    assert (call('admin', 'DELETE', '/node/node-99'), table_rows(api)) == (
        blocked('Node still has nics; delete them first.'), rows)


# --- node_register_nic ------------------------------------------------------

def test_node_register_nic_adds_a_nic_without_networks(call, world):
    assert call('admin', 'PUT', '/node/node-98/nic/eth0',
                {'macaddr': '52:54:00:12:34:56'}) == DONE

    assert call('admin', 'GET', '/node/node-98') == (200, {
        'name': 'node-98', 'project': None, 'metadata': {},
        'nics': [{'label': 'eth0', 'macaddr': '52:54:00:12:34:56',
                  'networks': {}, 'port': None, 'switch': None}]})


def test_node_register_nic_labels_are_per_node(call, world):
    # node-97 has an eth0 too.
    assert call('admin', 'PUT', '/node/node-98/nic/eth0',
                {'macaddr': mac('node-98', 'eth0')}) == DONE


def test_node_register_nic_on_an_unknown_node_is_404(api, call, world):
    rows = table_rows(api)

    assert (call('admin', 'PUT', '/node/node-00/nic/eth0',
                 {'macaddr': mac('node-00', 'eth0')}), table_rows(api)) == (
        not_found('Node node-00 does not exist.'), rows)


def test_node_register_nic_of_an_existing_nic_is_409(api, call, world):
    rows = table_rows(api)

    assert (call('admin', 'PUT', '/node/node-99/nic/eth0',
                 {'macaddr': '52:54:00:12:34:56'}), table_rows(api)) == (
        duplicate('Nic eth0 on Node node-99 already exists.'), rows)


@pytest.mark.parametrize('body, expected', [
    ({}, bad_body('macaddr: Field required')),
    ({'macaddr': 5254001234}, bad_body('macaddr: Input should be a valid '
                                       'string')),
    ({'macaddr': '52:54:00:12:34:56', 'nic': 'eth2'},
     invalid('The request body repeats the path parameter nic.')),
])
def test_node_register_nic_rejects_a_bad_body(api, call, world, body,
                                              expected):
    rows = table_rows(api)

    assert (call('admin', 'PUT', '/node/node-99/nic/eth2', body),
            table_rows(api)) == (expected, rows)


@pytest.mark.parametrize('data, msg', [
    (b'{"macaddr": ', 'The request body is not JSON.'),
    (b'["52:54:00:12:34:56"]', 'The request body is not a JSON object.'),
    (b'', 'The request body is not JSON.'),
])
def test_node_register_nic_answers_a_malformed_body_in_json(
        api, client, users, world, data, msg):
    rows = table_rows(api)

    response = client.put('/node/node-99/nic/eth2', data=data,
                          headers=users['admin'])

    assert (answer(response), table_rows(api)) == (invalid(msg), rows)


# --- node_delete_nic --------------------------------------------------------

def test_node_delete_nic_removes_the_nic(call, world):
    assert call('admin', 'DELETE', '/node/node-99/nic/eth0') == DONE

    assert call('admin', 'GET', '/node/node-99') == (200, {
        'name': 'node-99', 'project': None, 'metadata': {},
        'nics': [{'label': 'eth1', 'macaddr': mac('node-99', 'eth1'),
                  'networks': {}, 'port': 'gi1/0/1', 'switch': 'sw0'}]})


def test_node_delete_nic_of_a_cabled_nic_leaves_its_port_free(call, world):
    assert call('admin', 'DELETE', '/node/node-99/nic/eth1') == DONE

    assert (cabling(), ports()) == ({}, [('sw0', 'gi1/0/1'),
                                         ('sw0', 'gi1/0/5')])


@pytest.mark.parametrize('path, msg', [
    ('/node/node-00/nic/eth0', 'Node node-00 does not exist.'),
    ('/node/node-98/nic/eth0', 'Nic eth0 on Node node-98 does not exist.'),
])
def test_node_delete_nic_of_an_unknown_node_or_nic_is_404(api, call, world,
                                                          path, msg):
    rows = table_rows(api)

    assert (call('admin', 'DELETE', path), table_rows(api)) == (
        not_found(msg), rows)


def test_node_delete_nic_is_blocked_by_a_network_attachment(api, call,
                                                            world):
    attach('node-97', 'eth0', network('runway-net', '101', 'runway'),
           'vlan/native')
    rows = table_rows(api)

    assert (call('admin', 'DELETE', '/node/node-97/nic/eth0'),
            table_rows(api)) == (
        blocked('The nic is attached to a network; detach it first.'), rows)


def test_node_delete_nic_is_blocked_by_a_queued_networking_action(api, call,
                                                                  world):
    queue('node-97', 'eth0', network('runway-net', '101', 'runway'))
    rows = table_rows(api)

    assert (call('admin', 'DELETE', '/node/node-97/nic/eth0'),
            table_rows(api)) == (
        blocked('A networking operation is already active on the nic.'),
        rows)


@pytest.mark.parametrize('status', ['DONE', 'ERROR'])
def test_node_delete_nic_deletes_the_nics_finished_action(call, world,
                                                          status):
    """A finished action is history, which goes with its nic; another
    nic's stays."""
    net = network('runway-net', '101', 'runway')
    queue('node-97', 'eth0', net, status=status)
    queue('node-99', 'eth0', net, status=status)

    assert call('admin', 'DELETE', '/node/node-97/nic/eth0') == DONE

    assert db.session.execute(
        db.select(Node.label, Nic.label, NetworkingAction.status)
        .select_from(NetworkingAction)
        .join(Nic, NetworkingAction.nic_id == Nic.id)
        .join(Node, Nic.owner_id == Node.id)).all() == [
        ('node-99', 'eth0', status)]
    assert call('admin', 'GET', '/node/node-97')[1]['nics'] == []


# --- node_power_cycle, node_power_off ---------------------------------------

POWER = {'power_cycle': 'power cycle', 'power_off': 'power off'}


@pytest.mark.parametrize('who, node', [('admin', 'node-99'),
                                       ('runway', 'node-97')])
@pytest.mark.parametrize('action', POWER)
def test_power_calls_drive_the_nodes_obm(call, world, obm_logging, action,
                                         who, node):
    assert (call(who, 'POST', f'/node/{node}/{action}'),
            obm_log(obm_logging)) == (
        DONE, [f'mock OBM {node}-ipmi: {POWER[action]}'])


@pytest.mark.parametrize('who, node, expected', [
    ('runway', 'node-99', ADMIN_ONLY),
    ('other', 'node-97', NO_ACCESS),
    ('anonymous', 'node-97', AUTH_REQUIRED),
])
@pytest.mark.parametrize('action', POWER)
def test_refused_power_calls_leave_the_obm_alone(call, world, obm_logging,
                                                 action, who, node, expected):
    assert (call(who, 'POST', f'/node/{node}/{action}'),
            obm_log(obm_logging)) == (expected, [])


@pytest.mark.parametrize('who', ['admin', 'other'])
@pytest.mark.parametrize('action', POWER)
def test_power_calls_on_an_unknown_node_are_404(call, world, action, who):
    assert call(who, 'POST', f'/node/node-00/{action}') == not_found(
        'Node node-00 does not exist.')


# --- show_node --------------------------------------------------------------

def test_show_node_shows_each_nic_with_its_networks_by_channel(call, world,
                                                               admin):
    admin.node('node-95', 'eth0', 'eth1', 'ipmi', project='runway')
    pxe, storage = network('pxe', '1000'), network('storage', '102',
                                                   'runway')
    attach('node-95', 'eth0', pxe, 'vlan/native')
    attach('node-95', 'eth0', storage, 'vlan/102')
    attach('node-95', 'eth1', storage, 'vlan/native')

    assert call('runway', 'GET', '/node/node-95') == (200, {
        'name': 'node-95', 'project': 'runway', 'metadata': {},
        'nics': [
            {'label': 'eth0', 'macaddr': mac('node-95', 'eth0'),
             'networks': {'vlan/native': 'pxe', 'vlan/102': 'storage'}},
            {'label': 'eth1', 'macaddr': mac('node-95', 'eth1'),
             'networks': {'vlan/native': 'storage'}},
            {'label': 'ipmi', 'macaddr': mac('node-95', 'ipmi'),
             'networks': {}},
        ]})


def test_show_node_leaves_out_queued_networking_actions(call, world):
    queue('node-97', 'eth0', network('runway-net', '101', 'runway'))

    assert call('runway', 'GET', '/node/node-97') == (200, {
        'name': 'node-97', 'project': 'runway', 'metadata': {},
        'nics': [{'label': 'eth0', 'macaddr': mac('node-97', 'eth0'),
                  'networks': {}}]})


@pytest.mark.parametrize('who', ['runway', 'other'])
def test_show_node_of_a_free_node_is_open_to_anyone_authenticated(call,
                                                                  world, who):
    assert call(who, 'GET', '/node/node-99') == (200, {
        'name': 'node-99', 'project': None, 'metadata': {},
        'nics': [{'label': 'eth0', 'macaddr': mac('node-99', 'eth0'),
                  'networks': {}},
                 {'label': 'eth1', 'macaddr': mac('node-99', 'eth1'),
                  'networks': {}}]})


def test_show_node_tells_the_administrator_where_each_nic_is_cabled(call,
                                                                     world):
    assert call('admin', 'GET', '/node/node-99') == (200, {
        'name': 'node-99', 'project': None, 'metadata': {},
        'nics': [{'label': 'eth0', 'macaddr': mac('node-99', 'eth0'),
                  'networks': {}, 'port': None, 'switch': None},
                 {'label': 'eth1', 'macaddr': mac('node-99', 'eth1'),
                  'networks': {}, 'port': 'gi1/0/1', 'switch': 'sw0'}]})


def test_show_node_shows_its_metadata_as_json_text(call, world):
    """Each value as node_set_metadata stores it: JSON text (the rows are
    written directly; node_set_metadata is tested elsewhere)."""
    node, other = (db.session.execute(db.select(Node).filter_by(label=label))
                   .scalar_one() for label in ('node-97', 'node-99'))
    db.session.add_all([
        Metadata(owner=node, label='rack', value='"r12"'),
        Metadata(owner=node, label='EK', value='{"pk": [1, 2]}'),
        Metadata(owner=node, label='slots', value='4'),
        Metadata(owner=other, label='rack', value='"r1"')])
    db.session.commit()

    assert call('runway', 'GET', '/node/node-97') == (200, {
        'name': 'node-97', 'project': 'runway',
        'metadata': {'EK': '{"pk": [1, 2]}', 'rack': '"r12"', 'slots': '4'},
        'nics': [{'label': 'eth0', 'macaddr': mac('node-97', 'eth0'),
                  'networks': {}}]})


@pytest.mark.parametrize('who, keys, nic_keys', [
    ('admin', ['metadata', 'name', 'nics', 'project'],
     ['label', 'macaddr', 'networks', 'port', 'switch']),
    ('runway', ['metadata', 'name', 'nics', 'project'],
     ['label', 'macaddr', 'networks']),
])
def test_show_node_sorts_the_keys_of_its_objects(call, world, who, keys,
                                                 nic_keys):
    status, shown = call(who, 'GET', '/node/node-99')

    assert (status, list(shown), [list(nic) for nic in shown['nics']]) == (
        200, keys, [nic_keys] * 2)


def test_show_node_of_a_free_node_refuses_anonymous_callers(call, world):
    assert call('anonymous', 'GET', '/node/node-99') == AUTH_REQUIRED


@pytest.mark.parametrize('who', ['admin', 'other'])
def test_show_node_of_an_unknown_node_is_404(call, world, who):
    assert call(who, 'GET', '/node/node-00') == not_found(
        'Node node-00 does not exist.')


# --- switch_register --------------------------------------------------------

def test_switch_register_makes_a_mock_switch(api, call, users):
    assert call('admin', 'PUT', '/switch/sw0', switch_body()) == DONE

    rows = table_rows(api, mask={'switch': ['id'], 'mock_switch': ['id']})
    assert {table: rows[table] for table in ('switch', 'mock_switch',
                                             'port')} == {
        'switch': [{'id': '<masked>', 'label': 'sw0', 'type': SWITCH_TYPE}],
        'mock_switch': [{'id': '<masked>', 'hostname': 'sw.example.org',
                         'username': 'admin', 'password': 'hunter2'}],
        'port': [],
    }


def test_switch_register_of_an_existing_switch_is_409(api, call, world):
    rows = table_rows(api)

    assert (call('admin', 'PUT', '/switch/sw0', switch_body()),
            table_rows(api)) == (duplicate('Switch sw0 already exists.'),
                                 rows)


def test_switch_register_of_an_unknown_switch_type_is_400(api, call, users):
    rows = table_rows(api)

    assert (call('admin', 'PUT', '/switch/sw0',
                 switch_body(type='http://example.org/switches/nope')),
            table_rows(api)) == (
        error(400, 'BadArgumentError',
              "'http://example.org/switches/nope' is not a valid switch "
              "type."), rows)


@pytest.mark.parametrize('fields, problems', [
    ({'hostname': None}, 'hostname: Field required'),
    ({'username': 42}, 'username: Input should be a valid string'),
    ({'password': None, 'dummy_vlan': 4000},
     'password: Field required; dummy_vlan: Extra inputs are not permitted'),
])
def test_switch_register_with_bad_switch_fields_is_a_400_validation_error(
        api, call, users, fields, problems):
    rows = table_rows(api)

    assert (call('admin', 'PUT', '/switch/sw0', switch_body(**fields)),
            table_rows(api)) == (
        invalid(f'The fields are not valid for switch type {SWITCH_TYPE}: '
                f'{problems}'), rows)


@pytest.mark.parametrize('body, problem', [
    (switch_body(type=None), 'type: Field required'),
    (switch_body(type=['mock']), 'type: Input should be a valid string'),
])
def test_switch_register_rejects_a_body_without_a_type_before_authentication(
        api, call, users, body, problem):
    rows = table_rows(api)

    assert (call('anonymous', 'PUT', '/switch/sw0', body),
            table_rows(api)) == (bad_body(problem), rows)


# --- switch_delete ----------------------------------------------------------

def test_switch_delete_removes_the_switch(api, call, users, admin):
    rows = table_rows(api)
    admin.switch('sw0')

    assert (call('admin', 'DELETE', '/switch/sw0'), table_rows(api)) == (
        DONE, rows)


def test_switch_delete_of_an_unknown_switch_is_404(call, world):
    assert call('admin', 'DELETE', '/switch/sw9') == not_found(
        'Switch sw9 does not exist.')


def test_switch_delete_is_blocked_while_the_switch_has_ports(api, call,
                                                             world):
    rows = table_rows(api)

    assert (call('admin', 'DELETE', '/switch/sw0'), table_rows(api)) == (
        blocked('Switch has ports; delete them first.'), rows)


# --- switch_register_port, switch_delete_port -------------------------------

PORT_LABELS = ['gi1/0/7', 'ethernet 1/42', 'Te1/0/1/3', 'A1']


@pytest.mark.parametrize('label', PORT_LABELS)
def test_switch_register_port_keeps_the_label_as_given(call, world, label):
    assert call('admin', 'PUT', port_path('sw1', label)) == DONE

    assert ports() == [('sw0', 'gi1/0/1'), ('sw0', 'gi1/0/5'),
                       ('sw1', label)]


def test_switch_register_port_labels_are_per_switch(call, world):
    assert call('admin', 'PUT', port_path('sw1', 'gi1/0/1')) == DONE

    assert ports() == [('sw0', 'gi1/0/1'), ('sw0', 'gi1/0/5'),
                       ('sw1', 'gi1/0/1')]


def test_switch_register_port_on_an_unknown_switch_is_404(api, call, world):
    rows = table_rows(api)

    assert (call('admin', 'PUT', port_path('sw9', 'gi1/0/1')),
            table_rows(api)) == (not_found('Switch sw9 does not exist.'),
                                 rows)


def test_switch_register_port_of_an_existing_port_is_409(api, call, world):
    rows = table_rows(api)

    assert (call('admin', 'PUT', port_path('sw0', 'gi1/0/5')),
            table_rows(api)) == (
        duplicate('Port gi1/0/5 on Switch sw0 already exists.'), rows)


@pytest.mark.parametrize('label', PORT_LABELS)
def test_switch_delete_port_removes_the_port(call, world, admin, label):
    admin('PUT', port_path('sw1', label))

    assert (call('admin', 'DELETE', port_path('sw1', label)), ports()) == (
        DONE, [('sw0', 'gi1/0/1'), ('sw0', 'gi1/0/5')])


@pytest.mark.parametrize('switch, port, msg', [
    ('sw9', 'gi1/0/5', 'Switch sw9 does not exist.'),
    ('sw0', 'gi1/0/9', 'Port gi1/0/9 on Switch sw0 does not exist.'),
    ('sw1', 'gi1/0/5', 'Port gi1/0/5 on Switch sw1 does not exist.'),
])
def test_switch_delete_port_of_an_unknown_switch_or_port_is_404(
        api, call, world, switch, port, msg):
    rows = table_rows(api)

    assert (call('admin', 'DELETE', port_path(switch, port)),
            table_rows(api)) == (not_found(msg), rows)


def test_switch_delete_port_is_blocked_while_a_nic_is_connected(api, call,
                                                                world):
    rows = table_rows(api)

    assert (call('admin', 'DELETE', port_path('sw0', 'gi1/0/1')),
            table_rows(api)) == (
        blocked('Port is attached to a nic; detach it first.'), rows)


def test_calls_without_body_fields_ignore_the_body(client, users, world):
    response = client.delete(port_path('sw0', 'gi1/0/5'), data=b'not json',
                             headers=users['admin'])

    assert (answer(response), ports()) == (DONE, [('sw0', 'gi1/0/1')])


# --- port_connect_nic -------------------------------------------------------

def test_port_connect_nic_cables_the_nic_to_the_port(call, world):
    assert call('admin', 'POST', port_path('sw0', 'gi1/0/5') + '/connect_nic',
                {'node': 'node-97', 'nic': 'eth0'}) == DONE

    assert cabling() == {('node-99', 'eth1'): ('sw0', 'gi1/0/1'),
                         ('node-97', 'eth0'): ('sw0', 'gi1/0/5')}


def test_port_connect_nic_works_with_a_port_label_with_spaces(call, world,
                                                              admin):
    admin('PUT', port_path('sw1', 'ethernet 1/42'))

    assert call('admin', 'POST',
                port_path('sw1', 'ethernet 1/42') + '/connect_nic',
                {'node': 'node-99', 'nic': 'eth0'}) == DONE

    assert cabling() == {('node-99', 'eth1'): ('sw0', 'gi1/0/1'),
                         ('node-99', 'eth0'): ('sw1', 'ethernet 1/42')}


@pytest.mark.parametrize('switch, port, node, nic, msg', [
    ('sw9', 'gi1/0/5', 'node-99', 'eth0', 'Switch sw9 does not exist.'),
    ('sw0', 'gi1/0/9', 'node-99', 'eth0',
     'Port gi1/0/9 on Switch sw0 does not exist.'),
    ('sw0', 'gi1/0/5', 'node-00', 'eth0', 'Node node-00 does not exist.'),
    ('sw0', 'gi1/0/5', 'node-98', 'eth0',
     'Nic eth0 on Node node-98 does not exist.'),
])
def test_port_connect_nic_with_an_unknown_object_is_404(
        api, call, world, switch, port, node, nic, msg):
    rows = table_rows(api)

    assert (call('admin', 'POST', port_path(switch, port) + '/connect_nic',
                 {'node': node, 'nic': nic}), table_rows(api)) == (
        not_found(msg), rows)


@pytest.mark.parametrize('port, nic, label', [
    # The nic is checked first: with both taken, the nic's label is named.
    ('gi1/0/5', 'eth1', 'eth1'),
    ('gi1/0/1', 'eth1', 'eth1'),
    ('gi1/0/1', 'eth0', 'gi1/0/1'),
])
def test_port_connect_nic_of_a_cabled_nic_or_port_is_409_naming_it(
        api, call, world, port, nic, label):
    rows = table_rows(api)

    assert (call('admin', 'POST', port_path('sw0', port) + '/connect_nic',
                 {'node': 'node-99', 'nic': nic}), table_rows(api)) == (
        duplicate(label), rows)


def test_port_connect_nic_needs_node_and_nic_in_the_body(api, call, world):
    rows = table_rows(api)

    assert (call('admin', 'POST', port_path('sw0', 'gi1/0/5') + '/connect_nic',
                 {'nic': 'eth0'}), table_rows(api)) == (
        bad_body('node: Field required'), rows)


# --- port_detach_nic --------------------------------------------------------

def test_port_detach_nic_uncables_the_nic(call, world):
    assert call('admin', 'POST',
                port_path('sw0', 'gi1/0/1') + '/detach_nic') == DONE

    assert cabling() == {}


def test_port_detach_nic_frees_the_port_for_another_nic(call, world, admin):
    admin('POST', port_path('sw0', 'gi1/0/1') + '/detach_nic')

    assert call('admin', 'POST', port_path('sw0', 'gi1/0/1') + '/connect_nic',
                {'node': 'node-99', 'nic': 'eth0'}) == DONE

    assert cabling() == {('node-99', 'eth0'): ('sw0', 'gi1/0/1')}


@pytest.mark.parametrize('switch, port, msg', [
    ('sw9', 'gi1/0/1', 'Switch sw9 does not exist.'),
    ('sw0', 'gi1/0/9', 'Port gi1/0/9 on Switch sw0 does not exist.'),
    ('sw0', 'gi1/0/5', 'gi1/0/5 not attached'),
])
def test_port_detach_nic_of_an_unknown_or_uncabled_port_is_404(
        api, call, world, switch, port, msg):
    rows = table_rows(api)

    assert (call('admin', 'POST', port_path(switch, port) + '/detach_nic'),
            table_rows(api)) == (not_found(msg), rows)


def test_port_detach_nic_is_blocked_while_the_node_is_in_a_project(
        api, call, world, admin):
    admin.cable('sw0', 'gi1/0/5', 'node-97', 'eth0')
    rows = table_rows(api)

    assert (call('admin', 'POST', port_path('sw0', 'gi1/0/5') + '/detach_nic'),
            table_rows(api)) == (
        blocked("The nic's node belongs to a project; detach it from the "
                "project first."), rows)
