"""The OBM calls (power on, off, cycle and status, boot device, OBM
enabled or disabled) and what a disabled or enabled OBM changes, through
the Flask test client with database auth and the mock OBM, on both
databases."""

import pytest

from haas.ext.obm import mock
from haas.model import Node, db

from support.api import (
    ADMIN_ONLY,
    AUTH_REQUIRED,
    DONE,
    MOCK_OBM,
    NO_ACCESS,
    blocked,
    not_found,
)
from support.databases import table_rows


@pytest.fixture
def world(call):
    """node-99 free, node-97 in project runway, each with a mock OBM of
    its own host (`<node>-bmc`), whose state starts afresh."""
    mock.STATE.clear()
    for node in ('node-99', 'node-97'):
        assert call('admin', 'PUT', f'/node/{node}', {'obm': {
            'type': MOCK_OBM, 'host': f'{node}-bmc', 'user': 'u',
            'password': 'p'}}) == DONE
    assert call('admin', 'POST', '/project/runway/connect_node',
                {'node': 'node-97'}) == DONE
    yield
    mock.STATE.clear()


def bmc(node):
    """What the mock BMC of `node` holds."""
    return mock.state(f'{node}-bmc')


def obm_enabled(node):
    db.session.expire_all()
    return db.session.execute(db.select(Node.obm_enabled).filter_by(
        label=node)).scalar_one()


#: Each new call: (method, path tail, body, answer when allowed).
CALLS = {
    'node_power_on': ('POST', 'power_on', None, DONE),
    'node_power_cycle, forced': ('POST', 'power_cycle', {'force': True},
                                 DONE),
    'node_power_status': ('GET', 'power_status', None,
                          (200, {'power_status': 'Off'})),
    'node_set_bootdev': ('PUT', 'boot_device', {'bootdev': 'pxe'}, DONE),
    'node_set_obm': ('PUT', 'obm', {'enabled': True}, DONE),
}


def request(name, node):
    method, tail, body, _ = CALLS[name]
    return method, f'/node/{node}/{tail}', body


# --- authorization, call by call ------------------------------------------

@pytest.mark.parametrize('name', CALLS)
def test_the_administrator_may_use_a_free_nodes_obm(call, world, name):
    assert call('admin', *request(name, 'node-99')) == CALLS[name][3]


@pytest.mark.parametrize('who', ['admin', 'runway'])
@pytest.mark.parametrize('name', CALLS)
def test_the_project_and_the_administrator_may_use_its_nodes_obm(
        call, world, name, who):
    assert call(who, *request(name, 'node-97')) == CALLS[name][3]


@pytest.mark.parametrize('who, node, expected', [
    ('runway', 'node-99', ADMIN_ONLY),
    ('other', 'node-99', ADMIN_ONLY),
    ('other', 'node-97', NO_ACCESS),
    ('anonymous', 'node-99', AUTH_REQUIRED),
    ('anonymous', 'node-97', AUTH_REQUIRED),
])
@pytest.mark.parametrize('name', CALLS)
def test_others_are_refused_and_the_obm_left_alone(api, call, world, name,
                                                   who, node, expected):
    rows = table_rows(api)

    assert (call(who, *request(name, node)), bmc(node), table_rows(api)) \
        == (expected, {'power': 'Off', 'bootdev': 'none', 'done': []}, rows)


@pytest.mark.parametrize('who', ['admin', 'other'])
@pytest.mark.parametrize('name', CALLS)
def test_a_call_on_an_unknown_node_is_404(call, world, name, who):
    assert call(who, *request(name, 'node-00')) == not_found(
        'Node node-00 does not exist.')


# --- what each call does ----------------------------------------------------

def test_power_on_then_status_then_off(call, world):
    on = call('runway', 'POST', '/node/node-97/power_on')
    status = call('runway', 'GET', '/node/node-97/power_status')
    off = call('runway', 'POST', '/node/node-97/power_off')

    assert (on, status, off, call('runway', 'GET',
                                  '/node/node-97/power_status')) == (
        DONE, (200, {'power_status': 'On'}), DONE,
        (200, {'power_status': 'Off'}))


@pytest.mark.parametrize('body, done', [
    (None, 'power cycle'),
    ({}, 'power cycle'),
    ({'force': False}, 'power cycle'),
    ({'force': True}, 'hard reset'),
])
def test_power_cycle_is_a_hard_reset_only_when_forced(call, world, body,
                                                      done):
    assert (call('runway', 'POST', '/node/node-97/power_cycle', body),
            bmc('node-97')['done']) == (DONE, [done])


@pytest.mark.parametrize('bootdev', ['pxe', 'disk', 'none'])
def test_set_bootdev_hands_the_device_to_the_obm(call, world, bootdev):
    assert (call('runway', 'PUT', '/node/node-97/boot_device',
                 {'bootdev': bootdev}), bmc('node-97')['bootdev']) == (
        DONE, bootdev)


@pytest.mark.parametrize('enabled', [True, False])
def test_set_obm_records_whether_it_is_enabled(call, world, enabled):
    before = obm_enabled('node-97')
    assert call('runway', 'PUT', '/node/node-97/obm',
                {'enabled': enabled}) == DONE
    assert (before, obm_enabled('node-97')) == (None, enabled)


# --- a disabled OBM ---------------------------------------------------------

DISABLED = blocked('The OBM of node node-97 is disabled; enable it first '
                   '(PUT /node/node-97/obm).')


@pytest.mark.parametrize('method, tail, body', [
    ('POST', 'power_on', None),
    ('POST', 'power_off', None),
    ('POST', 'power_cycle', None),
    ('GET', 'power_status', None),
    ('PUT', 'boot_device', {'bootdev': 'disk'}),
    ('GET', 'console', None),
    ('PUT', 'console', None),
    ('DELETE', 'console', None),
])
def test_a_disabled_obm_refuses_power_and_console_calls(call, world, method,
                                                        tail, body):
    assert call('admin', 'PUT', '/node/node-97/obm',
                {'enabled': False}) == DONE

    assert (call('runway', method, f'/node/node-97/{tail}', body),
            bmc('node-97')['done']) == (DISABLED, [])


def test_an_obm_enabled_again_answers_again(call, world):
    call('runway', 'PUT', '/node/node-97/obm', {'enabled': False})
    call('runway', 'PUT', '/node/node-97/obm', {'enabled': True})

    assert call('runway', 'POST', '/node/node-97/power_on') == DONE


# --- detaching a node whose OBM is enabled ----------------------------------

ENABLED = blocked('The OBM of node node-97 is enabled: disable it first '
                  '(PUT /node/node-97/obm), or have an administrator force '
                  'the detach.')


@pytest.mark.parametrize('who', ['admin', 'runway'])
def test_a_node_whose_obm_is_enabled_is_not_detached(call, world, who):
    call('admin', 'PUT', '/node/node-97/obm', {'enabled': True})

    assert (call(who, 'POST', '/project/runway/detach_node',
                 {'node': 'node-97'}),
            call('admin', 'GET', '/project/runway/nodes')) == (
        ENABLED, (200, ['node-97']))


def test_an_administrator_may_force_the_detach(call, world):
    call('admin', 'PUT', '/node/node-97/obm', {'enabled': True})

    assert (call('admin', 'POST', '/project/runway/detach_node',
                 {'node': 'node-97', 'force': True}),
            call('admin', 'GET', '/project/runway/nodes')) == (
        DONE, (200, []))


def test_a_project_member_may_not_force_the_detach(call, world):
    call('admin', 'PUT', '/node/node-97/obm', {'enabled': True})

    assert call('runway', 'POST', '/project/runway/detach_node',
                {'node': 'node-97', 'force': True}) == ADMIN_ONLY


@pytest.mark.parametrize('enabled', [None, False])
def test_a_node_whose_obm_is_not_enabled_is_detached_as_before(
        call, world, enabled):
    if enabled is not None:
        call('admin', 'PUT', '/node/node-97/obm', {'enabled': enabled})

    assert call('runway', 'POST', '/project/runway/detach_node',
                {'node': 'node-97'}) == DONE


# --- bad bodies -------------------------------------------------------------

@pytest.mark.parametrize('method, tail, body', [
    ('PUT', 'boot_device', {'bootdev': 'floppy'}),
    ('PUT', 'boot_device', {}),
    ('PUT', 'boot_device', {'bootdev': 'pxe', 'persistent': True}),
    ('PUT', 'obm', {'enabled': 'yes'}),
    ('PUT', 'obm', {}),
    ('POST', 'power_cycle', {'force': 'true'}),
    ('POST', 'power_cycle', {'hard': True}),
])
def test_a_bad_body_is_400_and_changes_nothing(api, call, world, method,
                                               tail, body):
    rows = table_rows(api)
    status, found = call('admin', method, f'/node/node-97/{tail}', body)

    assert (status, found['type'], table_rows(api), bmc('node-97')) == (
        400, 'ValidationError', rows,
        {'power': 'Off', 'bootdev': 'none', 'done': []})


def test_a_bad_boot_device_names_the_choices(call, world):
    status, found = call('admin', 'PUT', '/node/node-97/boot_device',
                         {'bootdev': 'floppy'})

    assert (status, "'pxe', 'disk' or 'none'" in found['msg']) == (400, True)


def test_a_bad_force_on_detach_is_400(call, world):
    status, found = call('admin', 'POST', '/project/runway/detach_node',
                         {'node': 'node-97', 'force': 1})

    assert (status, found['type']) == (400, 'ValidationError')
