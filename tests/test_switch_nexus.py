"""The Cisco Nexus 5500 driver against the simulated switch: its command
sequences, the dummy VLAN, refusals and lost sessions, and, through the
API and the networking daemon, what a client that is not HaaS then sees
on the device."""

import signal

import pytest

from haas.errors import SwitchError, SwitchUnavailableError
from haas.ext.switches.cli.console import Console
from haas.ext.switches.nexus import Nexus, NexusSession, switchport
from haas.simulators import nexus, ssh

from support.servers import eventually, free_port, running
from support.switches import (
    action,
    cabled,
    failed_attempt,
    restarted,
    sessions_at,
    shared_site,
    simulator,
)
from support.terminal import PROMPT, Terminal

NEXUS = 'http://schema.massopencloud.org/haas/v0/switches/nexus'
DUMMY = 2000


@pytest.fixture
def device(tmp_path):
    with ssh.in_thread(nexus.Nexus5500, str(tmp_path / 'sw'), 'admin',
                       'secret') as d:
        yield d


def session(device, save=False, timeout=10):
    host, port = device.address
    s = NexusSession(Console('sw0', f'{host}:{port}', 'admin', 'secret',
                             timeout=timeout), DUMMY, save)
    s.open()
    return s


def seen(device, port):
    """Port `port` as a person at the terminal of `device` (or of an
    address) sees it in `show interface ... switchport`: (mode, native
    VLAN, allowed VLANs)."""
    t = Terminal(getattr(device, 'address', device), login=False)
    t.read_until(PROMPT)
    shown = t.run(f'show interface {port} switchport')
    t.close()
    fields = dict(line.strip().split(': ', 1) for line in shown
                  if ': ' in line)
    return (fields['Operational Mode'],
            fields['Trunking Native Mode VLAN'],
            fields['Trunking VLANs Allowed'])


def configured(s, port):
    """The config-if lines a session sent to `port`, last time."""
    sent = s.console.sent
    start = len(sent) - 1 - sent[::-1].index(f'interface {port}')
    return sent[start + 1:sent.index('end', start)]


def test_a_native_vlan_goes_on_before_the_port_becomes_a_trunk(device):
    s = session(device)
    s.apply_networking(action('Ethernet1/5', 'vlan/native', 105))
    assert configured(s, 'Ethernet1/5') == [
        'switchport trunk allowed vlan none',
        'switchport trunk native vlan 105',
        'switchport trunk allowed vlan add 105',
        'switchport mode trunk']
    assert seen(device, 'e1/5') == ('trunk', '105 (VLAN0105)', '105')
    s.apply_networking(action('Ethernet1/5', 'vlan/106', 106))
    assert seen(device, 'e1/5') == ('trunk', '105 (VLAN0105)', '105,106')
    assert s.port_networks('Ethernet1/5') == {'vlan/native': '105',
                                              'vlan/106': '106'}
    s.disconnect()


def test_the_native_vlan_comes_off_last_and_leaves_the_dummy(device):
    s = session(device)
    s.apply_networking(action('Ethernet1/5', 'vlan/native', 105))
    s.apply_networking(action('Ethernet1/5', 'vlan/106', 106))
    s.apply_networking(action('Ethernet1/5', 'vlan/107', 107))
    s.revert_port('Ethernet1/5')
    assert configured(s, 'Ethernet1/5') == [
        'switchport trunk allowed vlan remove 106,107',
        'switchport trunk allowed vlan remove 105',
        f'switchport trunk native vlan {DUMMY}']
    # Never VLAN 1: the dummy VLAN, which the trunk does not allow.
    assert seen(device, 'e1/5') == ('trunk', f'{DUMMY} (Inactive)', 'none')
    assert s.port_networks('Ethernet1/5') == {}
    s.disconnect()


def test_a_tagged_network_alone_has_the_dummy_as_native(device):
    s = session(device)
    s.apply_networking(action('Ethernet1/6', 'vlan/300', 300))
    assert seen(device, 'e1/6') == ('trunk', f'{DUMMY} (Inactive)', '300')
    assert s.port_networks('Ethernet1/6') == {'vlan/300': '300'}
    s.apply_networking(action('Ethernet1/6', 'vlan/native', 301))
    s.apply_networking(action('Ethernet1/6', 'vlan/native', None))
    assert seen(device, 'e1/6') == ('trunk', f'{DUMMY} (Inactive)', '300')
    s.disconnect()


def test_the_vlans_are_made_once(device):
    s = session(device)
    s.apply_networking(action('Ethernet1/7', 'vlan/native', 105))
    s.apply_networking(action('Ethernet1/8', 'vlan/native', 105))
    assert s.console.sent.count('vlan 105') == 1
    t = Terminal(device.address, login=False)
    t.read_until(PROMPT)
    assert t.run('show vlan brief')[-2].split() == [
        '105', 'VLAN0105', 'active', 'Eth1/7,', 'Eth1/8']
    t.close()
    s.disconnect()


def test_applying_an_action_again_changes_nothing(device):
    s = session(device)
    s.apply_networking(action('Ethernet1/9', 'vlan/native', 105))
    before = len(s.console.sent)
    s.apply_networking(action('Ethernet1/9', 'vlan/native', 105))
    assert s.console.sent[before:] == [
        'show interface Ethernet1/9 switchport']
    s.disconnect()


def test_save_copies_each_change_to_the_startup_configuration(device):
    s = session(device, save=True)
    s.apply_networking(action('Ethernet1/10', 'vlan/native', 105))
    assert s.console.sent[-1] == 'copy running-config startup-config'
    s.disconnect()
    device.state.power_cycle()
    assert seen(device, 'e1/10') == ('trunk', '105 (VLAN0105)', '105')


def test_without_save_a_reload_loses_the_change(device):
    s = session(device)
    s.apply_networking(action('Ethernet1/10', 'vlan/native', 105))
    assert 'copy running-config startup-config' not in s.console.sent
    s.disconnect()
    device.state.power_cycle()
    assert seen(device, 'e1/10') == ('access', '1 (default)', '1-4094')


def test_a_refused_command_is_a_switch_error_with_its_line(device):
    s = session(device)
    with pytest.raises(SwitchError) as e:
        s.apply_networking(action('Ethernet1/5', 'vlan/4000', 4000))
    assert str(e.value) == (
        f'switch sw0 ({device.address[0]}:{device.address[1]}) refused '
        f"'vlan 4000': ERROR: VLAN 4000: VLANs 3968-4047 and 4094 are "
        f'reserved for internal use')
    s.disconnect()


def test_a_long_allowed_list_goes_on_on_the_next_lines():
    shown = ('Name: Ethernet1/5\n  Switchport: Enabled\n'
             '  Operational Mode: trunk\n'
             '  Access Mode VLAN: 1 (default)\n'
             '  Trunking Native Mode VLAN: 105 (VLAN0105)\n'
             '  Trunking VLANs Allowed: 105,110,120,130-132,140,150,160,\n'
             '    170,180,190\n'
             '  Voice VLAN: none\n')
    port = switchport(shown)
    assert (port.trunk, port.native, port.device_native, sorted(port.tagged),
            sorted(port.allowed)) == (
        True, 105, 105, [110, 120, 130, 131, 132, 140, 150, 160, 170, 180,
                         190],
        [105, 110, 120, 130, 131, 132, 140, 150, 160, 170, 180, 190])
    assert switchport(shown.replace('Trunking VLANs', 'VLANs')) is None


def test_an_unreachable_switch_is_unavailable():
    console = Console('sw0', f'127.0.0.1:{free_port()}', 'admin', 'secret')
    with pytest.raises(SwitchUnavailableError) as e:
        NexusSession(console, DUMMY).open()
    assert 'cannot reach switch sw0' in str(e.value)


def test_a_session_the_switch_drops_is_unavailable(device):
    s = session(device)
    device.hang_up()
    with pytest.raises(SwitchUnavailableError):
        s.port_networks('Ethernet1/1')


@pytest.mark.parametrize('label', ['Ethernet1/1', 'Ethernet1/48',
                                   'Ethernet2/16', 'Ethernet101/1/5'])
def test_port_names_the_device_writes_are_valid(label):
    Nexus.validate_port_name(label)


@pytest.mark.parametrize('label', ['gi1/0/5', 'Ethernet1/49', 'Ethernet5/1',
                                   'ethernet1/5', 'e1/5', 'Ethernet1/05',
                                   'Ethernet1/0', 'Ethernet1/5 ', '',
                                   'Ethernet101/2/5', 'Ethernet1/1/5'])
def test_port_names_it_could_not_have_are_refused(label):
    with pytest.raises(ValueError):
        Nexus.validate_port_name(label)


# Through the API and the networking daemon, in real processes: one
# server and daemon per database for the module, each test with a switch
# (its own device), node and network of its own.

NEXUS_EXTENSIONS = ['haas.ext.auth.database',
                    'haas.ext.network_allocators.vlan_pool',
                    'haas.ext.switches.nexus', 'haas.ext.obm.mock']
#: The tests that share the module's server, on one worker of a
#: distributed run (pytest-xdist's --dist loadgroup): set up once there.
shared = pytest.mark.xdist_group('test_switch_nexus')


@pytest.fixture(scope='module')
def served(module_databases, tmp_path_factory):
    yield from shared_site(module_databases, tmp_path_factory,
                           NEXUS_EXTENSIONS)


def cable(server, hostname, net_id='105', **fields):
    """A switch at `hostname`, a node cabled to its Ethernet1/5, and a
    network on VLAN `net_id`."""
    return cabled(server, NEXUS, hostname, 'Ethernet1/5', net_id=net_id,
                  dummy_vlan=DUMMY, **fields)


@pytest.fixture
def site(served, device):
    host, port = device.address
    return cable(served, f'{host}:{port}')


@shared
def test_a_client_sees_vlan_105_on_the_port_while_haas_has_it_there(
        site, device):
    connect = site.queued('connect', {'network': site.network,
                                      'channel': 'vlan/105'})
    assert site.settled(connect) == ('DONE', None)
    assert seen(device, 'ethernet 1/5') == (
        'trunk', f'{DUMMY} (Inactive)', '105')
    assert site.networks() == {'vlan/105': site.network}

    detach = site.queued('detach', {'network': site.network})
    assert site.settled(detach) == ('DONE', None)
    assert seen(device, 'ethernet 1/5') == (
        'trunk', f'{DUMMY} (Inactive)', 'none')


@shared
def test_a_native_network_and_a_revert_through_the_daemon(site, device):
    connect = site.queued('connect', {'network': site.network})
    assert site.settled(connect) == ('DONE', None)
    assert seen(device, 'e1/5') == ('trunk', '105 (VLAN0105)', '105')
    status, answer = site.call(
        'POST', f'/switch/{site.switch}/port/Ethernet1/5/revert')
    assert status == 200, answer
    assert site.settled(answer['status_id']) == ('DONE', None)
    assert seen(device, 'e1/5') == ('trunk', f'{DUMMY} (Inactive)', 'none')
    assert site.networks() == {}


@shared
def test_a_refused_command_ends_the_action_in_error(served, device):
    host, port = device.address
    # A VLAN the switch keeps for itself.
    site = cable(served, f'{host}:{port}', net_id='4000')
    found = site.queued('connect', {'network': site.network})
    assert site.settled(found) == ('ERROR', (
        f"switch {site.switch} ({host}:{port}) refused 'vlan 4000': ERROR: "
        f'VLAN 4000: VLANs 3968-4047 and 4094 are reserved for internal '
        f'use'))
    # As its registration's revert left it: a trunk on the dummy VLAN,
    # allowing nothing.
    assert seen(device, 'e1/5') == ('trunk', f'{DUMMY} (Inactive)', 'none')


def test_a_switch_killed_mid_session_leaves_the_action_pending(
        pg_databases, tmp_path):
    folder, port = tmp_path / 'sw', free_port()
    switch = simulator('nexus', port, folder)
    try:
        with running(pg_databases.new(), tmp_path,
                     extensions=NEXUS_EXTENSIONS) as (server, _):
            site = cable(server, f'127.0.0.1:{port}', save=True)
            # Each command takes a second from here (the port's revert
            # above went at full speed): the daemon is in the middle of
            # its session when the switch dies.
            switch = restarted(switch, 'nexus', port, folder, latency=1)
            found = site.queued('connect', {'network': site.network,
                                            'channel': 'vlan/105'})
            eventually(lambda: sessions_at(port), what='the daemon to log in')
            switch.send_signal(signal.SIGKILL)
            switch.wait(10)
            assert f'switch {site.switch} (127.0.0.1:' in failed_attempt(
                server, found)
            switch = simulator('nexus', port, folder)
            assert site.settled(found) == ('DONE', None)
            assert seen(('127.0.0.1', port), 'e1/5') == (
                'trunk', f'{DUMMY} (Inactive)', '105')
            # Applied once, and saved: the startup configuration has it.
            t = Terminal(('127.0.0.1', port), login=False)
            t.read_until(PROMPT)
            t.run('terminal length 0')
            assert t.run('show startup-config').count(
                '  switchport trunk allowed vlan 105') == 1
            t.close()
    finally:
        switch.kill()
        switch.wait(10)
