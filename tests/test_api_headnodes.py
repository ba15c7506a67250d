"""The headnode and console calls (rest-api.md section 2, 3 and 4): under
`[devel] dry_run` on both databases, then the libvirt commands HaaS runs
without it, through fake `virsh` and `virt-clone` programs."""

import json
import os
import sys
import uuid

import pytest

import haas
from haas.errors import ConfigError
from haas.model import Headnode, Hnic, Network, Project, db

from support.api import (
    ADMIN_ONLY,
    AUTH_REQUIRED,
    DONE,
    NO_ACCESS,
    basic,
    caller,
    error,
    not_found,
    server_error,
)
from support.commands import cli, error_line
from support.config import API_EXTENSIONS, CHEAP_HASHES, config_text
from support.databases import built_app, rolled_back, sharing, table_rows

OBM_TYPE = 'http://schema.massopencloud.org/haas/v0/obm/mock'
IMAGES = ['base-headnode', 'img1', 'img2']

FROZEN = (409, {'type': 'IllegalStateError',
                'msg': 'Headnode has been started: its hnics can no longer '
                       'change.'})
NOT_ALLOCATED = (400, {'type': 'BadArgumentError',
                       'msg': 'Headnodes may only be connected to networks '
                              'allocated by the project.'})
MISMATCH = (409, {'type': 'ProjectMismatchError',
                  'msg': 'Project does not have access to given network.'})


# --- set-up and observation -----------------------------------------------

@pytest.fixture
def dry_call(dry_client, dry_users):
    return caller(dry_client, dry_users)


def refusal(app, call, *request):
    """The answer to `request`, checked to have left every row as it was."""
    before = table_rows(app)
    result = call(*request)
    assert table_rows(app) == before, request
    return result


class Admin:
    """Set-up through the API as the administrator; every call must work."""

    def __init__(self, call):
        self.call = call

    def __call__(self, method, path, body=None):
        assert self.call('admin', method, path, body) == DONE, (method, path)

    def network(self, label, owner='admin', access='', net_id=''):
        self('PUT', f'/network/{label}',
             {'owner': owner, 'access': access, 'net_id': net_id})

    def headnode(self, label, project='runway', base_img='img1', hnics=()):
        """A headnode with `hnics`, (label, network label or None) pairs
        added in that order."""
        self('PUT', f'/headnode/{label}',
             {'project': project, 'base_img': base_img})
        for hnic, network in hnics:
            self('PUT', f'/headnode/{label}/hnic/{hnic}')
            if network is not None:
                self('POST', f'/headnode/{label}/hnic/{hnic}/connect_network',
                     {'network': network})

    def node(self, label, host, project=None):
        self('PUT', f'/node/{label}', {'obm': {
            'type': OBM_TYPE, 'host': host, 'user': 'u', 'password': 'p'}})
        if project is not None:
            self('POST', f'/project/{project}/connect_node', {'node': label})


@pytest.fixture
def admin(dry_call):
    return Admin(dry_call)


#: The app `build_world` builds on (conftest.py, shared worlds).
WORLD_APP = 'dry_api'


def build_world(client, users):
    """What most dry-run tests start from, built once per module and
    backend (conftest.py, shared worlds):
    net-r (runway's), net-m (manhattan's), net-pub (public) and net-prov
    (an administrator's, for runway), their ids from the pool; net-ext
    (public, its id 3000 given by the administrator);
    hn-r (runway, img1) with hnics eth1 on net-r and eth0 on no network,
    added in that order; hn-m (manhattan, img2) with hnic eth5."""
    admin = Admin(caller(client, users))
    admin.network('net-r', owner='runway', access='runway')
    admin.network('net-m', owner='manhattan', access='manhattan')
    admin.network('net-pub')
    admin.network('net-prov', access='runway')
    admin.network('net-ext', net_id='3000')
    admin.headnode('hn-r', hnics=[('eth1', 'net-r'), ('eth0', None)])
    admin.headnode('hn-m', project='manhattan', base_img='img2',
                   hnics=[('eth5', None)])


@pytest.fixture
def world(dry_api):
    """The rows of `build_world`."""
    return sharing(dry_api).world


def headnode_row(label):
    """The headnode's row, as table_rows gives it."""
    row = db.session.execute(db.select(Headnode.__table__)
                             .filter_by(label=label)).mappings().one()
    return dict(row)


def uuid_of(label):
    return headnode_row(label)['uuid']


def project_id(label):
    return db.session.execute(db.select(Project.id)
                              .filter_by(label=label)).scalar_one()


def network_id(label):
    """The network's id for the allocator (its VLAN), not its row id."""
    return db.session.execute(db.select(Network.network_id)
                              .filter_by(label=label)).scalar_one()


def hnics(headnode):
    """hnic label -> network label (None: on no network), of `headnode`."""
    return dict(db.session.execute(
        db.select(Hnic.label, Network.label)
        .join(Headnode, Hnic.owner_id == Headnode.id)
        .outerjoin(Network, Hnic.network_id == Network.id)
        .filter(Headnode.label == headnode)).all())


def shown(label, project, base_img, hnics, vncport=None):
    """What show_headnode says of headnode `label`."""
    return {'base_img': base_img, 'hnics': hnics, 'name': label,
            'project': project, 'uuid': uuid_of(label), 'vncport': vncport}


def hn_r_shown():
    """What show_headnode says of `world`'s hn-r: its hnics sorted."""
    return shown('hn-r', 'runway', 'img1', ['eth0', 'eth1'])


# --- authorization, for every headnode call ----------------------------------

#: Calls on runway's hn-r in `world` (or on runway itself), with what they
#: answer the administrator and runway's members (a function: a value that
#: needs the database).
RUNWAY_CALLS = {
    'headnode_create': ('PUT', '/headnode/hn-new',
                        {'project': 'runway', 'base_img': 'img1'}, DONE),
    'headnode_delete': ('DELETE', '/headnode/hn-r', None, DONE),
    'headnode_start': ('POST', '/headnode/hn-r/start', None, DONE),
    'headnode_stop': ('POST', '/headnode/hn-r/stop', None, DONE),
    'headnode_create_hnic': ('PUT', '/headnode/hn-r/hnic/eth9', None, DONE),
    'headnode_delete_hnic': ('DELETE', '/headnode/hn-r/hnic/eth0', None,
                             DONE),
    'headnode_connect_network': (
        'POST', '/headnode/hn-r/hnic/eth0/connect_network',
        {'network': 'net-r'}, DONE),
    'headnode_detach_network': (
        'POST', '/headnode/hn-r/hnic/eth1/detach_network', None, DONE),
    'list_project_headnodes': ('GET', '/project/runway/headnodes', None,
                               (200, ['hn-r'])),
    'show_headnode': ('GET', '/headnode/hn-r', None,
                      lambda: (200, hn_r_shown())),
}


@pytest.mark.parametrize('who', ['admin', 'runway'])
@pytest.mark.parametrize('name', RUNWAY_CALLS)
def test_headnode_calls_work_for_admin_and_project_members(dry_call, world,
                                                           name, who):
    method, path, body, expected = RUNWAY_CALLS[name]

    assert dry_call(who, method, path, body) == (
        expected() if callable(expected) else expected)


@pytest.mark.parametrize('name', RUNWAY_CALLS)
def test_headnode_calls_refuse_members_of_other_projects(dry_api, dry_call,
                                                         world, name):
    method, path, body, _ = RUNWAY_CALLS[name]

    assert refusal(dry_api, dry_call, 'other', method, path, body) == \
        NO_ACCESS


@pytest.mark.parametrize('name', RUNWAY_CALLS)
def test_headnode_calls_refuse_anonymous_callers(dry_api, dry_call, world,
                                                 name):
    method, path, body, _ = RUNWAY_CALLS[name]

    assert refusal(dry_api, dry_call, 'anonymous', method, path, body) == \
        AUTH_REQUIRED


#: Every call on a headnode, on one that does not exist.
ON_UNKNOWN_HEADNODE = [
    ('DELETE', '/headnode/nowhere', None),
    ('POST', '/headnode/nowhere/start', None),
    ('POST', '/headnode/nowhere/stop', None),
    ('PUT', '/headnode/nowhere/hnic/eth0', None),
    ('DELETE', '/headnode/nowhere/hnic/eth0', None),
    ('POST', '/headnode/nowhere/hnic/eth0/connect_network',
     {'network': 'net-r'}),
    ('POST', '/headnode/nowhere/hnic/eth0/detach_network', None),
    ('GET', '/headnode/nowhere', None),
]


@pytest.mark.parametrize('who', ['admin', 'other'])
@pytest.mark.parametrize('method, path, body', ON_UNKNOWN_HEADNODE)
def test_headnode_calls_on_an_unknown_headnode_are_404(dry_api, dry_call,
                                                       world, method, path,
                                                       body, who):
    assert refusal(dry_api, dry_call, who, method, path, body) == not_found(
        'Headnode nowhere does not exist.')


# --- headnode_create --------------------------------------------------------

def test_headnode_create_makes_a_dirty_headnode_with_a_uuid1(dry_call,
                                                             dry_users):
    assert dry_call('runway', 'PUT', '/headnode/hn-new',
                    {'project': 'runway', 'base_img': 'img2'}) == DONE

    row = headnode_row('hn-new')
    assert (row, uuid.UUID(row['uuid']).version) == (
        {'id': row['id'], 'label': 'hn-new', 'dirty': True,
         'project_id': project_id('runway'), 'base_img': 'img2',
         'uuid': row['uuid']}, 1)


@pytest.mark.parametrize('image', IMAGES)
def test_headnode_create_accepts_each_image_of_base_imgs(dry_call, dry_users,
                                                         image):
    assert dry_call('runway', 'PUT', '/headnode/hn-new',
                    {'project': 'runway', 'base_img': image}) == DONE

    assert headnode_row('hn-new')['base_img'] == image


@pytest.mark.parametrize('image', ['img3', 'IMG1', 'img1 ,img2'])
def test_headnode_create_refuses_other_images_before_any_lookup(
        dry_api, dry_call, world, image):
    # hn-r exists and project nowhere does not: the image is checked first.
    assert refusal(dry_api, dry_call, 'other', 'PUT', '/headnode/hn-r',
                   {'project': 'nowhere', 'base_img': image}) == error(
        400, 'BadArgumentError',
        f'Provided image {image} is not one of [headnode] base_imgs.')


@pytest.mark.parametrize('who, project', [
    ('admin', 'manhattan'), ('other', 'runway'), ('other', 'nowhere')])
def test_headnode_create_of_a_taken_label_is_409_before_project_checks(
        dry_api, dry_call, world, who, project):
    assert refusal(dry_api, dry_call, who, 'PUT', '/headnode/hn-r',
                   {'project': project, 'base_img': 'img1'}) == error(
        409, 'DuplicateError', 'Headnode hn-r already exists.')


def test_headnode_create_for_an_unknown_project_is_404(dry_api, dry_call,
                                                       world):
    assert refusal(dry_api, dry_call, 'runway', 'PUT', '/headnode/hn-new',
                   {'project': 'nowhere', 'base_img': 'img1'}) == not_found(
        'Project nowhere does not exist.')


# --- headnode_delete, headnode_start, headnode_stop --------------------------

@pytest.mark.parametrize('started', [False, True])
def test_headnode_delete_removes_the_headnode_and_its_hnics(
        dry_api, dry_call, admin, world, started):
    before = table_rows(dry_api)
    admin.headnode('hn-new', hnics=[('eth0', 'net-r'), ('eth1', None)])
    if started:
        admin('POST', '/headnode/hn-new/start')

    assert (dry_call('runway', 'DELETE', '/headnode/hn-new'),
            table_rows(dry_api)) == (DONE, before)


def test_headnode_start_under_dry_run_freezes_the_headnode(dry_call, world):
    row = headnode_row('hn-r')

    assert dry_call('runway', 'POST', '/headnode/hn-r/start') == DONE

    assert headnode_row('hn-r') == {**row, 'dirty': False}


def test_headnode_start_of_a_started_headnode_is_fine(dry_call, admin,
                                                      world):
    admin('POST', '/headnode/hn-r/start')
    row = headnode_row('hn-r')

    assert (dry_call('runway', 'POST', '/headnode/hn-r/start'),
            headnode_row('hn-r')) == (DONE, row)


@pytest.mark.parametrize('started', [False, True])
def test_headnode_stop_under_dry_run_changes_no_row(dry_api, dry_call, admin,
                                                    world, started):
    if started:
        admin('POST', '/headnode/hn-r/start')
    before = table_rows(dry_api)

    assert (dry_call('runway', 'POST', '/headnode/hn-r/stop'),
            table_rows(dry_api)) == (DONE, before)


#: The calls that change hn-r's hnics, each of which `world` allows.
HNIC_CHANGES = {
    'headnode_create_hnic': ('PUT', '/headnode/hn-r/hnic/eth9', None),
    'headnode_delete_hnic': ('DELETE', '/headnode/hn-r/hnic/eth0', None),
    'headnode_connect_network': (
        'POST', '/headnode/hn-r/hnic/eth0/connect_network',
        {'network': 'net-r'}),
    'headnode_detach_network': (
        'POST', '/headnode/hn-r/hnic/eth1/detach_network', None),
}


@pytest.mark.parametrize('name', HNIC_CHANGES)
def test_hnic_changes_after_headnode_start_are_409_illegal_state(
        dry_api, dry_call, admin, world, name):
    admin('POST', '/headnode/hn-r/start')

    assert refusal(dry_api, dry_call, 'runway', *HNIC_CHANGES[name]) == FROZEN


# --- hnics ------------------------------------------------------------------

def test_headnode_create_hnic_adds_an_hnic_on_no_network(dry_call, world):
    assert dry_call('runway', 'PUT', '/headnode/hn-r/hnic/eth9') == DONE

    assert hnics('hn-r') == {'eth0': None, 'eth1': 'net-r', 'eth9': None}


def test_headnode_create_hnic_may_reuse_a_label_of_another_headnode(
        dry_call, world):
    assert dry_call('other', 'PUT', '/headnode/hn-m/hnic/eth0') == DONE

    assert hnics('hn-m') == {'eth0': None, 'eth5': None}


@pytest.mark.parametrize('started', [False, True])
def test_headnode_create_hnic_of_a_taken_label_is_409_duplicate(
        dry_api, dry_call, admin, world, started):
    # Even once started: the duplicate is checked before the state.
    if started:
        admin('POST', '/headnode/hn-r/start')

    assert refusal(dry_api, dry_call, 'runway', 'PUT',
                   '/headnode/hn-r/hnic/eth0') == error(
        409, 'DuplicateError', 'Hnic eth0 on Headnode hn-r already exists.')


def test_headnode_delete_hnic_removes_an_hnic_on_a_network(dry_call, world):
    assert dry_call('runway', 'DELETE', '/headnode/hn-r/hnic/eth1') == DONE

    assert hnics('hn-r') == {'eth0': None}


#: The calls on one hnic, given an hnic (eth5) that hn-r does not have.
ON_UNKNOWN_HNIC = [
    ('DELETE', '/headnode/hn-r/hnic/eth5', None),
    ('POST', '/headnode/hn-r/hnic/eth5/connect_network', {'network': 'net-r'}),
    ('POST', '/headnode/hn-r/hnic/eth5/detach_network', None),
]


@pytest.mark.parametrize('started', [False, True])
@pytest.mark.parametrize('method, path, body', ON_UNKNOWN_HNIC)
def test_hnic_calls_on_an_hnic_the_headnode_lacks_are_404(
        dry_api, dry_call, admin, world, method, path, body, started):
    # eth5 is hn-m's; and a missing hnic is reported before the state.
    if started:
        admin('POST', '/headnode/hn-r/start')

    assert refusal(dry_api, dry_call, 'runway', method, path, body) == \
        not_found('Hnic eth5 on Headnode hn-r does not exist.')


# --- headnode_connect_network, headnode_detach_network -----------------------

@pytest.mark.parametrize('network', ['net-r', 'net-pub', 'net-prov'])
def test_headnode_connect_network_puts_an_hnic_on_a_pool_network_it_may_use(
        dry_call, world, network):
    assert dry_call('runway', 'POST',
                    '/headnode/hn-r/hnic/eth0/connect_network',
                    {'network': network}) == DONE

    assert hnics('hn-r') == {'eth0': network, 'eth1': 'net-r'}


def test_headnode_connect_network_moves_an_hnic_off_its_network(dry_call,
                                                                world):
    assert dry_call('runway', 'POST',
                    '/headnode/hn-r/hnic/eth1/connect_network',
                    {'network': 'net-pub'}) == DONE

    assert hnics('hn-r') == {'eth0': None, 'eth1': 'net-pub'}


@pytest.mark.parametrize('started', [False, True])
def test_headnode_connect_network_to_a_network_with_a_given_id_is_400(
        dry_api, dry_call, admin, world, started):
    # Even once started: the network is checked before the state.
    if started:
        admin('POST', '/headnode/hn-r/start')

    assert refusal(dry_api, dry_call, 'runway', 'POST',
                   '/headnode/hn-r/hnic/eth0/connect_network',
                   {'network': 'net-ext'}) == NOT_ALLOCATED


@pytest.mark.parametrize('started, expected', [(False, MISMATCH),
                                               (True, FROZEN)])
def test_headnode_connect_network_to_another_projects_network_is_409(
        dry_api, dry_call, admin, world, started, expected):
    # The state is checked before the network's project.
    if started:
        admin('POST', '/headnode/hn-r/start')

    assert refusal(dry_api, dry_call, 'runway', 'POST',
                   '/headnode/hn-r/hnic/eth0/connect_network',
                   {'network': 'net-m'}) == expected


def share(network, *projects):
    """Give `projects` access to `network` too (written directly, as
    network_grant_project_access would)."""
    network = db.session.execute(
        db.select(Network).filter_by(label=network)).scalar_one()
    network.access.extend(
        db.session.execute(db.select(Project).filter_by(label=p)).scalar_one()
        for p in projects)
    db.session.commit()


def test_headnode_connect_network_to_a_network_shared_with_the_project(
        dry_call, world):
    share('net-m', 'runway')

    assert dry_call('runway', 'POST',
                    '/headnode/hn-r/hnic/eth0/connect_network',
                    {'network': 'net-m'}) == DONE

    assert hnics('hn-r') == {'eth0': 'net-m', 'eth1': 'net-r'}


def test_headnode_connect_network_to_a_network_shared_with_others_is_409(
        dry_api, dry_call, world):
    db.session.add(Project(label='third'))
    db.session.commit()
    share('net-m', 'third')

    assert refusal(dry_api, dry_call, 'runway', 'POST',
                   '/headnode/hn-r/hnic/eth0/connect_network',
                   {'network': 'net-m'}) == MISMATCH


def test_headnode_connect_network_to_an_unknown_network_is_404(
        dry_api, dry_call, world):
    assert refusal(dry_api, dry_call, 'runway', 'POST',
                   '/headnode/hn-r/hnic/eth0/connect_network',
                   {'network': 'nowhere'}) == not_found(
        'Network nowhere does not exist.')


def test_headnode_detach_network_takes_an_hnic_off_its_network(dry_call,
                                                                world):
    assert dry_call('runway', 'POST',
                    '/headnode/hn-r/hnic/eth1/detach_network') == DONE

    assert hnics('hn-r') == {'eth0': None, 'eth1': None}


def test_headnode_detach_network_of_an_hnic_on_no_network_is_fine(dry_call,
                                                                   world):
    assert dry_call('runway', 'POST',
                    '/headnode/hn-r/hnic/eth0/detach_network') == DONE

    assert hnics('hn-r') == {'eth0': None, 'eth1': 'net-r'}


# --- list_project_headnodes, show_headnode, list_headnode_images -------------

def test_list_project_headnodes_lists_the_projects_headnodes_only(
        dry_call, admin, world):
    admin.headnode('hn-r2')

    status, labels = dry_call('runway', 'GET', '/project/runway/headnodes')

    assert (status, sorted(labels)) == (200, ['hn-r', 'hn-r2'])


def test_list_project_headnodes_of_a_project_without_headnodes_is_empty(
        dry_call, admin, world):
    admin('DELETE', '/headnode/hn-m')

    assert dry_call('other', 'GET', '/project/manhattan/headnodes') == \
        (200, [])


@pytest.mark.parametrize('who', ['admin', 'other'])
def test_list_project_headnodes_of_an_unknown_project_is_404(dry_call, world,
                                                             who):
    assert dry_call(who, 'GET', '/project/nowhere/headnodes') == not_found(
        'Project nowhere does not exist.')


def test_show_headnode_shows_sorted_hnics_and_no_vncport_while_dirty(
        dry_call, world):
    assert dry_call('runway', 'GET', '/headnode/hn-r') == (200, hn_r_shown())


def test_show_headnode_under_dry_run_shows_no_vncport_once_started(
        dry_call, admin, world):
    admin('POST', '/headnode/hn-r/start')

    assert dry_call('runway', 'GET', '/headnode/hn-r') == (200, hn_r_shown())


@pytest.mark.parametrize('who', ['admin', 'runway', 'other'])
@pytest.mark.parametrize('path', ['/headnode_images/', '/headnode_images'])
def test_list_headnode_images_lists_base_imgs_to_any_user_without_redirect(
        dry_call, dry_users, path, who):
    assert dry_call(who, 'GET', path) == (200, IMAGES)


def test_list_headnode_images_refuses_anonymous_callers(dry_call, dry_users):
    assert dry_call('anonymous', 'GET', '/headnode_images/') == AUTH_REQUIRED


def test_list_headnode_images_without_base_imgs_is_empty(call, users):
    assert call('runway', 'GET', '/headnode_images/') == (200, [])


# --- consoles ----------------------------------------------------------------

#: The console calls, with what they answer a caller who may use them,
#: on `consoles`' node of OBM host `host`, as console_answer puts it.
CONSOLE_CALLS = {
    'show_console': ('GET', lambda host: (
        200, 'text/plain', f'Console of mock OBM {host}\n'.encode())),
    'start_console': ('PUT', lambda host: (200, None, b'')),
    'stop_console': ('DELETE', lambda host: (200, None, b'')),
}


def console_answer(response):
    """Status, content type (None for an empty body) and body."""
    return (response.status_code,
            response.mimetype if response.data else None, response.data)


@pytest.fixture
def consoles(call):
    """node-free (free, OBM host free-host) and node-r (in runway, OBM host
    r-host), on the app without dry_run."""
    admin = Admin(call)
    admin.node('node-free', 'free-host')
    admin.node('node-r', 'r-host', project='runway')


@pytest.mark.parametrize('who, node, host', [
    ('admin', 'node-free', 'free-host'), ('admin', 'node-r', 'r-host'),
    ('runway', 'node-r', 'r-host')])
@pytest.mark.parametrize('name', CONSOLE_CALLS)
def test_console_calls_work_for_whoever_may_use_the_node(client, users,
                                                         consoles, name, who,
                                                         node, host):
    method, expected = CONSOLE_CALLS[name]

    assert console_answer(client.open(
        f'/node/{node}/console', method=method,
        headers=users[who])) == expected(host)


def test_show_console_drops_what_is_not_ascii(client, users, call):
    Admin(call).node('node-u', 'hôst-ü-1')

    assert console_answer(client.get('/node/node-u/console',
                                     headers=users['admin'])) == (
        200, 'text/plain', b'Console of mock OBM hst--1\n')


@pytest.mark.parametrize('who', ['admin', 'runway'])
@pytest.mark.parametrize('name', CONSOLE_CALLS)
def test_console_calls_on_an_unknown_node_are_404(api, call, consoles, name,
                                                  who):
    method, _ = CONSOLE_CALLS[name]

    assert refusal(api, call, who, method, '/node/nowhere/console') == \
        not_found('Node nowhere does not exist.')


@pytest.mark.parametrize('who, expected', [
    ('runway', ADMIN_ONLY), ('other', ADMIN_ONLY),
    ('anonymous', AUTH_REQUIRED)])
@pytest.mark.parametrize('name', CONSOLE_CALLS)
def test_console_calls_on_a_free_node_refuse_non_admins(api, call, consoles,
                                                        name, who, expected):
    method, _ = CONSOLE_CALLS[name]

    assert refusal(api, call, who, method, '/node/node-free/console') == \
        expected


@pytest.mark.parametrize('who, expected', [
    ('other', NO_ACCESS), ('anonymous', AUTH_REQUIRED)])
@pytest.mark.parametrize('name', CONSOLE_CALLS)
def test_console_calls_on_an_allocated_node_refuse_other_projects(
        api, call, consoles, name, who, expected):
    method, _ = CONSOLE_CALLS[name]

    assert refusal(api, call, who, method, '/node/node-r/console') == \
        expected


def test_show_console_under_dry_run_is_404_for_want_of_a_log(dry_call,
                                                             admin):
    admin.node('node-r', 'r-host', project='runway')

    assert dry_call('runway', 'GET', '/node/node-r/console') == not_found(
        'The console log for node-r does not exist.')


# --- libvirt, through fake virsh and virt-clone ------------------------------

ENDPOINT = 'test:///default'

#: Both fake programs: each appends its argv (its name first) as a JSON
#: line to $FAKE_LIBVIRT_LOG, then answers as the real one would.  A
#: command that starts with an entry of $FAKE_LIBVIRT_FAIL (comma-separated,
#: such as "virsh start" or "virt-clone") fails as the real one does when
#: the domain is missing.  dumpxml's VNC port is $FAKE_VNC_PORT (5901).
FAKE = '''#!{python} -S
import json, os, sys

program, args = os.path.basename(sys.argv[0]), sys.argv[1:]
with open(os.environ['FAKE_LIBVIRT_LOG'], 'a') as log:
    log.write(json.dumps([program, *args]) + '\\n')
assert args[:2] == ['--connect', {endpoint!r}], args
command = [program, *args[2:]]
failing = [entry.split() for entry in
           os.environ.get('FAKE_LIBVIRT_FAIL', '').split(',') if entry]
if program == 'virt-clone':
    original, name = args[args.index('-o') + 1], args[args.index('-n') + 1]
    if any(command[:len(entry)] == entry for entry in failing):
        sys.exit(print(f"ERROR    Domain '{{original}}' was not found.",
                       file=sys.stderr) or 1)
    print(f"Allocating '{{name}}.qcow2'\\n\\nClone '{{name}}' created "
          f"successfully.")
else:
    verb = args[2]
    domain = args[args.index('--domain') + 1] if '--domain' in args \\
        else args[3]
    if any(command[:len(entry)] == entry for entry in failing):
        sys.exit(print(f"error: failed to get domain '{{domain}}'",
                       file=sys.stderr) or 1)
    if verb == 'dumpxml':
        port = os.environ.get('FAKE_VNC_PORT', '5901')
        print(f"<domain type='kvm'>\\n  <name>{{domain}}</name>\\n"
              f"  <devices>\\n    <graphics type='vnc' port='{{port}}' "
              f"autoport='yes' listen='127.0.0.1'/>\\n  </devices>\\n"
              f"</domain>")
    else:
        print({{'start': f'Domain {{domain}} started',
                'autostart': f'Domain {{domain}} marked as autostarted',
                'destroy': f'Domain {{domain}} destroyed',
                'undefine': f'Domain {{domain}} has been undefined',
                'attach-interface': 'Interface attached successfully'}}[verb])
'''


@pytest.fixture
def fakes(tmp_path, monkeypatch):
    """Fake virsh and virt-clone first on PATH; returns a function that
    gives (and forgets) the commands they have run."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for program in ('virsh', 'virt-clone'):
        script = bin_dir / program
        script.write_text(FAKE.format(python=sys.executable,
                                      endpoint=ENDPOINT))
        script.chmod(0o755)
    log = tmp_path / 'commands.log'
    log.touch()
    monkeypatch.setenv('PATH', f'{bin_dir}{os.pathsep}{os.environ["PATH"]}')
    monkeypatch.setenv('FAKE_LIBVIRT_LOG', str(log))

    def commands():
        lines = log.read_text().splitlines()
        log.write_text('')
        return [json.loads(line) for line in lines]
    return commands


def virsh(*args):
    return ['virsh', '--connect', ENDPOINT, *args]


def clone(image, vm):
    return ['virt-clone', '--connect', ENDPOINT, '-o', image, '-n', vm,
            '--auto-clone']


def attach(vm, bridge):
    return virsh('attach-interface', '--domain', vm, '--type', 'bridge',
                 '--source', bridge, '--config')


def vm_of(label):
    return f'headnode-{uuid_of(label)}'


def test_dry_run_runs_no_libvirt_command(dry_call, admin, world, fakes):
    calls = [('POST', '/headnode/hn-r/start'), ('GET', '/headnode/hn-r'),
             ('POST', '/headnode/hn-r/stop'), ('DELETE', '/headnode/hn-r')]

    assert ([dry_call('runway', *c)[0] for c in calls], fakes()) == (
        [200] * 4, [])


@pytest.fixture(scope='module')
def virt_app(tmp_path_factory):
    """An application without dry_run, whose headnodes may be img1."""
    with built_app('sqlite', tmp_path_factory.mktemp('db'), API_EXTENSIONS,
                   extra=CHEAP_HASHES + f'[headnode]\nbase_imgs = img1\n'
                   f'libvirt_endpoint = {ENDPOINT}\n') as app:
        yield app


@pytest.fixture
def virt_api(virt_app):
    """virt_app with an administrator and project runway, rolled back."""
    from haas.ext.auth.database import User
    with rolled_back(virt_app) as app:
        user = User(label='admin', is_admin=True)
        user.set_password('admin-pw')
        db.session.add_all([user, Project(label='runway')])
        db.session.commit()
        yield app


@pytest.fixture
def virt_call(virt_api):
    return caller(virt_api.test_client(),
                  {'admin': basic('admin', 'admin-pw')})


@pytest.fixture
def virt_admin(virt_call):
    return Admin(virt_call)


@pytest.fixture
def hn(virt_admin, fakes):
    """Headnode hn (runway, img1), not started yet: hnics eth0 on net-a,
    eth1 on no network, eth2 on net-b; no command run so far."""
    virt_admin.network('net-a', owner='runway', access='runway')
    virt_admin.network('net-b', owner='runway', access='runway')
    virt_admin.headnode('hn', hnics=[('eth0', 'net-a'), ('eth1', None),
                                     ('eth2', 'net-b')])
    assert fakes() == []


def test_first_headnode_start_clones_attaches_bridges_and_starts_the_vm(
        virt_call, hn, fakes):
    vm = vm_of('hn')

    assert virt_call('admin', 'POST', '/headnode/hn/start') == DONE

    log = fakes()
    # The bridges are attached in no promised order.
    assert (log[0], sorted(log[1:-2]), log[-2:]) == (
        clone('img1', vm),
        sorted([attach(vm, f'br-vlan{network_id("net-a")}'),
                attach(vm, f'br-vlan{network_id("net-b")}')]),
        [virsh('start', vm), virsh('autostart', vm)])


def test_later_headnode_start_only_starts_the_vm(virt_call, hn, fakes):
    virt_call('admin', 'POST', '/headnode/hn/start')
    fakes()

    assert (virt_call('admin', 'POST', '/headnode/hn/start'), fakes()) == (
        DONE, [virsh('start', vm_of('hn')), virsh('autostart', vm_of('hn'))])


def hn_shown(vncport=None):
    """What show_headnode says of `hn`."""
    return shown('hn', 'runway', 'img1', ['eth0', 'eth1', 'eth2'], vncport)


def test_show_headnode_of_a_dirty_headnode_runs_no_command(virt_call, hn,
                                                           fakes):
    assert (virt_call('admin', 'GET', '/headnode/hn'), fakes()) == (
        (200, hn_shown()), [])


@pytest.mark.parametrize('port, vncport', [('5901', '5901'), ('-1', None)])
def test_show_headnode_of_a_started_headnode_reads_the_vnc_port(
        virt_call, hn, fakes, monkeypatch, port, vncport):
    # libvirt says -1 while an autoport VM is not running: no port.
    virt_call('admin', 'POST', '/headnode/hn/start')
    fakes()
    monkeypatch.setenv('FAKE_VNC_PORT', port)

    assert (virt_call('admin', 'GET', '/headnode/hn'), fakes()) == (
        (200, hn_shown(vncport)), [virsh('dumpxml', vm_of('hn'))])


def test_headnode_stop_destroys_the_vm(virt_call, hn, fakes):
    virt_call('admin', 'POST', '/headnode/hn/start')
    fakes()

    assert (virt_call('admin', 'POST', '/headnode/hn/stop'), fakes()) == (
        DONE, [virsh('destroy', vm_of('hn'))])


@pytest.mark.parametrize('failing', ['', 'virsh destroy'])
def test_headnode_delete_of_a_started_headnode_destroys_and_undefines_the_vm(
        virt_api, virt_call, fakes, monkeypatch, failing):
    # A failing destroy is a VM that is not running: it is undefined all
    # the same.
    before = table_rows(virt_api)
    Admin(virt_call).headnode('hn', hnics=[('eth0', None)])
    virt_call('admin', 'POST', '/headnode/hn/start')
    vm = vm_of('hn')
    fakes()
    monkeypatch.setenv('FAKE_LIBVIRT_FAIL', failing)

    assert (virt_call('admin', 'DELETE', '/headnode/hn'), fakes(),
            table_rows(virt_api)) == (
        DONE, [virsh('destroy', vm), virsh('undefine', vm,
                                           '--remove-all-storage')], before)


def test_headnode_delete_of_a_dirty_headnode_runs_no_command(virt_call, hn,
                                                             fakes):
    assert (virt_call('admin', 'DELETE', '/headnode/hn'), fakes()) == (
        DONE, [])


def test_failing_virsh_is_a_json_500_server_error(virt_api, virt_call, hn,
                                                  fakes, monkeypatch):
    virt_call('admin', 'POST', '/headnode/hn/start')
    fakes()
    monkeypatch.setenv('FAKE_LIBVIRT_FAIL', 'virsh destroy')
    vm = vm_of('hn')

    assert (refusal(virt_api, virt_call, 'admin', 'POST',
                    '/headnode/hn/stop'), fakes()) == (
        server_error(f"virsh destroy failed: error: failed to get domain "
                     f"'{vm}'"),
        [virsh('destroy', vm)])


def test_failing_undefine_keeps_the_headnode(virt_api, virt_call, hn, fakes,
                                             monkeypatch):
    virt_call('admin', 'POST', '/headnode/hn/start')
    monkeypatch.setenv('FAKE_LIBVIRT_FAIL', 'virsh undefine')
    vm = vm_of('hn')

    assert refusal(virt_api, virt_call, 'admin', 'DELETE',
                   '/headnode/hn') == server_error(
        f"virsh undefine failed: error: failed to get domain '{vm}'")


def test_failing_virt_clone_leaves_the_headnode_unstarted(
        virt_api, virt_call, hn, fakes, monkeypatch):
    monkeypatch.setenv('FAKE_LIBVIRT_FAIL', 'virt-clone')

    assert (refusal(virt_api, virt_call, 'admin', 'POST',
                    '/headnode/hn/start'), fakes()) == (
        server_error("virt-clone failed: ERROR    Domain 'img1' was not "
                     "found."),
        [clone('img1', vm_of('hn'))])


# --- [headnode] libvirt_endpoint ---------------------------------------------

NO_ENDPOINT = ('[headnode] libvirt_endpoint is required with [headnode] '
               'base_imgs (unless [devel] dry_run) but missing from the '
               'configuration')


def test_headnode_images_without_an_endpoint_refuse_to_start(tmp_path):
    config = config_text(f'sqlite:///{tmp_path}/haas.db', API_EXTENSIONS,
                         extra='[headnode]\nbase_imgs = img1\n')

    with pytest.raises(ConfigError) as refused:
        haas.create_app(config)
    served = cli(['serve'], config)

    assert (str(refused.value), error_line(served)) == (NO_ENDPOINT,
                                                        NO_ENDPOINT)


@pytest.mark.parametrize('extra', [
    '',                                               # no headnode is offered
    '[headnode]\nbase_imgs = img1\n[devel]\ndry_run =\n',   # no VM is made
], ids=['no-images', 'dry-run'])
def test_no_endpoint_is_needed_where_no_vm_is_made(tmp_path, extra):
    haas.create_app(config_text(f'sqlite:///{tmp_path}/haas.db',
                                API_EXTENSIONS, extra=extra))


def test_a_started_headnode_without_an_endpoint_is_a_clear_server_error(
        api, client, users):
    # Started while [headnode] offered images; they are gone from haas.cfg
    # now, and the endpoint with them.
    runway = db.session.query(Project).filter_by(label='runway').one()
    db.session.add(Headnode(label='hn', project=runway, base_img='img1',
                            dirty=False))
    db.session.commit()

    assert caller(client, users)('admin', 'GET', '/headnode/hn') == \
        server_error("[headnode] libvirt_endpoint is not set in haas.cfg: "
                     "HaaS cannot reach the headnodes' VMs")
