"""The calls HaaS 0.3 adds (rest-api.md 6.1, 6.2): access lists, node
metadata, networking actions by status_id, port reverts, and the listings
of networks, attachments, switches, ports, users and extensions."""

import json

import pytest

from haas import deferred
from haas.model import DONE, ERROR, NetworkingAction, db

from support.api import ADMIN_ONLY, MOCK_OBM, NO_ACCESS, answer
from support.databases import no_change

MOCK_SWITCH = 'http://schema.massopencloud.org/haas/v0/switches/mock'


class Site:
    """Builds through the API, as the administrator unless told."""

    def __init__(self, client, users):
        self.client, self.users = client, users

    def call(self, method, path, who='admin', **body):
        return answer(self.client.open(
            path, method=method, headers=self.users[who],
            json=body if body else None))

    def ok(self, method, path, who='admin', **body):
        status, shown = self.call(method, path, who, **body)
        assert status in (200, 202), (path, shown)
        return shown

    def node(self, name, project=None, nics=('eth0',), switch='sw0'):
        self.ok('PUT', f'/node/{name}', obm={
            'type': MOCK_OBM, 'host': 'h', 'user': 'u', 'password': 'p'})
        for nic in nics:
            self.ok('PUT', f'/node/{name}/nic/{nic}', macaddr='m')
            if switch is not None:
                port = f'{name}-{nic}'
                self.ok('PUT', f'/switch/{switch}/port/{port}')
                self.ok('POST', f'/switch/{switch}/port/{port}/connect_nic',
                        node=name, nic=nic)
        if project is not None:
            self.ok('POST', f'/project/{project}/connect_node', node=name)

    def switch(self, name='sw0'):
        self.ok('PUT', f'/switch/{name}', type=MOCK_SWITCH, hostname='h',
                username='u', password='p')

    def network(self, name, owner='admin', access='', net_id='',
                who='admin'):
        self.ok('PUT', f'/network/{name}', who, owner=owner, access=access,
                net_id=net_id)


@pytest.fixture
def site(client, users, tmp_path, monkeypatch):
    from haas.ext.switches import mock
    monkeypatch.setattr(mock, 'state_dir', lambda config: str(tmp_path))
    site = Site(client, users)
    site.switch()
    return site


def apply_all():
    """What serve-networks does, until nothing is pending."""
    daemon = deferred.Daemon()
    daemon.apply_all()


# --- network access lists ---------------------------------------------------

def test_granting_access_lets_a_second_project_use_a_network(site):
    site.network('pxe', owner='runway', access='runway', who='runway')
    site.node('n1', project='manhattan')
    refused = site.call('POST', '/node/n1/nic/eth0/connect_network', 'other',
                        network='pxe')
    assert refused[0] == 409 and refused[1]['type'] == 'ProjectMismatchError'

    assert site.call('PUT', '/network/pxe/access/manhattan', 'runway') == \
        (200, b'')

    assert site.ok('GET', '/network/pxe', 'other')['projects'] == \
        ['manhattan', 'runway']
    assert 'status_id' in site.ok('POST', '/node/n1/nic/eth0/connect_network',
                                  'other', network='pxe')


def test_granting_access_twice_is_a_duplicate_and_needs_the_owner(site):
    site.network('pxe', owner='runway', access='runway', who='runway')
    assert site.call('PUT', '/network/pxe/access/manhattan', 'other') == \
        NO_ACCESS
    site.ok('PUT', '/network/pxe/access/manhattan', 'runway')
    assert site.call('PUT', '/network/pxe/access/manhattan') == (409, {
        'type': 'DuplicateError',
        'msg': 'Network pxe is already in project manhattan'})


def test_an_admin_network_grants_access_by_the_admin_only(site):
    site.network('provider', access='runway')
    assert site.call('PUT', '/network/provider/access/manhattan',
                     'runway') == ADMIN_ONLY
    assert site.call('PUT', '/network/nope/access/runway')[0] == 404
    assert site.call('PUT', '/network/provider/access/nope')[0] == 404


def test_revoking_access_refuses_the_owner_and_a_project_with_nodes_on_it(
        site):
    site.network('pxe', owner='runway', access='runway', who='runway')
    site.ok('PUT', '/network/pxe/access/manhattan', 'runway')
    site.node('n1', project='manhattan')
    site.ok('POST', '/node/n1/nic/eth0/connect_network', 'other',
            network='pxe')

    assert site.call('DELETE', '/network/pxe/access/runway', 'runway') == (
        409, {'type': 'BlockedError',
              'msg': 'Project runway owns network pxe: it keeps its access'})
    # Queued, then applied: either way the project is on the network.
    for _ in range(2):
        assert site.call('DELETE', '/network/pxe/access/manhattan',
                         'other') == (409, {
                             'type': 'BlockedError',
                             'msg': 'Project manhattan still has nodes on '
                                    'network pxe'})
        apply_all()

    site.ok('POST', '/node/n1/nic/eth0/detach_network', 'other',
            network='pxe')
    apply_all()
    # The project itself may give its access up.
    assert site.call('DELETE', '/network/pxe/access/manhattan', 'other') == \
        (200, b'')
    assert site.call('DELETE', '/network/pxe/access/manhattan', 'runway') == \
        (404, {'type': 'NotFoundError',
               'msg': 'Network pxe is not in project manhattan'})


def test_a_stranger_cannot_revoke_access(site):
    site.network('pxe', owner='runway', access='runway', who='runway')
    assert site.call('DELETE', '/network/pxe/access/runway', 'other') == \
        NO_ACCESS


def test_the_last_project_revoked_leaves_the_admin_network_public(site):
    site.network('provider', access='runway')
    site.ok('DELETE', '/network/provider/access/runway')
    shown = site.ok('GET', '/network/provider', 'other')
    assert shown['projects'] is None and 'access' not in shown


def test_show_network_keeps_haas_0_2_keys_beside_the_new_ones(site):
    site.network('pxe', owner='runway', access='runway', who='runway')
    shown = site.ok('GET', '/network/pxe', 'runway')
    assert shown == {'name': 'pxe', 'owner': 'runway', 'creator': 'runway',
                     'access': 'runway', 'projects': ['runway'],
                     'channels': shown['channels'],
                     'network_id': shown['channels'][1].split('/')[1],
                     'connected-nodes': {}}
    site.ok('PUT', '/network/pxe/access/manhattan', 'runway')
    # Two projects: HaaS 0.2's one-project `access` cannot say it.
    assert 'access' not in site.ok('GET', '/network/pxe', 'other')


def test_network_create_takes_creator_or_owner_but_not_two_owners(site):
    site.ok('PUT', '/network/old', 'runway', creator='runway',
            access='runway', net_id='')
    assert site.ok('GET', '/network/old', 'runway')['owner'] == 'runway'
    with no_change():
        for body in ({'owner': 'runway', 'creator': 'admin'}, {}):
            status, shown = site.call('PUT', '/network/new', 'runway',
                                      access='runway', net_id='', **body)
            assert (status, shown['type']) == (400, 'BadArgumentError')


# --- listings ----------------------------------------------------------------

def test_list_networks_shows_all_to_the_admin_and_public_ones_to_others(site):
    site.network('pub', net_id='3001')
    site.network('pxe', owner='runway', access='runway', who='runway')
    everything = site.ok('GET', '/networks')
    assert list(everything) == ['pub', 'pxe']
    assert everything['pub'] == {'network_id': '3001', 'projects': None}
    assert everything['pxe']['projects'] == ['runway']
    assert site.ok('GET', '/networks', 'runway') == {
        'pub': {'network_id': '3001', 'projects': None}}


def test_list_network_attachments_by_owner_and_by_project(site):
    site.network('pub')
    site.node('n1', project='runway')
    site.node('n2', project='manhattan')
    site.ok('POST', '/node/n1/nic/eth0/connect_network', 'runway',
            network='pub')
    site.ok('POST', '/node/n2/nic/eth0/connect_network', 'other',
            network='pub', channel='vlan/native')
    assert site.ok('GET', '/network/pub/attachments') == {}  # still queued
    apply_all()

    assert site.ok('GET', '/network/pub/attachments') == {
        'n1': {'nic': 'eth0', 'channel': 'vlan/native', 'project': 'runway'},
        'n2': {'nic': 'eth0', 'channel': 'vlan/native',
               'project': 'manhattan'}}
    assert site.ok('GET', '/network/pub/attachments', project='runway') == {
        'n1': {'nic': 'eth0', 'channel': 'vlan/native', 'project': 'runway'}}
    assert site.call('GET', '/network/pub/attachments', 'runway') == \
        ADMIN_ONLY
    assert site.call('GET', '/network/pub/attachments',
                     project='nope')[0] == 404


def test_list_nodes_free_or_all(site):
    site.node('n1', project='runway', switch=None)
    site.node('n2', switch=None)
    assert site.ok('GET', '/nodes/free', 'other') == ['n2']
    assert site.ok('GET', '/nodes/all', 'other') == ['n1', 'n2']


def test_switches_and_ports_are_shown_to_the_admin(site):
    site.switch('sw1')
    site.node('n1', project='runway')
    site.network('pub')
    site.ok('POST', '/node/n1/nic/eth0/connect_network', 'runway',
            network='pub')
    apply_all()

    assert site.ok('GET', '/switches') == ['sw0', 'sw1']
    assert site.ok('GET', '/switch/sw0') == {
        'name': 'sw0', 'ports': [{'label': 'n1-eth0'}],
        'capabilities': ['nativeless-trunk-mode']}
    assert site.ok('GET', '/switch/sw0/port/n1-eth0') == {
        'node': 'n1', 'nic': 'eth0', 'networks': {'vlan/native': 'pub'}}
    site.ok('PUT', '/switch/sw1/port/free')
    assert site.call('GET', '/switch/sw1/port/free') == (200, {})
    for path in ('/switches', '/switch/sw0', '/switch/sw0/port/n1-eth0'):
        assert site.call('GET', path, 'runway') == ADMIN_ONLY
    assert site.call('GET', '/switch/sw0/port/nope')[0] == 404


def test_list_users_and_set_admin(site):
    assert site.ok('GET', '/auth/basic/users') == {
        'admin': {'is_admin': True, 'projects': []},
        'other': {'is_admin': False, 'projects': ['manhattan']},
        'runway': {'is_admin': False, 'projects': ['runway']}}
    assert site.call('PATCH', '/auth/basic/user/runway', 'runway',
                     is_admin=True) == ADMIN_ONLY

    site.ok('PATCH', '/auth/basic/user/runway', is_admin=True)

    assert site.ok('GET', '/auth/basic/users')['runway']['is_admin'] is True
    assert site.call('PATCH', '/auth/basic/user/admin', is_admin=False) == (
        409, {'type': 'IllegalStateError',
              'msg': 'You cannot change your own administrator flag.'})
    assert site.call('PATCH', '/auth/basic/user/nope', is_admin=False)[0] == \
        404


def test_list_active_extensions(site, api):
    assert site.ok('GET', '/active_extensions') == sorted(
        api.extensions['haas'].config.extensions)
    assert site.call('GET', '/active_extensions', 'runway') == \
        ADMIN_ONLY


# --- node metadata --------------------------------------------------------

def test_metadata_is_set_replaced_shown_and_deleted(site):
    site.node('n1', switch=None)
    site.ok('PUT', '/node/n1/metadata/rack', value={'row': 3, 'u': [1, 2]})
    site.ok('PUT', '/node/n1/metadata/owner', value='ops')
    site.ok('PUT', '/node/n1/metadata/owner', value='lab')

    assert site.ok('GET', '/node/n1')['metadata'] == {
        'owner': json.dumps('lab'), 'rack': json.dumps({'row': 3,
                                                        'u': [1, 2]})}
    site.ok('DELETE', '/node/n1/metadata/rack')
    assert site.ok('GET', '/node/n1')['metadata'] == {'owner': '"lab"'}
    assert site.call('DELETE', '/node/n1/metadata/rack') == (404, {
        'type': 'NotFoundError', 'msg': 'Metadata rack on Node n1 does not '
                                        'exist.'})
    assert site.call('PUT', '/node/n1/metadata/x', 'runway', value=1) == \
        ADMIN_ONLY
    # A node goes with its metadata.
    site.ok('DELETE', '/node/n1/nic/eth0')
    site.ok('DELETE', '/node/n1')


def test_node_register_takes_metadata(site):
    site.ok('PUT', '/node/n1', obm={'type': MOCK_OBM, 'host': 'h',
                                    'user': 'u', 'password': 'p'},
            metadata={'rack': 7, 'tags': ['gpu']})
    assert site.ok('GET', '/node/n1')['metadata'] == {
        'rack': '7', 'tags': '["gpu"]'}


def test_show_node_names_port_and_switch_for_the_admin_only(site):
    site.node('n1', project='runway')
    admin = site.ok('GET', '/node/n1')['nics'][0]
    member = site.ok('GET', '/node/n1', 'runway')['nics'][0]
    assert (admin['port'], admin['switch']) == ('n1-eth0', 'sw0')
    assert 'port' not in member and 'switch' not in member


# --- networking actions -----------------------------------------------------

def test_a_connect_is_followed_by_its_status_id_to_done(site):
    site.network('pub')
    site.node('n1', project='runway')
    status_id = site.ok('POST', '/node/n1/nic/eth0/connect_network', 'runway',
                        network='pub')['status_id']
    path = f'/networking_action/{status_id}'
    assert site.ok('GET', path, 'runway') == {
        'status': 'PENDING', 'node': 'n1', 'nic': 'eth0', 'switch': 'sw0',
        'port': 'n1-eth0', 'type': 'modify_port', 'channel': 'vlan/native',
        'new_network': 'pub', 'error': None}

    apply_all()

    assert site.ok('GET', path, 'runway')['status'] == DONE
    assert site.call('GET', path, 'other') == NO_ACCESS
    # A finished action does not block the next, which replaces it.
    detach = site.ok('POST', '/node/n1/nic/eth0/detach_network', 'runway',
                     network='pub')['status_id']
    assert site.call('GET', path, 'runway')[0] == 404
    assert site.ok('GET', f'/networking_action/{detach}',
                   'runway')['new_network'] is None


def test_an_unknown_status_id_is_not_found(site):
    assert site.call('GET', '/networking_action/nope') == (
        404, {'type': 'NotFoundError', 'msg': 'status_id not found'})


def test_a_nic_without_a_port_cannot_be_connected(site):
    site.network('pub')
    site.node('n1', project='runway', switch=None)
    with no_change():
        assert site.call('POST', '/node/n1/nic/eth0/connect_network',
                         'runway', network='pub') == (404, {
                             'type': 'NotFoundError',
                             'msg': 'No port is connected to given nic.'})


def test_a_port_revert_takes_the_nic_off_every_network(site):
    from haas.ext.switches.mock import read_state
    site.network('pub')
    site.network('pxe', owner='runway', access='runway', who='runway')
    site.node('n1', project='runway')
    site.ok('POST', '/node/n1/nic/eth0/connect_network', 'runway',
            network='pub')
    apply_all()
    site.ok('POST', '/node/n1/nic/eth0/connect_network', 'runway',
            network='pxe', channel=_tagged(site, 'pxe'))
    apply_all()
    assert len(site.ok('GET', '/node/n1')['nics'][0]['networks']) == 2

    assert site.call('POST', '/switch/sw0/port/n1-eth0/revert',
                     'runway') == ADMIN_ONLY
    status_id = site.ok('POST', '/switch/sw0/port/n1-eth0/revert')[
        'status_id']
    assert site.call('POST', '/switch/sw0/port/n1-eth0/revert') == (409, {
        'type': 'BlockedError',
        'msg': 'A networking operation is already active on the nic.'})
    apply_all()

    assert site.ok('GET', f'/networking_action/{status_id}') == {
        'status': DONE, 'node': 'n1', 'nic': 'eth0', 'switch': 'sw0',
        'port': 'n1-eth0', 'type': 'revert_port',
        'channel': '', 'new_network': None, 'error': None}
    assert site.ok('GET', '/node/n1')['nics'][0]['networks'] == {}
    state = read_state(None, 'sw0')
    assert state['ports'] == {} and state['applied'][-1] == \
        [None, 'n1-eth0', None, None]


def test_a_port_with_no_nic_cannot_be_reverted(site):
    site.ok('PUT', '/switch/sw0/port/free')
    assert site.call('POST', '/switch/sw0/port/free/revert') == (
        404, {'type': 'NotFoundError', 'msg': 'free not attached'})


def test_a_switch_that_refuses_marks_the_action_error(site, monkeypatch):
    from haas.errors import SwitchError
    from haas.ext.switches import mock

    def refuse(self, action):
        raise SwitchError('port is shut down')
    monkeypatch.setattr(mock.MockSession, 'apply_networking', refuse)
    site.network('pub')
    site.node('n1', project='runway')
    status_id = site.ok('POST', '/node/n1/nic/eth0/connect_network', 'runway',
                        network='pub')['status_id']

    apply_all()

    assert site.ok('GET', f'/networking_action/{status_id}',
                   'runway')['status'] == ERROR
    assert site.ok('GET', '/node/n1', 'runway')['nics'][0]['networks'] == {}
    # The nic is free for the next request.
    monkeypatch.undo()
    site.ok('POST', '/node/n1/nic/eth0/connect_network', 'runway',
            network='pub')


def test_deleting_a_network_takes_its_finished_actions_along(site,
                                                           monkeypatch):
    from haas.errors import SwitchError
    from haas.ext.switches import mock
    site.network('pxe', owner='runway', access='runway', who='runway')
    site.node('n1', project='runway')
    site.ok('POST', '/node/n1/nic/eth0/connect_network', 'runway',
            network='pxe')
    assert site.call('DELETE', '/network/pxe', 'runway') == (409, {
        'type': 'BlockedError',
        'msg': 'Network scheduled to become connected to nodes.'})

    def refuse(self, action):
        raise SwitchError('port is shut down')
    monkeypatch.setattr(mock.MockSession, 'apply_networking', refuse)
    apply_all()  # ERROR: the action still names the network

    assert site.call('DELETE', '/network/pxe', 'runway') == (200, b'')
    assert db.session.execute(db.select(NetworkingAction).where(
        NetworkingAction.nic_id.is_not(None))).all() == []


def _tagged(site, network):
    return next(c for c in site.ok('GET', f'/network/{network}',
                                   'runway')['channels']
                if c != 'vlan/native')
