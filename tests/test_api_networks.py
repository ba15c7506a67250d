"""The network calls (rest-api.md 1.5, 1.6, section 2, and 6.2 for HaaS
0.3's changes): creating, deleting and showing networks, and queueing nics
onto and off them."""

import uuid

import pytest
from flask import current_app

from haas.api.nodes import channels_to_come, check_native_networks
from haas.errors import BlockedError
from haas.ext.network_allocators.vlan_pool import Vlan
from haas.ext.switches.mock import MockSwitch
from haas.model import (
    DONE,
    ERROR,
    MODIFY_PORT,
    Headnode,
    Hnic,
    Network,
    NetworkAttachment,
    NetworkingAction,
    Nic,
    Node,
    Project,
    db,
)
from haas.model import PENDING as QUEUED

from support.api import MOCK_OBM, MOCK_SWITCH, answer
from support.databases import no_change, sharing, table_rows

#: The VLANs of the `client` fixture's pool.
POOL = set(range(100, 201)) | set(range(300, 501))
#: An id an administrator gives, outside the pool.
EXTERNAL_ID = '3000'

AUTH_FAILED = {'type': 'AuthorizationError',
               'msg': 'Authentication failed. Authentication is required to '
                      'use this service.'}
ADMIN_ONLY = {'type': 'AuthorizationError',
              'msg': 'This operation is administrator-only.'}
NO_ACCESS = {'type': 'AuthorizationError',
             'msg': 'You do not have access to the required project.'}
PENDING = {'type': 'BlockedError',
           'msg': 'A networking operation is already active on the nic.'}
NO_PORT = {'type': 'NotFoundError',
           'msg': 'No port is connected to given nic.'}
MISMATCH = {'type': 'ProjectMismatchError',
            'msg': 'Project does not have access to given network.'}


# --- set-up and observation -----------------------------------------------

class Admin:
    """Sets things up through the API as an administrator."""

    def __init__(self, client, headers):
        self.client, self.headers = client, headers
        self.switch = None

    def _ok(self, response):
        assert answer(response) == (200, b''), response.data

    def node(self, name='node-1', project='runway', nics=('eth0',),
             cabled=None):
        """A node with `nics`; those in `cabled` (by default all of them)
        are cabled to a port of switch sw0 each, as node_connect_network
        needs."""
        cabled = nics if cabled is None else cabled
        self._ok(self.client.put(f'/node/{name}', headers=self.headers, json={
            'obm': {'type': MOCK_OBM, 'host': 'h', 'user': 'u',
                    'password': 'p'}}))
        for i, nic in enumerate(nics):
            mac = f'de:ad:be:ef:00:{i:02x}'
            self._ok(self.client.put(f'/node/{name}/nic/{nic}',
                                     headers=self.headers,
                                     json={'macaddr': mac}))
            if nic in cabled:
                self.cable(name, nic)
        if project is not None:
            self._ok(self.client.post(f'/project/{project}/connect_node',
                                      headers=self.headers,
                                      json={'node': name}))

    def cable(self, node, nic):
        """Cable `nic` of `node` to a new port of switch sw0."""
        if self.switch is None:
            self._ok(self.client.put('/switch/sw0', headers=self.headers,
                                     json={'type': MOCK_SWITCH,
                                           'hostname': 'h', 'username': 'u',
                                           'password': 'p'}))
            self.switch = 'sw0'
        port = f'/switch/sw0/port/{node}-{nic}'
        self._ok(self.client.put(port, headers=self.headers))
        self._ok(self.client.post(f'{port}/connect_nic', headers=self.headers,
                                  json={'node': node, 'nic': nic}))

    def network(self, name, owner='admin', access='', net_id=''):
        self._ok(create(self.client, self.headers, name, owner, access,
                        net_id))
        return find(Network, name).network_id


@pytest.fixture
def admin(client, users):
    return Admin(client, users['admin'])


def build_world(client, users):
    """What the tests of a node's networks start from, built once per
    module and backend (conftest.py, shared worlds): `Admin.node()`'s
    node-1, in runway, its eth0 cabled to port node-1-eth0 of sw0."""
    Admin(client, users['admin']).node()


@pytest.fixture
def world(api, admin):
    """The rows of `build_world`; `admin` cables further nics to its
    sw0."""
    admin.switch = 'sw0'
    return sharing(api).world


def create(client, headers, name, owner, access, net_id, field='owner'):
    """network_create; `field` names the owner as HaaS 0.3 does (`owner`)
    or as HaaS 0.2 did (`creator`)."""
    return client.put(f'/network/{name}', headers=headers, json={
        field: owner, 'access': access, 'net_id': net_id})


def find(cls, label):
    return db.session.execute(
        db.select(cls).filter_by(label=label)).scalar_one()


def find_nic(node, nic):
    return db.session.execute(db.select(Nic).join(Node).where(
        Node.label == node, Nic.label == nic)).scalar_one()


def share(network, *projects):
    """Give `projects` access to `network` too, as
    network_grant_project_access does."""
    network = find(Network, network)
    network.access.extend(find(Project, p) for p in projects)
    db.session.commit()


def attach(network, channel='vlan/native', node='node-1', nic='eth0'):
    """An applied attachment, as the networking daemon leaves it."""
    db.session.add(NetworkAttachment(nic=find_nic(node, nic),
                                     network=find(Network, network),
                                     channel=channel))
    db.session.commit()


def queue(network, channel='vlan/native', node='node-1', nic='eth0',
          status=QUEUED):
    """A networking action (`network` None: a detach): pending, as the API
    queues it, or DONE or ERROR, as the networking daemon leaves it."""
    db.session.add(NetworkingAction(
        nic=find_nic(node, nic), channel=channel, status=status,
        type=MODIFY_PORT,
        new_network=None if network is None else find(Network, network)))
    db.session.commit()


def _label(obj):
    return None if obj is None else obj.label


def networks():
    """Every network row, its projects by label (`access` the list)."""
    return [{'label': n.label, 'owner': _label(n.owner),
             'access': [p.label for p in n.access],
             'allocated': n.allocated, 'network_id': n.network_id}
            for n in db.session.execute(
                db.select(Network).order_by(Network.id)).scalars()]


#: A nic's action, not a port's own revert at registration.
NIC_ACTION = NetworkingAction.nic_id.is_not(None)


def actions():
    """Every nic's networking action, by labels (not the reverts queued
    as ports are registered)."""
    return [{'node': a.nic.owner.label, 'nic': a.nic.label,
             'new_network': _label(a.new_network), 'channel': a.channel,
             'status': a.status, 'type': a.type}
            for a in db.session.execute(db.select(NetworkingAction)
                                        .where(NIC_ACTION)
                                        .order_by(NetworkingAction.id))
            .scalars()]


def queued():
    """What the API answers once it has queued an action: 202 and the
    status_id of the one pending action of a nic, a version 4 UUID."""
    [status_id] = db.session.execute(
        db.select(NetworkingAction.uuid).where(NIC_ACTION)
        .filter_by(status=QUEUED)).scalars()
    assert uuid.UUID(status_id).version == 4
    return 202, {'status_id': status_id}


def attachments():
    return [{'nic': a.nic.label, 'network': a.network.label,
             'channel': a.channel}
            for a in db.session.execute(db.select(NetworkAttachment)
                                        .order_by(NetworkAttachment.id))
            .scalars()]


def taken_vlans():
    """The VLANs the pool has handed out."""
    return sorted(db.session.execute(
        db.select(Vlan.vlan_no).filter_by(available=False)).scalars())


def all_rows():
    """Every row of every table, as the test's transaction sees them."""
    return table_rows(current_app._get_current_object())


# --- network_create -------------------------------------------------------

#: The legal rows of rest-api.md 1.5 that only an administrator may use
#: (owner "admin"): their (access, net_id).
ADMIN_KINDS = {
    'public internal': ('', ''),
    'public external': ('', EXTERNAL_ID),
    'provider network': ('runway', ''),
    'project network with a given id': ('runway', EXTERNAL_ID),
}


#: The body field that names the owner: HaaS 0.3's, and HaaS 0.2's name
#: for it, which HaaS 0.3 still takes.
OWNER_FIELDS = ['owner', 'creator']


@pytest.mark.parametrize('field', OWNER_FIELDS)
@pytest.mark.parametrize('kind', ADMIN_KINDS)
def test_network_create_by_admin_makes_each_admin_kind(client, users, kind,
                                                       field):
    access, net_id = ADMIN_KINDS[kind]

    response = create(client, users['admin'], 'net', 'admin', access, net_id,
                      field)

    assert answer(response) == (200, b'')
    [row] = networks()
    assert row == {'label': 'net', 'owner': None,
                   'access': [access] if access else [],
                   'allocated': not net_id,
                   'network_id': net_id or row['network_id']}
    expected_vlans = [] if net_id else [int(row['network_id'])]
    assert taken_vlans() == expected_vlans


def test_network_create_by_admin_of_a_free_pool_id_takes_it_from_the_pool(
        client, users, admin):
    response = create(client, users['admin'], 'net', 'admin', '', '100')
    # 100 is the pool's first: the next network from the pool gets another.
    admin.network('next')

    assert answer(response) == (200, b'')
    assert [(n['network_id'], n['allocated']) for n in networks()] == [
        ('100', True), ('101', True)]
    assert taken_vlans() == [100, 101]


def test_network_create_of_a_pool_id_another_network_has_is_refused(
        client, users, admin):
    vlan = admin.network('first')
    before = all_rows()

    response = create(client, users['admin'], 'net', 'admin', '', vlan)

    assert answer(response) == (409, {
        'type': 'BlockedError',
        'msg': f'VLAN {vlan} is in use by another network'})
    assert all_rows() == before


@pytest.mark.parametrize('net_id',
                         ['vlan-7', '0', '4095', '-1', ' 100', '\u00b2'])
def test_network_create_of_an_id_the_allocator_does_not_know_is_refused(
        client, users, net_id):
    with no_change():
        response = create(client, users['admin'], 'net', 'admin', '', net_id)

    assert answer(response) == (400, {
        'type': 'BadArgumentError',
        'msg': f'{net_id!r} is not a network id that the network allocator '
               f'knows'})


@pytest.mark.parametrize('field', OWNER_FIELDS)
@pytest.mark.parametrize('who', ['admin', 'runway'])
def test_network_create_project_network_by_admin_or_member(client, users,
                                                           who, field):
    response = create(client, users[who], 'net', 'runway', 'runway', '',
                      field)

    assert answer(response) == (200, b'')
    [row] = networks()
    assert row == {'label': 'net', 'owner': 'runway', 'access': ['runway'],
                   'allocated': True, 'network_id': row['network_id']}
    assert taken_vlans() == [int(row['network_id'])]


NO_OWNER = {'type': 'BadArgumentError',
            'msg': "Give the network's owner (or, as HaaS 0.2 called it, "
                   "its creator)."}
TWO_OWNERS = {'type': 'BadArgumentError',
              'msg': "The owner (admin) and the creator (runway) differ: "
                     "they are one field, under HIL's name and HaaS 0.2's."}


@pytest.mark.parametrize('names, error', [
    ({}, NO_OWNER),
    ({'owner': 'admin', 'creator': 'runway'}, TWO_OWNERS),
])
@pytest.mark.parametrize('who', ['admin', 'runway'])
def test_network_create_needs_one_owner_by_either_name(
        client, users, names, error, who):
    """`creator` is HaaS 0.2's name of HIL's `owner`: both may be given,
    if they agree (test_api_v0.py)."""
    with no_change():
        response = client.put('/network/net', headers=users[who], json={
            **names, 'access': 'runway', 'net_id': ''})

    assert answer(response) == (400, error)


def test_network_create_allocates_a_vlan_of_the_pool(client, users):
    response = create(client, users['admin'], 'net', 'admin', '', '')

    assert answer(response) == (200, b'')
    vlan = int(find(Network, 'net').network_id)
    assert vlan in POOL
    assert taken_vlans() == [vlan]


def test_network_create_allocates_a_different_vlan_each_time(admin):
    ids = {admin.network('one'), admin.network('two', 'runway', 'runway')}

    assert len(ids) == 2
    assert taken_vlans() == sorted(int(i) for i in ids)


@pytest.mark.parametrize('kind', ADMIN_KINDS)
@pytest.mark.parametrize('who, error', [('runway', ADMIN_ONLY),
                                        ('other', ADMIN_ONLY),
                                        ('anonymous', AUTH_FAILED)])
def test_network_create_admin_kinds_are_refused_to_others(client, users, kind,
                                                          who, error):
    access, net_id = ADMIN_KINDS[kind]

    with no_change():
        response = create(client, users[who], 'net', 'admin', access, net_id)

    assert answer(response) == (401, error)


@pytest.mark.parametrize('who, error', [('other', NO_ACCESS),
                                        ('anonymous', AUTH_FAILED)])
def test_network_create_project_network_is_refused_to_non_members(
        client, users, who, error):
    with no_change():
        response = create(client, users[who], 'net', 'runway', 'runway', '')

    assert answer(response) == (401, error)


CROSS_PROJECT = ('Projects cannot create networks for other projects, nor '
                 'public ones.')
GIVEN_ID = 'Projects cannot choose network ids.'


@pytest.mark.parametrize('access, net_id, msg', [
    ('runway', EXTERNAL_ID, GIVEN_ID),
    ('manhattan', '', CROSS_PROJECT),
    ('', '', CROSS_PROJECT),
    ('manhattan', EXTERNAL_ID, CROSS_PROJECT),
    ('', EXTERNAL_ID, CROSS_PROJECT),
])
@pytest.mark.parametrize('who', ['admin', 'runway'])
def test_network_create_illegal_project_combinations_are_bad_arguments(
        client, users, access, net_id, msg, who):
    with no_change():
        response = create(client, users[who], 'net', 'runway', access, net_id)

    assert answer(response) == (400, {'type': 'BadArgumentError',
                                      'msg': msg})


def test_network_create_checks_project_access_before_the_combination(
        client, users):
    with no_change():
        response = create(client, users['other'], 'net', 'runway', '',
                          EXTERNAL_ID)

    assert answer(response) == (401, NO_ACCESS)


@pytest.mark.parametrize('owner, access', [('admin', ''),
                                           ('runway', 'runway')])
@pytest.mark.parametrize('who', ['admin', 'runway', 'other'])
def test_network_create_duplicate_is_409_before_authorization(
        client, users, admin, owner, access, who):
    admin.network('net', owner, access)

    with no_change():
        response = create(client, users[who], 'net', owner, access, '')

    assert answer(response) == (409, {'type': 'DuplicateError',
                                      'msg': 'Network net already exists.'})


def test_network_create_duplicate_still_needs_authentication(client, users,
                                                             admin):
    admin.network('net')

    with no_change():
        response = create(client, users['anonymous'], 'net', 'admin', '', '')

    assert answer(response) == (401, AUTH_FAILED)


def test_network_create_unknown_owner_is_404_before_authorization(
        client, users):
    with no_change():
        response = create(client, users['other'], 'net', 'nowhere',
                          'nowhere', '')

    assert answer(response) == (404, {
        'type': 'NotFoundError', 'msg': 'Project nowhere does not exist.'})


def test_network_create_unknown_access_project_is_404(client, users):
    with no_change():
        response = create(client, users['admin'], 'net', 'admin', 'nowhere',
                          '')

    assert answer(response) == (404, {
        'type': 'NotFoundError', 'msg': 'Project nowhere does not exist.'})


def test_network_create_by_admin_checks_admin_before_the_access_project(
        client, users):
    with no_change():
        response = create(client, users['runway'], 'net', 'admin', 'nowhere',
                          '')

    assert answer(response) == (401, ADMIN_ONLY)


@pytest.fixture
def empty_pool(api):
    db.session.execute(db.update(Vlan).values(available=False))
    db.session.commit()


@pytest.mark.parametrize('who, owner, access', [
    ('admin', 'admin', ''), ('admin', 'admin', 'runway'),
    ('runway', 'runway', 'runway')])
def test_network_create_from_an_empty_pool_is_an_allocation_error(
        client, users, empty_pool, who, owner, access):
    with no_change():
        response = create(client, users[who], 'net', owner, access, '')

    assert answer(response) == (400, {'type': 'AllocationError',
                                      'msg': 'No more networks'})


def test_network_create_with_a_given_id_needs_no_pool(client, users,
                                                      empty_pool):
    response = create(client, users['admin'], 'net', 'admin', '', EXTERNAL_ID)

    assert answer(response) == (200, b'')
    assert networks() == [{'label': 'net', 'owner': None, 'access': [],
                           'allocated': False, 'network_id': EXTERNAL_ID}]


# --- network_delete -------------------------------------------------------

def delete(client, headers, name='net'):
    return client.delete(f'/network/{name}', headers=headers)


def test_network_delete_unknown_is_404_before_authorization(client, users):
    response = delete(client, users['other'], 'nowhere')

    assert answer(response) == (404, {
        'type': 'NotFoundError', 'msg': 'Network nowhere does not exist.'})


@pytest.mark.parametrize('owner, access, who', [
    ('admin', '', 'admin'), ('admin', 'runway', 'admin'),
    ('runway', 'runway', 'admin'), ('runway', 'runway', 'runway')])
def test_network_delete_by_owner_or_admin_removes_it(client, users, admin,
                                                     owner, access, who):
    admin.network('net', owner, access)
    admin.network('kept', 'runway', 'runway')

    response = delete(client, users[who])

    assert answer(response) == (200, b'')
    assert [n['label'] for n in networks()] == ['kept']


def test_network_delete_takes_its_access_list_with_it(client, users, admin):
    admin.network('net', 'runway', 'runway')
    share('net', 'manhattan')

    response = delete(client, users['runway'])

    assert answer(response) == (200, b'')
    assert (networks(), all_rows()['network_projects']) == ([], [])


def test_network_delete_is_refused_to_a_project_it_is_only_shared_with(
        client, users, admin):
    admin.network('net', 'runway', 'runway')
    share('net', 'manhattan')

    with no_change():
        response = delete(client, users['other'])

    assert answer(response) == (401, NO_ACCESS)


@pytest.mark.parametrize('owner, access, who, error', [
    ('admin', '', 'runway', ADMIN_ONLY),
    ('admin', '', 'other', ADMIN_ONLY),
    ('admin', 'runway', 'runway', ADMIN_ONLY),
    ('admin', '', 'anonymous', AUTH_FAILED),
    ('runway', 'runway', 'other', NO_ACCESS),
    ('runway', 'runway', 'anonymous', AUTH_FAILED)])
def test_network_delete_is_refused_to_others_than_the_owner(
        client, users, admin, owner, access, who, error):
    admin.network('net', owner, access)

    with no_change():
        response = delete(client, users[who])

    assert answer(response) == (401, error)


def hnic(network, label='hnic0'):
    """A headnode of runway with an hnic on `network`."""
    network, project = find(Network, network), find(Project, 'runway')
    db.session.add(Hnic(label=label, network=network, owner=Headnode(
        label=f'head-{label}', project=project, base_img='img')))
    db.session.commit()


#: What blocks network_delete, in the order it is checked, and its message.
BLOCKERS = {
    'attachment': 'Network still connected to nodes',
    'hnic': 'Network still connected to headnodes',
    'pending action': 'Network scheduled to become connected to nodes.',
}


def block(network, *blockers):
    """Make `network` used as `blockers` says (nics eth0/eth1 of node-1)."""
    if 'attachment' in blockers:
        attach(network, nic='eth0')
    if 'hnic' in blockers:
        hnic(network)
    if 'pending action' in blockers:
        queue(network, nic='eth1')


@pytest.mark.parametrize('blocker', BLOCKERS)
def test_network_delete_is_blocked_by_what_uses_it_in_order(
        client, users, admin, blocker):
    """Each blocker, with every blocker checked after it present too."""
    admin.node(nics=('eth0', 'eth1'))
    admin.network('net', 'runway', 'runway')
    later = list(BLOCKERS)[list(BLOCKERS).index(blocker):]
    block('net', *later)

    with no_change():
        response = delete(client, users['runway'])

    assert answer(response) == (409, {'type': 'BlockedError',
                                      'msg': BLOCKERS[blocker]})


@pytest.mark.parametrize('blocker', BLOCKERS)
def test_network_delete_is_blocked_by_each_use_alone(client, users, admin,
                                                     blocker):
    admin.node(nics=('eth0', 'eth1'))
    admin.network('net', 'runway', 'runway')
    block('net', blocker)

    with no_change():
        response = delete(client, users['admin'])

    assert answer(response) == (409, {'type': 'BlockedError',
                                      'msg': BLOCKERS[blocker]})


@pytest.mark.parametrize('status', [DONE, ERROR])
def test_network_delete_deletes_the_finished_actions_that_target_it(
        client, users, admin, status):
    """A finished action is history, not a use of the network; one that
    targets another network stays."""
    admin.node(nics=('eth0', 'eth1'))
    admin.network('net', 'runway', 'runway')
    admin.network('kept', 'runway', 'runway')
    queue('net', nic='eth0', status=status)
    queue('kept', nic='eth1', status=status)

    response = delete(client, users['runway'])

    assert answer(response) == (200, b'')
    assert ([n['label'] for n in networks()], actions()) == (['kept'], [
        {'node': 'node-1', 'nic': 'eth1', 'new_network': 'kept',
         'channel': 'vlan/native', 'status': status, 'type': MODIFY_PORT}])


def test_network_delete_is_blocked_by_a_pending_action_beside_finished_ones(
        client, users, admin):
    admin.node(nics=('eth0', 'eth1'))
    admin.network('net', 'runway', 'runway')
    queue('net', nic='eth0', status=ERROR)
    queue('net', nic='eth1')

    with no_change():
        response = delete(client, users['runway'])

    assert answer(response) == (409, {'type': 'BlockedError',
                                      'msg': BLOCKERS['pending action']})


def test_network_delete_checks_authorization_before_what_uses_it(
        client, users, admin):
    admin.node(nics=('eth0', 'eth1'))
    admin.network('net', 'runway', 'runway')
    block('net', *BLOCKERS)

    with no_change():
        response = delete(client, users['other'])

    assert answer(response) == (401, NO_ACCESS)


def test_network_delete_gives_an_allocated_vlan_back_to_the_pool(
        client, users, admin):
    admin.network('net')

    response = delete(client, users['admin'])

    assert answer(response) == (200, b'')
    assert (networks(), taken_vlans()) == ([], [])


def test_network_delete_of_a_given_pool_id_gives_it_back(
        client, users, admin):
    admin.network('net', net_id='150')

    response = delete(client, users['admin'])

    assert answer(response) == (200, b'')
    assert (networks(), taken_vlans()) == ([], [])


def test_network_delete_of_an_external_id_leaves_the_pool_alone(
        client, users, admin):
    admin.network('net', net_id=EXTERNAL_ID)
    before = all_rows()['vlan']

    response = delete(client, users['admin'])

    assert answer(response) == (200, b'')
    assert (networks(), all_rows()['vlan']) == ([], before)


# --- show_network ---------------------------------------------------------

def show(client, headers, name='net'):
    return client.get(f'/network/{name}', headers=headers)


@pytest.mark.parametrize('who', ['admin', 'runway', 'other'])
def test_show_network_public_needs_no_project_access(client, users, admin,
                                                     who):
    vlan = admin.network('net')

    response = show(client, users[who])

    assert answer(response) == (200, {
        'name': 'net', 'owner': 'admin', 'creator': 'admin',
        'projects': None, 'channels': ['vlan/native', f'vlan/{vlan}'],
        'network_id': str(vlan), 'connected-nodes': {}})


def test_show_network_public_external_lists_its_given_vlan(client, users,
                                                           admin):
    admin.network('net', net_id=EXTERNAL_ID)

    response = show(client, users['runway'])

    assert answer(response) == (200, {
        'name': 'net', 'owner': 'admin', 'creator': 'admin',
        'projects': None, 'channels': ['vlan/native', f'vlan/{EXTERNAL_ID}'],
        'network_id': str(EXTERNAL_ID), 'connected-nodes': {}})


@pytest.mark.parametrize('owner', ['admin', 'runway'])
@pytest.mark.parametrize('who', ['admin', 'runway'])
def test_show_network_of_a_project_names_owner_and_access(
        client, users, admin, owner, who):
    """`creator` and `access` are HaaS 0.2's names, kept for its clients:
    the owner, and the one project of the access list."""
    vlan = admin.network('net', owner, 'runway')

    response = show(client, users[who])

    assert answer(response) == (200, {
        'name': 'net', 'owner': owner, 'creator': owner,
        'access': 'runway', 'projects': ['runway'],
        'channels': ['vlan/native', f'vlan/{vlan}'],
        'network_id': str(vlan), 'connected-nodes': {}})


@pytest.mark.parametrize('who, seen', [
    ('admin', {'node-1': ['eth0', 'eth1'], 'node-2': ['eth0']}),
    ('runway', {'node-1': ['eth0', 'eth1']}),
    ('other', {'node-2': ['eth0']}),
])
def test_show_network_lists_the_nics_on_it_the_caller_may_know_of(
        client, users, admin, who, seen):
    """HIL's connected-nodes: every nic for an administrator or the
    owner's members, else those of the caller's projects' nodes."""
    admin.network('net')
    admin.node('node-1', 'runway', nics=('eth0', 'eth1'))
    admin.node('node-2', 'manhattan')
    attach('net', node='node-1', nic='eth1')
    attach('net', node='node-1', nic='eth0')
    attach('net', node='node-2', nic='eth0')

    assert answer(show(client, users[who]))[1]['connected-nodes'] == seen


@pytest.mark.parametrize('owner', ['admin', 'runway'])
@pytest.mark.parametrize('who, error', [('other', NO_ACCESS),
                                        ('anonymous', AUTH_FAILED)])
def test_show_network_of_a_project_is_refused_to_others(
        client, users, admin, owner, who, error):
    admin.network('net', owner, 'runway')

    response = show(client, users[who])

    assert answer(response) == (401, error)


@pytest.fixture
def third(api):
    """A third project, which no user of `users` is a member of."""
    db.session.add(Project(label='third'))
    db.session.commit()


@pytest.mark.parametrize('who', ['admin', 'other'])
def test_show_network_shared_with_several_projects_lists_them_sorted(
        client, users, admin, third, who):
    """With more than one project, there is no HaaS 0.2 `access` to show;
    a member of any project of the list may see the network."""
    vlan = admin.network('net', 'admin', 'third')
    share('net', 'manhattan')

    response = show(client, users[who])

    assert answer(response) == (200, {
        'name': 'net', 'owner': 'admin', 'creator': 'admin',
        'projects': ['manhattan', 'third'],
        'channels': ['vlan/native', f'vlan/{vlan}'],
        'network_id': str(vlan), 'connected-nodes': {}})


@pytest.mark.parametrize('who, error', [('runway', NO_ACCESS),
                                        ('anonymous', AUTH_FAILED)])
def test_show_network_shared_with_several_projects_is_refused_to_others(
        client, users, admin, third, who, error):
    admin.network('net', 'admin', 'third')
    share('net', 'manhattan')

    response = show(client, users[who])

    assert answer(response) == (401, error)


def test_show_network_public_still_needs_authentication(client, users,
                                                        admin):
    admin.network('net')

    response = show(client, users['anonymous'])

    assert answer(response) == (401, AUTH_FAILED)


def test_show_network_unknown_is_404(client, users):
    response = show(client, users['admin'], 'nowhere')

    assert answer(response) == (404, {
        'type': 'NotFoundError', 'msg': 'Network nowhere does not exist.'})


def test_show_network_under_the_null_allocator_has_the_null_channel(
        null_client):
    Admin(null_client, {}).network('net')

    status, shown = answer(show(null_client, {}))
    network_id = shown.pop('network_id')

    assert (status, shown) == (200, {'name': 'net', 'owner': 'admin',
                                     'creator': 'admin', 'projects': None,
                                     'channels': ['null'],
                                     'connected-nodes': {}})
    # The null allocator's ids are made up, one for each network.
    assert network_id and isinstance(network_id, str)


# --- list_project_networks ------------------------------------------------

@pytest.fixture
def some_networks(admin):
    """One network of each kind: runway may use `mine`, `provided` and
    `shared` (manhattan's, whose access list runway is on too)."""
    admin.network('mine', 'runway', 'runway')
    admin.network('provided', 'admin', 'runway')
    admin.network('public')
    admin.network('public-external', net_id=EXTERNAL_ID)
    admin.network('theirs', 'manhattan', 'manhattan')
    admin.network('shared', 'manhattan', 'manhattan')
    share('shared', 'runway')


@pytest.mark.parametrize('who', ['admin', 'runway'])
def test_list_project_networks_lists_those_the_project_may_use(
        client, users, some_networks, who):
    response = client.get('/project/runway/networks', headers=users[who])

    assert answer(response) == (200, ['mine', 'provided', 'shared'])


def test_list_project_networks_lists_a_shared_network_for_its_owner_too(
        client, users, some_networks):
    response = client.get('/project/manhattan/networks',
                          headers=users['other'])

    assert answer(response) == (200, ['shared', 'theirs'])


def test_list_project_networks_of_a_project_without_any_is_empty(
        client, users, admin):
    admin.network('mine', 'runway', 'runway')
    admin.network('public')

    response = client.get('/project/manhattan/networks',
                          headers=users['other'])

    assert answer(response) == (200, [])


@pytest.mark.parametrize('who, error', [('other', NO_ACCESS),
                                        ('anonymous', AUTH_FAILED)])
def test_list_project_networks_needs_project_access(client, users,
                                                    some_networks, who,
                                                    error):
    response = client.get('/project/runway/networks', headers=users[who])

    assert answer(response) == (401, error)


def test_list_project_networks_of_unknown_project_is_404(client, users):
    response = client.get('/project/nowhere/networks',
                          headers=users['other'])

    assert answer(response) == (404, {
        'type': 'NotFoundError', 'msg': 'Project nowhere does not exist.'})


# --- node_connect_network -------------------------------------------------

def connect(client, headers, network='net', channel=None, node='node-1',
            nic='eth0'):
    body = {'network': network}
    if channel is not None:
        body['channel'] = channel
    return client.post(f'/node/{node}/nic/{nic}/connect_network',
                       headers=headers, json=body)


@pytest.mark.parametrize('who', ['admin', 'runway'])
def test_node_connect_network_queues_the_default_channel(client, users,
                                                         admin, world, who):
    admin.network('net', 'runway', 'runway')

    response = connect(client, users[who])

    assert answer(response) == queued()
    assert actions() == [{'node': 'node-1', 'nic': 'eth0',
                          'new_network': 'net', 'channel': 'vlan/native',
                          'status': QUEUED, 'type': MODIFY_PORT}]
    assert attachments() == []


def test_node_connect_network_queues_a_tagged_channel(client, users, admin,
                                                      world):
    vlan = admin.network('net', 'runway', 'runway')

    response = connect(client, users['runway'], channel=f'vlan/{vlan}')

    assert answer(response) == queued()
    assert actions() == [{'node': 'node-1', 'nic': 'eth0',
                          'new_network': 'net', 'channel': f'vlan/{vlan}',
                          'status': QUEUED, 'type': MODIFY_PORT}]


def test_node_connect_network_answers_a_new_status_id_each_time(
        client, users, admin):
    admin.node(nics=('eth0', 'eth1'))
    admin.network('net', 'runway', 'runway')

    first = connect(client, users['runway'], nic='eth0').json['status_id']
    second = connect(client, users['runway'], nic='eth1').json['status_id']

    assert sorted(db.session.execute(
        db.select(NetworkingAction.uuid).where(NIC_ACTION)
    ).scalars()) == sorted(
        {first, second})


@pytest.mark.parametrize('owner, access', [
    (None, []), (None, ['runway']), ('runway', ['runway']),
    ('manhattan', ['runway']), ('manhattan', ['manhattan', 'runway'])])
def test_node_connect_network_owner_is_irrelevant_to_access(
        client, users, admin, world, owner, access):
    """A public network or one whose access list has runway, whoever owns
    it (a row written directly)."""
    db.session.add(Network(
        label='net', allocated=False, network_id=EXTERNAL_ID,
        owner=owner and find(Project, owner),
        access=[find(Project, p) for p in access]))
    db.session.commit()

    response = connect(client, users['runway'])

    assert answer(response) == queued()
    assert actions() == [{'node': 'node-1', 'nic': 'eth0',
                          'new_network': 'net', 'channel': 'vlan/native',
                          'status': QUEUED, 'type': MODIFY_PORT}]


def test_node_connect_network_under_the_null_allocator_uses_null(
        null_client):
    setup = Admin(null_client, {})
    setup._ok(null_client.put('/project/runway'))
    setup.node()
    setup.network('net')

    response = connect(null_client, {})

    assert answer(response) == queued()
    assert actions() == [{'node': 'node-1', 'nic': 'eth0',
                          'new_network': 'net', 'channel': 'null',
                          'status': QUEUED, 'type': MODIFY_PORT}]


@pytest.mark.parametrize('status', [DONE, ERROR])
def test_node_connect_network_replaces_the_nics_finished_action(
        client, users, admin, world, status):
    """A finished action blocks nothing: the new one takes its place."""
    admin.network('old', 'runway', 'runway')
    tagged = admin.network('net', 'runway', 'runway')
    if status == DONE:
        attach('old')
    queue('old', status=status)

    response = connect(client, users['runway'], channel=f'vlan/{tagged}')

    assert answer(response) == queued()
    assert actions() == [{'node': 'node-1', 'nic': 'eth0',
                          'new_network': 'net', 'channel': f'vlan/{tagged}',
                          'status': QUEUED, 'type': MODIFY_PORT}]


@pytest.mark.parametrize('who, error', [('other', NO_ACCESS),
                                        ('anonymous', AUTH_FAILED)])
def test_node_connect_network_is_refused_to_non_members(client, users, admin,
                                                        world, who, error):
    admin.network('net')

    with no_change():
        response = connect(client, users[who])

    assert answer(response) == (401, error)


def test_node_connect_network_unknown_node_is_404_first(client, users,
                                                        admin, world):

    with no_change():
        response = connect(client, users['other'], network='nowhere',
                           node='nowhere', nic='eth9')

    assert answer(response) == (404, {
        'type': 'NotFoundError', 'msg': 'Node nowhere does not exist.'})


def test_node_connect_network_unknown_nic_is_404_before_the_network(
        client, users, admin, world):

    with no_change():
        response = connect(client, users['other'], network='nowhere',
                           nic='eth9')

    assert answer(response) == (404, {
        'type': 'NotFoundError',
        'msg': 'Nic eth9 on Node node-1 does not exist.'})


def test_node_connect_network_unknown_network_is_404_before_authorization(
        client, users, admin):
    admin.node(project=None)

    with no_change():
        response = connect(client, users['other'], network='nowhere')

    assert answer(response) == (404, {
        'type': 'NotFoundError', 'msg': 'Network nowhere does not exist.'})


@pytest.mark.parametrize('who', ['admin', 'other'])
def test_node_connect_network_free_node_is_a_project_mismatch(client, users,
                                                              admin, who):
    admin.node(project=None)
    admin.network('net')

    with no_change():
        response = connect(client, users[who])

    assert answer(response) == (409, {'type': 'ProjectMismatchError',
                                      'msg': 'Node not in project'})


def test_node_connect_network_checks_authorization_before_pending_action(
        client, users, admin, world):
    admin.network('net')
    queue('net')

    with no_change():
        response = connect(client, users['other'])

    assert answer(response) == (401, NO_ACCESS)


def test_node_connect_network_pending_action_blocks_before_network_access(
        client, users, admin, world):
    admin.network('mine', 'runway', 'runway')
    admin.network('theirs', 'manhattan', 'manhattan')
    queue('mine')

    with no_change():
        response = connect(client, users['runway'], network='theirs')

    assert answer(response) == (409, PENDING)


def test_node_connect_network_pending_detach_blocks_too(client, users, admin,
                                                        world):
    admin.network('net', 'runway', 'runway')
    admin.network('other-net', 'runway', 'runway')
    attach('other-net')
    queue(None)

    with no_change():
        response = connect(client, users['runway'], channel='vlan/native')

    assert answer(response) == (409, PENDING)


@pytest.mark.parametrize('shared', [(), ('third',)])
@pytest.mark.parametrize('who', ['admin', 'runway'])
def test_node_connect_network_of_another_project_is_a_project_mismatch(
        client, users, admin, world, third, who, shared):
    """A network of manhattan, shared or not with a project other than
    the node's."""
    admin.network('theirs', 'manhattan', 'manhattan')
    share('theirs', *shared)
    # Even an attachment that should not exist does not hide the mismatch.
    attach('theirs')

    with no_change():
        response = connect(client, users[who], network='theirs')

    assert answer(response) == (409, MISMATCH)


@pytest.mark.parametrize('who', ['admin', 'runway'])
def test_node_connect_network_of_a_nic_cabled_to_no_port_is_404(
        client, users, admin, who):
    # The node's other nic is cabled: the nic asked about counts.
    admin.node(nics=('eth0', 'eth1'), cabled=('eth1',))
    admin.network('net', 'runway', 'runway')

    with no_change():
        response = connect(client, users[who], nic='eth0')

    assert answer(response) == (404, NO_PORT)


def test_node_connect_network_pending_action_blocks_before_the_port_check(
        client, users, admin):
    admin.node(cabled=())
    admin.network('net', 'runway', 'runway')
    queue('net')

    with no_change():
        response = connect(client, users['runway'])

    assert answer(response) == (409, PENDING)


def test_node_connect_network_checks_network_access_before_the_port(
        client, users, admin):
    admin.node(cabled=())
    admin.network('theirs', 'manhattan', 'manhattan')

    with no_change():
        response = connect(client, users['runway'], network='theirs')

    assert answer(response) == (409, MISMATCH)


@pytest.mark.parametrize('attached, channel', [
    ('net', 'vlan/native'),   # already attached
    ('used', 'vlan/native'),  # the channel is in use
    (None, 'vlan/4000'),      # the channel is illegal
])
def test_node_connect_network_checks_the_port_before_the_channel(
        client, users, admin, attached, channel):
    admin.node(cabled=())
    admin.network('net', 'runway', 'runway')
    admin.network('used', 'runway', 'runway')
    if attached is not None:
        attach(attached, channel='vlan/native')

    with no_change():
        response = connect(client, users['runway'], channel=channel)

    assert answer(response) == (404, NO_PORT)


@pytest.mark.parametrize('channel', [
    'vlan/native',  # the channel is in use too
    'vlan/4000',    # the channel is illegal too
])
def test_node_connect_network_already_attached_is_blocked_first(
        client, users, admin, world, channel):
    admin.network('net', 'runway', 'runway')
    attach('net', channel='vlan/native')

    with no_change():
        response = connect(client, users['runway'], channel=channel)

    assert answer(response) == (409, {
        'type': 'BlockedError',
        'msg': 'The network is already attached to the nic.'})


def test_node_connect_network_channel_in_use_is_blocked(client, users, admin,
                                                        world):
    used = admin.network('used', 'runway', 'runway')
    admin.network('net', 'runway', 'runway')
    attach('used', channel=f'vlan/{used}')

    # vlan/<used> is also illegal for `net`: in use is checked first.
    with no_change():
        response = connect(client, users['runway'], channel=f'vlan/{used}')

    assert answer(response) == (409, {
        'type': 'BlockedError',
        'msg': 'The channel is already in use on the nic.'})


def test_node_connect_network_default_channel_in_use_is_blocked(
        client, users, admin, world):
    admin.network('used', 'runway', 'runway')
    admin.network('net', 'runway', 'runway')
    attach('used', channel='vlan/native')

    with no_change():
        response = connect(client, users['runway'])

    assert answer(response) == (409, {
        'type': 'BlockedError',
        'msg': 'The channel is already in use on the nic.'})


@pytest.mark.parametrize('channel', ['vlan/4000', 'null', 'vlan/*', 'native'])
def test_node_connect_network_illegal_channel_is_a_bad_argument(
        client, users, admin, world, channel):
    admin.network('net', 'runway', 'runway')

    with no_change():
        response = connect(client, users['runway'], channel=channel)

    assert answer(response) == (400, {
        'type': 'BadArgumentError',
        'msg': f'Channel {channel} is not legal for this network.'})


def test_node_connect_network_body_not_an_object_is_a_validation_error(
        client, users, admin, world):
    admin.network('net', 'runway', 'runway')

    with no_change():
        response = client.post('/node/node-1/nic/eth0/connect_network',
                               headers=users['runway'], json=['net'])

    assert answer(response) == (400, {
        'type': 'ValidationError',
        'msg': 'The request body is not a JSON object.'})


# --- node_detach_network --------------------------------------------------

def detach(client, headers, network='net', node='node-1', nic='eth0'):
    return client.post(f'/node/{node}/nic/{nic}/detach_network',
                       headers=headers, json={'network': network})


@pytest.mark.parametrize('who', ['admin', 'runway'])
def test_node_detach_network_queues_a_detach_on_the_attachment_channel(
        client, users, admin, world, who):
    vlan = admin.network('net', 'runway', 'runway')
    attach('net', channel=f'vlan/{vlan}')

    response = detach(client, users[who])

    assert answer(response) == queued()
    assert actions() == [{'node': 'node-1', 'nic': 'eth0',
                          'new_network': None, 'channel': f'vlan/{vlan}',
                          'status': QUEUED, 'type': MODIFY_PORT}]
    # Applying it is the networking daemon's job.
    assert attachments() == [{'nic': 'eth0', 'network': 'net',
                              'channel': f'vlan/{vlan}'}]


def test_node_detach_network_picks_the_channel_of_that_network(client, users,
                                                               admin, world):
    admin.network('native', 'runway', 'runway')
    tagged = admin.network('net', 'runway', 'runway')
    attach('native', channel='vlan/native')
    attach('net', channel=f'vlan/{tagged}')

    response = detach(client, users['runway'])

    assert answer(response) == queued()
    assert actions() == [{'node': 'node-1', 'nic': 'eth0',
                          'new_network': None, 'channel': f'vlan/{tagged}',
                          'status': QUEUED, 'type': MODIFY_PORT}]


def test_node_detach_network_of_a_nic_cabled_to_no_port_is_queued(
        client, users, admin):
    """Only connecting needs a port: an attachment of a nic with none (as
    HaaS 0.2 could leave one) can still go."""
    admin.node(cabled=())
    admin.network('net', 'runway', 'runway')
    attach('net')

    response = detach(client, users['runway'])

    assert answer(response) == queued()
    assert actions() == [{'node': 'node-1', 'nic': 'eth0',
                          'new_network': None, 'channel': 'vlan/native',
                          'status': QUEUED, 'type': MODIFY_PORT}]


@pytest.mark.parametrize('status', [DONE, ERROR])
def test_node_detach_network_replaces_the_nics_finished_action(
        client, users, admin, world, status):
    admin.network('net', 'runway', 'runway')
    attach('net')
    queue('net', status=status)

    response = detach(client, users['runway'])

    assert answer(response) == queued()
    assert actions() == [{'node': 'node-1', 'nic': 'eth0',
                          'new_network': None, 'channel': 'vlan/native',
                          'status': QUEUED, 'type': MODIFY_PORT}]


@pytest.mark.parametrize('who, error', [('other', NO_ACCESS),
                                        ('anonymous', AUTH_FAILED)])
def test_node_detach_network_is_refused_to_non_members(client, users, admin,
                                                       world, who, error):
    admin.network('net', 'runway', 'runway')
    attach('net')

    with no_change():
        response = detach(client, users[who])

    assert answer(response) == (401, error)


def test_node_detach_network_unknown_node_is_404_first(client, users, admin,
                                                       world):

    with no_change():
        response = detach(client, users['other'], network='nowhere',
                          node='nowhere', nic='eth9')

    assert answer(response) == (404, {
        'type': 'NotFoundError', 'msg': 'Node nowhere does not exist.'})


def test_node_detach_network_unknown_network_is_404_before_the_nic(
        client, users, admin, world):

    with no_change():
        response = detach(client, users['other'], network='nowhere',
                          nic='eth9')

    assert answer(response) == (404, {
        'type': 'NotFoundError', 'msg': 'Network nowhere does not exist.'})


def test_node_detach_network_unknown_nic_is_404_before_authorization(
        client, users, admin, world):
    admin.network('net')

    with no_change():
        response = detach(client, users['other'], nic='eth9')

    assert answer(response) == (404, {
        'type': 'NotFoundError',
        'msg': 'Nic eth9 on Node node-1 does not exist.'})


@pytest.mark.parametrize('who', ['admin', 'other'])
def test_node_detach_network_free_node_is_a_project_mismatch(client, users,
                                                             admin, who):
    admin.node(project=None)
    admin.network('net')
    attach('net')

    with no_change():
        response = detach(client, users[who])

    assert answer(response) == (409, {'type': 'ProjectMismatchError',
                                      'msg': 'Node not in project'})


def test_node_detach_network_pending_action_blocks_before_attachment_check(
        client, users, admin, world):
    admin.network('net', 'runway', 'runway')
    queue('net')

    with no_change():
        response = detach(client, users['runway'])

    assert answer(response) == (409, PENDING)


def test_node_detach_network_not_attached_is_a_bad_argument(client, users,
                                                            admin):
    admin.node(nics=('eth0', 'eth1'))
    admin.network('net', 'runway', 'runway')
    attach('net', nic='eth1')

    with no_change():
        response = detach(client, users['runway'])

    assert answer(response) == (400, {
        'type': 'BadArgumentError',
        'msg': 'The network is not attached to the nic.'})


# --- a native network first and last (check_native_networks) --------------

@pytest.fixture
def nativeless(monkeypatch):
    """The mock switch without 'nativeless-trunk-mode', as switches are
    that cannot trunk tagged VLANs on a port without a native one."""
    monkeypatch.setattr(MockSwitch, 'get_capabilities', lambda self: [])


NO_NATIVE_YET = {
    'type': 'BlockedError',
    'msg': 'Switch sw0 cannot carry tagged VLANs on a port without a native '
           'one: connect a network to nic eth0 on vlan/native first.'}


def test_a_tagged_network_first_is_refused_on_a_switch_that_needs_a_native(
        client, users, admin, world, nativeless):
    vlan = admin.network('net', 'runway', 'runway')

    with no_change():
        response = connect(client, users['runway'], channel=f'vlan/{vlan}')

    assert answer(response) == (409, NO_NATIVE_YET)


def test_a_tagged_network_first_is_queued_on_a_nativeless_trunk_switch(
        client, users, admin, world):
    """The mock switch has the capability: HaaS 0.2's clients connect a
    tagged network alone."""
    vlan = admin.network('net', 'runway', 'runway')

    response = connect(client, users['runway'], channel=f'vlan/{vlan}')

    assert answer(response) == queued()


def test_a_tagged_network_after_the_native_one_is_queued(client, users,
                                                         admin,
                                                         world, nativeless):
    admin.network('native', 'runway', 'runway')
    vlan = admin.network('net', 'runway', 'runway')
    attach('native')

    response = connect(client, users['runway'], channel=f'vlan/{vlan}')

    assert answer(response) == queued()


def test_the_native_network_first_is_queued(client, users, admin, world,
                                            nativeless):
    admin.network('net', 'runway', 'runway')

    response = connect(client, users['runway'])

    assert answer(response) == queued()


def test_detaching_the_native_network_before_the_tagged_ones_is_refused(
        client, users, admin, world, nativeless):
    admin.network('native', 'runway', 'runway')
    one = admin.network('one', 'runway', 'runway')
    two = admin.network('two', 'runway', 'runway')
    attach('native')
    attach('one', channel=f'vlan/{one}')
    attach('two', channel=f'vlan/{two}')

    with no_change():
        response = detach(client, users['runway'], network='native')

    assert answer(response) == (409, {
        'type': 'BlockedError',
        'msg': f'Switch sw0 cannot carry tagged VLANs on a port without a '
               f'native one: detach nic eth0 from its tagged networks '
               f'(vlan/{one}, vlan/{two}) first.'})


def test_detaching_the_native_network_last_is_queued(client, users, admin,
                                                     world, nativeless):
    admin.network('native', 'runway', 'runway')
    attach('native')

    response = detach(client, users['runway'], network='native')

    assert answer(response) == queued()


def test_detaching_a_tagged_network_is_queued_while_the_native_stays(
        client, users, admin, world, nativeless):
    admin.network('native', 'runway', 'runway')
    vlan = admin.network('net', 'runway', 'runway')
    attach('native')
    attach('net', channel=f'vlan/{vlan}')

    response = detach(client, users['runway'], network='net')

    assert answer(response) == queued()


def test_pending_actions_count_as_if_applied(admin, world, nativeless):
    """A nic whose native network is being detached has none to come; one
    whose native network is being connected has one.  (The API refuses a
    request while one is pending; actions queued otherwise, as by
    `haas-admin switch verify --fix`, may be several.)"""
    admin.network('native', 'runway', 'runway')
    vlan = admin.network('net', 'runway', 'runway')
    nic = find_nic('node-1', 'eth0')
    queue('native')
    check_native_networks(nic, 'connect', f'vlan/{vlan}')  # allowed
    queue('net', channel=f'vlan/{vlan}')
    assert channels_to_come(nic) == {'vlan/native', f'vlan/{vlan}'}
    with pytest.raises(BlockedError):
        check_native_networks(nic, 'detach', 'vlan/native')
    queue(None, channel=f'vlan/{vlan}')
    queue(None, channel='vlan/native')
    with pytest.raises(BlockedError, match='on vlan/native first'):
        check_native_networks(nic, 'connect', f'vlan/{vlan}')


def test_finished_actions_do_not_count(admin, world, nativeless):
    admin.network('native', 'runway', 'runway')
    vlan = admin.network('net', 'runway', 'runway')
    queue('native', status=ERROR)

    with pytest.raises(BlockedError):
        check_native_networks(find_nic('node-1', 'eth0'), 'connect',
                              f'vlan/{vlan}')


def finished(*statuses, node='node-1', nic='eth0'):
    """Finished detaches of `nic`, one per status, written as rows (not
    through the nic's relationship), as several actions of one nic are."""
    nic_id = find_nic(node, nic).id
    db.session.add_all(NetworkingAction(nic_id=nic_id, channel='vlan/native',
                                        status=status, type=MODIFY_PORT)
                       for status in statuses)
    db.session.commit()
    db.session.expire_all()


def test_queuing_replaces_every_finished_action_of_the_nic(client, users,
                                                           admin, world):
    """`haas-admin switch verify --fix` may leave a nic several finished
    actions; the next request makes way for itself all the same."""
    admin.network('net', 'runway', 'runway')
    finished(DONE, ERROR)

    response = connect(client, users['runway'])

    assert answer(response) == queued()
    assert [a['status'] for a in actions()] == [QUEUED]


def test_node_delete_nic_deletes_every_finished_action(client, users, admin):
    admin.node(project=None)
    admin.network('net')
    finished(DONE, ERROR)

    response = client.delete('/node/node-1/nic/eth0', headers=users['admin'])

    assert answer(response) == (200, b'')
    assert actions() == []


# --- other calls a pending action blocks ----------------------------------

def test_project_detach_node_is_blocked_by_a_pending_action(client, users,
                                                            admin):
    admin.node(nics=('eth0', 'eth1'))
    admin.network('net', 'runway', 'runway')
    queue('net', nic='eth1')

    with no_change():
        response = client.post('/project/runway/detach_node',
                               headers=users['runway'],
                               json={'node': 'node-1'})

    assert answer(response) == (409, PENDING)


@pytest.mark.parametrize('status', [None, DONE, ERROR])
def test_project_detach_node_without_pending_action_succeeds(client, users,
                                                             admin, status):
    """The counterpart of the test above: only the action, while it was
    pending, blocked it (a finished one stays, as history)."""
    admin.node(nics=('eth0', 'eth1'))
    admin.network('net', 'runway', 'runway')
    if status is not None:
        queue('net', nic='eth1', status=status)

    response = client.post('/project/runway/detach_node',
                           headers=users['runway'], json={'node': 'node-1'})

    assert answer(response) == (200, b'')
    assert find(Node, 'node-1').project is None
    assert [a['status'] for a in actions()] == (
        [] if status is None else [status])
