"""The Dell PowerConnect 55xx driver against the simulated switch: its
command sequences, the operators' wishes, refusals and lost sessions,
and, through the API and the networking daemon, what a client that is
not HaaS then sees on the device."""

import signal

import pytest

from haas.errors import SwitchError, SwitchUnavailableError
from haas.ext.switches.cli.console import Console
from haas.ext.switches.dell import PowerConnect55xx, PowerConnectSession
from haas.simulators import powerconnect, ssh

from support.servers import free_port, running
from support.switches import (
    action,
    cabled,
    failed_attempt,
    shared_site,
    simulator,
)
from support.terminal import Terminal

DELL = 'http://schema.massopencloud.org/haas/v0/switches/powerconnect55xx'


@pytest.fixture
def device(tmp_path):
    with ssh.in_thread(powerconnect.PowerConnect55xx, str(tmp_path / 'sw'),
                       'admin', 'secret') as d:
        yield d


def session(device, parking_vlan=None, save=False, timeout=10):
    host, port = device.address
    s = PowerConnectSession(Console('sw0', f'{host}:{port}', 'admin',
                                    'secret', timeout=timeout),
                            parking_vlan, save)
    s.open()
    return s


def seen(device, port):
    """Port `port` as a person at the terminal of `device` (or of an
    address) sees it: (membership rows, admin state)."""
    t = Terminal(getattr(device, 'address', device))
    shown = t.run(f'show interfaces switchport {port}')
    start = shown.index('Port is member in:') + 4
    rows = [(int(r.split()[0]), r.split()[2])
            for r in shown[start:shown.index('', start)]]
    state = t.run(f'show interfaces configuration {port}')[-1].split()[-1]
    t.close()
    return rows, state


def test_a_native_vlan_is_set_before_the_port_comes_up(device):
    s = session(device)
    s.apply_networking(action('gi1/0/5', 'vlan/native', 105))
    assert seen(device, 'gi1/0/5') == ([(105, 'Untagged')], 'Up')
    configured = s.console.sent[s.console.sent.index('interface gi1/0/5'):]
    assert configured == [
        'interface gi1/0/5', 'shutdown', 'switchport mode trunk',
        'switchport trunk native vlan 105', 'no shutdown', 'end']
    assert s.port_networks('gi1/0/5') == {'vlan/native': '105'}
    s.disconnect()


def test_tagged_vlans_come_off_before_the_native_one(device):
    s = session(device)
    s.apply_networking(action('gi1/0/5', 'vlan/native', 105))
    s.apply_networking(action('gi1/0/5', 'vlan/106', 106))
    assert s.port_networks('gi1/0/5') == {'vlan/native': '105',
                                          'vlan/106': '106'}
    before = len(s.console.sent)
    s.revert_port('gi1/0/5')
    assert s.console.sent[before + 1:] == [
        'configure', 'interface gi1/0/5',
        'switchport trunk allowed vlan remove 106', 'shutdown',
        'no switchport trunk native vlan',
        'switchport trunk allowed vlan remove 1', 'end']
    # Shut down, and not on VLAN 1.
    assert seen(device, 'gi1/0/5') == ([], 'Down')
    assert s.port_networks('gi1/0/5') == {}
    s.disconnect()


def test_a_port_without_a_native_vlan_is_never_on_vlan_1(device):
    s = session(device)
    s.apply_networking(action('gi1/0/6', 'vlan/300', 300))
    assert seen(device, 'gi1/0/6') == ([(300, 'Tagged')], 'Up')
    s.apply_networking(action('gi1/0/6', 'vlan/native', 301))
    s.apply_networking(action('gi1/0/6', 'vlan/native', None))
    assert seen(device, 'gi1/0/6') == ([(300, 'Tagged')], 'Up')
    s.apply_networking(action('gi1/0/6', 'vlan/300', None))
    assert seen(device, 'gi1/0/6') == ([], 'Down')
    s.disconnect()


def test_with_a_parking_vlan_an_idle_port_is_parked_not_shut(device):
    s = session(device, parking_vlan=4000)
    s.apply_networking(action('gi1/0/7', 'vlan/native', 105))
    s.apply_networking(action('gi1/0/7', 'vlan/native', None))
    assert seen(device, 'gi1/0/7') == ([(4000, 'Untagged')], 'Up')
    assert s.port_networks('gi1/0/7') == {}
    s.apply_networking(action('gi1/0/7', 'vlan/200', 200))
    assert seen(device, 'gi1/0/7') == ([(200, 'Tagged'),
                                        (4000, 'Untagged')], 'Up')
    s.revert_port('gi1/0/7')
    assert seen(device, 'gi1/0/7') == ([(4000, 'Untagged')], 'Up')
    s.disconnect()


def test_applying_an_action_again_changes_nothing(device):
    s = session(device)
    s.apply_networking(action('gi1/0/8', 'vlan/native', 105))
    before = len(s.console.sent)
    s.apply_networking(action('gi1/0/8', 'vlan/native', 105))
    assert s.console.sent[before:] == ['show interfaces switchport gi1/0/8']
    s.disconnect()


def test_save_copies_each_change_to_the_startup_configuration(device):
    s = session(device, save=True)
    s.apply_networking(action('gi1/0/9', 'vlan/native', 105))
    s.disconnect()
    t = Terminal(device.address)
    t.run('enable')
    t.type('reload\r')
    t.read_until('(Y/N)[N] ')
    t.type('y')
    with pytest.raises(EOFError):
        t.read_until('never')
    assert seen(device, 'gi1/0/9') == ([(105, 'Untagged')], 'Up')


def test_without_save_a_reload_loses_the_change(device):
    s = session(device)
    s.apply_networking(action('gi1/0/9', 'vlan/native', 105))
    assert 'copy running-config startup-config' not in s.console.sent
    s.disconnect()
    device.state.power_cycle()
    assert seen(device, 'gi1/0/9') == ([(1, 'Untagged')], 'Up')


def test_a_refused_command_is_a_switch_error_with_its_line(device):
    s = session(device)
    with pytest.raises(SwitchError) as e:
        s.apply_networking(action('gi2/0/5', 'vlan/native', 105))
    assert str(e.value) == (
        f'switch sw0 ({device.address[0]}:{device.address[1]}) refused '
        f"'show interfaces switchport gi2/0/5': % Interface gi2/0/5 is "
        f'not present on this switch')
    s.disconnect()


def test_a_wrong_password_is_a_switch_error(device):
    host, port = device.address
    with pytest.raises(SwitchError):
        PowerConnectSession(Console('sw0', f'{host}:{port}', 'admin',
                                    'wrong'), None, False).open()


def test_an_unreachable_switch_is_unavailable():
    console = Console('sw0', f'127.0.0.1:{free_port()}', 'admin', 'secret')
    with pytest.raises(SwitchUnavailableError) as e:
        PowerConnectSession(console, None, False).open()
    assert 'cannot reach switch sw0' in str(e.value)


def test_a_session_the_switch_drops_is_unavailable(device):
    s = session(device)
    device.hang_up()
    with pytest.raises(SwitchUnavailableError):
        s.port_networks('gi1/0/1')


@pytest.mark.parametrize('label', ['gi1/0/1', 'gi1/0/48', 'te1/0/4',
                                   'gi8/0/12', 'GigabitEthernet1/0/5',
                                   'gig2/0/3', 'Te1/0/1'])
def test_port_names_the_device_has_are_valid(label):
    PowerConnect55xx.validate_port_name(label)


@pytest.mark.parametrize('label', ['gi1/0/49', 'te1/0/5', 'gi9/0/1',
                                   'gi1/1/1', 'Ethernet1/1', 'g1/0/1',
                                   'gi1/0/0', 'eth0', '', 'gi1/0/05'])
def test_port_names_it_could_not_have_are_refused(label):
    with pytest.raises(ValueError):
        PowerConnect55xx.validate_port_name(label)


# Through the API and the networking daemon, in real processes: one
# server and daemon per database for the module, each test with a switch
# (its own device), node and network of its own.

DELL_EXTENSIONS = ['haas.ext.auth.database',
                   'haas.ext.network_allocators.vlan_pool',
                   'haas.ext.switches.dell', 'haas.ext.obm.mock']
#: The tests that share the module's server, on one worker of a
#: distributed run (pytest-xdist's --dist loadgroup): set up once there.
shared = pytest.mark.xdist_group('test_dell')


@pytest.fixture(scope='module')
def served(module_databases, tmp_path_factory):
    yield from shared_site(module_databases, tmp_path_factory,
                           DELL_EXTENSIONS)


@pytest.fixture
def site(served, device):
    host, port = device.address
    return cabled(served, DELL, f'{host}:{port}', 'gi1/0/5')


@shared
def test_a_client_sees_vlan_105_on_the_port_while_haas_has_it_there(
        site, device):
    connect = site.queued('connect', {'network': site.network,
                                      'channel': 'vlan/105'})
    assert site.settled(connect) == ('DONE', None)
    assert seen(device, 'gi1/0/5') == ([(105, 'Tagged')], 'Up')
    assert site.networks() == {'vlan/105': site.network}

    detach = site.queued('detach', {'network': site.network})
    assert site.settled(detach) == ('DONE', None)
    assert seen(device, 'gi1/0/5') == ([], 'Down')


@shared
def test_a_native_network_and_a_revert_through_the_daemon(site, device):
    connect = site.queued('connect', {'network': site.network})
    assert site.settled(connect) == ('DONE', None)
    assert seen(device, 'gi1/0/5') == ([(105, 'Untagged')], 'Up')
    status, answer = site.call('POST',
                               f'/switch/{site.switch}/port/gi1/0/5/revert')
    assert status == 200, answer
    assert site.settled(answer['status_id']) == ('DONE', None)
    assert seen(device, 'gi1/0/5') == ([], 'Down')
    assert site.networks() == {}


@shared
def test_a_port_the_switch_lacks_ends_the_action_in_error(served, device):
    host, port = device.address
    # A second unit of a stack this switch is not part of.
    site = cabled(served, DELL, f'{host}:{port}', 'gi2/0/5')
    found = site.queued('connect', {'network': site.network})
    assert site.settled(found) == ('ERROR', (
        f'switch {site.switch} ({host}:{port}) refused '
        f"'show interfaces switchport gi2/0/5': % Interface gi2/0/5 "
        f'is not present on this switch'))


@shared
def test_a_port_name_the_device_cannot_have_is_refused(served):
    status, answer = served.call('PUT', '/switch/sw-bad-port', {
        'type': DELL, 'hostname': 'h', 'username': 'u', 'password': 'p'})
    assert status == 200, answer
    assert served.call('PUT', '/switch/sw-bad-port/port/Ethernet1/1')[0] \
        == 400


def test_a_killed_switch_leaves_the_action_pending_until_it_is_back(
        pg_databases, tmp_path):
    folder, port = tmp_path / 'sw', free_port()
    switch = simulator('powerconnect55xx', port, folder)
    try:
        with running(pg_databases.new(), tmp_path,
                     extensions=DELL_EXTENSIONS) as (server, _):
            site = cabled(server, DELL, f'127.0.0.1:{port}', 'gi1/0/5')
            switch.send_signal(signal.SIGKILL)
            switch.wait(10)
            found = site.queued('connect', {'network': site.network,
                                            'channel': 'vlan/105'})
            assert failed_attempt(server, found).startswith(
                f'cannot reach switch {site.switch}')
            switch = simulator('powerconnect55xx', port, folder)
            assert site.settled(found) == ('DONE', None)
            assert seen(('127.0.0.1', port), 'gi1/0/5') == (
                [(105, 'Tagged')], 'Up')
    finally:
        switch.kill()
        switch.wait(10)
