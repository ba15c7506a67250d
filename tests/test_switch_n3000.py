"""The Dell N3000 driver against the simulated switch: its command
sequences, the dummy VLAN, refusals and lost sessions, and, through the
API and the networking daemon, what a client that is not HaaS then sees
on the device."""

import re
import signal

import paramiko
import pytest

from haas.errors import SwitchError, SwitchUnavailableError
from haas.ext.switches.cli.console import Console
from haas.ext.switches.n3000 import DellN3000, N3000Session
from haas.simulators import n3000, ssh

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

N3000 = 'http://schema.massopencloud.org/haas/v0/switches/delln3000'
PROMPT = re.compile(r'[\r\n]?[\w.-]+(?:\([\w/-]+\))?[>#] ?$')
DUMMY = 4000


@pytest.fixture
def device(tmp_path):
    with ssh.in_thread(n3000.N3000, str(tmp_path / 'sw'), 'admin',
                       'secret') as d:
        yield d


def session(device, parking_vlan=None, save=False):
    host, port = device.address
    s = N3000Session(Console('sw0', f'{host}:{port}', 'admin', 'secret',
                             timeout=10), DUMMY, parking_vlan, save)
    s.open()
    return s


def shown(address, port):
    """`show interfaces switchport PORT` read with paramiko alone, as a
    person at the switch's terminal would: {field: value}."""
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(*address, username='admin', password='secret',
                   look_for_keys=False, allow_agent=False, timeout=10)
    try:
        channel = client.invoke_shell()
        channel.settimeout(10)
        text = ''

        def until_prompt():
            nonlocal text
            while not PROMPT.search(text):
                data = channel.recv(65536)
                assert data, text
                text += data.decode()
            found, text = text, ''
            return found
        until_prompt()
        channel.sendall(b'terminal length 0\r')
        until_prompt()
        channel.sendall(f'show interfaces switchport {port}\r'.encode())
        fields, last = {}, None
        for line in until_prompt().split('\r\n')[1:-1]:
            if line.startswith(' ') and last:
                fields[last] += line.strip()
            elif ':' in line:
                last, _, value = line.partition(':')
                last = last.strip()
                fields[last] = value.strip()
        return fields
    finally:
        client.close()


def members(device, port):
    """What `port` carries, as the device says: `(105),106`."""
    return shown(getattr(device, 'address', device), port)[
        'Member of VLANs']


def test_a_native_vlan_is_allowed_then_set_before_the_port_comes_up(device):
    s = session(device)
    s.apply_networking(action('gi1/0/5', 'vlan/native', 105))
    assert members(device, 'gi1/0/5') == '(105)'
    configured = s.console.sent[s.console.sent.index('interface gi1/0/5'):]
    assert configured == [
        'interface gi1/0/5', 'shutdown', 'switchport mode trunk',
        'switchport trunk allowed vlan remove 1-4093',
        'switchport trunk allowed vlan add 105',
        'switchport trunk native vlan 105', 'no shutdown', 'end']
    assert s.port_networks('gi1/0/5') == {'vlan/native': '105'}
    s.disconnect()


def test_no_native_vlan_is_the_dummy_one_never_vlan_1(device):
    s = session(device)
    s.apply_networking(action('gi1/0/6', 'vlan/300', 300))
    fields = shown(device.address, 'gi1/0/6')
    assert (fields['Member of VLANs'], fields['Trunking Mode Native VLAN'],
            fields['Trunking Mode VLANs Enabled']) == ('300', '4000', '300')
    assert s.port_networks('gi1/0/6') == {'vlan/300': '300'}
    s.apply_networking(action('gi1/0/6', 'vlan/native', 301))
    assert members(device, 'gi1/0/6') == '(301),300'
    s.apply_networking(action('gi1/0/6', 'vlan/native', 302))
    # The old native VLAN is not left on the trunk, tagged.
    assert members(device, 'gi1/0/6') == '(302),300'
    s.apply_networking(action('gi1/0/6', 'vlan/native', None))
    fields = shown(device.address, 'gi1/0/6')
    assert (fields['Member of VLANs'], fields['Trunking Mode Native VLAN'],
            fields['Trunking Mode VLANs Enabled']) == ('300', '4000', '300')
    s.disconnect()


def test_a_revert_takes_tagged_vlans_off_before_the_native_one(device):
    s = session(device)
    s.apply_networking(action('gi1/0/5', 'vlan/native', 105))
    s.apply_networking(action('gi1/0/5', 'vlan/106', 106))
    assert s.port_networks('gi1/0/5') == {'vlan/native': '105',
                                          'vlan/106': '106'}
    before = len(s.console.sent)
    s.revert_port('gi1/0/5')
    assert s.console.sent[before + 1:] == [
        'configure', 'interface gi1/0/5',
        'switchport trunk allowed vlan remove 105,106', 'shutdown',
        'switchport trunk allowed vlan add 4000',
        'switchport trunk native vlan 4000',
        'switchport trunk allowed vlan remove 4000', 'end']
    fields = shown(device.address, 'gi1/0/5')
    assert (fields['Member of VLANs'], fields['Trunking Mode Native VLAN']) \
        == ('', '4000')
    assert s.port_networks('gi1/0/5') == {}
    s.disconnect()


def test_a_trunk_that_allows_every_vlan_is_narrowed_to_what_it_carries(
        device):
    t = session(device)
    for line in ('configure', 'vlan 200', 'exit', 'interface te1/0/1',
                 'switchport mode trunk', 'end'):
        t.run(line)
    assert members(device, 'te1/0/1') == '(1),200'
    t.apply_networking(action('te1/0/1', 'vlan/105', 105))
    fields = shown(device.address, 'te1/0/1')
    assert (fields['Member of VLANs'], fields['Trunking Mode VLANs Enabled'],
            fields['Trunking Mode Native VLAN']) == ('105,200', '105,200',
                                                     '4000')
    t.disconnect()


def test_with_a_parking_vlan_an_idle_port_is_parked(device):
    s = session(device, parking_vlan=3999)
    s.apply_networking(action('gi1/0/7', 'vlan/native', 105))
    s.apply_networking(action('gi1/0/7', 'vlan/native', None))
    assert members(device, 'gi1/0/7') == '(3999)'
    assert s.port_networks('gi1/0/7') == {}
    s.revert_port('gi1/0/7')
    assert members(device, 'gi1/0/7') == '(3999)'
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
    device.state.power_cycle()
    assert members(device, 'gi1/0/9') == '(105)'


def test_without_save_a_power_cycle_loses_the_change(device):
    s = session(device)
    s.apply_networking(action('gi1/0/9', 'vlan/native', 105))
    assert 'copy running-config startup-config' not in s.console.sent
    s.disconnect()
    device.state.power_cycle()
    assert members(device, 'gi1/0/9') == '(1)'


def test_a_refused_command_is_a_switch_error_with_its_line(device):
    s = session(device)
    with pytest.raises(SwitchError) as e:
        s.apply_networking(action('gi2/0/5', 'vlan/native', 105))
    assert str(e.value) == (
        f'switch sw0 ({device.address[0]}:{device.address[1]}) refused '
        f"'show interfaces switchport gi2/0/5': An invalid interface has "
        f'been used for this function.')
    with pytest.raises(SwitchError) as e:
        s.run('switchport mode trunk')
    assert str(e.value).endswith(
        "refused 'switchport mode trunk': % Invalid input detected at '^' "
        "marker.")
    s.disconnect()


def test_an_unreachable_switch_is_unavailable():
    console = Console('sw0', f'127.0.0.1:{free_port()}', 'admin', 'secret')
    with pytest.raises(SwitchUnavailableError) as e:
        N3000Session(console, DUMMY).open()
    assert 'cannot reach switch sw0' in str(e.value)


def test_a_session_the_switch_drops_is_unavailable(device):
    s = session(device)
    device.hang_up()
    with pytest.raises(SwitchUnavailableError):
        s.port_networks('gi1/0/1')


@pytest.mark.parametrize('label', ['gi1/0/1', 'gi1/0/48', 'te1/0/4',
                                   'gi12/0/12', 'GigabitEthernet1/0/5',
                                   'Te1/0/1'])
def test_port_names_the_device_has_are_valid(label):
    DellN3000.validate_port_name(label)


@pytest.mark.parametrize('label', ['gi1/0/49', 'te1/0/5', 'gi13/0/1',
                                   'gi1/1/1', 'Ethernet1/1', 'g1/0/1',
                                   'gi1/0/0', 'eth0', '', 'gi1/0/05'])
def test_port_names_it_could_not_have_are_refused(label):
    with pytest.raises(ValueError):
        DellN3000.validate_port_name(label)


# Through the API and the networking daemon, in real processes: one
# server and daemon per database for the module, each test with a switch
# (its own device), node and network of its own.

EXTENSIONS = ['haas.ext.auth.database',
              'haas.ext.network_allocators.vlan_pool',
              'haas.ext.switches.n3000', 'haas.ext.obm.mock']
#: The tests that share the module's server, on one worker of a
#: distributed run (pytest-xdist's --dist loadgroup): set up once there.
shared = pytest.mark.xdist_group('test_switch_n3000')


@pytest.fixture(scope='module')
def served(module_databases, tmp_path_factory):
    yield from shared_site(module_databases, tmp_path_factory, EXTENSIONS)


def cable(server, hostname, port='gi1/0/5'):
    return cabled(server, N3000, hostname, port, dummy_vlan='4000')


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
    assert members(device, 'gi1/0/5') == '105'
    assert site.networks() == {'vlan/105': site.network}
    detach = site.queued('detach', {'network': site.network})
    assert site.settled(detach) == ('DONE', None)
    assert members(device, 'gi1/0/5') == ''


@shared
def test_a_native_network_and_a_revert_through_the_daemon(site, device):
    connect = site.queued('connect', {'network': site.network})
    assert site.settled(connect) == ('DONE', None)
    assert members(device, 'gi1/0/5') == '(105)'
    status, answer = site.call('POST',
                               f'/switch/{site.switch}/port/gi1/0/5/revert')
    assert status == 200, answer
    assert site.settled(answer['status_id']) == ('DONE', None)
    fields = shown(device.address, 'gi1/0/5')
    assert (fields['Member of VLANs'], fields['Trunking Mode Native VLAN']) \
        == ('', '4000')
    assert site.networks() == {}


@shared
def test_the_switch_is_registered_as_hils_delln3000(site):
    status, answer = site.call('GET', f'/switch/{site.switch}')
    assert status == 200, answer
    assert answer['capabilities'] == ['nativeless-trunk-mode']
    for dummy in (1, 4094, 'x', True):
        status, answer = site.call('PUT', f'/switch/{site.switch}-bad', {
            'type': N3000, 'hostname': 'h', 'username': 'u',
            'password': 'p', 'dummy_vlan': dummy})
        assert status == 400, (dummy, answer)
        assert 'dummy_vlan' in answer['msg']


@shared
def test_a_refused_command_ends_the_action_in_error(served, device):
    host, port = device.address
    # A unit of a stack this switch is not part of.
    site = cable(served, f'{host}:{port}', port='gi2/0/5')
    found = site.queued('connect', {'network': site.network})
    assert site.settled(found) == ('ERROR', (
        f'switch {site.switch} ({host}:{port}) refused '
        f"'show interfaces switchport gi2/0/5': An invalid interface "
        f'has been used for this function.'))


def test_a_switch_killed_mid_session_leaves_the_action_pending(
        pg_databases, tmp_path):
    folder, port = tmp_path / 'sw', free_port()
    switch = simulator('n3000', port, folder)
    try:
        with running(pg_databases.new(), tmp_path,
                     extensions=EXTENSIONS) as (server, _):
            site = cable(server, f'127.0.0.1:{port}')
            # Slow from here, so that the daemon is still at it when the
            # switch dies (the port's revert above went at full speed).
            switch = restarted(switch, 'n3000', port, folder, latency=1)
            found = site.queued('connect', {'network': site.network,
                                            'channel': 'vlan/105'})
            eventually(lambda: sessions_at(port),
                       what='the daemon to log in')
            switch.send_signal(signal.SIGKILL)
            switch.wait(10)
            assert f'switch {site.switch}' in failed_attempt(server, found)
            switch = simulator('n3000', port, folder)
            assert site.settled(found) == ('DONE', None)
            assert members(('127.0.0.1', port), 'gi1/0/5') == '105'
            # The port's revert at its registration, and the connect.
            assert [(row[3], row[2]) for row in server.actions()] == [
                ('revert_port', 'DONE'), ('modify_port', 'DONE')]
    finally:
        switch.kill()
        switch.wait(10)
